"""Transaction coordinator: state machine, fencing, timeouts, LSO, aborted index, persistence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.broker.transactions import TransactionCoordinator
from chronik.broker.txn_state import STATE_DIR, STATE_FILE, TxnState
from chronik.storage.batch import scan_batches
from chronik.storage.control import build_marker
from chronik.storage.txn_index import INDEX_FILE, AbortedIndex
from chronik.wire.errors import ErrorCode as E

TIMEOUT = 60_000


class FakeServer:
    def __init__(self) -> None:
        self.timers: list[tuple[float, object]] = []

    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def call_later(self, delay: float, fn) -> None:
        self.timers.append((delay, fn))

    def run_immediate(self) -> None:
        for delay, fn in list(self.timers):
            if delay == 0:
                fn()


class FakeOffsets:
    def __init__(self) -> None:
        self.commits: list[tuple[str, dict]] = []

    def commit(self, group: str, offsets: dict) -> None:
        self.commits.append((group, offsets))

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


class Broker:
    """A broker core on a fake scheduler, restartable on the same directory."""

    def __init__(self, data_dir: Path, clock: Clock, offsets: FakeOffsets | None = None) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.offsets = offsets or FakeOffsets()
        self.start()

    def start(self) -> None:
        self.server = FakeServer()
        self.core = BrokerCore(BrokerConfig(data_dir=self.data_dir, transaction_max_timeout_ms=900_000),
                                self.server)
        self.core.offsets.close()
        self.core.offsets = self.offsets
        self.coord: TransactionCoordinator = self.core.transactions
        self.coord.now_ms = self.clock
        self.core.start()
        self.server.run_immediate()

    def restart(self, clean: bool = True) -> None:
        if clean:
            ends = {(t.name, i): p.log_end_offset for t in self.core.topics.values()
                    for i, p in enumerate(t.partitions)}
            self.core.producers.snapshot(ends)
        self.core.close()
        self.start()

    def produce(self, topic: str, partition: int, pid: int, epoch: int, seq: int, n: int,
                transactional: bool = True) -> tuple[int, int]:
        """Produce one batch through the core's pipeline: (error code, base offset)."""
        b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=transactional,
                                      producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                      batch_size=1 << 20)
        for i in range(n):
            b.append(i, timestamp=self.clock(), key=None, value=f"v{i}".encode(), headers=[])
        out = self.core.append(topic, partition, b.build())
        return out.error, out.base_offset

    def hw(self, topic: str, partition: int = 0) -> int:
        return self.core.partition(topic, partition).log_end_offset

    def lso(self, topic: str, partition: int = 0) -> int:
        return self.coord.last_stable_offset(topic, partition)

    def aborted(self, topic: str, partition: int, start: int, end: int) -> list[tuple[int, int]]:
        return [(a.producer_id, a.first_offset)
                for a in self.coord.aborted_transactions(topic, partition, start, end)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(tmp_path: Path, clock: Clock):
    b = Broker(tmp_path / "data", clock)
    b.core.create_topic("t", 2)
    yield b
    b.core.close()


def begin(b: Broker, txn: str = "tx", parts=(("t", 0),)) -> tuple[int, int]:
    code, pid, epoch = b.coord.init_producer_id(txn, TIMEOUT)
    assert code == E.NONE
    assert all(c == E.NONE for c in b.coord.add_partitions(txn, pid, epoch, list(parts)).values())
    return pid, epoch


# -- the state machine -------------------------------------------------------------


def test_init_producer_id_keeps_id_and_bumps_epoch(broker):
    code, pid, epoch = broker.coord.init_producer_id("tx", TIMEOUT)
    assert (code, epoch) == (E.NONE, 0)
    assert broker.coord.init_producer_id("tx", TIMEOUT) == (E.NONE, pid, 1)
    assert broker.coord.init_producer_id("tx", 0)[0] == E.INVALID_TRANSACTION_TIMEOUT
    assert broker.coord.init_producer_id("tx", 900_001)[0] == E.INVALID_TRANSACTION_TIMEOUT
    other = broker.coord.init_producer_id("other", TIMEOUT)
    assert other[1] != pid


def test_init_producer_id_with_current_epoch_bumps_and_retry_is_idempotent(broker):
    _, pid, epoch = broker.coord.init_producer_id("tx", TIMEOUT)
    assert broker.coord.init_producer_id("tx", TIMEOUT, pid, epoch) == (E.NONE, pid, epoch + 1)
    # The same request again (its answer was lost): the bump is not repeated.
    assert broker.coord.init_producer_id("tx", TIMEOUT, pid, epoch) == (E.NONE, pid, epoch + 1)
    assert broker.coord.init_producer_id("tx", TIMEOUT, pid, epoch + 7)[0] == E.PRODUCER_FENCED


def test_end_txn_transitions_and_retries(broker):
    coord = broker.coord
    _, pid, epoch = coord.init_producer_id("tx", TIMEOUT)
    assert coord.end_txn("tx", pid, epoch, True) == E.INVALID_TXN_STATE  # Empty
    coord.add_partitions("tx", pid, epoch, [("t", 0)])
    assert coord.txns["tx"].state is TxnState.ONGOING
    assert coord.end_txn("tx", pid, epoch + 1, True) == E.PRODUCER_FENCED
    assert coord.end_txn("tx", pid + 1, epoch, True) == E.INVALID_PRODUCER_ID_MAPPING
    assert coord.end_txn("nope", pid, epoch, True) == E.INVALID_PRODUCER_ID_MAPPING
    assert coord.end_txn("tx", pid, epoch, True) == E.NONE
    assert coord.txns["tx"].state is TxnState.COMPLETE_COMMIT
    assert coord.end_txn("tx", pid, epoch, True) == E.NONE  # retry
    assert coord.end_txn("tx", pid, epoch, False) == E.INVALID_TXN_STATE
    coord.add_offsets("tx", pid, epoch, "g")
    assert coord.end_txn("tx", pid, epoch, False) == E.NONE
    assert coord.txns["tx"].state is TxnState.COMPLETE_ABORT


def test_add_partitions_with_unknown_partition_adds_nothing(broker):
    _, pid, epoch = broker.coord.init_producer_id("tx", TIMEOUT)
    codes = broker.coord.add_partitions("tx", pid, epoch, [("t", 0), ("t", 9), ("missing", 0)])
    assert codes == {("t", 0): E.OPERATION_NOT_ATTEMPTED, ("t", 9): E.UNKNOWN_TOPIC_OR_PARTITION,
                     ("missing", 0): E.UNKNOWN_TOPIC_OR_PARTITION}
    assert broker.coord.txns["tx"].state is TxnState.EMPTY


def test_verify_only(broker):
    pid, epoch = begin(broker)
    assert broker.coord.verify_partitions("tx", pid, epoch, [("t", 0), ("t", 1)]) == {
        ("t", 0): E.NONE, ("t", 1): E.INVALID_TXN_STATE}


def test_produce_check(broker):
    pid, epoch = begin(broker)
    assert broker.produce("t", 1, pid, epoch, 0, 1)[0] == E.INVALID_TXN_STATE  # not added
    assert broker.produce("t", 0, pid, epoch, 0, 2) == (E.NONE, 0)
    # A non-transactional batch of a producer with an open transaction here.
    assert broker.produce("t", 0, pid, epoch, 2, 1, transactional=False)[0] == E.INVALID_TXN_STATE
    assert broker.produce("t", 0, 999, 0, 0, 1)[0] == E.INVALID_TXN_STATE  # unknown producer id
    assert broker.produce("t", 0, 999, 0, 0, 1, transactional=False)[0] == E.NONE


# -- markers, LSO and the aborted index ---------------------------------------------


def test_lso_follows_open_transactions(broker):
    assert broker.produce("t", 0, -1, -1, -1, 3, transactional=False)[0] == E.NONE
    assert broker.lso("t") == 3
    pid, epoch = begin(broker)
    assert broker.produce("t", 0, pid, epoch, 0, 2) == (E.NONE, 3)
    assert broker.produce("t", 0, -1, -1, -1, 1, transactional=False) == (E.NONE, 5)
    assert (broker.lso("t"), broker.hw("t")) == (3, 6)
    assert broker.lso("t", 1) == 0
    assert broker.coord.end_txn("tx", pid, epoch, True) == E.NONE
    assert broker.hw("t") == 7  # the commit marker
    assert broker.lso("t") == 7
    assert broker.aborted("t", 0, 0, 7) == []


def test_markers_are_control_batches(broker):
    pid, epoch = begin(broker, parts=[("t", 0), ("t", 1)])
    broker.produce("t", 0, pid, epoch, 0, 1)
    broker.coord.end_txn("tx", pid, epoch, False)
    for p, offset in ((0, 1), (1, 0)):
        data = broker.core.partition("t", p).read(offset, 1 << 20).data
        batch = DefaultRecordBatch(bytes(data[-scan_batches(data)[-1].size:]))
        assert batch.is_control_batch and batch.is_transactional
        assert (batch.producer_id, batch.producer_epoch) == (pid, epoch)
        (rec,) = list(batch)
        assert rec.abort and rec.offset == offset


def test_aborted_transactions_overlap(broker):
    coord = broker.coord
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 3)            # 0-2, abort marker at 3
    coord.end_txn("tx", pid, epoch, False)
    coord.add_partitions("tx", pid, epoch, [("t", 0)])
    broker.produce("t", 0, pid, epoch, 3, 2)            # 4-5, commit marker at 6
    coord.end_txn("tx", pid, epoch, True)
    pid2, epoch2 = begin(broker, "tx2")
    broker.produce("t", 0, pid2, epoch2, 0, 1)          # 7, abort marker at 8
    coord.end_txn("tx2", pid2, epoch2, False)
    assert broker.lso("t") == broker.hw("t") == 9
    assert broker.aborted("t", 0, 0, 9) == [(pid, 0), (pid2, 7)]
    assert broker.aborted("t", 0, 3, 9) == [(pid, 0), (pid2, 7)]
    assert broker.aborted("t", 0, 4, 9) == [(pid2, 7)]
    assert broker.aborted("t", 0, 0, 5) == [(pid, 0)]
    assert broker.aborted("t", 0, 9, 9) == []
    assert broker.aborted("t", 1, 0, 0) == []


