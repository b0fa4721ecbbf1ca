"""More clients against the broker: aiokafka (asyncio) and kafkajs (Node.js)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

pytestmark = pytest.mark.integration

JS_DIR = Path(__file__).parent / "js"


def read_committed(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes | None, bytes]]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "verify", "isolation.level": "read_committed",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, eof = [], set()
    while len(eof) < partitions:
        m = c.poll(5)
        assert m is not None, "timed out reading back"
        if m.error():
            eof.add(m.partition())
            continue
        out.append((m.key(), m.value()))
    c.close()
    return out


def test_aiokafka_idempotent_gzip_group_and_transactions(broker):
    aiokafka = pytest.importorskip("aiokafka")

    async def run() -> list:
        p = aiokafka.AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True,
                                      compression_type="gzip")
        await p.start()
        for i in range(100):
            await p.send("aio", key=b"k%d" % (i % 3), value=b"v%d" % i, headers=[("n", str(i).encode())])
        await p.flush()
        await p.stop()

        c = aiokafka.AIOKafkaConsumer("aio", bootstrap_servers=broker.bootstrap, group_id="aio-group",
                                      auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        got: list = []
        for _ in range(20):
            for msgs in (await c.getmany(timeout_ms=1000)).values():
                got += msgs
            if len(got) >= 100:
                break
        await c.commit()
        committed = await c.committed(aiokafka.TopicPartition("aio", 0))
        await c.stop()

        tp = aiokafka.AIOKafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id="aio-tx")
        await tp.start()
        async with tp.transaction():
            await tp.send("aio-tx", b"committed")
        await tp.begin_transaction()
        await tp.send("aio-tx", b"aborted")
        await tp.abort_transaction()
        await tp.stop()
        return [got, committed]

    got, committed = asyncio.run(run())
    assert [(m.offset, m.key, m.value, list(m.headers)) for m in got] == [
        (i, b"k%d" % (i % 3), b"v%d" % i, [("n", str(i).encode())]) for i in range(100)
    ]
    assert committed == 100
    assert read_committed(broker.bootstrap, "aio-tx", 1) == [(None, b"committed")]


@pytest.mark.skipif(shutil.which("node") is None or not (JS_DIR / "node_modules" / "kafkajs").is_dir(),
                    reason="node or kafkajs is not installed (npm install in tests/integration/js)")
def test_kafkajs_admin_idempotent_gzip_group_and_transactions(broker):
    out = subprocess.run(["node", str(JS_DIR / "kafkajs_round_trip.js"), broker.bootstrap, "kjs"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "kjs" in result["topics"]
    seen = sorted(result["seen"], key=lambda r: int(r["n"]))
    assert [(r["key"], r["value"]) for r in seen] == [(f"k{i % 5}", f"v{i}") for i in range(50)]
    # Same key, same partition; offsets per partition are 0, 1, 2, ...
    partition_of: dict[str, int] = {}
    offsets: dict[int, list[int]] = {}
    for r in seen:
        assert partition_of.setdefault(r["key"], r["partition"]) == r["partition"]
        offsets.setdefault(r["partition"], []).append(r["offset"])
    for offs in offsets.values():
        assert sorted(offs) == list(range(len(offs)))
    committed = read_committed(broker.bootstrap, "kjs", 2)
    assert (b"tx", b"committed") in committed
    assert (b"tx", b"aborted") not in committed
    assert len(committed) == 51
