"""Crash consistency: idempotent producers, random SIGKILLs and restarts, and every
acknowledged record is read back exactly once (issue 11)."""

from __future__ import annotations

import random
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.reading import read_until_idle

pytestmark = pytest.mark.integration

PRODUCERS = 3
KILLS = 6


def test_sigkill_loses_and_duplicates_nothing_acknowledged(broker_factory):
    rnd = random.Random(20261129)
    broker = broker_factory()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("crash", 3, 1, config={"segment.bytes": "65536"})])["crash"].result(10)
    acked: list[set[bytes]] = [set() for _ in range(PRODUCERS)]
    failed: list[int] = [0] * PRODUCERS

    def on_delivery(i):
        def cb(err, msg):
            if err is None:
                acked[i].add(msg.value())
            else:
                failed[i] += 1
        return cb

    producers = [Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
                           "linger.ms": rnd.choice([0, 2, 10]), "message.timeout.ms": 120_000,
                           "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200,
                           "compression.type": rnd.choice(["none", "lz4", "zstd"])})
                 for _ in range(PRODUCERS)]
    seq = [0] * PRODUCERS
    try:
        for _kill in range(KILLS):
            deadline = time.monotonic() + rnd.uniform(0.3, 1.2)
            while time.monotonic() < deadline:
                for i, p in enumerate(producers):
                    for _ in range(20):
                        p.produce("crash", key=f"p{i}".encode(), value=f"p{i}-{seq[i]}".encode(),
                                  partition=rnd.randrange(3), on_delivery=on_delivery(i))
                        seq[i] += 1
                    p.poll(0)
                time.sleep(0.005)
            broker.kill()
            time.sleep(rnd.uniform(0, 0.3))
            broker.start()
        for p in producers:
            assert p.flush(120) == 0
    finally:
        for p in producers:
            p.flush(1)
    assert sum(len(a) for a in acked) > 1000 and sum(failed) == 0

    seen: dict[bytes, int] = {}
    for m in read_until_idle(broker.bootstrap, "crash", range(3), **{"isolation.level": "read_uncommitted"}):
        seen[m.value()] = seen.get(m.value(), 0) + 1
    duplicates = {v: n for v, n in seen.items() if n > 1}
    assert not duplicates, list(duplicates.items())[:5]
    for i in range(PRODUCERS):
        missing = acked[i] - seen.keys()
        assert not missing, (i, sorted(missing)[:5])