def test_aborted_index_drops_entries_without_marker_and_rebuilds_when_missing(broker, tmp_path):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.coord.end_txn("tx", pid, epoch, False)
    plog = broker.core.partition("t", 0)
    path = plog.directory / INDEX_FILE
    good = path.read_bytes()
    # A crash between the index write and the marker append leaves an entry past the log end.
    path.write_bytes(good + _entry(pid, 3, 3) + b"\x00" * 5)
    idx = AbortedIndex.load(path, plog)
    assert [(e.producer_id, e.first_offset, e.last_offset) for e in idx.entries] == [(pid, 0, 2)]
    assert path.read_bytes() == good
    path.unlink()
    idx = AbortedIndex.load(path, plog)
    assert [(e.producer_id, e.first_offset, e.last_offset) for e in idx.entries] == [(pid, 0, 2)]
    assert path.read_bytes() == good


def _entry(pid: int, first: int, last: int) -> bytes:
    import struct

    return struct.pack(">qqq", pid, first, last)


def test_build_marker_round_trips():
    data = build_marker(7, 3, True, 123)
    batch = DefaultRecordBatch(bytes(data))
    assert batch.is_control_batch and batch.base_sequence == -1
    (rec,) = list(batch)
    assert rec.commit and rec.timestamp == 123


