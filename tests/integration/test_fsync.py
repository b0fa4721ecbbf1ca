"""`--fsync always`: acks=all answers are held for a group-committed fsync, then acked; data reads back."""

from __future__ import annotations

import re
import struct
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer
from kafka.protocol.metadata.api_versions import ApiVersionsRequest
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from tests.conftest import free_port
from tests.integration.raw import RawConn, record_batch


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
