"""The aborted-transaction index of a partition (`aborted.txnindex`): the one module that knows its format.

Fixed 24-byte entries, big-endian (producer id, first offset, marker offset),
one per aborted transaction, like Kafka's .txnindex. The transaction
coordinator writes an entry *before* its abort marker is appended (the
marker's offset is the log end at that moment), so a crash can only leave an
entry whose marker is missing; such entries (offset >= log end) are dropped
at load. A missing file is rebuilt by scanning the partition's batch
headers. read_committed fetches and the log cleaner read it.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from kafka.record.default_records import DefaultRecordBatch

from chronik.storage.batch import CorruptBatchError, scan_batches
from chronik.storage.log import PartitionLog

log = logging.getLogger("chronik.storage.txn_index")

INDEX_FILE = "aborted.txnindex"
_INDEX_ENTRY = struct.Struct(">qqq")


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
                if first is not None and is_abort_marker(data[b.position:b.position + b.size]):
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


def marker_after(plog: PartitionLog, producer_id: int, offset: int) -> bool:
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


def is_abort_marker(batch: bytes | memoryview) -> bool:
    for rec in DefaultRecordBatch(bytes(batch)):
        return bool(getattr(rec, "abort", False))
    return False