# -- fencing and timeouts ---------------------------------------------------------------


def test_new_producer_fences_and_aborts_the_old_transaction(broker):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    code, pid2, epoch2 = broker.coord.init_producer_id("tx", TIMEOUT)
    assert (code, pid2, epoch2) == (E.NONE, pid, epoch + 1)
    assert broker.coord.txns["tx"].state is TxnState.EMPTY
    assert broker.lso("t") == broker.hw("t") == 3
    assert broker.aborted("t", 0, 0, 3) == [(pid, 0)]
    # The zombie is fenced everywhere.
    assert broker.produce("t", 0, pid, epoch, 2, 1)[0] == E.INVALID_PRODUCER_EPOCH
    assert broker.coord.add_partitions("tx", pid, epoch, [("t", 1)])[("t", 1)] == E.PRODUCER_FENCED
    assert broker.coord.end_txn("tx", pid, epoch, True) == E.PRODUCER_FENCED
    assert broker.coord.init_producer_id("tx", TIMEOUT, pid, epoch)[0] == E.PRODUCER_FENCED


def test_exhausted_epoch_rotates_the_producer_id(broker):
    pid, _ = begin(broker)
    meta = broker.coord.txns["tx"]
    meta.producer_epoch = 32765  # the last epoch handed out: the fence cannot bump it
    code, pid2, epoch2 = broker.coord.init_producer_id("tx", TIMEOUT)
    assert (code, epoch2) == (E.NONE, 0) and pid2 != pid
    assert broker.coord.by_pid[pid2] is meta and pid not in broker.coord.by_pid
    assert broker.coord.txns["tx"].state is TxnState.EMPTY
    meta.producer_epoch = 32764
    assert broker.coord.init_producer_id("tx", TIMEOUT) == (E.NONE, pid2, 32765)
    code, pid3, epoch3 = broker.coord.init_producer_id("tx", TIMEOUT)
    assert epoch3 == 0 and pid3 not in (pid, pid2)


