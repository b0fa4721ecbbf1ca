"""MetricsRenderer on an in-process core: the text parses, figures match the core, slices are small."""

from __future__ import annotations

import time

from kafka.record.default_records import DefaultRecordBatchBuilder
from prometheus_client.parser import text_string_to_metric_families

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.http.metrics import MetricsRenderer


class Sched:
    def clock(self) -> float:
        return time.monotonic()

    def call_later(self, delay, callback):
        return None


class Loop:
    accepted_total = 3
    closed_total = 1
    idle_seconds = 0.5
    started = time.monotonic() - 1
    connections_open = 2
    stream_connections = 1


def batch(n: int) -> bytearray:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for i in range(n):
        b.append(i, timestamp=1, key=None, value=b"v", headers=[])
    return bytearray(b.build())


def samples(text: str) -> dict:
    out: dict = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_render_matches_the_core(tmp_path):
    core = BrokerCore(BrokerConfig(data_dir=tmp_path, port=0), Sched())
    try:
        core.create_topic("t", 2)
        core.create_topic("we.ird_x-1", 1)
        core.append("t", 0, batch(5))
        core.append("t", 1, batch(3))
        core.offsets.commit('g"1', {("t", 0): (2, None, -1), ("t", 1): (3, None, -1)})
        r = MetricsRenderer(core, Loop(), "127.0.0.1:9092")
        s = samples(r.render().decode())
        cur = {x.labels["partition"]: x.value for x in s["kafka_topic_partition_current_offset"]
               if x.labels["topic"] == "t"}
        assert cur == {"0": 5, "1": 3}
        lag = [x for x in s["kafka_consumergroup_lag_sum"] if x.labels["consumergroup"] == 'g"1']
        assert lag[0].value == 3
        assert any(x.labels["topic"] == "we.ird_x-1" for x in s["kafka_topic_partitions"])
        assert [x.value for x in s["kafka_server_brokertopicmetrics_messagesin_total"] if not x.labels] == [8]
        assert s["kafka_server_socket_server_metrics_connection_count"][0].value == 2
        assert 0 <= s["kafka_network_socketserver_networkprocessoravgidle_percent"][0].value <= 1
        assert s["chronik_partitions"][0].value == 3
    finally:
        core.close()


def test_steps_yield_between_slices(tmp_path):
    core = BrokerCore(BrokerConfig(data_dir=tmp_path, port=0), Sched())
    try:
        for i in range(20):
            core.create_topic(f"t{i}", 50)
        r = MetricsRenderer(core, Loop(), "127.0.0.1:9092")
        gen = r.steps(slice_seconds=0.0)
        n = 0
        while True:
            try:
                next(gen)
                n += 1
            except StopIteration as stop:
                body = b"".join(stop.value)
                break
        assert n > 5
        assert body.count(b"kafka_topic_partition_current_offset{") == 1000
    finally:
        core.close()


def test_constant_families_are_reused_until_the_partitions_change(tmp_path):
    core = BrokerCore(BrokerConfig(data_dir=tmp_path, port=0), Sched())
    try:
        core.create_topic("t", 2)
        r = MetricsRenderer(core, Loop(), "127.0.0.1:9092")
        first = r.render()
        core.append("t", 0, batch(4))
        second = r.render()
        assert first.count(b"kafka_topic_partition_leader{") == second.count(b"kafka_topic_partition_leader{") == 2
        s = samples(second.decode())
        assert {x.labels["partition"]: x.value for x in s["kafka_topic_partition_current_offset"]} == {"0": 4, "1": 0}
        core.add_partitions("t", 3)
        third = samples(r.render().decode())
        assert len(third["kafka_topic_partition_replicas"]) == 3
        assert len(third["kafka_cluster_partition_atminisr"]) == 3
    finally:
        core.close()
