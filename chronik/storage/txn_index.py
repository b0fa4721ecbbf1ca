"""The aborted-transaction index of a partition: ``<topic>-<partition>/aborted.txnindex``.

This module alone knows the file format. The transaction coordinator keeps
one ``AbortedIndex`` per partition (fetch answers read_committed consumers
from it); the log cleaner reads ``aborted_ranges``.

Format (Kafka's ``.txnindex``, one file per partition rather than per
segment): fixed 24-byte big-endian entries ``>qqq`` = producer id, first
offset of the aborted transaction on this partition, offset of its ABORT
marker; appended in marker-offset order.

Crash rules: the coordinator writes an entry *before* appending its abort
marker (the marker's offset is the log end at that moment), so a crash can
only leave an entry whose marker is missing; such entries (marker offset at
or past the log end) are dropped at load, and the marker is written again
when the coordinator finishes the PrepareAbort transaction. A torn last
entry is ignored. Entries whose marker lies below the log start went with
their segment (retention, DeleteRecords) and are dropped too. A missing file
is rebuilt by scanning the partition's batch headers (and the tiny control
records) when the index is first used, not when the partition opens.
"""

from __future__ import annotations

import bisect
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chronik.storage.atomic import atomic_write
from chronik.storage.batch import (
    CONTROL_MASK,
    H_ATTRIBUTES,
    H_BASE_OFFSET,
    H_BATCH_LENGTH,
    H_LAST_OFFSET_DELTA,
    H_PRODUCER_ID,
    LOG_OVERHEAD,
    TRANSACTIONAL_MASK,
    CorruptBatchError,
    iter_batches,
    scan_batches,
)
from chronik.storage.control import is_abort_marker

if TYPE_CHECKING:
    from chronik.storage.log import PartitionLog

__all__ = [
    "INDEX_FILE",
    "AbortedEntry",
    "AbortedIndex",
    "aborted_ranges",
    "decode_entries",
    "encode_entries",
]

log = logging.getLogger("chronik.transactions")

INDEX_FILE = "aborted.txnindex"
_INDEX_ENTRY = struct.Struct(">qqq")
ENTRY_SIZE = _INDEX_ENTRY.size  # 24


@dataclass(slots=True)
class AbortedEntry:
    producer_id: int
    first_offset: int
    last_offset: int  # the offset of the abort marker


def decode_entries(raw: bytes) -> list[AbortedEntry]:
    """Entries of a file's bytes, in file order; a torn last entry is ignored."""
    usable = len(raw) - len(raw) % ENTRY_SIZE
    return [AbortedEntry(*t) for t in _INDEX_ENTRY.iter_unpack(raw[:usable])]


def encode_entries(entries: list[AbortedEntry]) -> bytes:
    return b"".join(_INDEX_ENTRY.pack(e.producer_id, e.first_offset, e.last_offset) for e in entries)


def aborted_ranges(directory: Path) -> dict[int, list[tuple[int, int]]]:
    """Aborted transactions of a partition directory: producer id -> [(first offset, marker offset)].

    The file as it is (no log to check it against): what the offline cleaner needs.
    """
    out: dict[int, list[tuple[int, int]]] = {}
    try:
        raw = (directory / INDEX_FILE).read_bytes()
    except FileNotFoundError:
        return out
    for e in decode_entries(raw):
        out.setdefault(e.producer_id, []).append((e.first_offset, e.last_offset))
    return out


