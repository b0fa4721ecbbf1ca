"""Reading a partition's segment files from a thread that does not own the log.

`PartitionLog` belongs to the event loop and is not thread-safe, so the
indexer and the query workers never call it. They open the segment files
(`<20-digit base>.log`, Kafka's layout) through their own file descriptors
and read only what the loop has told them is there: whole batches below a
bound (the last stable offset when the loop looked). What the loop may do
meanwhile is harmless to such a reader:

* appends only add bytes past the bound;
* retention and DeleteRecords unlink whole segments: an open descriptor
  still reads the old file, a later listing no longer shows it;
* compaction swaps a cleaned file in under the same name (`os.replace`):
  a reader notices the new inode and walks that file from its start again.

Every batch is checked (length, magic, CRC32C) before it is decoded; a
damaged one ends the read there, as it would for a consumer.
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chronik.storage.batch import HEADER, HEADER_SIZE, LOG_OVERHEAD, MIN_BATCH_LENGTH, verify_batches
from chronik.storage.txn_index import INDEX_FILE, decode_entries

__all__ = ["AbortedRanges", "PartitionFiles", "StoredRecord", "decode_batch", "decode_records", "records_at"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_INDEX_ENTRY = struct.Struct(">ii")  # relative last offset, file position
_CHUNK = 1 << 20
# The index has an entry every 4 KiB of log (log.index.interval.bytes): a lookup
# starts at most that far before its batch.
LOOKUP_CHUNK = 16 << 10
# Header fields used here (see chronik.storage.batch).
_H_BASE, _H_LEN, _H_ATTR, _H_LOD, _H_BASE_TS, _H_MAX_TS, _H_PID, _H_COUNT = 0, 1, 5, 6, 7, 8, 9, 12
_COMPRESSION, _LOG_APPEND_TIME, _TRANSACTIONAL, _CONTROL = 0x07, 0x08, 0x10, 0x20


@dataclass(slots=True)
class StoredRecord:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def decode_batch(raw: bytes | memoryview) -> Iterator[StoredRecord]:
    """The records of one v2 batch, any codec (kafka-python decodes)."""
    from kafka.record.default_records import DefaultRecordBatch

    for r in DefaultRecordBatch(bytes(raw)):
        yield StoredRecord(r.offset, r.timestamp, r.key, r.value, list(r.headers))


def decode_records(raw: bytes) -> Any:
    """The records of one v2 batch as kafka-python's own objects (offset, timestamp, key, value,
    headers): the indexer's path, without a second object per record."""
    from kafka.record.default_records import DefaultRecordBatch

    return DefaultRecordBatch(raw)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint (Kafka's record fields) at `pos`: (value, next position)."""
    shift = n = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def records_at(raw: bytes, offsets: set[int] | frozenset[int]) -> list[StoredRecord]:
    """The records of one batch whose offsets are in `offsets`, decoding only those.

    A search hit needs one record of a batch that may hold a thousand: walking
    the record lengths and decoding just the wanted ones is ~10x cheaper than
    decoding the batch. Compressed batches are decoded whole (kafka-python),
    stopping after the last wanted offset.
    """
    h = HEADER.unpack_from(raw, 0)
    base, attrs = h[_H_BASE], h[_H_ATTR]
    hi = max(offsets)
    if attrs & _COMPRESSION:
        out = []
        for r in decode_batch(raw):
            if r.offset in offsets:
                out.append(r)
            if r.offset >= hi:
                break
        return out
    log_append = attrs & _LOG_APPEND_TIME
    first_ts, max_ts = h[_H_BASE_TS], h[_H_MAX_TS]
    out = []
    pos = HEADER_SIZE
    for _ in range(h[_H_COUNT]):
        length, pos = _varint(raw, pos)
        end = pos + length
        p = pos + 1  # attributes
        ts_delta, p = _varint(raw, p)
        off_delta, p = _varint(raw, p)
        offset = base + off_delta
        if offset in offsets:
            n, p = _varint(raw, p)
            key = None if n < 0 else raw[p:p + n]
            p += max(n, 0)
            n, p = _varint(raw, p)
            value = None if n < 0 else raw[p:p + n]
            p += max(n, 0)
            count, p = _varint(raw, p)
            headers: list[tuple[str, bytes | None]] = []
            for _h in range(count):
                n, p = _varint(raw, p)
                name = raw[p:p + n].decode("utf-8", "replace")
                p += n
                n, p = _varint(raw, p)
                headers.append((name, None if n < 0 else raw[p:p + n]))
                p += max(n, 0)
            out.append(StoredRecord(offset, max_ts if log_append else first_ts + ts_delta, key, value, headers))
        if offset >= hi:
            break
        pos = end
    return out


class AbortedRanges:
    """The aborted transactions of a partition, read from its `aborted.txnindex`.

    The coordinator writes an entry before its ABORT marker, so below the
    last stable offset every aborted transaction is in the file.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / INDEX_FILE
        self._size = -1
        self._by_pid: dict[int, list[tuple[int, int]]] = {}

    def refresh(self) -> None:
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            self._size, self._by_pid = 0, {}
            return
        if size == self._size:
            return
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        by_pid: dict[int, list[tuple[int, int]]] = {}
        for e in decode_entries(raw):
            by_pid.setdefault(e.producer_id, []).append((e.first_offset, e.last_offset))
        self._size, self._by_pid = len(raw), by_pid

    def aborted(self, producer_id: int, offset: int) -> bool:
        for first, last in self._by_pid.get(producer_id, ()):
            if first <= offset <= last:
                return True
        return False


class PartitionFiles:
    """Whole batches of one partition's segment files, below a bound, through our own descriptors."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.aborted = AbortedRanges(self.directory)
        # Where the last sequential read stopped: (segment base, inode, position, next offset).
        self._cursor: tuple[int, int, int, int] | None = None

    # -- segment files ----------------------------------------------------------------
    def bases(self) -> list[int]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(int(n[:20]) for n in names if len(n) == 24 and n.endswith(".log") and n[:20].isdigit())

    def _path(self, base: int) -> str:
        return os.path.join(self.directory, f"{base:020d}.log")

    def _start_position(self, base: int, offset: int) -> int:
        """A batch boundary at or before the batch holding `offset` (from the `.index` file)."""
        try:
            with open(os.path.join(self.directory, f"{base:020d}.index"), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return 0
        n = len(raw) // 8
        if not n:
            return 0
        # Entries name the last offset of the batch at their position: start at the
        # last batch that ends before `offset` (it is skipped by the walk). A binary
        # search on the bytes: unpacking every entry cost 2 ms per search hit.
        target = offset - base
        lo, hi = 0, n
        unpack = _INDEX_ENTRY.unpack_from
        while lo < hi:
            mid = (lo + hi) // 2
            if unpack(raw, mid * 8)[0] < target:
                lo = mid + 1
            else:
                hi = mid
        return unpack(raw, (lo - 1) * 8)[1] if lo > 0 else 0

    # -- reading ------------------------------------------------------------------------
    def batches(self, start: int, bound: int, max_bytes: int = 4 * _CHUNK,
                chunk_bytes: int = _CHUNK) -> Iterator[tuple[int, int, bytes]]:
        """(base offset, last offset, batch bytes) of batches holding offsets in [start, bound).

        Stops after about `max_bytes`, at the bound, at a torn or damaged batch,
        or at the end of the files; continue by calling again from the next offset.
        Reads (and checks the CRC of) `chunk_bytes` at a time: small for lookups.
        """
        if start >= bound:
            return
        bases = self.bases()
        if not bases:
            return
        i = max(0, bisect.bisect_right(bases, start) - 1)
        produced = 0
        offset = start
        while i < len(bases) and offset < bound:
            base = bases[i]
            try:
                fd = os.open(self._path(base), os.O_RDONLY | _CLOEXEC)
            except FileNotFoundError:
                i += 1  # deleted under us (retention): the next one holds later offsets
                continue
            try:
                ino = os.fstat(fd).st_ino
                cur = self._cursor
                if cur is not None and cur[0] == base and cur[1] == ino and cur[3] == offset:
                    pos = cur[2]
                else:
                    pos = self._start_position(base, offset)
                size = os.fstat(fd).st_size
                while pos < size and offset < bound:
                    chunk = os.pread(fd, min(chunk_bytes, size - pos), pos)
                    good, _why = verify_batches(chunk)
                    if good == 0:
                        if len(chunk) >= HEADER_SIZE:
                            length = HEADER.unpack_from(chunk, 0)[_H_LEN]
                            if length >= MIN_BATCH_LENGTH and LOG_OVERHEAD + length > len(chunk):
                                # One batch larger than a chunk: read it whole.
                                chunk = os.pread(fd, LOG_OVERHEAD + length, pos)
                                good, _why = verify_batches(chunk)
                        if good == 0:
                            return  # torn tail or damage: nothing past it is trusted
                    p = 0
                    mv = memoryview(chunk)
                    while p < good:
                        h = HEADER.unpack_from(chunk, p)
                        end = p + LOG_OVERHEAD + h[_H_LEN]
                        b_base, b_last = h[_H_BASE], h[_H_BASE] + h[_H_LOD]
                        if b_base >= bound:
                            self._cursor = (base, ino, pos + p, offset)
                            return
                        if b_last >= offset:
                            yield b_base, b_last, bytes(mv[p:end])
                            produced += end - p
                            offset = b_last + 1
                        p = end
                        if produced >= max_bytes:
                            self._cursor = (base, ino, pos + p, offset)
                            return
                    pos += good
                    if good < len(chunk) and _why is not None and not _fits_later(chunk, good):
                        return
                self._cursor = (base, ino, pos, offset)
            finally:
                os.close(fd)
            i += 1

    def header_info(self, raw: bytes) -> tuple[bool, bool, int]:
        """(transactional, control, producer id) of a batch."""
        h = HEADER.unpack_from(raw, 0)
        return bool(h[_H_ATTR] & _TRANSACTIONAL), bool(h[_H_ATTR] & _CONTROL), h[_H_PID]

    def records(self, start: int, bound: int, max_bytes: int = 4 * _CHUNK) -> Iterator[StoredRecord]:
        """Committed data records at offsets in [start, bound): no control, no aborted records."""
        refreshed = False
        for _base, _last, raw in self.batches(start, bound, max_bytes):
            transactional, control, pid = self.header_info(raw)
            if control:
                continue
            if transactional:
                if not refreshed:
                    self.aborted.refresh()
                    refreshed = True
                if self.aborted.aborted(pid, _base):
                    continue
            for r in decode_batch(raw):
                if start <= r.offset < bound:
                    yield r

    def lookup(self, offsets: list[int]) -> dict[int, StoredRecord]:
        """The records at `offsets` that the files still hold (compaction may have dropped some).

        Reads LOOKUP_CHUNK bytes from the batch boundary the offset index gives
        (a whole batch if it is larger): reading 1 MiB chunks and checking their
        CRC made a search with 10 hits spend 5 ms here.
        """
        want = set(offsets)
        out: dict[int, StoredRecord] = {}
        saved = self._cursor
        for o in sorted(want):
            if o in out:
                continue
            for _b, _last, raw in self.batches(o, o + 1, 1, LOOKUP_CHUNK):
                for r in records_at(raw, want):
                    out[r.offset] = r
        self._cursor = saved
        return out


def _fits_later(chunk: bytes, good: int) -> bool:
    """Whether the bytes after `good` are merely a batch cut by the chunk's end (read on)."""
    if len(chunk) - good < HEADER_SIZE:
        return True
    length = HEADER.unpack_from(chunk, good)[_H_LEN]
    return length >= MIN_BATCH_LENGTH and good + LOG_OVERHEAD + length > len(chunk)
