"""The core's two pipelines: append (checks, write, bookkeeping, listeners, waiters) and read."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore, cut_at
from chronik.broker.purgatory import Deferred
from chronik.broker.types import Origin
from chronik.storage.control import build_marker
from chronik.wire.errors import ErrorCode as E


class Scheduler:
    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def call_later(self, delay, fn):
        return None


def batch(n: int = 1, pid: int = -1, epoch: int = -1, seq: int = -1, transactional: bool = False) -> bytearray:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=transactional,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq, batch_size=1 << 20)
    for i in range(n):
        b.append(i, timestamp=1_700_000_000_000, key=b"k", value=f"v{i}".encode(), headers=[])
    return b.build()


class Recorder:
    def __init__(self) -> None:
        self.appends: list[tuple[str, int, int, int]] = []
        self.deleted: list[str] = []

    def on_append(self, topic, partition, batches, result) -> None:
        self.appends.append((topic, partition, len(batches), result.base_offset))

    def on_topic_deleted(self, topic: str) -> None:
        self.deleted.append(topic)


@pytest.fixture
def core(tmp_path: Path):
    c = BrokerCore(BrokerConfig(data_dir=tmp_path / "data"), Scheduler())
    c.create_topic("t", 2)
    yield c
    c.close()


def test_append_assigns_offsets_and_tells_listeners(core):
    rec = Recorder()
    core.append_listeners.append(rec)
    first = core.append("t", 0, batch(3))
    second = core.append("t", 0, batch(2))
    assert (first.error, first.base_offset, second.base_offset) == (E.NONE, 0, 3)
    assert rec.appends == [("t", 0, 1, 0), ("t", 0, 1, 3)]
    assert core.partition("t", 0).log_end_offset == 5


@pytest.mark.parametrize("topic,partition,records,code", [
    ("nope", 0, batch(), E.UNKNOWN_TOPIC_OR_PARTITION),
    ("t", 7, batch(), E.UNKNOWN_TOPIC_OR_PARTITION),
    ("t", 0, b"", E.CORRUPT_MESSAGE),
    ("t", 0, b"\x00" * 70, E.CORRUPT_MESSAGE),
])
def test_append_refusals(core, topic, partition, records, code):
    assert core.append(topic, partition, records).error == code
    assert core.partition("t", 0).log_end_offset == 0


def test_clients_may_not_write_control_batches_but_coordinators_may(core):
    marker = build_marker(5, 0, True, 1_700_000_000_000)
    assert core.append("t", 0, bytearray(marker)).error == E.INVALID_RECORD
    assert core.append("t", 0, bytearray(marker), Origin.COORDINATOR).error == E.NONE


def test_idempotent_retry_gets_the_original_offset_and_writes_nothing(core):
    pid = core.producers.allocate_producer_id()
    data = batch(2, pid, 0, 0)
    first = core.append("t", 1, bytearray(data))
    retry = core.append("t", 1, bytearray(data))
    assert first.base_offset == retry.base_offset == 0
    assert core.partition("t", 1).log_end_offset == 2
    assert core.append("t", 1, batch(1, pid, 0, 5)).error == E.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_append_wakes_waiters_on_its_partition(core):
    answered = []
    d = Deferred(lambda expired: "data" if core.partition("t", 0).log_end_offset else None,
                 time.monotonic() + 60, [("t", 0)])
    d.on_done = answered.append
    core.purgatory.add(d)
    core.append("t", 1, batch())
    assert answered == []
    core.append("t", 0, batch())
    assert answered == ["data"]


def test_read_committed_stops_at_the_open_transaction(core):
    core.append("t", 0, batch(2))
    code, pid, epoch = core.transactions.init_producer_id("tx", 60_000)
    assert core.transactions.add_partitions("tx", pid, epoch, [("t", 0)]) == {("t", 0): E.NONE}
    core.append("t", 0, batch(3, pid, epoch, 0, transactional=True))
    topic = core.topics["t"]
    uncommitted = core.read(topic, 0, 0, 1 << 20, read_committed=False)
    committed = core.read(topic, 0, 0, 1 << 20, read_committed=True)
    assert (uncommitted.high_watermark, uncommitted.last_stable_offset) == (5, 2)
    assert len(committed.data) < len(uncommitted.data)
    assert committed.aborted == []
    assert core.transactions.end_txn("tx", pid, epoch, commit=False) == E.NONE
    after = core.read(topic, 0, 0, 1 << 20, read_committed=True)
    assert after.last_stable_offset == 6  # past the abort marker
    assert [(a.producer_id, a.first_offset) for a in after.aborted] == [(pid, 2)]


def test_read_out_of_range(core):
    core.append("t", 0, batch(2))
    out = core.read(core.topics["t"], 0, 3, 1 << 20, read_committed=False)
    assert (out.error, out.high_watermark, out.log_start_offset) == (E.OFFSET_OUT_OF_RANGE, -1, -1)  # as Kafka


def test_delete_topic_tells_topic_listeners(core):
    rec = Recorder()
    core.topic_listeners.append(rec)
    core.delete_topic("t")
    assert rec.deleted == ["t"] and "t" not in core.topics


def test_cut_at_keeps_whole_batches_below_the_limit():
    a, b = batch(2), batch(3)
    b[0:8] = (2).to_bytes(8, "big")
    data = bytes(a + b)
    assert cut_at(data, 2) == bytes(a)
    assert cut_at(data, 3) == data
