"""A full disk: acknowledged records are never lost or replaced, clients get KAFKA_STORAGE_ERROR,
the broker logs the condition once and recovers by itself when space returns (issue 11, defects 1-2).

The data directory lives on a small tmpfs (CI runs as root; elsewhere these tests skip).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from kafka.protocol.consumer.group import OffsetCommitRequest, OffsetCommitResponse

from tests.conftest import BrokerProcess, free_port
from tests.integration.raw import RawConn, create_topics, produce, record_batch
from tests.integration.test_bad_input import still_serving
from tests.integration.test_http_metrics import http_get

pytestmark = pytest.mark.integration

STORAGE_ERROR = 56
NOT_COORDINATOR = 16


@pytest.fixture
def small_disk(tmp_path: Path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _consume_all(bootstrap: str, topic: str) -> list[tuple[int, bytes]]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        out = []
        empty = 0
        while empty < 3:
            m = c.poll(1.0)
            if m is None:
                empty += 1
                continue
            assert m.error() is None, m.error()
            out.append((m.offset(), m.key()))
        return out
    finally:
        c.close()


def _fill(path: Path) -> None:
    """Take whatever space is left on the disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(conn: RawConn, offset: int) -> int:
    part = OffsetCommitRequest.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
        partition_index=0, committed_offset=offset, committed_leader_epoch=-1, committed_metadata="m")
    req = OffsetCommitRequest(group_id="g", generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
                              retention_time_ms=-1,
                              topics=[OffsetCommitRequest.OffsetCommitRequestTopic(name="full", partitions=[part])])
    return conn.call(req, OffsetCommitResponse, 7).topics[0].partitions[0].error_code


def test_full_disk_never_replaces_an_acknowledged_record(small_disk: Path):
    http_port = free_port()
    broker = BrokerProcess(data_dir=small_disk / "data", port=free_port(),
                           extra_args=["--http-port", str(http_port)])
    broker.start()
    readyz = f"http://127.0.0.1:{http_port}/readyz"
    try:
        conn = RawConn(broker.port)
        create_topics(conn, "full")
        spare = small_disk / "spare"
        spare.write_bytes(b"\0" * 512 * 1024)
        acked: dict[int, int] = {}  # offset -> record number
        errors = []
        for i in range(300):
            resp = produce(conn, "full", record_batch(20_000, key=str(i).encode()))
            if resp.error_code == 0:
                assert resp.base_offset not in acked
                acked[resp.base_offset] = i
            else:
                errors.append(resp.error_code)
        assert acked and errors and set(errors) == {STORAGE_ERROR}, errors[:5]
        _fill(small_disk / "rest")
        assert _commit(conn, 1) == NOT_COORDINATOR
        # The same connection is still served; the condition was logged once, without a traceback.
        still_serving(broker)
        out = broker.output()
        assert out.count("writing partition logs failed") == 1, out
        assert out.count("writing committed offsets failed") == 1, out
        assert "Traceback" not in out
        status, _ctype, body = http_get(readyz)
        assert status == 503 and b"partition logs" in body, body
        # Space comes back: writes succeed again, with no restart and on the same connection.
        spare.unlink()
        (small_disk / "rest").unlink()
        resp = produce(conn, "full", record_batch(100, key=b"1000"))
        assert resp.error_code == 0 and resp.base_offset not in acked
        acked[resp.base_offset] = 1000
        assert _commit(conn, 1) == 0
        conn.close()
        assert "writing partition logs works again" in broker.output()
        assert http_get(readyz)[0] == 200
        # A crash, then every acknowledged record is read back at its offset, once.
        broker.kill()
        broker.start()
        records = _consume_all(broker.bootstrap, "full")
        offsets = [o for o, _ in records]
        assert offsets == sorted(set(offsets))
        by_offset = dict(records)
        for offset, i in acked.items():
            assert by_offset.get(offset) == str(i).encode(), f"acknowledged record {i} at offset {offset} lost"
        assert len(records) == len(acked)
    finally:
        broker.stop()
        broker.kill()