def test_timed_out_transaction_is_aborted_with_a_bumped_epoch(broker, clock):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    clock.ms += TIMEOUT
    assert broker.coord.abort_timed_out() == 0
    clock.ms += 1
    assert broker.coord.abort_timed_out() == 1
    meta = broker.coord.txns["tx"]
    assert (meta.state, meta.producer_epoch) == (TxnState.COMPLETE_ABORT, epoch + 1)
    assert broker.lso("t") == broker.hw("t")
    assert broker.coord.end_txn("tx", pid, epoch, True) == E.PRODUCER_FENCED


# -- offsets in transactions -------------------------------------------------------


def test_txn_offsets_are_committed_only_with_the_transaction(broker):
    coord = broker.coord
    _, pid, epoch = coord.init_producer_id("tx", TIMEOUT)
    offs = {("t", 0): (5, "m", 0)}
    assert coord.txn_offset_commit("tx", "g", pid, epoch, offs) == E.INVALID_TXN_STATE  # no AddOffsets
    assert coord.add_offsets("tx", pid, epoch, "g") == E.NONE
    assert coord.txn_offset_commit("tx", "g", pid, epoch - 1, offs) == E.PRODUCER_FENCED
    assert coord.txn_offset_commit("tx", "g", pid, epoch, offs) == E.NONE
    assert coord.has_pending_offsets("g", "t", 0) and not coord.has_pending_offsets("g", "t", 1)
    coord.end_txn("tx", pid, epoch, False)
    assert broker.offsets.commits == [] and not coord.has_pending_offsets("g", "t", 0)
    coord.add_offsets("tx", pid, epoch, "g")
    coord.txn_offset_commit("tx", "g", pid, epoch, offs)
    coord.end_txn("tx", pid, epoch, True)
    assert broker.offsets.commits == [("g", offs)]


# -- persistence and restart ---------------------------------------------------------


@pytest.mark.parametrize("clean", [True, False])
def test_ongoing_transaction_survives_restart(broker, clean):
    pid, epoch = begin(broker, parts=[("t", 0), ("t", 1)])
    broker.coord.add_offsets("tx", pid, epoch, "g")
    broker.coord.txn_offset_commit("tx", "g", pid, epoch, {("t", 1): (9, None, -1)})
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.restart(clean=clean)
    meta = broker.coord.txns["tx"]
    assert meta.state is TxnState.ONGOING and meta.partitions == {("t", 0), ("t", 1)}
    assert meta.pending_offsets == {"g": {("t", 1): (9, None, -1)}}
    assert broker.lso("t") == 0
    assert broker.produce("t", 0, pid, epoch, 2, 1) == (E.NONE, 2)
    assert broker.coord.end_txn("tx", pid, epoch, True) == E.NONE
    assert broker.lso("t") == broker.hw("t") == 4
    assert broker.offsets.commits == [("g", {("t", 1): (9, None, -1)})]


