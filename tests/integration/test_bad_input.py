"""Bad input on the wire: the offending connection gets an error or is closed,
and the broker keeps serving everyone else."""

from __future__ import annotations

import shutil
import socket
import struct

import pytest
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.record.default_records import DefaultRecordBatchBuilder

pytestmark = pytest.mark.integration


def connect(broker) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
    return s


def send_request(s: socket.socket, req, version: int, correlation_id: int = 1) -> None:
    req.API_VERSION = version
    req.with_header(correlation_id=correlation_id, client_id="test")
    s.sendall(req.encode(header=True, framed=True))


def read_frame(s: socket.socket) -> bytes:
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    return recv_exact(s, size)


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def is_closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def still_serving(broker) -> None:
    s = connect(broker)
    send_request(s, ApiVersionsRequest(), 3, correlation_id=7)
    frame = read_frame(s)
    assert struct.unpack(">i", frame[:4])[0] == 7
    resp = ApiVersionsResponse.decode(frame[4:], version=3)
    assert resp.error_code == 0
    assert {a.api_key for a in resp.api_keys} >= {0, 1, 2, 3, 18}
    s.close()


def test_api_versions_every_version(broker):
    for v in range(0, 5):
        s = connect(broker)
        send_request(s, ApiVersionsRequest(), v, correlation_id=100 + v)
        frame = read_frame(s)
        assert struct.unpack(">i", frame[:4])[0] == 100 + v
        resp = ApiVersionsResponse.decode(frame[4:], version=v)
        assert resp.error_code == 0
        produce = next(a for a in resp.api_keys if a.api_key == 0)
        assert produce.min_version == 0 and produce.max_version == 13
        fetch = next(a for a in resp.api_keys if a.api_key == 1)
        assert (fetch.min_version, fetch.max_version) == (4, 18)
        s.close()


def test_unknown_api_versions_version_gets_v0_unsupported(broker):
    s = connect(broker)
    # A made-up ApiVersions v9 request: header v2 then an empty body.
    payload = struct.pack(">hhih", 18, 9, 55, 4) + b"test" + b"\x00" + b"\x00\x00\x00"
    s.sendall(struct.pack(">i", len(payload)) + payload)
    frame = read_frame(s)
    assert struct.unpack(">i", frame[:4])[0] == 55
    resp = ApiVersionsResponse.decode(frame[4:], version=0)
    assert resp.error_code == 35
    assert any(a.api_key == 18 and a.max_version == 4 for a in resp.api_keys)
    s.close()


