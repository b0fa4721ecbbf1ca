"""Transaction coordinator: transactional ids, markers, last stable offsets.

One broker coordinates every transactional id, so the coordinator epoch is
always 0 and the markers are written straight into the local partition logs.

Life of a transaction (Kafka's states, names as DescribeTransactions shows them):

    Empty --AddPartitions/AddOffsets--> Ongoing --EndTxn--> PrepareCommit|PrepareAbort
      ^                                                        |  markers written
      +----- InitProducerId (epoch bump) <-- CompleteCommit|CompleteAbort

Markers are written synchronously while EndTxn is handled, so a Prepare*
state is only ever seen after a crash in the middle of completion; start-up
finishes such a transaction before the first request is served. That is why
CONCURRENT_TRANSACTIONS is only answered defensively.

Persistence (DIR/__transaction_state/):
- `transactions.log`: one JSON line per state change holding the whole
  metadata of one transactional id (the last line for an id wins), like
  Kafka's __transaction_state topic. A torn last line is dropped at load; the
  file is rewritten with only the live entries when it has grown well past
  them. Offsets sent with TxnOffsetCommit live in the metadata until commit,
  so an ongoing transaction survives a restart with its offsets.
- Per partition, `<topic>-<partition>/aborted.txnindex`: fixed 24-byte
  entries (producer id, first offset, marker offset) of aborted
  transactions, like Kafka's .txnindex. An entry is written *before* its
  abort marker is appended (the marker's offset is the log end at that
  moment), so a crash can only leave an entry whose marker is missing; such
  entries (offset >= log end) are dropped at load and the marker is written
  again by the recovery of the PrepareAbort transaction. A missing index file
  is rebuilt by scanning the partition's batch headers.

The last stable offset of a partition is the first offset of its earliest
open transaction (from the idempotent producer state, which the core
snapshots and replays), else the log end. The coordinator also records the
first offset a transaction wrote on each partition: after a crash without
a producer snapshot, the replay covers only the last segment and would miss
a transaction that started earlier (LSO too high, no aborted-index entry).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafka.protocol.consumer.fetch import FetchResponse
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from chronik.storage.batch import BatchInfo, CorruptBatchError, scan_batches
from chronik.wire.errors import ErrorCode

if TYPE_CHECKING:
    from chronik.broker.state import BrokerState
    from chronik.storage.log import PartitionLog

log = logging.getLogger("chronik.transactions")

STATE_DIR = "__transaction_state"
STATE_FILE = "transactions.log"
INDEX_FILE = "aborted.txnindex"
COORDINATOR_EPOCH = 0
MAX_EPOCH = 32767  # int16; Kafka never hands out Short.MaxValue itself
MAX_OFFSET_METADATA = 4096  # offset.metadata.max.bytes
# Rewrite the state log once it holds this many lines more than live entries.
COMPACT_SLACK = 1000
TRANSACTIONAL_ID_EXPIRATION_MS = 7 * 24 * 3600 * 1000

_INDEX_ENTRY = struct.Struct(">qqq")
_AbortedTxn = FetchResponse.FetchableTopicResponse.PartitionData.AbortedTransaction

TopicPartition = tuple[str, int]
# (offset, metadata, leader epoch), the form the offsets store takes.
OffsetValue = tuple[int, str | None, int]


class TxnState(StrEnum):
    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    DEAD = "Dead"
    PREPARE_EPOCH_FENCE = "PrepareEpochFence"


STATE_NAMES = {s.value for s in TxnState}


@dataclass
class TxnMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState = TxnState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    # group -> (topic, partition) -> offset committed in the transaction, visible on commit only
    pending_offsets: dict[str, dict[TopicPartition, OffsetValue]] = field(default_factory=dict)
    # First offset the transaction wrote per partition. The producer state can
    # miss it after a crash (it replays only the last segment without a
    # snapshot); start-up restores it from here.
    first_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    start_ms: int = -1
    update_ms: int = -1
    # The id/epoch before the last bump: a retried InitProducerId carries them.
    last_producer_id: int = -1
    last_producer_epoch: int = -1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.transactional_id,
            "pid": self.producer_id,
            "epoch": self.producer_epoch,
            "timeout": self.timeout_ms,
            "state": self.state.value,
            "parts": sorted([t, p] for t, p in self.partitions),
            "groups": sorted(self.groups),
            "offsets": {
                g: [[t, p, o, m, e] for (t, p), (o, m, e) in offs.items()]
                for g, offs in self.pending_offsets.items()
            },
            "first": sorted([t, p, o] for (t, p), o in self.first_offsets.items()),
            "start": self.start_ms,
            "update": self.update_ms,
            "last_pid": self.last_producer_id,
            "last_epoch": self.last_producer_epoch,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TxnMetadata:
        return cls(
            transactional_id=d["id"],
            producer_id=d["pid"],
            producer_epoch=d["epoch"],
            timeout_ms=d["timeout"],
            state=TxnState(d["state"]),
            partitions={(t, p) for t, p in d.get("parts", [])},
            groups=set(d.get("groups", [])),
            pending_offsets={
                g: {(t, p): (o, m, e) for t, p, o, m, e in offs}
                for g, offs in d.get("offsets", {}).items()
            },
            first_offsets={(t, p): o for t, p, o in d.get("first", [])},
            start_ms=d.get("start", -1),
            update_ms=d.get("update", -1),
            last_producer_id=d.get("last_pid", -1),
            last_producer_epoch=d.get("last_epoch", -1),
        )


# -- persistence ------------------------------------------------------------------


class TxnStateLog:
    """Append-only JSON lines of transaction metadata; the last line per id wins."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / STATE_FILE
        self.lines = 0
        self._fd: int | None = None

    def load(self) -> dict[str, TxnMetadata]:
        entries: dict[str, TxnMetadata] = {}
        good = 0
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn tail: written partially when the process died
            try:
                d = json.loads(line)
                meta = TxnMetadata.from_json(d)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("transaction state log: dropping unreadable tail at byte %d (%s)", good, exc)
                break
            good += len(line)
            self.lines += 1
            if meta.state is TxnState.DEAD:
                entries.pop(meta.transactional_id, None)
            else:
                entries[meta.transactional_id] = meta
        if good < len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        self._open()
        return entries

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, meta: TxnMetadata) -> None:
        # One write() per change: once it returns the change survives the process dying.
        assert self._fd is not None
        os.write(self._fd, json.dumps(meta.to_json(), separators=(",", ":")).encode() + b"\n")
        self.lines += 1

    def maybe_compact(self, live: dict[str, TxnMetadata]) -> None:
        if self.lines <= 2 * len(live) + COMPACT_SLACK:
            return
        entries = list(live.values())
        tmp = self.path.with_name(STATE_FILE + ".tmp")
        with open(tmp, "wb") as f:
            for meta in entries:
                f.write(json.dumps(meta.to_json(), separators=(",", ":")).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.close()
        self._open()
        self.lines = len(entries)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(slots=True)
class AbortedEntry:
    producer_id: int
    first_offset: int
    last_offset: int  # the offset of the abort marker


class AbortedIndex:
    """The aborted transactions of one partition, ordered by marker offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[AbortedEntry] = []
        self._lasts: list[int] = []

    @classmethod
    def load(cls, path: Path, plog: PartitionLog) -> AbortedIndex:
        idx = cls(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if plog.log_end_offset > plog.log_start_offset:
                idx._rebuild(plog)
            return idx
        end = plog.log_end_offset
        seen: set[tuple[int, int]] = set()
        usable = len(raw) - len(raw) % _INDEX_ENTRY.size
        for pos in range(0, usable, _INDEX_ENTRY.size):
            pid, first, last = _INDEX_ENTRY.unpack_from(raw, pos)
            # A marker at or past the log end was never written (see module doc);
            # one below the log start went with its segment (retention, DeleteRecords).
            if last >= end or last < plog.log_start_offset or (pid, first) in seen:
                continue
            seen.add((pid, first))
            idx._add(AbortedEntry(pid, first, last))
        if usable != len(raw) or len(idx.entries) != usable // _INDEX_ENTRY.size:
            idx._rewrite()
        return idx

    def _add(self, e: AbortedEntry) -> None:
        if self._lasts and e.last_offset < self._lasts[-1]:
            i = bisect.bisect_right(self._lasts, e.last_offset)
            self.entries.insert(i, e)
            self._lasts.insert(i, e.last_offset)
        else:
            self.entries.append(e)
            self._lasts.append(e.last_offset)

    def _rewrite(self) -> None:
        tmp = self.path.with_name(INDEX_FILE + ".tmp")
        tmp.write_bytes(b"".join(
            _INDEX_ENTRY.pack(e.producer_id, e.first_offset, e.last_offset) for e in self.entries
        ))
        os.replace(tmp, self.path)

    def _rebuild(self, plog: PartitionLog) -> None:
        """Find aborted transactions from batch headers (and the tiny control records)."""
        open_txns: dict[int, int] = {}
        offset = plog.log_start_offset
        end = plog.log_end_offset
        while offset < end:
            data = plog.read(offset, 4 * 1024 * 1024).data
            if not data:
                break
            try:
                batches = scan_batches(data, verify_crc=False)
            except CorruptBatchError:
                break
            for b in batches:
                if b.producer_id < 0 or not b.is_transactional:
                    continue
                if not b.is_control:
                    open_txns.setdefault(b.producer_id, b.base_offset)
                    continue
                first = open_txns.pop(b.producer_id, None)
                if first is not None and _is_abort_marker(data[b.position:b.position + b.size]):
                    self._add(AbortedEntry(b.producer_id, first, b.base_offset))
            offset = batches[-1].last_offset + 1
        self._rewrite()
        if self.entries:
            log.info("rebuilt %s: %d aborted transaction(s)", self.path, len(self.entries))

    def append(self, e: AbortedEntry) -> None:
        with open(self.path, "ab") as f:
            f.write(_INDEX_ENTRY.pack(e.producer_id, e.first_offset, e.last_offset))
        self._add(e)

    def undo_last(self) -> None:
        """Forget the last entry (its marker could not be appended)."""
        self.entries.pop()
        self._lasts.pop()
        self._rewrite()

    def overlapping(self, start: int, end: int) -> list[AbortedEntry]:
        """Aborted transactions with data in [start, end)."""
        i = bisect.bisect_left(self._lasts, start)
        return [e for e in self.entries[i:] if e.first_offset < end]


def _marker_after(plog: PartitionLog, producer_id: int, offset: int) -> bool:
    """Whether a control batch of `producer_id` exists at or after `offset` (headers only)."""
    end = plog.log_end_offset
    while offset < end:
        data = plog.read(offset, 4 * 1024 * 1024).data
        if not data:
            return False
        try:
            batches = scan_batches(data, verify_crc=False)
        except CorruptBatchError:
            return False
        if any(b.is_control and b.producer_id == producer_id and b.last_offset >= offset for b in batches):
            return True
        offset = batches[-1].last_offset + 1
    return False


def _is_abort_marker(batch: bytes | memoryview) -> bool:
    for rec in DefaultRecordBatch(bytes(batch)):
        return bool(getattr(rec, "abort", False))
    return False


class _ControlBatchBuilder(DefaultRecordBatchBuilder):
    # kafka-python's builder never sets the control bit: only brokers write control batches.
    def _get_attributes(self, include_compression_type: bool = True) -> int:
        return super()._get_attributes(include_compression_type) | self.CONTROL_MASK


def build_marker(producer_id: int, producer_epoch: int, commit: bool, timestamp_ms: int) -> bytearray:
    """A control batch holding one COMMIT or ABORT end-transaction marker."""
    b = _ControlBatchBuilder(
        magic=2, compression_type=0, is_transactional=True, producer_id=producer_id,
        producer_epoch=producer_epoch, base_sequence=-1, batch_size=1 << 20,
    )
    key = struct.pack(">hh", 0, 1 if commit else 0)
    value = struct.pack(">hi", 0, COORDINATOR_EPOCH)
    b.append(0, timestamp=timestamp_ms, key=key, value=value, headers=[])
    return b.build()


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


# -- the coordinator --------------------------------------------------------------


class TransactionCoordinator:
    def __init__(self, state: BrokerState, now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.state = state
        self.now_ms = now_ms
        self.max_timeout_ms = state.config.transaction_max_timeout_ms
        self.store = TxnStateLog(state.data_dir / STATE_DIR)
        self.txns: dict[str, TxnMetadata] = self.store.load()
        self.by_pid: dict[int, TxnMetadata] = {m.producer_id: m for m in self.txns.values()}
        # (topic, partition) -> producer id -> first offset of its open transaction
        self.open_txns: dict[TopicPartition, dict[int, int]] = {}
        for key, producers in state.producers.partitions.items():
            opened = {pid: e.txn_first_offset for pid, e in producers.items()
                      if e.txn_first_offset is not None}
            if opened:
                self.open_txns[key] = opened
        self.indexes: dict[TopicPartition, AbortedIndex] = {}
        for topic in state.topics.values():
            for p, plog in enumerate(topic.partitions):
                self._index(topic.name, p, plog)

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
        for (topic, partition), opened in list(self.open_txns.items()):
            for pid in list(opened):
                meta = self.by_pid.get(pid)
                if meta is None or meta.state is not TxnState.ONGOING \
                        or (topic, partition) not in meta.partitions:
                    log.warning("aborting orphan transaction of producer %d on %s-%d",
                                pid, topic, partition)
                    entry = self.state.producers.producers_of(topic, partition).get(pid)
                    epoch = entry.epoch if entry is not None else 0
                    self._write_marker(topic, partition, pid, epoch, commit=False)
        self.store.maybe_compact(self.txns)

    def _restore_open_txns(self) -> None:
        for meta in self.txns.values():
            if meta.state not in (TxnState.ONGOING, TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                continue
            for (topic, partition), first in meta.first_offsets.items():
                opened = self.open_txns.get((topic, partition), {})
                plog = self.state.partition(topic, partition)
                if meta.producer_id in opened or plog is None or first < plog.log_start_offset:
                    continue
                if _marker_after(plog, meta.producer_id, first):
                    continue  # a Prepare* transaction whose marker made it here before the crash
                log.info("restoring open transaction of %s on %s-%d from offset %d",
                         meta.transactional_id, topic, partition, first)
                self.open_txns.setdefault((topic, partition), {})[meta.producer_id] = first
                entry = self.state.producers.producers_of(topic, partition).get(meta.producer_id)
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
            plog = plog or self.state.partition(topic, partition)
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
            meta.producer_id = self.state.producers.allocate_producer_id()
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
        plog = self.state.partition(topic, partition)
        if plog is None:
            return  # the topic was deleted while the transaction was open
        data = build_marker(producer_id, epoch, commit, self.now_ms())
        batches = scan_batches(data, verify_crc=False)
        first = self.open_txns.get((topic, partition), {}).get(producer_id)
        idx = None
        if not commit and first is not None:
            idx = self._index(topic, partition, plog)
            assert idx is not None
            idx.append(AbortedEntry(producer_id, first, plog.log_end_offset))
        try:
            res = plog.append(data, batches)
        except Exception:
            if idx is not None:
                idx.undo_last()
            raise
        self.state.producers.update(topic, partition, batches[0], res.base_offset)
        for hook in self.state.extensions.get("after_append", ()):
            hook(topic, partition, batches, res)
        # The LSO moved: read_committed fetches parked on this partition may answer now.
        self.state.purgatory.notify((topic, partition))

    def _complete(self, meta: TxnMetadata) -> None:
        """Write the markers of a Prepare* transaction and make it Complete*."""
        commit = meta.state is TxnState.PREPARE_COMMIT
        for topic, partition in sorted(meta.partitions):
            self._write_marker(topic, partition, meta.producer_id, meta.producer_epoch, commit)
        if commit and meta.pending_offsets:
            offsets = self.state.extensions.get("offsets")
            for group, offs in meta.pending_offsets.items():
                if offsets is None:
                    log.warning("no offsets store: dropping %d offset(s) of group %s committed "
                                "by transactional id %s", len(offs), group, meta.transactional_id)
                else:
                    offsets.commit(group, dict(offs))
        meta.state = TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT
        meta.partitions.clear()
        meta.groups.clear()
        meta.pending_offsets.clear()
        meta.first_offsets.clear()
        self._persist(meta)

    def _end(self, meta: TxnMetadata, commit: bool) -> None:
        meta.state = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
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
            pid = self.state.producers.allocate_producer_id()
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
        meta.state = TxnState.EMPTY
        self._persist(meta)
        return ErrorCode.NONE, meta.producer_id, meta.producer_epoch

    # -- AddPartitionsToTxn / AddOffsetsToTxn ------------------------------------

    def _begin(self, meta: TxnMetadata) -> ErrorCode:
        if meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if meta.state is not TxnState.ONGOING:
            meta.state = TxnState.ONGOING
            meta.start_ms = self.now_ms()
        return ErrorCode.NONE

    def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                       partitions: list[TopicPartition]) -> dict[TopicPartition, ErrorCode]:
        meta = self.txns.get(transactional_id)
        code = self._check_producer(meta, producer_id, producer_epoch)
        if code:
            return dict.fromkeys(partitions, code)
        assert meta is not None
        unknown = {tp for tp in partitions if self.state.partition(*tp) is None}
        if unknown:
            return {tp: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if tp in unknown
                    else ErrorCode.OPERATION_NOT_ATTEMPTED for tp in partitions}
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
            meta.state = TxnState.DEAD
            self._persist(meta)
        return len(idle)

    # -- produce path hooks ------------------------------------------------------------

    def produce_check(self, ctx: Any, topic: str, partition: int, b: BatchInfo) -> int:
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

    def after_append(self, topic: str, partition: int, batches: list[BatchInfo], _res: Any) -> None:
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
        plog = self.state.partition(topic, partition)
        if plog is None:
            return -1
        opened = self.open_txns.get((topic, partition))
        if not opened:
            return plog.log_end_offset
        return max(min(opened.values()), plog.log_start_offset)

    def aborted_transactions(self, topic: str, partition: int, fetch_offset: int,
                             lso: int) -> list[Any]:
        idx = self._index(topic, partition)
        if idx is None:
            return []
        return [_AbortedTxn(producer_id=e.producer_id, first_offset=e.first_offset)
                for e in idx.overlapping(fetch_offset, lso)]

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


def install(state: BrokerState, server: Any) -> None:
    coord = TransactionCoordinator(state)
    ext = state.extensions
    ext["transactions"] = coord
    ext["init_transactional_producer"] = _init_transactional_producer
    ext["txn_produce_check"] = coord.produce_check
    ext["last_stable_offset"] = coord.last_stable_offset
    ext["aborted_transactions"] = coord.aborted_transactions
    ext["txn_pending_offsets"] = coord.has_pending_offsets
    ext.setdefault("after_append", []).append(coord.after_append)
    ext.setdefault("on_topic_deleted", []).append(coord.on_topic_deleted)
    ext.setdefault("on_close", []).append(coord.close)
    # Timers run before the first select(), so recovery precedes every request;
    # by then every other extension (the offsets store) is installed too.
    server.call_later(0, coord.recover)
    interval = max(0.05, min(state.config.housekeeping_interval_ms, 1000) / 1000.0)

    def check_timeouts() -> None:
        try:
            coord.abort_timed_out()
            coord.expire_transactional_ids()
        finally:
            server.call_later(interval, check_timeouts)

    server.call_later(interval, check_timeouts)


def fenced_code(code: ErrorCode, version: int, first_fenced_version: int) -> ErrorCode:
    """Older request versions predate PRODUCER_FENCED (KIP-588): clients expect the old code."""
    if code is ErrorCode.PRODUCER_FENCED and version < first_fenced_version:
        return ErrorCode.INVALID_PRODUCER_EPOCH
    return code


def coordinator_of(ctx: Any) -> TransactionCoordinator | None:
    return ctx.broker.extensions.get("transactions")


def _init_transactional_producer(ctx: Any, req: Any) -> Any:
    from kafka.protocol.producer.transaction import InitProducerIdResponse

    v = ctx.api_version
    coord = coordinator_of(ctx)
    if coord is None:
        return InitProducerIdResponse(version=v, throttle_time_ms=0,
                                      error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE,
                                      producer_id=-1, producer_epoch=-1)
    pid = req.producer_id if v >= 3 else -1
    epoch = req.producer_epoch if v >= 3 else -1
    code, pid, epoch = coord.init_producer_id(req.transactional_id, req.transaction_timeout_ms, pid, epoch)
    return InitProducerIdResponse(version=v, throttle_time_ms=0, error_code=fenced_code(code, v, 4),
                                  producer_id=pid, producer_epoch=epoch)