def test_ongoing_transaction_times_out_after_restart(broker, clock):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.restart()
    clock.ms += TIMEOUT + 1
    assert broker.coord.abort_timed_out() == 1
    assert broker.aborted("t", 0, 0, broker.lso("t")) == [(pid, 0)]


@pytest.mark.parametrize("commit", [True, False])
def test_interrupted_completion_is_finished_at_start(broker, commit):
    coord = broker.coord
    pid, epoch = begin(broker, parts=[("t", 0), ("t", 1)])
    coord.add_offsets("tx", pid, epoch, "g")
    coord.txn_offset_commit("tx", "g", pid, epoch, {("t", 0): (1, None, -1)})
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.produce("t", 1, pid, epoch, 0, 1)
    # Crash right after the Prepare* record: one marker written, the other not.
    meta = coord.txns["tx"]
    meta.state = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
    coord._persist(meta)
    coord._write_marker("t", 0, pid, epoch, commit)
    broker.restart(clean=False)
    meta = broker.coord.txns["tx"]
    assert meta.state is (TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT)
    assert broker.lso("t", 0) == broker.hw("t", 0) and broker.lso("t", 1) == broker.hw("t", 1)
    assert broker.offsets.commits == ([("g", {("t", 0): (1, None, -1)})] if commit else [])
    expected = [] if commit else [(pid, 0)]
    assert broker.aborted("t", 0, 0, 100) == expected
    assert broker.aborted("t", 1, 0, 100) == expected


def test_orphan_open_transaction_is_aborted_at_start(broker, tmp_path):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.core.close()
    (tmp_path / "data" / STATE_DIR / STATE_FILE).unlink()  # the coordinator's state is lost
    broker.start()
    assert broker.lso("t") == broker.hw("t") == 3
    assert broker.aborted("t", 0, 0, 3) == [(pid, 0)]


def test_state_log_torn_tail_and_compaction(broker, tmp_path):
    path = tmp_path / "data" / STATE_DIR / STATE_FILE
    for _ in range(3):
        broker.coord.init_producer_id("tx", TIMEOUT)
    broker.core.close()
    with open(path, "ab") as f:
        f.write(b'{"id":"tx","pid":')  # died in the middle of a write
    broker.start()
    assert broker.coord.txns["tx"].producer_epoch == 2
    assert path.read_bytes().endswith(b"}\n")
    for _ in range(1100):
        broker.coord.init_producer_id("tx", TIMEOUT)
    # Rewritten to the live entries once it was mostly history.
    assert broker.coord.store.lines < 200
    assert len(path.read_bytes().splitlines()) == broker.coord.store.lines
    broker.coord.init_producer_id("tx", TIMEOUT)
    broker.restart()
    assert broker.coord.txns["tx"].producer_epoch == 1103


def test_topic_deletion_drops_partition_state(broker):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.core.delete_topic("t")
    assert broker.coord.end_txn("tx", pid, epoch, False) == E.NONE  # markers to a gone topic: skipped
    broker.core.create_topic("t", 1)
    assert broker.lso("t") == 0 and broker.aborted("t", 0, 0, 10) == []


def test_deleted_topic_leaves_the_ongoing_transaction(broker):
    pid, epoch = begin(broker)
    broker.core.delete_topic("t")
    broker.core.create_topic("t", 1)
    assert broker.coord.end_txn("tx", pid, epoch, True) == E.NONE
    assert broker.hw("t") == 0  # no marker in the new topic


def test_idle_transactional_ids_expire(broker, clock):
    begin(broker, "busy")
    broker.coord.init_producer_id("idle", TIMEOUT)
    clock.ms += 7 * 24 * 3600 * 1000 + 1
    assert broker.coord.expire_transactional_ids() == 1
    assert set(broker.coord.txns) == {"busy"}
    broker.restart()
    assert set(broker.coord.txns) == {"busy"}