def _framed(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


BAD_FRAMES = {
    "garbage": b"\x00\x00\x00\x10" + b"\xff" * 16,
    "two-gigabyte-frame": struct.pack(">i", 2_000_000_000) + b"\x00" * 100,
    "negative-frame-size": struct.pack(">i", -5),
    # A Metadata v1 header followed by a topic array that claims 5 entries and has none.
    "truncated-body": _framed(struct.pack(">hhih", 3, 1, 9, 1) + b"x" + struct.pack(">i", 5)),
    "unknown-api-key": _framed(struct.pack(">hhih", 999, 0, 3, 1) + b"x"),
    "unsupported-version": _framed(struct.pack(">hhih", 3, 77, 3, 1) + b"x"),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_bad_frame_closes_only_its_connection(broker, name):
    s = connect(broker)
    s.sendall(BAD_FRAMES[name])
    assert is_closed(s)
    still_serving(broker)


def test_truncated_frame_then_disconnect(broker):
    s = connect(broker)
    s.sendall(struct.pack(">i", 1000) + b"\x00\x03\x00\x01")
    s.close()
    still_serving(broker)


def test_pipelined_requests_answered_in_order(broker):
    s = connect(broker)
    buf = b""
    for i in range(50):
        req = MetadataRequest(topics=[]) if i % 2 else ApiVersionsRequest()
        v = 1 if i % 2 else 2
        req.API_VERSION = v
        req.with_header(correlation_id=1000 + i, client_id="pipe")
        buf += req.encode(header=True, framed=True)
    s.sendall(buf)
    for i in range(50):
        frame = read_frame(s)
        assert struct.unpack(">i", frame[:4])[0] == 1000 + i
        if i % 2:
            MetadataResponse.decode(frame[4:], version=1)
    s.close()


def _batch(value: bytes) -> bytearray:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    b.append(0, timestamp=1_700_000_000_000, key=b"k", value=value, headers=[])
    return bytearray(b.build())


def _produce(broker, records: bytes, topic: str = "crc"):
    # Create the topic through Metadata first.
    s = connect(broker)
    send_request(s, MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
                                    allow_auto_topic_creation=True), 9, correlation_id=1)
    read_frame(s)
    P = ProduceRequest
    req = P(transactional_id=None, acks=1, timeout_ms=5000, topic_data=[
        P.TopicProduceData(name=topic, partition_data=[
            P.TopicProduceData.PartitionProduceData(index=0, records=bytes(records))])])
    send_request(s, req, 9, correlation_id=2)
    frame = read_frame(s)
    s.close()
    return ProduceResponse.decode(frame[5:], version=9)  # correlation id + empty tag buffer


def test_wrong_crc_is_corrupt_message(broker):
    good = _batch(b"hello")
    resp = _produce(broker, good)
    assert resp.responses[0].partition_responses[0].error_code == 0
    bad = _batch(b"hello")
    bad[-1] ^= 0xFF
    resp = _produce(broker, bad)
    part = resp.responses[0].partition_responses[0]
    assert part.error_code == 2  # CORRUPT_MESSAGE
    # Nothing of the bad batch was stored: the next good one gets offset 1.
    resp = _produce(broker, _batch(b"again"))
    assert resp.responses[0].partition_responses[0].base_offset == 1
    still_serving(broker)


def test_second_broker_on_same_dir_is_refused(broker):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "chronik", "integrated", "-p", "0", "-d", str(broker.data_dir)],
        capture_output=True, timeout=30,
    )
    assert out.returncode != 0
    assert b"in use by another chronik" in out.stderr
    still_serving(broker)


def test_large_frame_arriving_in_pieces(broker):
    """A frame bigger than the read buffer may arrive slowly; the connection must wait for it."""
    import time

    s = connect(broker)
    send_request(s, MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name="slow")],
                                    allow_auto_topic_creation=True), 9, correlation_id=1)
    read_frame(s)
    P = ProduceRequest
    req = P(transactional_id=None, acks=1, timeout_ms=5000, topic_data=[
        P.TopicProduceData(name="slow", partition_data=[
            P.TopicProduceData.PartitionProduceData(index=0, records=bytes(_batch(b"z" * 700_000)))])])
    req.API_VERSION = 9
    req.with_header(correlation_id=2, client_id="slow")
    data = bytes(req.encode(header=True, framed=True))
    for i in range(0, len(data), 100_000):
        s.sendall(data[i:i + 100_000])
        time.sleep(0.05)
    frame = read_frame(s)
    resp = ProduceResponse.decode(frame[5:], version=9)
    assert resp.responses[0].partition_responses[0].error_code == 0
    s.close()


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit is not installed")
def test_running_out_of_file_descriptors_pauses_accepts_then_recovers(broker):
    import subprocess
    import time

    pid = broker.proc.pid
    subprocess.run(["prlimit", f"--pid={pid}", "--nofile=40:"], check=True)
    socks = []
    try:
        for _ in range(60):
            socks.append(socket.create_connection(("127.0.0.1", broker.port), timeout=2))
        time.sleep(0.8)
    finally:
        for s in socks:
            s.close()
        subprocess.run(["prlimit", f"--pid={pid}", "--nofile=1024:"], check=True)
    time.sleep(1.0)
    still_serving(broker)
    assert "pausing accepts" in broker.output()
    assert broker.proc.poll() is None


def test_damaged_metadata_file_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.json").write_text("{not json")
    out = subprocess.run([sys.executable, "-m", "chronik", "integrated", "-p", "0", "-d", str(data)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: metadata file")
    assert "Traceback" not in out.stderr
    assert (data / "meta.json").read_text() == "{not json"  # left as it was