class AbortedIndex:
    """The aborted transactions of one partition, ordered by marker offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: list[AbortedEntry] = []
        self._lasts: list[int] = []
        # A log to rebuild the entries from on first use (the file was missing).
        self._stale_log: PartitionLog | None = None

    @property
    def holds_entries(self) -> bool:
        """Entries were loaded from the file (a missing file is rebuilt on use instead)."""
        return bool(self._entries)

    @property
    def entries(self) -> list[AbortedEntry]:
        self._fresh()
        return self._entries

    def _fresh(self) -> None:
        plog = self._stale_log
        if plog is not None:
            self._stale_log = None
            self._rebuild(plog)

    @classmethod
    def load(cls, path: Path, plog: PartitionLog) -> AbortedIndex:
        idx = cls(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if plog.log_end_offset > plog.log_start_offset:
                # Rebuilt when first needed (a read_committed fetch, an abort),
                # not at open: after a restart that would scan every partition
                # written without transactions.
                idx._stale_log = plog
            return idx
        end = plog.log_end_offset
        seen: set[tuple[int, int]] = set()
        stored = decode_entries(raw)
        for e in stored:
            # A marker at or past the log end was never written (see module doc);
            # one below the log start went with its segment (retention, DeleteRecords).
            if e.last_offset >= end or e.last_offset < plog.log_start_offset:
                continue
            if (e.producer_id, e.first_offset) in seen:
                continue
            seen.add((e.producer_id, e.first_offset))
            idx._add(e)
        if len(raw) % ENTRY_SIZE or len(idx.entries) != len(stored):
            idx._rewrite()
        return idx

    def _add(self, e: AbortedEntry) -> None:
        if self._lasts and e.last_offset < self._lasts[-1]:
            i = bisect.bisect_right(self._lasts, e.last_offset)
            self._entries.insert(i, e)
            self._lasts.insert(i, e.last_offset)
        else:
            self._entries.append(e)
            self._lasts.append(e.last_offset)

    def _rewrite(self) -> None:
        atomic_write(self.path, encode_entries(self._entries))

    def _rebuild(self, plog: PartitionLog) -> None:
        """Find aborted transactions from batch headers (and the tiny control records).

        Headers only (Segment.iter_headers), never record data: this runs on the first
        read_committed fetch of a partition, on the broker's loop, and reading the whole
        log there stalled every client for as long as the partition took to read
        (15 ms per 200 MB of 1 KiB records; seconds for a large partition).
        """
        open_txns: dict[int, int] = {}
        start = plog.log_start_offset
        try:
            for seg in plog.segments:
                for position, h in seg.iter_headers(0):
                    producer_id, attributes = h[H_PRODUCER_ID], h[H_ATTRIBUTES]
                    if producer_id < 0 or not attributes & TRANSACTIONAL_MASK:
                        continue
                    base = h[H_BASE_OFFSET]
                    if base + h[H_LAST_OFFSET_DELTA] < start:
                        continue  # below the log start (DeleteRecords): gone for readers
                    if not attributes & CONTROL_MASK:
                        open_txns.setdefault(producer_id, base)
                        continue
                    first = open_txns.pop(producer_id, None)
                    if first is None:
                        continue
                    marker = seg.pread(LOG_OVERHEAD + h[H_BATCH_LENGTH], position)
                    scan_batches(marker, verify_crc=True)  # a damaged marker stops the walk
                    if is_abort_marker(marker):
                        self._add(AbortedEntry(producer_id, first, base))
        except CorruptBatchError:
            pass  # index what could be read; recovery deals with the log itself
        if self._entries:
            self._rewrite()
            log.info("rebuilt %s: %d aborted transaction(s)", self.path, len(self._entries))
        else:
            # Nothing to lose: derived from the log, rebuilt again if a crash
            # takes it (an atomic, fsynced write per partition was seconds of
            # I/O after restarting with thousands of them).
            with open(self.path, "ab"):
                pass

    def append(self, e: AbortedEntry) -> None:
        self._fresh()
        with open(self.path, "ab") as f:
            f.write(_INDEX_ENTRY.pack(e.producer_id, e.first_offset, e.last_offset))
        self._add(e)

    def undo_last(self) -> None:
        """Forget the last entry (its marker could not be appended)."""
        self._fresh()
        self._entries.pop()
        self._lasts.pop()
        self._rewrite()

    def overlapping(self, start: int, end: int) -> list[AbortedEntry]:
        """Aborted transactions with data in [start, end)."""
        self._fresh()
        i = bisect.bisect_left(self._lasts, start)
        return [e for e in self._entries[i:] if e.first_offset < end]


def marker_after(plog: PartitionLog, producer_id: int, offset: int) -> bool:
    """Whether a control batch of `producer_id` exists at or after `offset` (headers only)."""
    try:
        for b, _raw in iter_batches(plog, offset):
            if b.is_control and b.producer_id == producer_id:
                return True
    except CorruptBatchError:
        return False
    return False


# The names broker/transactions.py has used; new code uses is_abort_marker.
