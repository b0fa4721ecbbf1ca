"""`--fsync always`: acks=all answers are held for a group-committed fsync, then acked; data reads back."""

from __future__ import annotations

import os
import re
import signal
import struct
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.metadata.api_versions import ApiVersionsRequest
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from tests.conftest import free_port
from tests.integration.raw import RawConn, record_batch
from tests.integration.reading import read_until_idle


def _fsyncs(output: str) -> tuple[int, int]:
    m = re.search(r"group commit: (\d+) fsyncs in (\d+) batches \(0 failed\)", output)
    assert m, output[-2000:]
    return int(m.group(1)), int(m.group(2))


def _consume(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes, int, int]]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:6]}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    try:
        for _ in range(600):
            if len(got) >= count:
                break
            m = c.poll(0.1)
            if m is not None and m.error() is None:
                got.append((m.key(), m.value(), m.partition(), m.offset()))
    finally:
        c.close()
    return got


def test_acks_all_produce_is_acked_after_fsync_and_reads_back(broker_factory):
    http_port = free_port()
    b = broker_factory("--fsync", "always", "--partitions", "3", "--http-port", str(http_port))
    topic = "durable"
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 2})
    acked = []

    def delivered(err, msg):
        assert err is None, err
        acked.append((msg.key(), msg.value(), msg.partition(), msg.offset()))

    for i in range(300):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode() * 10, on_delivery=delivered)
    assert p.flush(30) == 0
    assert len(acked) == 300
    got = _consume(b.bootstrap, topic, 300)
    assert sorted(got) == sorted(acked)
    # acks=1 answers are not held, and still come back readable.
    p1 = Producer({"bootstrap.servers": b.bootstrap, "acks": 1})
    p1.produce(topic, key=b"one", value=b"acks1", partition=0)
    assert p1.flush(30) == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as resp:
        scraped = _samples(resp.read().decode())
    assert scraped["chronik_fsyncs_total"] >= 9
    assert scraped["chronik_group_commits_total"] >= 1
    assert scraped["chronik_group_commit_failures_total"] == 0
    assert b.stop() == 0
    fsyncs, batches = _fsyncs(b.output())
    # Every partition file was fsynced (plus its directory and the data dir once): at least 3 x 3.
    assert batches >= 1 and fsyncs >= 9
    assert fsyncs >= scraped["chronik_fsyncs_total"]


def _samples(text: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line.startswith("chronik_") and "{" not in line.split()[0]}


def test_held_answers_keep_their_order_on_a_pipelined_connection(broker_factory):
    b = broker_factory("--fsync", "always")
    conn = RawConn(b.port)
    conn.call(MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name="pipe")],
                              allow_auto_topic_creation=True), MetadataResponse, 9)
    # Produce acks=all, produce acks=1, ApiVersions, produce acks=all -- sent at once, not waiting.
    frames, expected = b"", []
    for corr, acks in ((101, -1), (102, 1), (103, None), (104, -1)):
        if acks is None:
            req, version = ApiVersionsRequest(), 3
        else:
            req = ProduceRequest(transactional_id=None, acks=acks, timeout_ms=5000, topic_data=[
                ProduceRequest.TopicProduceData(name="pipe", partition_data=[
                    ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=record_batch(50))])])
            version = 9
        req.API_VERSION = version
        req.with_header(correlation_id=corr, client_id="pipe")
        frames += req.encode(header=True, framed=True)
        expected.append(corr)
    conn.sock.sendall(frames)
    seen, offsets = [], []
    for _ in expected:
        size = struct.unpack(">i", conn._recv(4))[0]
        frame = conn._recv(size)
        corr = struct.unpack(">i", frame[:4])[0]
        seen.append(corr)
        if corr != 103:
            part = ProduceResponse.decode(frame[5:], version=9).responses[0].partition_responses[0]
            assert part.error_code == 0
            offsets.append(part.base_offset)
    conn.close()
    assert seen == expected
    assert offsets == [0, 1, 2]
    assert b.stop() == 0
    fsyncs, batches = _fsyncs(b.output())
    assert fsyncs >= 1 and batches >= 1


def test_fsync_mode_is_checked(broker_factory, tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "chronik", "integrated", "-d", str(tmp_path / "d"),
                          "--fsync", "sometimes"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "--fsync must be one of never, always" in out.stderr


def _pipelined_produces(port: int, topic: str, count: int) -> tuple[RawConn, bytes]:
    """`count` acks=all produce requests of one record each (value = its number), framed back to back."""
    conn = RawConn(port)
    conn.call(MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
                              allow_auto_topic_creation=True), MetadataResponse, 9)
    frames = b""
    for i in range(count):
        req = ProduceRequest(transactional_id=None, acks=-1, timeout_ms=5000, topic_data=[
            ProduceRequest.TopicProduceData(name=topic, partition_data=[
                ProduceRequest.TopicProduceData.PartitionProduceData(
                    index=0, records=record_batch(100, key=f"{i}".encode()))])])
        req.API_VERSION = 9
        req.with_header(correlation_id=1000 + i, client_id="term")
        frames += req.encode(header=True, framed=True)
    return conn, frames


