"""A partition's first files are made off the loop: first writes to fresh partitions, with real clients."""

from __future__ import annotations

import re

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.reading import read_until_idle

pytestmark = pytest.mark.integration


def _read(bootstrap: str, topic: str, partitions: int) -> dict[int, list[tuple[int, bytes, bytes]]]:
    got: dict[int, list[tuple[int, bytes, bytes]]] = {}
    for m in read_until_idle(bootstrap, topic, range(partitions)):
        got.setdefault(m.partition(), []).append((m.offset(), m.key(), m.value()))
    return got


@pytest.mark.parametrize("fsync", ["never", "always"])
def test_first_writes_to_fresh_partitions_land_and_are_acked(broker_factory, fsync):
    b = broker_factory("--fsync", fsync)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("fresh", 40, 1), NewTopic("quiet", 5, 1)])["fresh"].result(10)
    assert not (b.data_dir / "fresh-0").exists()  # lazy: nothing on disk before the first write
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 0})
    acked: list = []

    def delivered(err, msg):
        assert err is None, err
        acked.append((msg.partition(), msg.offset(), msg.key()))

    for round_ in range(3):  # the first round waits for the files, the next ones find them
        for part in range(40):
            p.produce("fresh", key=f"{part}-{round_}".encode(), value=b"v" * 50, partition=part,
                      on_delivery=delivered)
        p.poll(0)
    assert p.flush(30) == 0
    fire_and_forget = Producer({"bootstrap.servers": b.bootstrap, "acks": 0})
    for part in range(5):
        fire_and_forget.produce("quiet", key=f"q{part}".encode(), value=b"q", partition=part)
    assert fire_and_forget.flush(30) == 0
    got = _read(b.bootstrap, "fresh", 40)
    assert sorted(acked) == sorted((part, off, k) for part, rows in got.items() for off, k, _v in rows)
    for part in range(40):
        assert [(off, k) for off, k, _v in got[part]] == [(r, f"{part}-{r}".encode()) for r in range(3)]
    quiet = _read(b.bootstrap, "quiet", 5)
    assert {part: [(off, k) for off, k, _v in rows] for part, rows in quiet.items()} == \
        {part: [(0, f"q{part}".encode())] for part in range(5)}
    assert b.stop() == 0
    made = re.search(r"made the files of (\d+) partitions off the loop \(0 failed\)", b.output())
    assert made and int(made.group(1)) >= 45, b.output()[-2000:]


def test_a_partition_whose_files_cannot_be_made_answers_a_storage_error(broker_factory):
    """A file where the partition's directory should be: KAFKA_STORAGE_ERROR at once, not a request that
    waits for ever; the broker keeps serving the topic's other partition."""
    from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

    from tests.integration.raw import RawConn, record_batch

    b = broker_factory()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("blocked", 2, 1)])["blocked"].result(10)
    (b.data_dir / "blocked-0").write_bytes(b"not a directory")
    conn = RawConn(b.port)

    def produce(partition: int) -> tuple[int, int]:
        req = ProduceRequest(transactional_id=None, acks=1, timeout_ms=5000, topic_data=[
            ProduceRequest.TopicProduceData(name="blocked", partition_data=[
                ProduceRequest.TopicProduceData.PartitionProduceData(index=partition, records=record_batch(100, 3))])])
        part = conn.call(req, ProduceResponse, 8).responses[0].partition_responses[0]
        return part.error_code, part.base_offset

    assert produce(0)[0] == 56  # KAFKA_STORAGE_ERROR
    assert produce(1) == (0, 0)
