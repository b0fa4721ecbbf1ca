"""BrokerStats: counters per batch and per request, latency buckets."""

from __future__ import annotations

from chronik.broker.stats import LATENCY_BUCKETS, BrokerStats, LatencyHistogram


class Batch:
    def __init__(self, count: int, size: int) -> None:
        self.record_count = count
        self.size = size


def test_append_counts_records_and_bytes_per_topic_and_in_total():
    s = BrokerStats()
    s.on_append("a", 0, [Batch(3, 100), Batch(2, 50)], None)
    s.on_append("b", 1, [Batch(1, 10)], None)
    assert (s.topics["a"].messages_in, s.topics["a"].bytes_in) == (5, 150)
    assert (s.total.messages_in, s.total.bytes_in) == (6, 160)
    s.on_topic_deleted("a")
    assert "a" not in s.topics and s.total.messages_in == 6


def test_requests_of_unknown_topics_only_count_in_total():
    s = BrokerStats()
    s.produce_request(None, True)
    s.fetch_request("t", False, 42)
    assert s.total.produce_requests == 1 and s.total.failed_produce_requests == 1
    assert set(s.topics) == {"t"} and s.topics["t"].bytes_out == 42


def test_histogram_buckets_and_quantiles():
    h = LatencyHistogram()
    for _ in range(99):
        h.observe(0.0004)
    h.observe(3.0)
    assert h.count == 100 and h.cumulative()[-1] == 100
    assert 0.00025 < h.quantile(0.5) <= 0.0005
    assert 2.5 < h.quantile(0.999) <= 5.0
    h.observe(1000.0)  # past the last bucket: +Inf
    assert h.counts[-1] == 1 and h.quantile(1.0) == LATENCY_BUCKETS[-1]
    assert LatencyHistogram().quantile(0.99) == 0.0
