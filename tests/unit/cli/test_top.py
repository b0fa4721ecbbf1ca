"""chronik top's rates and parsing, without a terminal or a broker."""

from __future__ import annotations

from chronik.cli.top import GroupSample, Snapshot, TopicSample, compute, parse_metrics, render, sort_rows

METRICS = """# TYPE kafka_topic_partitions gauge
kafka_topic_partitions{topic="a"} 2
# TYPE kafka_topic_partition_current_offset gauge
kafka_topic_partition_current_offset{partition="0",topic="a"} 10
kafka_topic_partition_current_offset{partition="1",topic="a"} 5
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total{topic="a"} 15
kafka_server_brokertopicmetrics_messagesin_total 15
# TYPE kafka_consumergroup_lag_sum gauge
kafka_consumergroup_lag_sum{consumergroup="g",topic="a"} 7
# TYPE kafka_consumergroup_current_offset_sum gauge
kafka_consumergroup_current_offset_sum{consumergroup="g",topic="a"} 8
# TYPE kafka_consumergroup_members gauge
kafka_consumergroup_members{consumergroup="g"} 1
# TYPE chronik_request_latency_seconds histogram
chronik_request_latency_seconds_bucket{api="Produce",le="0.001",version="9"} 90
chronik_request_latency_seconds_bucket{api="Produce",le="0.01",version="9"} 100
chronik_request_latency_seconds_bucket{api="Produce",le="+Inf",version="9"} 100
chronik_request_latency_seconds_count{api="Produce",version="9"} 100
chronik_request_latency_seconds_sum{api="Produce",version="9"} 0.1
"""


def test_parse_metrics():
    s = parse_metrics(METRICS, 1.0)
    assert s.topics["a"].partitions == 2 and s.topics["a"].end_offset == 15
    assert s.topics["a"].messages_in == 15
    assert s.groups["g"].lag == 7 and s.groups["g"].members == 1 and s.groups["g"].topics == {"a"}
    assert s.requests == 100


def test_rates_from_two_snapshots():
    old = Snapshot(0.0, "kafka", topics={"a": TopicSample(2, 100)},
                   groups={"g": GroupSample(1, 50, 50, {"a"})},
                   group_topics={("g", "a"): GroupSample(0, 50, 50)})
    new = Snapshot(2.0, "kafka", topics={"a": TopicSample(2, 300)},
                   groups={"g": GroupSample(1, 150, 150, {"a"})},
                   group_topics={("g", "a"): GroupSample(0, 150, 150)})
    view = compute(new, old)
    t = view["topics"][0]
    assert t["in_msgs_per_s"] == 100 and t["out_msgs_per_s"] == 50
    g = view["groups"][0]
    assert g["lag"] == 150 and g["lag_trend_per_s"] == 50 and g["consume_msgs_per_s"] == 50


def test_p99_between_snapshots():
    old = parse_metrics(METRICS, 0.0)
    new = parse_metrics(METRICS.replace("} 100\nchronik_request_latency_seconds_count", "} 200\nchronik_"
                                        "request_latency_seconds_count")
                        .replace('le="0.01",version="9"} 100', 'le="0.01",version="9"} 200'), 1.0)
    view = compute(new, old)
    assert 1.0 < view["broker"]["p99_ms"] <= 10.0


def test_sort_filter_and_render_fit_80_columns():
    from rich.console import Console

    view = compute(parse_metrics(METRICS, 0.0), None)
    topics, groups = sort_rows(view, "name", False, "zz")
    assert topics == [] and groups == []
    console = Console(width=80, height=24, record=True)
    console.print(render(view, "in", False, "", False, 24))
    text = console.export_text()
    assert "a" in text and all(len(ln) <= 80 for ln in text.splitlines())