def test_list_transactions_filters(broker, clock):
    begin(broker, "a")
    broker.coord.init_producer_id("b", TIMEOUT)
    clock.ms += 5000
    names = lambda found: sorted(m.transactional_id for m in found)  # noqa: E731
    lt = broker.coord.list_transactions
    assert names(lt(set(), set(), -1, None)) == ["a", "b"]
    assert names(lt({"Ongoing"}, set(), -1, None)) == ["a"]
    assert names(lt(set(), {broker.coord.txns["b"].producer_id}, -1, None)) == ["b"]
    assert names(lt(set(), set(), 4000, None)) == ["a"]
    assert names(lt(set(), set(), 6000, None)) == []
    import re

    assert names(lt(set(), set(), -1, re.compile("^b"))) == ["b"]


# -- every version of every transaction API, through encode/decode ---------------------


def _call(broker: Broker, req, version: int):
    """Encode a request at `version`, decode it, handle it, and decode the encoded answer."""
    from chronik.broker.context import RequestContext
    from chronik.broker.handlers import HANDLERS
    from chronik.wire.apis import ALL_APIS

    spec = ALL_APIS[req.API_KEY]
    version = min(version, spec.max_version)
    decoded = spec.request.decode(req.encode(version=version), version=version)
    ctx = RequestContext(core=broker.core, api_key=spec.key, api_version=version,
                         correlation_id=1, client_id="t", conn_id=1)
    resp = HANDLERS[spec.key](ctx, decoded)
    return spec.response.decode(resp.encode(version=version), version=version)


@pytest.mark.parametrize("v", range(7))
def test_transaction_apis_at_every_version(broker, v):
    from kafka.protocol.admin.transactions import (
        DescribeProducersRequest,
        DescribeTransactionsRequest,
        ListTransactionsRequest,
    )
    from kafka.protocol.producer.transaction import (
        AddOffsetsToTxnRequest,
        AddPartitionsToTxnRequest,
        EndTxnRequest,
        InitProducerIdRequest,
        TxnOffsetCommitRequest,
    )

    init = _call(broker, InitProducerIdRequest(transactional_id="tx", transaction_timeout_ms=TIMEOUT,
                                               producer_id=-1, producer_epoch=-1), v)
    assert init.error_code == 0
    pid, epoch = init.producer_id, init.producer_epoch

    apt = AddPartitionsToTxnRequest
    topic = apt.AddPartitionsToTxnTopic(name="t", partitions=[0, 1])

    def add(verify_only: bool):
        return _call(broker, apt(
            transactions=[apt.AddPartitionsToTxnTransaction(
                transactional_id="tx", producer_id=pid, producer_epoch=epoch, verify_only=verify_only,
                topics=[topic])],
            v3_and_below_transactional_id="tx", v3_and_below_producer_id=pid,
            v3_and_below_producer_epoch=epoch, v3_and_below_topics=[topic]), v)

    def partition_codes(resp) -> list[int]:
        topics = resp.results_by_topic_v3_and_below if v <= 3 else [
            t for r in resp.results_by_transaction for t in r.topic_results]
        return [p.partition_error_code for t in topics for p in t.results_by_partition]

    if v >= 4:
        assert partition_codes(add(True)) == [E.INVALID_TXN_STATE] * 2  # not added yet
    assert partition_codes(add(False)) == [0, 0]
    if v >= 4:
        assert partition_codes(add(True)) == [0, 0]
    assert _call(broker, AddOffsetsToTxnRequest(transactional_id="tx", producer_id=pid,
                                                producer_epoch=epoch, group_id="g"), v).error_code == 0
    toc = TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
    commit = _call(broker, TxnOffsetCommitRequest(
        transactional_id="tx", group_id="g", producer_id=pid, producer_epoch=epoch, generation_id=-1,
        member_id="", group_instance_id=None, topics=[toc(name="t", partitions=[
            toc.TxnOffsetCommitRequestPartition(partition_index=0, committed_offset=3,
                                                committed_leader_epoch=7, committed_metadata="m")])]), v)
    assert [p.error_code for t in commit.topics for p in t.partitions] == [0]

    described = _call(broker, DescribeTransactionsRequest(transactional_ids=["tx", "nope"]), v)
    (ok, missing) = described.transaction_states
    assert (ok.transaction_state, ok.producer_id) == ("Ongoing", pid)
    assert [(t.topic, t.partitions) for t in ok.topics] == [("t", [0, 1])]
    assert missing.error_code == E.TRANSACTIONAL_ID_NOT_FOUND
    listed = _call(broker, ListTransactionsRequest(state_filters=["Ongoing", "Bogus"], producer_id_filters=[],
                                                   duration_filter=-1, transactional_id_pattern="^t"), v)
    assert [t.transactional_id for t in listed.transaction_states] == ["tx"]
    assert listed.unknown_state_filters == ["Bogus"]

    end = _call(broker, EndTxnRequest(transactional_id="tx", producer_id=pid, producer_epoch=epoch,
                                      committed=True), v)
    assert end.error_code == 0
    if v >= 5:
        assert (end.producer_id, end.producer_epoch) == (pid, epoch)
    assert broker.offsets.commits == [("g", {("t", 0): (3, "m", 7 if v >= 2 else -1)})]
    stale = _call(broker, EndTxnRequest(transactional_id="tx", producer_id=pid, producer_epoch=epoch - 1,
                                        committed=True), v)
    assert stale.error_code == (E.PRODUCER_FENCED if v >= 2 else E.INVALID_PRODUCER_EPOCH)

    broker.produce("t", 0, -1, -1, -1, 1, transactional=False)
    producers = _call(broker, DescribeProducersRequest(topics=[DescribeProducersRequest.TopicRequest(
        name="t", partition_indexes=[0, 5])]), v)
    (p0, p5) = producers.topics[0].partitions
    assert p5.error_code == E.UNKNOWN_TOPIC_OR_PARTITION
    assert [(s.producer_id, s.current_txn_start_offset) for s in p0.active_producers] == [(pid, -1)]


