"""The benchmark sink must satisfy librdkafka well enough to produce through it."""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import sink  # noqa: E402


def record_batch(last_offset_delta: int, payload: bytes = b"") -> bytes:
    # Only the fields the sink reads matter: batchLength and lastOffsetDelta.
    # leaderEpoch, magic, crc, attributes, lastOffsetDelta, then the records
    body = struct.pack(">ibihi", 0, 2, 0, 0, last_offset_delta) + payload
    return struct.pack(">qi", 0, len(body)) + body


def test_count_records_sums_batches() -> None:
    data = record_batch(4, b"abc") + record_batch(0)
    assert sink.count_records(data) == 6
    assert sink.count_records(None) == 0


def test_parse_header_skips_client_id_and_tags() -> None:
    from kafka.protocol.producer.produce import ProduceRequest

    client = b"bench"
    raw = struct.pack(">hhih", 0, 9, 42, len(client)) + client + b"\x00" + b"BODY"
    hdr = sink.parse_header(memoryview(raw), ProduceRequest)
    assert (hdr.api_key, hdr.api_version, hdr.correlation_id) == (0, 9, 42)
    assert raw[hdr.body_offset:] == b"BODY"


@pytest.fixture
def running_sink() -> Iterator[str]:
    server = sink.Sink("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.state.port}"
    server.listener.close()  # the daemon thread dies with the test process


def test_confluent_producer_gets_acks(running_sink: str) -> None:
    confluent = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": running_sink})
    admin.create_topics([NewTopic("t", num_partitions=1, replication_factor=1)])["t"].result(10)
    producer = confluent.Producer({"bootstrap.servers": running_sink, "acks": "all",
                                   "linger.ms": 5, "enable.idempotence": True})
    offsets: list[int] = []
    for _ in range(500):
        producer.produce("t", b"x" * 100,
                         on_delivery=lambda err, msg: offsets.append(-1 if err else msg.offset()))
    assert producer.flush(10) == 0
    assert sorted(offsets) == list(range(500))
