"""Segment lifecycle against a real broker: rolling, retention, compaction, recovery."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.integration

FAST = ("--log-retention-check-interval-ms", "200")


def create(bootstrap: str, topic: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, 1, 1, config=configs)])[topic]
    fut.result(10)


def produce(bootstrap: str, topic: str, items, **conf) -> list[int]:
    """Produce (key, value[, timestamp]) items; return their offsets in order."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 2000, **conf})
    offsets: dict[int, int] = {}

    def done(i):
        def cb(err, msg):
            assert err is None, err
            offsets[i] = msg.offset()
        return cb

    for i, item in enumerate(items):
        key, value, *ts = item
        kw = {"timestamp": ts[0]} if ts else {}
        while True:
            try:
                p.produce(topic, value, key, on_delivery=done(i), **kw)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(20) == 0
    return [offsets[i] for i in range(len(offsets))]


def read_all(bootstrap: str, topic: str, timeout: float = 20.0) -> list:
    c = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
    })
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, lo)])
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    if m.offset() >= hi:
                        return out
                    continue
                raise AssertionError(m.error())
            out.append(m)
        raise AssertionError(f"timed out reading {topic}: {len(out)} records")
    finally:
        c.close()


def watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wm"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def wait_for(cond, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_small_segments_roll_and_fetch_across_boundaries(broker):
    create(broker.bootstrap, "roll", **{"segment.bytes": "2048"})
    items = [(f"k{i}".encode(), f"value-{i:05d}".encode() * 4) for i in range(1500)]
    offsets = produce(broker.bootstrap, "roll", items, **{"batch.size": 1000})
    assert offsets == list(range(1500))
    logs = list((broker.data_dir / "roll-0").glob("*.log"))
    assert len(logs) > 10
    got = read_all(broker.bootstrap, "roll")
    assert [(m.offset(), m.key(), m.value()) for m in got] == [
        (i, k, v) for i, (k, v) in enumerate(items)
    ]


def test_retention_moves_log_start(broker_factory):
    b = broker_factory(*FAST)
    # By size.
    create(b.bootstrap, "rbytes", **{"segment.bytes": "1024", "retention.bytes": "4096"})
    produce(b.bootstrap, "rbytes", [(None, b"x" * 100) for _ in range(300)])
    lo, hi = wait_for(lambda: (w := watermarks(b.bootstrap, "rbytes"))[0] > 0 and w,
                      what="retention.bytes")
    assert hi == 300
    size = sum(p.stat().st_size for p in (b.data_dir / "rbytes-0").glob("*.log"))
    assert size <= 4096 + 1024
    got = read_all(b.bootstrap, "rbytes")
    assert got[0].offset() >= lo and got[-1].offset() == 299
    # A consumer asking for an offset below the log start is told it is out of range.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "oor",
                  "auto.offset.reset": "error"})
    c.assign([TopicPartition("rbytes", 0, 0)])
    m = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error():
            break
    c.close()
    assert m is not None and m.error() and "out of range" in str(m.error()).lower()

    # By time: old records go, recent ones stay.
    create(b.bootstrap, "rtime", **{"segment.bytes": "1024", "retention.ms": "60000"})
    old = int(time.time() * 1000) - 3_600_000
    produce(b.bootstrap, "rtime", [(None, b"o" * 100, old + i) for i in range(100)])
    produce(b.bootstrap, "rtime", [(None, b"n" * 100) for _ in range(20)])
    lo, hi = wait_for(lambda: (w := watermarks(b.bootstrap, "rtime"))[0] >= 90 and w,
                      what="retention.ms")
    assert hi == 120
    values = {m.value()[:1] for m in read_all(b.bootstrap, "rtime") if m.offset() >= 100}
    assert values == {b"n"}


def test_compaction_latest_per_key_tombstones_and_concurrent_reader(broker_factory):
    b = broker_factory(*FAST)
    topic = "compacted"
    create(b.bootstrap, topic, **{
        "cleanup.policy": "compact", "segment.bytes": "16384", "segment.ms": "1500",
        "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "4000",
    })
    items = [(f"key-{i % 100:03d}".encode(), f"value-{i}".encode()) for i in range(10_000)]
    offsets = produce(b.bootstrap, topic, items)
    dead = [f"key-{k:03d}".encode() for k in range(10)]
    tomb_offsets = produce(b.bootstrap, topic, [(k, None) for k in dead])
    latest = {}
    for off, (k, v) in zip(offsets + tomb_offsets, items + [(k, None) for k in dead], strict=True):
        latest[k] = (off, v)

    # A reader going over the log again and again while the cleaner works.
    errors: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                msgs = read_all(b.bootstrap, topic)
            except AssertionError as exc:
                errors.append(str(exc))
                return
            offs = [m.offset() for m in msgs]
            if offs != sorted(set(offs)):
                errors.append("offsets out of order")
            seen = {}
            for m in msgs:
                seen[m.key()] = (m.offset(), m.value())
            if seen != latest:
                errors.append("a key lost its latest value")

    t = threading.Thread(target=reader)
    t.start()
    try:
        def compacted():
            msgs = read_all(b.bootstrap, topic)
            return msgs if len(msgs) == len(latest) else None

        msgs = wait_for(compacted, timeout=30, what="compaction")
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors[:3]
    assert {m.key(): (m.offset(), m.value()) for m in msgs} == latest
    assert sum(1 for m in msgs if m.value() is None) == 10
    assert watermarks(b.bootstrap, topic)[1] == 10_010

    # After delete.retention.ms the tombstones themselves go.
    def tombstones_gone():
        msgs = read_all(b.bootstrap, topic)
        return msgs if len(msgs) == 90 else None

    msgs = wait_for(tombstones_gone, timeout=20, what="tombstone removal")
    assert {m.key(): (m.offset(), m.value()) for m in msgs} == {
        k: v for k, v in latest.items() if k not in dead
    }


def _segment_files(b, topic):
    return sorted((b.data_dir / f"{topic}-0").glob("*.log"))


def test_recovery_of_torn_and_corrupt_tails(broker_factory):
    b = broker_factory()
    for topic in ("torn", "flipped"):
        create(b.bootstrap, topic)
        for i in range(5):  # five produce requests -> five batches (a long linger keeps each whole under load)
            produce(b.bootstrap, topic, [(None, f"{topic}-{i}-{j}".encode()) for j in range(20)],
                    **{"linger.ms": 500, "batch.size": 100_000})
    b.kill()
    torn = _segment_files(b, "torn")[-1]
    size = torn.stat().st_size
    with open(torn, "r+b") as f:
        f.truncate(size - 30)  # mid-batch
    flipped = _segment_files(b, "flipped")[-1]
    data = bytearray(flipped.read_bytes())
    data[-10] ^= 0xFF  # inside the last batch's records: the CRC no longer matches
    flipped.write_bytes(bytes(data))
    b.start()
    for topic in ("torn", "flipped"):
        assert watermarks(b.bootstrap, topic) == (0, 80)
        values = [m.value() for m in read_all(b.bootstrap, topic)]
        assert values == [f"{topic}-{i}-{j}".encode() for i in range(4) for j in range(20)]
    # Recovery runs after the broker starts serving (reads wait for it): its log lines are there by now.
    out = b.output()
    assert "recovered" in out and "torn-0" in out and "flipped-0" in out
    # The log takes appends again where the intact part ended.
    assert produce(b.bootstrap, "torn", [(None, b"after")]) == [80]
