"""Reliability regressions: a client's bad input costs only that client, and never a traceback."""

from __future__ import annotations

import time

import pytest

from chronik.wire.apis import ALL_APIS
from chronik.wire.nulls import _plan
from tests.integration.test_bad_input import connect, is_closed, still_serving

pytestmark = pytest.mark.integration

# The handlers that used to raise TypeError on a null list (issue 11, defect 7).
NULL_CASES = [
    ("Fetch", "topics"), ("ListOffsets", "topics"), ("JoinGroup", "protocols"),
    ("DescribeConfigs", "resources"), ("OffsetCommit", "topics"), ("DeleteRecords", "topics"),
    ("FindCoordinator", "coordinator_keys"), ("Produce", "topic_data"),
    ("AddPartitionsToTxn", "transactions"), ("OffsetFetch", "groups"), ("SyncGroup", "assignments"),
    ("DescribeGroups", "groups"), ("DeleteGroups", "groups_names"), ("TxnOffsetCommit", "topics"),
]


def _null_request(api: str, field: str) -> bytes:
    spec = next(s for s in ALL_APIS.values() if s.name == api)
    version = max(v for v in range(spec.min_version, spec.max_version + 1)
                  if any(n == field and not nullable for n, _, nullable in _plan(spec.request._struct, v)))
    req = spec.request(version=version)
    setattr(req, field, None)
    req.API_VERSION = version
    req.with_header(correlation_id=3, client_id="nulls")
    return req.encode(header=True, framed=True)


def test_nulls_in_non_nullable_fields_close_only_that_connection(broker):
    for api, field in NULL_CASES:
        s = connect(broker)
        s.sendall(_null_request(api, field))
        assert is_closed(s), api
        s.close()
    still_serving(broker)
    out = broker.output()
    assert "Traceback" not in out and "ERROR" not in out
    assert out.count("was serialized as null") == len(NULL_CASES)


def test_create_partitions_is_bounded_and_changes_nothing_when_refused(broker):
    from kafka.protocol.admin.topics import (
        CreatePartitionsRequest,
        CreatePartitionsResponse,
        CreateTopicsRequest,
        CreateTopicsResponse,
    )

    from tests.integration.raw import RawConn

    conn = RawConn(broker.port)
    try:
        ct = CreateTopicsRequest.CreatableTopic
        made = conn.call(CreateTopicsRequest(topics=[ct(name="grow", num_partitions=1, replication_factor=1,
                                                        assignments=[], configs=[])], timeout_ms=5000),
                         CreateTopicsResponse, 5)
        assert made.topics[0].error_code == 0
        huge = conn.call(CreateTopicsRequest(topics=[ct(name="huge", num_partitions=20_000, replication_factor=1,
                                                        assignments=[], configs=[])], timeout_ms=5000),
                         CreateTopicsResponse, 5)
        assert (huge.topics[0].error_code, huge.topics[0].error_message) == (
            44, "Excessively large number of partitions per request.")
        cp = CreatePartitionsRequest.CreatePartitionsTopic
        resp = conn.call(CreatePartitionsRequest(topics=[cp(name="grow", count=2**31 - 1, assignments=None)],
                                                 timeout_ms=5000, validate_only=False),
                         CreatePartitionsResponse, 3)
        assert [(r.name, r.error_code) for r in resp.results] == [("grow", 44)]
        ok = conn.call(CreatePartitionsRequest(topics=[cp(name="grow", count=3, assignments=None)],
                                               timeout_ms=5000, validate_only=False),
                       CreatePartitionsResponse, 3)
        assert ok.results[0].error_code == 0
    finally:
        conn.close()
    broker.restart()
    # Partition directories appear with their first write (lazy partition logs):
    # the refused request left no partition behind, the accepted one three.
    assert not any(p.name.startswith(("grow-", "huge")) for p in broker.data_dir.iterdir())
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics
    assert sorted(topics["grow"].partitions) == [0, 1, 2] and "huge" not in topics
    still_serving(broker)


