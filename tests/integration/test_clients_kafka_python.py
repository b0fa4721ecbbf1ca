"""The broker core driven by kafka-python 3 (idempotent producer by default) and kcat."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

pytestmark = pytest.mark.integration


def test_kafka_python_default_idempotent_producer(broker):
    p = KafkaProducer(bootstrap_servers=broker.bootstrap)
    assert p.config.get("enable_idempotence", True)
    futures = [
        p.send("kp", key=f"k{i % 5}".encode(), value=f"v{i}".encode(),
               headers=[("i", str(i).encode())], timestamp_ms=1_750_000_000_000 + i)
        for i in range(300)
    ]
    p.flush(30)
    metas = [f.get(10) for f in futures]
    p.close()
    assert sorted(m.offset for m in metas) == list(range(300))
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=5000)
    c.assign([TopicPartition("kp", 0)])
    got = list(c)
    c.close()
    assert len(got) == 300
    for i, m in enumerate(got):
        assert m.offset == i
        assert m.key == f"k{i % 5}".encode()
        assert m.value == f"v{i}".encode()
        assert m.headers == [("i", str(i).encode())]
        assert m.timestamp == 1_750_000_000_000 + i


def test_kafka_python_admin(broker):
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("kpa", 2, 1)])
    assert "kpa" in admin.list_topics()
    admin.delete_topics(["kpa"])
    assert "kpa" not in admin.list_topics()
    admin.close()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_kcat_produce_consume(broker):
    lines = "\n".join(f"k{i}:value {i}" for i in range(100)) + "\n"
    subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "kc", "-K:"], input=lines.encode(),
                   check=True, timeout=30)
    out = subprocess.run(
        ["kcat", "-b", broker.bootstrap, "-C", "-t", "kc", "-e", "-f", "%k|%s|%o\n"],
        capture_output=True, check=True, timeout=30,
    ).stdout.decode()
    rows = out.strip().split("\n")
    assert rows == [f"k{i}|value {i}|{i}" for i in range(100)]
    meta = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True,
                          check=True, timeout=30).stdout.decode()
    assert 'topic "kc" with 1 partitions' in meta
