"""chronik.testing: the context manager and the pytest plugin, used as a user project would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import chronik.testing


def test_chronik_broker_fixture_from_the_entry_point(chronik_broker) -> None:
    # No import, no conftest: the fixture comes from the installed pytest11 plugin.
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=chronik_broker.bootstrap_servers)
    producer.send("plugin-demo", b"hello").get(timeout=10)
    producer.close()
    consumer = KafkaConsumer("plugin-demo", bootstrap_servers=chronik_broker.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    assert [m.value for m in consumer][:1] == [b"hello"]
    consumer.close()


def test_context_manager_starts_and_stops_by_pid() -> None:
    with chronik.testing.broker(partitions=3) as b:
        assert b.bootstrap_servers == f"127.0.0.1:{b.port}"
        assert b.data_dir.is_dir()
        os.kill(b.pid, 0)  # running
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=b.bootstrap_servers)
        producer.send("auto-created", b"x").get(timeout=10)
        assert producer.partitions_for("auto-created") == {0, 1, 2}
        producer.close()
        data_dir = b.data_dir
    assert b.process.returncode == 0  # stopped cleanly by SIGTERM
    assert not data_dir.exists()


def test_a_user_project_gets_the_fixture(tmp_path) -> None:
    project = tmp_path / "userproject"
    project.mkdir()
    (project / "test_app.py").write_text(textwrap.dedent("""
        from kafka import KafkaAdminClient

        seen = set()

        def test_one(chronik_broker, chronik_bootstrap_servers):
            assert chronik_bootstrap_servers == chronik_broker.bootstrap_servers
            admin = KafkaAdminClient(bootstrap_servers=chronik_bootstrap_servers)
            admin.create_topics({"orders": {"num_partitions": 2, "replication_factor": 1}})
            assert "orders" in admin.list_topics()
            admin.close()
            seen.add(chronik_broker.pid)

        def test_two_has_a_fresh_broker(chronik_broker):
            from kafka import KafkaAdminClient
            admin = KafkaAdminClient(bootstrap_servers=chronik_broker.bootstrap_servers)
            assert "orders" not in admin.list_topics()  # function scope: an empty broker
            admin.close()
            assert chronik_broker.pid not in seen
    """))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--chronik-broker-scope=function", "test_app.py"],
                         cwd=project, capture_output=True, timeout=120)
    out = res.stdout.decode()
    assert res.returncode == 0, out + res.stderr.decode()
    assert "2 passed" in out