def test_client_strings_cannot_forge_log_lines(broker):
    """A group id with a newline is logged escaped, on its own line (issue 11, defect 10)."""
    from kafka.protocol.consumer.group import JoinGroupRequest, JoinGroupResponse

    from tests.integration.raw import RawConn

    conn = RawConn(broker.port)
    try:
        proto = JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"")
        req = JoinGroupRequest(group_id="g\n2026-11-29 00:00:00,000 ERROR chronik: FORGED", session_timeout_ms=10_000,
                               rebalance_timeout_ms=10_000, member_id="", group_instance_id=None,
                               protocol_type="consumer", protocols=[proto], reason=None)
        first = conn.call(req, JoinGroupResponse, 5)
        assert first.error_code == 79  # MEMBER_ID_REQUIRED
        req.member_id = first.member_id
        assert conn.call(req, JoinGroupResponse, 5).error_code == 0
    finally:
        conn.close()
    still_serving(broker)
    out = broker.output()
    assert "\\n2026-11-29 00:00:00,000 ERROR chronik: FORGED" in out
    assert not any(line.startswith("2026-11-29 00:00:00,000") for line in out.splitlines())


def test_damaged_segment_is_reported_not_served(broker_factory, tmp_path):
    """A flipped bit in a sealed segment: consumers get the records before it and then an error,
    never the damaged bytes and never a silent stop; `segments verify` names the file (defect 6)."""
    import subprocess
    import sys

    from confluent_kafka import Consumer, KafkaError, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    broker = broker_factory()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("dmg", 1, 1, config={"segment.bytes": "2000"})])["dmg"].result(10)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "compression.type": "none"})
    for i in range(60):
        p.produce("dmg", key=str(i).encode(), value=b"v" * 100)
        p.flush(10)
    broker.stop()
    first = sorted((broker.data_dir / "dmg-0").glob("*.log"))[0]
    raw = bytearray(first.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    first.write_bytes(bytes(raw))
    broker.start()

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dmg", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["dmg"])
    keys, errors = [], []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not errors:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    errors.append(m.error())
                continue
            keys.append(int(m.key()))
    finally:
        c.close()
    assert keys == list(range(len(keys))) and 0 < len(keys) < 60
    assert errors, "the consumer stopped without an error"
    out = broker.output()
    assert out.count("damaged data, not served") == 1 and "Traceback" not in out
    broker.stop()
    verify = subprocess.run([sys.executable, "-m", "chronik", "segments", "verify", "-d", str(broker.data_dir)],
                            capture_output=True, text=True)
    assert verify.returncode == 1 and first.name in verify.stdout + verify.stderr


# -- bounded resources (defects 3-5); bench/bench_resources.py measures the same with stalls ----------


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_idle_connections_are_cheap_and_given_back(broker):
    import resource
    import socket

    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2200:
        pytest.skip("needs 2,200 file descriptors")
    before = _rss_mb(broker.proc.pid)
    socks = [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(2000)]
    still_serving(broker)
    held = _rss_mb(broker.proc.pid) - before
    for s in socks:
        s.close()
    assert held < 60, f"2,000 idle connections cost {held:.0f} MB"


def test_claimed_frame_sizes_are_not_allocated(broker):
    import socket
    import struct

    before = _rss_mb(broker.proc.pid)
    socks = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", broker.port))
        s.sendall(struct.pack(">i", 99 * 1024 * 1024) + b"\x00\x01" * 7)
        socks.append(s)
    still_serving(broker)
    assert _rss_mb(broker.proc.pid) - before < 20
    for s in socks:
        s.close()


def test_a_client_that_never_reads_cannot_grow_the_broker(broker):
    import socket

    from tests.integration.raw import RawConn, create_topics, fetch_frame, produce, record_batch

    conn = RawConn(broker.port)
    create_topics(conn, "data")
    for _ in range(16):
        assert produce(conn, "data", record_batch(512 * 1024)).error_code == 0
    s = socket.create_connection(("127.0.0.1", broker.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.2)
    frames = b"".join(fetch_frame("data", i) for i in range(2000))
    try:
        s.sendall(frames)
    except TimeoutError:
        pass  # the broker stopped reading: that is the point
    peak = 0.0
    for _ in range(20):
        peak = max(peak, _rss_mb(broker.proc.pid))
        time.sleep(0.05)
    still_serving(broker)
    s.close()
    conn.close()
    assert peak < 200, f"RSS reached {peak:.0f} MB"