def _answers_until_closed(conn: RawConn) -> dict[int, int]:
    """correlation id -> base offset of every produce answer read before the broker closed the socket."""
    got: dict[int, int] = {}
    conn.sock.settimeout(30)
    while True:
        try:
            size = struct.unpack(">i", conn._recv(4))[0]
            frame = conn._recv(size)
        except (ConnectionError, OSError, struct.error, AssertionError):
            return got
        corr = struct.unpack(">i", frame[:4])[0]
        part = ProduceResponse.decode(frame[5:], version=9).responses[0].partition_responses[0]
        assert part.error_code == 0, part
        got[corr] = part.base_offset


def test_sigterm_sends_the_answers_held_for_the_group_commit(broker_factory):
    """A record on disk was answered: SIGTERM while acks=all answers wait for their fsync sends them first."""
    b = broker_factory("--fsync", "always")
    conn, frames = _pipelined_produces(b.port, "term", 3000)
    conn.sock.sendall(frames)
    time.sleep(0.05)  # some read and appended, answers held or in flight
    b.proc.send_signal(signal.SIGTERM)
    answered = _answers_until_closed(conn)
    conn.close()
    assert b.proc.wait(30) == 0
    assert answered, b.output()[-2000:]
    b.start()
    on_disk = {o: int(k) for o, (k, _v) in _read_all(b.bootstrap, "term").items()}
    assert sorted(on_disk) == list(range(len(on_disk)))
    # Every record on disk was acknowledged, at the offset it has on disk.
    assert len(answered) == len(on_disk), (len(answered), len(on_disk))
    assert {on_disk[o] for o in answered.values()} == {c - 1000 for c in answered}


def test_sigkill_mid_produce_over_preallocated_segments_keeps_every_acked_record(broker_factory):
    """Segments are allocated past their end (`--fsync always`); a SIGKILL leaves that allocation behind,
    and the restarted broker still has exact offsets and contents, and appends where the log ended."""
    b = broker_factory("--fsync", "always")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("pre", 1, 1, config={"segment.bytes": str(600_000)})])["pre"].result(10)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 1,
                  "message.timeout.ms": 60_000})
    acked: dict[int, bytes] = {}

    def delivered(err, msg):
        if err is None:
            acked[msg.offset()] = msg.value()

    value = b"v" * 700
    i = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(acked) < 3000 or not _preallocated(b.data_dir / "pre-0")):
        p.produce("pre", key=f"{i}".encode(), value=value + f"{i}".encode(), on_delivery=delivered)
        i += 1
        p.poll(0)
        if i % 200 == 0:
            p.flush(10)
    assert _preallocated(b.data_dir / "pre-0"), "no segment was allocated past its end"
    for _ in range(300):  # more in flight as it dies
        p.produce("pre", key=f"{i}".encode(), value=value + f"{i}".encode(), on_delivery=delivered)
        i += 1
    p.poll(0)
    b.kill()
    p.flush(1)  # answers cut off by the kill are lost, not delivered
    b.start()
    assert len(list((b.data_dir / "pre-0").glob("*.log"))) > 1  # rolled: sealed segments too
    got = _read_all(b.bootstrap, "pre")
    assert sorted(got) == list(range(len(got)))  # no hole, no zeros taken for records
    for offset, v in acked.items():
        assert got[offset][1] == v
    for key, v in got.values():
        assert v == value + key
    end = len(got)
    p2 = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    after: list[int] = []
    p2.produce("pre", value=b"after", on_delivery=lambda err, msg: after.append(msg.offset()))
    assert p2.flush(30) == 0
    assert after == [end]


def _read_all(bootstrap: str, topic: str) -> dict[int, tuple[bytes, bytes]]:
    """offset -> (key, value) of everything in partition 0, read until the consumer idles."""
    return {m.offset(): (m.key(), m.value()) for m in read_until_idle(bootstrap, topic, [0])}


def _preallocated(directory) -> bool:
    """Some segment holds more blocks than its size needs (allocated past its end)."""
    for path in directory.glob("*.log"):
        st = os.stat(path)
        if st.st_blocks * 512 > st.st_size + 128 * 1024:
            return True
    return False
