"""Many partitions with confluent-kafka: a 256-descriptor limit, and a restart that keeps every offset."""

from __future__ import annotations

import resource
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

pytestmark = pytest.mark.integration


def create(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for i in range(0, len(names), 500):
        futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names[i:i + 500]],
                                      request_timeout=120, operation_timeout=120)
        for fut in futures.values():
            fut.result()


def produce_one_each(bootstrap: str, names: list[str], partitions: int) -> None:
    """One record per partition, value '<topic>/<partition>'; every delivery checked."""
    failed: list[str] = []
    delivered: list[tuple[str, int, int]] = []

    def done(err, msg) -> None:
        if err is not None:
            failed.append(f"{msg.topic()}-{msg.partition()}: {err}")
        else:
            delivered.append((msg.topic(), msg.partition(), msg.offset()))

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "acks": "all",
                  "enable.idempotence": True, "message.timeout.ms": 120000})
    for n in names:
        for part in range(partitions):
            p.produce(n, key=n.encode(), value=f"{n}/{part}".encode(), partition=part, on_delivery=done)
        p.poll(0)
    assert p.flush(120) == 0
    assert not failed, failed[:5]
    assert sorted(delivered) == sorted((n, part, 0) for n in names for part in range(partitions))


def end_offsets(bootstrap: str, names: list[str], partitions: int) -> dict[tuple[str, int], int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    tps = [(n, p) for n in names for p in range(partitions)]
    out = {}
    for i in range(0, len(tps), 2500):
        req = {TopicPartition(n, p): OffsetSpec.latest() for n, p in tps[i:i + 2500]}
        for tp, fut in admin.list_offsets(req, request_timeout=120).items():
            out[(tp.topic, tp.partition)] = fut.result().offset
    return out


def nofile_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit")


def test_2000_partitions_under_a_256_descriptor_limit(broker_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The broker inherits the limit (macOS's default), as if started from a laptop shell.
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        b = broker_factory("--no-auto-create")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert nofile_limit(b.proc.pid) == 256
    names = [f"fd-{i:03d}" for i in range(200)]
    create(b.bootstrap, names, 10)
    produce_one_each(b.bootstrap, names, 10)
    assert len(list(Path(f"/proc/{b.proc.pid}/fd").iterdir())) < 256

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(n, p, 0) for n in names for p in range(10)])
    got: dict[tuple[str, int], list[tuple[int, bytes, bytes]]] = {}
    eof: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 90
    while len(eof) < 2000 and time.monotonic() < deadline:
        for m in c.consume(1000, timeout=0.5):
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                eof.add((m.topic(), m.partition()))
                continue
            got.setdefault((m.topic(), m.partition()), []).append((m.offset(), m.key(), m.value()))
    c.close()
    assert got == {(n, p): [(0, n.encode(), f"{n}/{p}".encode())] for n in names for p in range(10)}

    # Appends after every file was evicted at least once, and a second read of all of them.
    produce_more = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 50})
    for n in names[:20]:
        for p in range(10):
            produce_more.produce(n, value=b"second", partition=p)
    assert produce_more.flush(60) == 0
    ends = end_offsets(b.bootstrap, names, 10)
    assert ends == {(n, p): 2 if n in names[:20] else 1 for n in names for p in range(10)}
    assert "Too many open files" not in b.output()
    assert b.proc.poll() is None


def test_restart_with_10000_partitions_keeps_every_offset(broker_factory):
    b = broker_factory("--no-auto-create")
    names = [f"r-{i:04d}" for i in range(1000)]
    create(b.bootstrap, names, 10)
    produce_one_each(b.bootstrap, names, 10)
    b.kill()  # by PID, no clean shutdown: recovery must find every acknowledged record
    b.start()
    # Open lazily: the first answers come while partitions are still being recovered.
    ends = end_offsets(b.bootstrap, names, 10)
    assert ends == {(n, p): 1 for n in names for p in range(10)}
    # Appends continue the offsets, on partitions recovered on demand and in the background alike.
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20, "enable.idempotence": True})
    offsets: list[int] = []
    for n in (names[0], names[500], names[-1]):
        p.produce(n, value=b"after", partition=9, on_delivery=lambda err, msg: offsets.append(msg.offset()))
    assert p.flush(60) == 0
    assert offsets == [1, 1, 1]
