"""The benchmark sink must satisfy librdkafka well enough to produce through it and read back."""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import sink  # noqa: E402
import sink_fetch  # noqa: E402


def record_batch(last_offset_delta: int, payload: bytes = b"") -> bytes:
    # Only the fields the sink reads matter: batchLength and lastOffsetDelta.
    # leaderEpoch, magic, crc, attributes, lastOffsetDelta, then the records
    body = struct.pack(">ibihi", 0, 2, 0, 0, last_offset_delta) + payload
    return struct.pack(">qi", 0, len(body)) + body


def base_offsets(batches: list[bytearray]) -> list[int]:
    data = b"".join(batches)
    return [struct.unpack_from(">q", data, start)[0] for start, _ in sink_fetch.batch_spans(data)]


def test_retained_logs_assign_offsets_and_serve_whole_batches() -> None:
    logs = sink_fetch.RetainedLogs()
    assert logs.append("t", 0, record_batch(4, b"abc") + record_batch(0)) == 0
    assert logs.append("t", 0, record_batch(9, b"x" * 100)) == 6
    assert logs.append("t", 0, None) == 16
    log = logs.partitions[("t", 0)]
    assert (log.bases, log.end_offset) == ([0, 5, 6], 16)
    # Base offsets are patched in what is served; the batches themselves stay as they came.
    assert base_offsets(log.read(0, 1 << 20)) == [0, 5, 6]
    assert base_offsets(log.read(3, 1 << 20)) == [0, 5, 6]  # from the batch holding offset 3
    assert base_offsets(log.read(6, 1)) == [6]  # at least one batch, whatever max_bytes says
    assert base_offsets(log.read(0, 40)) == [0]  # never a part of a batch
    assert log.read(16, 1 << 20) == []


def test_retained_logs_stop_keeping_past_the_budget() -> None:
    batch = record_batch(0, b"x" * 100)
    logs = sink_fetch.RetainedLogs(retain_bytes=2 * len(batch))
    for _ in range(3):
        logs.append("t", 0, batch)
    log = logs.partitions[("t", 0)]
    assert (log.end_offset, log.kept_to, log.complete) == (3, 2, False)
    assert base_offsets(log.read(0, 1 << 20)) == [0, 1]
    assert log.read(2, 1 << 20) == []


def test_fetch_serves_the_held_batches_with_their_offsets() -> None:
    from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse

    first, second = record_batch(2, b"abc"), record_batch(0, b"z" * 300)
    logs = sink_fetch.RetainedLogs()
    logs.append("t", 0, first + second)
    state = sink_fetch.ReadState("127.0.0.1", 1, 0, logs)
    part = FetchRequest.FetchTopic.FetchPartition(partition=0, current_leader_epoch=-1, fetch_offset=0,
                                                  last_fetched_epoch=-1, log_start_offset=-1,
                                                  partition_max_bytes=1 << 20)
    req = FetchRequest(replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=1 << 20,
                       isolation_level=0, session_id=0, session_epoch=-1,
                       topics=[FetchRequest.FetchTopic(topic="t", partitions=[part])],
                       forgotten_topics_data=[], rack_id="")
    for version in (4, 12):  # int32 and compact (uvarint) length prefixes
        resp, hold = sink_fetch.fetch(state, req, version)
        wire = b"".join(bytes(b) for b in resp.encode(version))
        records = bytes(FetchResponse.decode(wire, version=version).responses[0].partitions[0].records)
        assert hold == 0.0
        assert records == first + struct.pack(">q", 3) + second[8:]
    part.fetch_offset = 4  # the end: nothing to send, held for max_wait_ms
    resp, hold = sink_fetch.fetch(state, req, 12)
    assert hold == 0.5


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


def test_confluent_consumer_reads_back_what_was_produced(running_sink: str) -> None:
    """subscribe() through the sink's one-member group, then every record in order."""
    confluent = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": running_sink})
    admin.create_topics([NewTopic("r", num_partitions=1, replication_factor=1)])["r"].result(10)
    producer = confluent.Producer({"bootstrap.servers": running_sink, "linger.ms": 5})
    for i in range(3000):
        producer.produce("r", f"value-{i}".encode(), key=f"k{i}".encode())
    assert producer.flush(10) == 0
    consumer = confluent.Consumer({"bootstrap.servers": running_sink, "group.id": "g",
                                   "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["r"])
    got: list[tuple[int, bytes, bytes]] = []
    try:
        for _ in range(100):
            for msg in consumer.consume(num_messages=1000, timeout=0.2):
                assert msg.error() is None, msg.error()
                got.append((msg.offset(), msg.key(), msg.value()))
            if len(got) >= 3000:
                break
    finally:
        consumer.close()
    assert got == [(i, f"k{i}".encode(), f"value-{i}".encode()) for i in range(3000)]


def test_queue_never_grows_a_held_batch() -> None:
    """Small pieces queued after a served batch must not be appended to the batch itself."""
    batch = bytearray(b"b" * sink.SMALL)
    conn = sink.Connection(sock=None)  # type: ignore[arg-type]
    sink.queue(conn, [b"head", batch, b"tail", b"more"])
    assert bytes(batch) == b"b" * sink.SMALL
    assert b"".join(conn.out) == b"head" + b"b" * sink.SMALL + b"tailmore"
