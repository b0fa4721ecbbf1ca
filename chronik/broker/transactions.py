"""Transaction coordinator: transactional ids, markers, last stable offsets.

One broker coordinates every transactional id, so the coordinator epoch is
always 0 and the markers are written straight into the local partition logs
through the core's append pipeline. The states and their table live in
txn_state; the aborted-transaction index and the marker batches in
storage.txn_index and storage.control.

Markers are written synchronously while EndTxn is handled, so a Prepare*
state is only ever seen after a crash in the middle of completion; start-up
finishes such a transaction before the first request is served. That is why
CONCURRENT_TRANSACTIONS is only answered defensively.

The last stable offset of a partition is the first offset of its earliest
open transaction (from the idempotent producer state, which the core
snapshots and replays), else the log end. The coordinator also records the
first offset a transaction wrote on each partition: after a crash without
a producer snapshot, the replay covers only the last segment and would miss
a transaction that started earlier (LSO too high, no aborted-index entry).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from chronik.broker.txn_state import (
    STATE_DIR,
    OffsetValue,
    TopicPartition,
    TxnMetadata,
    TxnState,
    TxnStateLog,
)
from chronik.broker.types import Origin
from chronik.clock import wall_ms
from chronik.storage.batch import BatchInfo
from chronik.storage.control import build_marker
from chronik.storage.log import AppendResult, PartitionLog
from chronik.storage.txn_index import INDEX_FILE, AbortedEntry, AbortedIndex, marker_after
from chronik.wire.errors import ErrorCode

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore

log = logging.getLogger("chronik.transactions")

MAX_EPOCH = 32767  # int16; Kafka never hands out Short.MaxValue itself
MAX_OFFSET_METADATA = 4096  # offset.metadata.max.bytes
TRANSACTIONAL_ID_EXPIRATION_MS = 7 * 24 * 3600 * 1000

# What a read_committed fetch is told about an aborted transaction.
AbortedTxn = AbortedEntry


class TransactionCoordinator:
    def __init__(self, core: BrokerCore, now_ms: Callable[[], int] = wall_ms) -> None:
        self.core = core
        self.now_ms = now_ms
        self.max_timeout_ms = core.config.transaction_max_timeout_ms
        self.store = TxnStateLog(core.data_dir / STATE_DIR)
        self.txns: dict[str, TxnMetadata] = self.store.load()
        self.by_pid: dict[int, TxnMetadata] = {m.producer_id: m for m in self.txns.values()}
        # (topic, partition) -> producer id -> first offset of its open transaction
        self.open_txns: dict[TopicPartition, dict[int, int]] = {}
        self.indexes: dict[TopicPartition, AbortedIndex] = {}
        # Partition logs open lazily (chronik.broker.topics): each one's open
        # transactions and aborted index are taken up by partition_opened().
        self._recovered = False
        for topic in core.topics.values():
            for p, plog in enumerate(topic.partitions):
                if plog.opened:
                    self.partition_opened(topic.name, p, plog)

    def partition_opened(self, topic: str, partition: int, plog: PartitionLog) -> None:
        """A partition log was opened (its producer state rebuilt): take up its transactions."""
        key = (topic, partition)
        opened = {pid: e.txn_first_offset
                  for pid, e in self.core.producers.producers_of(topic, partition).items()
                  if e.txn_first_offset is not None}
        if opened:
            self.open_txns[key] = opened
        # Loaded now, before any append: entries past the log end are crash
        # leftovers only at this point. Without entries (or file) it is made
        # again on first use, rebuilding a missing file from the log then.
        idx = AbortedIndex.load(plog.directory / INDEX_FILE, plog)
        if idx.holds_entries:
            self.indexes[key] = idx
        if self._recovered and opened:
            # recover() ran before this log opened: its orphan check is due now
            # (the markers go through the core's append; the log is open by then).
            self._abort_orphans(topic, partition)

    # -- start-up ---------------------------------------------------------------

    def recover(self) -> None:
        """Finish what a crash interrupted; close transactions nobody can end any more."""
        self._restore_open_txns()
        for meta in list(self.txns.values()):
            if meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                log.info("completing %s of transactional id %s after restart",
                         meta.state.value, meta.transactional_id)
                self._complete(meta)
        # An open transaction on a partition that no coordinator entry covers
        # (its state was lost) would hold the LSO back forever: abort it.
        for topic, partition in list(self.open_txns):
            self._abort_orphans(topic, partition)
        self._recovered = True
        self.store.maybe_compact(self.txns)

    def _abort_orphans(self, topic: str, partition: int) -> None:
        opened = self.open_txns.get((topic, partition), {})
        for pid in list(opened):
            meta = self.by_pid.get(pid)
            if meta is None or meta.state is not TxnState.ONGOING \
                    or (topic, partition) not in meta.partitions:
                log.warning("aborting orphan transaction of producer %d on %s-%d",
                            pid, topic, partition)
                entry = self.core.producers.producers_of(topic, partition).get(pid)
                epoch = entry.epoch if entry is not None else 0
                self._write_marker(topic, partition, pid, epoch, commit=False)

    def _restore_open_txns(self) -> None:
        for meta in self.txns.values():
            if meta.state not in (TxnState.ONGOING, TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                continue
            for (topic, partition), first in meta.first_offsets.items():
                plog = self.core.partition(topic, partition)
                if plog is not None:
                    plog.open()  # a lazy log: its producer state first
                opened = self.open_txns.get((topic, partition), {})
                if meta.producer_id in opened or plog is None or first < plog.log_start_offset:
                    continue
                if marker_after(plog, meta.producer_id, first):
                    continue  # a Prepare* transaction whose marker made it here before the crash
                log.info("restoring open transaction of %s on %s-%d from offset %d",
                         meta.transactional_id, topic, partition, first)
                self.open_txns.setdefault((topic, partition), {})[meta.producer_id] = first
                entry = self.core.producers.producers_of(topic, partition).get(meta.producer_id)
                if entry is not None:
                    entry.txn_first_offset = first

    # -- helpers ----------------------------------------------------------------

    def _persist(self, meta: TxnMetadata) -> None:
        meta.update_ms = self.now_ms()
        self.store.append(meta)
        self.store.maybe_compact(self.txns)

    def _index(self, topic: str, partition: int, plog: PartitionLog | None = None) -> AbortedIndex | None:
        key = (topic, partition)
        idx = self.indexes.get(key)
        if idx is None:
            plog = plog or self.core.partition(topic, partition)
            if plog is None:
                return None
            idx = AbortedIndex.load(plog.directory / INDEX_FILE, plog)
            self.indexes[key] = idx
        return idx

    def _bump_epoch(self, meta: TxnMetadata) -> None:
        meta.last_producer_id = meta.producer_id
        meta.last_producer_epoch = meta.producer_epoch
        if meta.producer_epoch + 1 >= MAX_EPOCH - 1:
            # Epochs are int16: past the top a fresh producer id starts over at 0.
            self.by_pid.pop(meta.producer_id, None)
            meta.producer_id = self.core.producers.allocate_producer_id()
            meta.producer_epoch = 0
            self.by_pid[meta.producer_id] = meta
        else:
            meta.producer_epoch += 1

    def _check_producer(self, meta: TxnMetadata | None, producer_id: int, epoch: int) -> ErrorCode:
        if meta is None or meta.producer_id != producer_id:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING
        if epoch != meta.producer_epoch:
            return ErrorCode.PRODUCER_FENCED
        return ErrorCode.NONE

    def _write_marker(self, topic: str, partition: int, producer_id: int, epoch: int,
                      commit: bool) -> None:
        plog = self.core.partition(topic, partition)
        if plog is None:
            return  # the topic was deleted while the transaction was open
        plog.open()  # a lazy log: its open transactions are known after
        first = self.open_txns.get((topic, partition), {}).get(producer_id)
        idx = None
        if not commit and first is not None:
            idx = self._index(topic, partition, plog)
            assert idx is not None
            idx.append(AbortedEntry(producer_id, first, plog.log_end_offset))
        # The core's append moves the LSO (on_append below) and wakes read_committed waiters.
        out = self.core.append(topic, partition, build_marker(producer_id, epoch, commit, self.now_ms()),
                               Origin.COORDINATOR)
        if out.error:
            if idx is not None:
                idx.undo_last()
            raise OSError(f"cannot write the transaction marker to {topic}-{partition}: "
                          f"{out.error.name} {out.message or ''}")

    def _complete(self, meta: TxnMetadata) -> None:
        """Write the markers of a Prepare* transaction and make it Complete*."""
        commit = meta.state is TxnState.PREPARE_COMMIT
        for topic, partition in sorted(meta.partitions):
            self._write_marker(topic, partition, meta.producer_id, meta.producer_epoch, commit)
        if commit:
            for group, offs in meta.pending_offsets.items():
                self.core.offsets.commit(group, dict(offs))
        meta.transition(TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT)
        meta.partitions.clear()
        meta.groups.clear()
        meta.pending_offsets.clear()
        meta.first_offsets.clear()
        self._persist(meta)

    def _end(self, meta: TxnMetadata, commit: bool) -> None:
        meta.transition(TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT)
        self._persist(meta)
        self._complete(meta)

    def _abort_with_new_epoch(self, meta: TxnMetadata, why: str) -> bool:
        """Abort an ongoing transaction so that its producer is fenced (Kafka's epoch fence).

        The markers carry the bumped epoch, so the old producer's next write is
        rejected on every partition. Returns False if the epoch was at the top
        of its range and could not be bumped (the caller must then rotate the id).
        """
        log.info("aborting transaction of %s: %s", meta.transactional_id, why)
        bumped = meta.producer_epoch + 1 < MAX_EPOCH - 1
        if bumped:
            meta.producer_epoch += 1
        # The fenced epoch must not count as a retry of a bump (see init_producer_id).
        meta.last_producer_id = meta.last_producer_epoch = -1
        self._end(meta, commit=False)
        return bumped

    # -- InitProducerId -----------------------------------------------------------

    def init_producer_id(self, transactional_id: str, timeout_ms: int,
                         producer_id: int = -1, producer_epoch: int = -1) -> tuple[ErrorCode, int, int]:
        if timeout_ms <= 0 or timeout_ms > self.max_timeout_ms:
            return ErrorCode.INVALID_TRANSACTION_TIMEOUT, -1, -1
        meta = self.txns.get(transactional_id)
        if meta is None:
            if producer_id >= 0:
                # KIP-360: the producer's old state is gone; it may still go on with a new id.
                log.info("transactional id %s unknown; producer %d gets a new id",
                         transactional_id, producer_id)
            pid = self.core.producers.allocate_producer_id()
            meta = TxnMetadata(transactional_id, pid, 0, timeout_ms)
            self.txns[transactional_id] = meta
            self.by_pid[pid] = meta
            self._persist(meta)
            return ErrorCode.NONE, pid, 0
        if meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        if producer_id >= 0:
            if (producer_id, producer_epoch) == (meta.last_producer_id, meta.last_producer_epoch) \
                    and meta.state is not TxnState.ONGOING:
                # A retry of a bump we already made (or a producer recovering after
                # its transaction timed out): hand out the current epoch.
                return ErrorCode.NONE, meta.producer_id, meta.producer_epoch
            if (producer_id, producer_epoch) != (meta.producer_id, meta.producer_epoch):
                return ErrorCode.PRODUCER_FENCED, -1, -1
        if meta.state is TxnState.ONGOING:
            # A new incarnation of the producer: fence the old one and drop its work.
            if not self._abort_with_new_epoch(meta, "fenced by a new producer with the same "
                                                    "transactional id"):
                self._bump_epoch(meta)
        else:
            self._bump_epoch(meta)
        meta.timeout_ms = timeout_ms
        meta.transition(TxnState.EMPTY)
        self._persist(meta)
        return ErrorCode.NONE, meta.producer_id, meta.producer_epoch

    # -- AddPartitionsToTxn / AddOffsetsToTxn ------------------------------------

    def _begin(self, meta: TxnMetadata) -> ErrorCode:
        if meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if meta.state is not TxnState.ONGOING:
            meta.transition(TxnState.ONGOING)
            meta.start_ms = self.now_ms()
        return ErrorCode.NONE

    def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                       partitions: list[TopicPartition]) -> dict[TopicPartition, ErrorCode]:
        # Partitions that do not exist are answered first, before the transactional
        # id is looked at, as Kafka's request handler does.
        unknown = {tp for tp in partitions if self.core.partition(*tp) is None}
        if unknown:
            return {tp: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if tp in unknown
                    else ErrorCode.OPERATION_NOT_ATTEMPTED for tp in partitions}
        meta = self.txns.get(transactional_id)
        code = self._check_producer(meta, producer_id, producer_epoch)
        if code:
            return dict.fromkeys(partitions, code)
        assert meta is not None
        if meta.state is TxnState.ONGOING and all(tp in meta.partitions for tp in partitions):
            return dict.fromkeys(partitions, ErrorCode.NONE)
        code = self._begin(meta)
        if code:
            return dict.fromkeys(partitions, code)
        meta.partitions.update(partitions)
        self._persist(meta)
        return dict.fromkeys(partitions, ErrorCode.NONE)

    def verify_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                          partitions: list[TopicPartition]) -> dict[TopicPartition, ErrorCode]:
        """AddPartitionsToTxn v4+ verify_only: are these partitions in the ongoing transaction?"""
        meta = self.txns.get(transactional_id)
        code = self._check_producer(meta, producer_id, producer_epoch)
        if code:
            return dict.fromkeys(partitions, code)
        assert meta is not None
        ongoing = meta.state is TxnState.ONGOING
        return {tp: ErrorCode.NONE if ongoing and tp in meta.partitions else ErrorCode.INVALID_TXN_STATE
                for tp in partitions}

    def add_offsets(self, transactional_id: str, producer_id: int, producer_epoch: int,
                    group_id: str) -> ErrorCode:
        meta = self.txns.get(transactional_id)
        code = self._check_producer(meta, producer_id, producer_epoch)
        if code:
            return code
        assert meta is not None
        if meta.state is TxnState.ONGOING and group_id in meta.groups:
            return ErrorCode.NONE
        code = self._begin(meta)
        if code:
            return code
        meta.groups.add(group_id)
        self._persist(meta)
        return ErrorCode.NONE

    def txn_offset_commit(self, transactional_id: str, group_id: str, producer_id: int,
                          producer_epoch: int, offsets: dict[TopicPartition, OffsetValue]) -> ErrorCode:
        meta = self.txns.get(transactional_id)
        code = self._check_producer(meta, producer_id, producer_epoch)
        if code:
            return code
        assert meta is not None
        if meta.state is not TxnState.ONGOING or group_id not in meta.groups:
            return ErrorCode.INVALID_TXN_STATE
        if offsets:
            meta.pending_offsets.setdefault(group_id, {}).update(offsets)
            self._persist(meta)
        return ErrorCode.NONE

    def has_pending_offsets(self, group_id: str, topic: str, partition: int) -> bool:
        """Whether an open transaction holds an offset of this group (OffsetFetch require_stable)."""
        return any((topic, partition) in m.pending_offsets.get(group_id, ())
                   for m in self.txns.values() if m.state is TxnState.ONGOING)

    # -- EndTxn ----------------------------------------------------------------------

    def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int,
                commit: bool) -> ErrorCode:
        meta = self.txns.get(transactional_id)
        code = self._check_producer(meta, producer_id, producer_epoch)
        if code:
            return code
        assert meta is not None
        if meta.state is TxnState.ONGOING:
            self._end(meta, commit)
            return ErrorCode.NONE
        if meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS
        done = TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT
        if meta.state is done:
            return ErrorCode.NONE  # a retry of the EndTxn that completed it
        return ErrorCode.INVALID_TXN_STATE

    # -- timeouts --------------------------------------------------------------------

    def abort_timed_out(self) -> int:
        now = self.now_ms()
        expired = [m for m in self.txns.values()
                   if m.state is TxnState.ONGOING and now - m.start_ms > m.timeout_ms]
        for meta in expired:
            self._abort_with_new_epoch(meta, f"open longer than transaction.timeout.ms={meta.timeout_ms}")
        return len(expired)

    def expire_transactional_ids(self) -> int:
        """Forget ids idle for transactional.id.expiration.ms (Kafka writes a tombstone too)."""
        cutoff = self.now_ms() - TRANSACTIONAL_ID_EXPIRATION_MS
        idle = [m for m in self.txns.values()
                if m.state in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
                and m.update_ms < cutoff]
        for meta in idle:
            del self.txns[meta.transactional_id]
            if self.by_pid.get(meta.producer_id) is meta:
                del self.by_pid[meta.producer_id]
            meta.transition(TxnState.DEAD)
            self._persist(meta)
        return len(idle)

    # -- produce path hooks ------------------------------------------------------------

    def housekeeping(self) -> None:
        self.abort_timed_out()
        self.expire_transactional_ids()

    def produce_check(self, topic: str, partition: int, b: BatchInfo) -> ErrorCode:
        if b.producer_id < 0:
            return ErrorCode.NONE
        if not b.is_transactional:
            if b.producer_id in self.open_txns.get((topic, partition), ()):
                return ErrorCode.INVALID_TXN_STATE
            return ErrorCode.NONE
        meta = self.by_pid.get(b.producer_id)
        if meta is None:
            return ErrorCode.INVALID_TXN_STATE
        if b.producer_epoch < meta.producer_epoch:
            return ErrorCode.INVALID_PRODUCER_EPOCH
        if b.producer_epoch > meta.producer_epoch or meta.state is not TxnState.ONGOING \
                or (topic, partition) not in meta.partitions:
            return ErrorCode.INVALID_TXN_STATE
        return ErrorCode.NONE

    def on_append(self, topic: str, partition: int, batches: list[BatchInfo], _res: AppendResult) -> None:
        key = (topic, partition)
        for b in batches:
            if b.producer_id < 0 or not b.is_transactional:
                continue
            if b.is_control:
                opened = self.open_txns.get(key)
                if opened is not None:
                    opened.pop(b.producer_id, None)
                    if not opened:
                        del self.open_txns[key]
            else:
                opened = self.open_txns.setdefault(key, {})
                if b.producer_id in opened:
                    continue
                opened[b.producer_id] = b.base_offset
                meta = self.by_pid.get(b.producer_id)
                if meta is not None and meta.state is TxnState.ONGOING and key not in meta.first_offsets:
                    meta.first_offsets[key] = b.base_offset
                    self._persist(meta)

    def last_stable_offset(self, topic: str, partition: int) -> int:
        plog = self.core.partition(topic, partition)
        if plog is None:
            return -1
        end = plog.log_end_offset  # opens a lazy log: its open transactions are known after
        opened = self.open_txns.get((topic, partition))
        if not opened:
            return end
        return max(min(opened.values()), plog.log_start_offset)

    def aborted_transactions(self, topic: str, partition: int, fetch_offset: int,
                             lso: int) -> list[AbortedTxn]:
        idx = self._index(topic, partition)
        return idx.overlapping(fetch_offset, lso) if idx is not None else []

    def on_topic_deleted(self, topic: str) -> None:
        for key in [k for k in self.indexes if k[0] == topic]:
            del self.indexes[key]
        for key in [k for k in self.open_txns if k[0] == topic]:
            del self.open_txns[key]
        # A topic created again under the same name must not get this transaction's markers.
        for meta in self.txns.values():
            gone = {tp for tp in meta.partitions if tp[0] == topic}
            if gone and meta.state is TxnState.ONGOING:
                meta.partitions -= gone
                self._persist(meta)

    # -- admin -----------------------------------------------------------------------

    def list_transactions(self, states: set[str], producer_ids: set[int], duration_ms: int,
                          pattern: re.Pattern[str] | None) -> list[TxnMetadata]:
        now = self.now_ms()
        out = []
        for meta in self.txns.values():
            if states and meta.state.value not in states:
                continue
            if producer_ids and meta.producer_id not in producer_ids:
                continue
            if duration_ms >= 0 and (meta.start_ms < 0 or now - meta.start_ms < duration_ms):
                continue
            if pattern is not None and not pattern.search(meta.transactional_id):
                continue
            out.append(meta)
        return out

    def close(self) -> None:
        self.store.close()