@pytest.mark.parametrize("ending", [None, False, True])
def test_open_transaction_in_an_older_segment_survives_a_crash(broker, ending):
    """Without a snapshot the producer state replays only the last segment: the coordinator
    remembers where the transaction started, so the LSO and the aborted index stay right."""
    broker.core.create_topic("s", 1, {"segment.bytes": "100"})
    pid, epoch = begin(broker, parts=[("s", 0)])
    broker.produce("s", 0, pid, epoch, 0, 3)
    for _ in range(3):  # other producers roll the segment past the transaction's data
        broker.produce("s", 0, -1, -1, -1, 2, transactional=False)
    assert len(broker.core.partition("s", 0).segments) > 1
    if ending is not None:
        meta = broker.coord.txns["tx"]
        meta.state = TxnState.PREPARE_COMMIT if ending else TxnState.PREPARE_ABORT
        broker.coord._persist(meta)
    broker.restart(clean=False)
    if ending is None:
        assert broker.lso("s") == 0
        assert broker.coord.end_txn("tx", pid, epoch, False) == E.NONE
    assert broker.lso("s") == broker.hw("s") == 10
    assert broker.aborted("s", 0, 0, 10) == ([] if ending else [(pid, 0)])


def test_aborted_entries_below_the_log_start_are_dropped_at_load(broker):
    pid, epoch = begin(broker)
    broker.produce("t", 0, pid, epoch, 0, 2)
    broker.coord.end_txn("tx", pid, epoch, False)           # marker at 2
    broker.produce("t", 0, -1, -1, -1, 2, transactional=False)
    plog = broker.core.partition("t", 0)
    plog.delete_records_before(4)
    idx = AbortedIndex.load(plog.directory / INDEX_FILE, plog)
    assert idx.entries == [] and (plog.directory / INDEX_FILE).read_bytes() == b""
