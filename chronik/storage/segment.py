"""One log segment: a ``.log`` file of record batches plus its two sparse indexes.

(About 500 lines: the segment and its two index files share their write
and recovery rules, so they stay together.)

File formats are Kafka's, so existing tooling habits carry over:

* ``.index``: 8-byte entries, relative offset (int32) -> file position (int32).
  The offset is the *last* offset of the batch starting at that position.
* ``.timeindex``: 12-byte entries, timestamp (int64) -> relative offset (int32),
  timestamps strictly increasing; each entry is the segment's max timestamp so
  far and the last offset of the batch that carried it.

Both indexes live in memory as ``array`` columns (bisect works on them directly)
and are appended to their files with one write per append call.
"""

from __future__ import annotations

import logging
import os
import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from pathlib import Path

from chronik.storage.atomic import atomic_write, fsync_path
from chronik.storage.batch import (
    H_BASE_OFFSET,
    H_BATCH_LENGTH,
    H_LAST_OFFSET_DELTA,
    H_MAGIC,
    HEADER,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MIN_BATCH_LENGTH,
    CorruptBatchError,
)
from chronik.storage.handles import OPEN_FILES

logger = logging.getLogger("chronik.storage")

__all__ = [
    "OFFSET_INDEX_ENTRY",
    "TIME_INDEX_ENTRY",
    "OffsetIndex",
    "Segment",
    "TimeIndex",
    "segment_name",
]

_BIG_ENDIAN_HOST = sys.byteorder == "big"
# On-disk entries (the one definition of both index formats; see the module doc).
OFFSET_INDEX_ENTRY = struct.Struct(">ii")  # relative offset, file position
TIME_INDEX_ENTRY = struct.Struct(">qi")  # timestamp, relative offset
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Header walks read this much at a time so that runs of small batches cost one syscall.
_WALK_CHUNK = 16384
INT32_MAX = 2**31 - 1
MISSING_OFFSET_INDEX = "offset index missing"
MISSING_TIME_INDEX = "time index missing"
# Offset index entries buffered before one write to the index files.
_INDEX_WRITE_BATCH = 32


def segment_name(base_offset: int, suffix: str) -> str:
    return f"{base_offset:020d}{suffix}"


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """os.write, retrying short writes (rare on regular files, but legal)."""
    written = os.write(fd, data)
    if written == len(data):
        return
    mv = memoryview(data)
    while written < len(mv):
        written += os.write(fd, mv[written:])


class _IndexFile:
    """An index kept in memory and appended to its file in batches of entries.

    The file is opened for each batch write and closed again: writes come once
    per ~32 entries, and a descriptor held per active segment would count
    against the limit the segment-file LRU (storage.handles) keeps.
    """

    __slots__ = ("directory", "base_offset", "_pending", "_unsynced")
    SUFFIX = ""

    @property
    def path(self) -> Path:
        # Made on use, not kept: three Path objects per partition were ~1 KB of
        # a 10,000-partition broker's memory each.
        return self.directory / segment_name(self.base_offset, self.SUFFIX)

    def sync(self) -> None:
        """Write pending entries to the file (one write), or leave the file as it was."""
        if self._pending:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _CLOEXEC, 0o644)
            try:
                before = os.lseek(fd, 0, os.SEEK_END)
                try:
                    write_all(fd, self._encode(self._pending))
                except OSError:
                    # A full disk: no torn entry stays behind; the entries stay pending.
                    try:
                        os.ftruncate(fd, before)
                    except OSError:
                        pass
                    raise
            finally:
                os.close(fd)
            self._pending = []
            self._unsynced = True

    def _encode(self, entries: list[int]) -> bytes:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        raise NotImplementedError

    def rewrite(self) -> None:
        self._pending = []
        atomic_write(self.path, self.to_bytes())

    def flush(self) -> None:
        """Pending entries written and the file fsynced (through a fresh descriptor:
        fsync flushes the file, whichever descriptor wrote it)."""
        self.sync()
        if not self._unsynced:
            return
        if fsync_path(self.path):
            self._unsynced = False

    def close(self) -> None:
        self.sync()


class OffsetIndex(_IndexFile):
    __slots__ = ("offsets", "positions", "dropped")
    SUFFIX = ".index"

    def __init__(self, directory: Path, base_offset: int) -> None:
        self.directory = directory
        self.base_offset = base_offset
        self.offsets = array("i")  # relative last offsets
        self.positions = array("i")
        # Entries not yet written to the file (see Segment.persist_index_entries).
        self._pending: list[int] = []
        self._unsynced = False  # written since the last fsync
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.offsets)

    def load(self, log_size: int, *, trim_past: bool = False) -> str | None:
        """Read the file; return a description of what is wrong with it, or None.

        With ``trim_past``, entries pointing at or past ``log_size`` are dropped
        (counted in ``self.dropped``) instead of making the whole index invalid.
        """
        self.offsets = array("i")
        self.positions = array("i")
        self.dropped = 0
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return MISSING_OFFSET_INDEX
        if len(data) % 8:
            return f"offset index size {len(data)} is not a multiple of 8"
        both = array("i")
        both.frombytes(data)
        if not _BIG_ENDIAN_HOST:
            both.byteswap()
        offsets, positions = both[0::2], both[1::2]
        if offsets:
            # Cheap plausibility checks (like Kafka's sanityCheck); a deeper
            # check would cost a pass over every entry at each open.
            if offsets[0] < 0 or positions[0] < 0:
                return "offset index has negative entries"
            if len(offsets) > 1 and (offsets[-1] <= offsets[0] or positions[-1] <= positions[0]):
                return "offset index is not monotonic"
            if positions[-1] >= log_size:
                if not trim_past:
                    return f"offset index points at position {positions[-1]} past the log end"
                keep = bisect_left(positions, log_size)
                self.dropped = len(positions) - keep
                del offsets[keep:]
                del positions[keep:]
        self.offsets, self.positions = offsets, positions
        return None

    def lookup(self, offset: int) -> int:
        """File position of the last indexed batch ending at or before ``offset`` (else 0)."""
        i = bisect_right(self.offsets, offset - self.base_offset)
        return self.positions[i - 1] if i else 0

    def floor_position(self, position: int) -> int:
        """Largest indexed batch start at or before ``position`` (else 0)."""
        i = bisect_right(self.positions, position)
        return self.positions[i - 1] if i else 0

    def append(self, entries: list[int]) -> None:
        """Add flattened (relative offset, position) pairs; on disk at the next sync()."""
        self.offsets.extend(entries[0::2])
        self.positions.extend(entries[1::2])
        self._pending += entries

    @property
    def pending(self) -> int:
        return len(self._pending) // 2

    def _encode(self, entries: list[int]) -> bytes:
        raw = array("i", entries)
        if not _BIG_ENDIAN_HOST:
            raw.byteswap()
        return raw.tobytes()

    def to_bytes(self) -> bytes:
        raw = array("i", [0]) * (2 * len(self.offsets))
        raw[0::2] = self.offsets
        raw[1::2] = self.positions
        if not _BIG_ENDIAN_HOST:
            raw.byteswap()
        return raw.tobytes()


class TimeIndex(_IndexFile):
    __slots__ = ("timestamps", "offsets")
    SUFFIX = ".timeindex"

    def __init__(self, directory: Path, base_offset: int) -> None:
        self.directory = directory
        self.base_offset = base_offset
        self.timestamps = array("q")
        self.offsets = array("i")  # relative
        self._pending: list[int] = []
        self._unsynced = False

    def __len__(self) -> int:
        return len(self.timestamps)

    def load(self) -> str | None:
        self.timestamps = array("q")
        self.offsets = array("i")
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return MISSING_TIME_INDEX
        if len(data) % 12:
            return f"time index size {len(data)} is not a multiple of 12"
        ts = array("q")
        offs = array("i")
        for t, o in TIME_INDEX_ENTRY.iter_unpack(data):
            ts.append(t)
            offs.append(o)
        if ts and (offs[0] < 0 or (len(ts) > 1 and (ts[-1] <= ts[0] or offs[-1] < offs[0]))):
            return "time index is not monotonic"
        self.timestamps, self.offsets = ts, offs
        return None

    @property
    def last_timestamp(self) -> int:
        return self.timestamps[-1] if self.timestamps else -1

    def lookup(self, timestamp: int) -> int | None:
        """Absolute offset of the last entry with timestamp <= ``timestamp``."""
        i = bisect_right(self.timestamps, timestamp)
        return self.base_offset + self.offsets[i - 1] if i else None

    def append(self, entries: list[int]) -> None:
        """Add flattened (timestamp, relative offset) pairs; on disk at the next sync()."""
        self.timestamps.extend(entries[0::2])
        self.offsets.extend(entries[1::2])
        self._pending += entries

    def _encode(self, entries: list[int]) -> bytes:
        return struct.pack(">" + "qi" * (len(entries) // 2), *entries)

    def to_bytes(self) -> bytes:
        n = len(self.timestamps)
        flat = [0] * (2 * n)
        flat[0::2] = self.timestamps
        flat[1::2] = self.offsets
        return struct.pack(">" + "qi" * n, *flat)


class Segment:
    """A segment file opened for pread; writes go through O_APPEND.

    Its descriptor is one of the LRU in storage.handles: ``fd`` reopens the
    file when it was evicted, and is -1 once the segment is closed.
    """

    __slots__ = (
        "base_offset",
        "directory",
        "_fd",
        "closed",
        "size",
        "index",
        "time_index",
        "max_timestamp",
        "offset_of_max_timestamp",
        "bytes_since_index",
        "next_offset",
        "created_ms",
        "verified",
    )

    def __init__(self, directory: Path, base_offset: int, *, create: bool = False) -> None:
        self.base_offset = base_offset
        self.directory = directory
        flags = os.O_RDWR | os.O_APPEND | _CLOEXEC | (os.O_CREAT | os.O_EXCL if create else 0)
        self._fd = OPEN_FILES.open(self.path, flags, 0o644)
        self.closed = False
        OPEN_FILES.opened(self)
        self.size = 0 if create else os.fstat(self._fd).st_size
        self.index = OffsetIndex(directory, base_offset)
        self.time_index = TimeIndex(directory, base_offset)
        # Max timestamp seen in this segment and the last offset of its batch
        # (Kafka's "shallow" offset of max timestamp).
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.bytes_since_index = 0
        self.next_offset = base_offset
        # Wall-clock time used for segment.ms rolling.
        self.created_ms = 0
        # Bytes from the start known to hold sound batches (checked when first
        # read, or when appended after the producer's CRC was checked).
        self.verified = 0
        # A new segment's index files appear with their first entries (or when
        # it is sealed): creating a file costs ~1 ms of kernel time on a busy
        # disk, and a partition's first append used to create four.

    def __repr__(self) -> str:
        return f"Segment(base_offset={self.base_offset}, size={self.size}, path={self.path})"

    @property
    def path(self) -> Path:
        """The ``.log`` file (made on use: see _IndexFile.path)."""
        return self.directory / segment_name(self.base_offset, ".log")

    # -- the descriptor (see storage.handles) -----------------------------------

    @property
    def fd(self) -> int:
        """An open descriptor of the ``.log`` file (reopened if evicted); -1 once closed."""
        fd = self._fd
        if fd >= 0:
            OPEN_FILES.touch(self)
            return fd
        if self.closed:
            return -1
        fd = self._fd = OPEN_FILES.open(self.path, os.O_RDWR | os.O_APPEND | _CLOEXEC)
        OPEN_FILES.opened(self)
        return fd

    def evict(self) -> None:
        """Close the descriptor to make room; the next ``fd`` reopens the file."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    # -- indexing -------------------------------------------------------------

    def index_batches(
        self, batches: Iterable[tuple[int, int, int, int]], interval: int
    ) -> tuple[list[int], list[int]]:
        """Apply Kafka's sparse-index rule to (position, last offset, size, max ts) tuples.

        Updates the in-memory running state and returns the flattened new
        offset-index and time-index entries; the caller decides when to persist
        them, so an append costs one write per file.
        """
        base = self.base_offset
        since = self.bytes_since_index
        max_ts = self.max_timestamp
        max_off = self.offset_of_max_timestamp
        last_time = self.time_index.last_timestamp
        new_index: list[int] = []
        new_time: list[int] = []
        for position, last_offset, size, batch_max_ts in batches:
            if batch_max_ts > max_ts:
                max_ts = batch_max_ts
                max_off = last_offset
            if since > interval:
                new_index += (last_offset - base, position)
                if max_ts > last_time:
                    new_time += (max_ts, max_off - base)
                    last_time = max_ts
                since = 0
            since += size
        self.bytes_since_index = since
        self.max_timestamp = max_ts
        self.offset_of_max_timestamp = max_off
        return new_index, new_time

    def persist_index_entries(self, new_index: list[int], new_time: list[int]) -> None:
        """Add entries in memory; write them to the files in groups.

        Recovery re-derives every entry after the last one on disk (verifying
        those batches), so the files may lag the log a little: that saves two
        syscalls on most appends at the cost of a slightly longer scan after a crash.
        """
        if new_time:
            self.time_index.append(new_time)
        if new_index:
            self.index.append(new_index)
            if self.index.pending >= _INDEX_WRITE_BATCH:
                try:
                    self.sync_indexes()
                except OSError as exc:
                    # The batch is in the log with its offset already; its index
                    # entries wait in memory for the next sync (recovery re-derives
                    # them after a crash). Failing the append now would make the
                    # next one reuse an offset that is already on disk.
                    logger.warning("%s: index entries wait for disk space: %s", self.path, exc.strerror or exc)

    def sync_indexes(self) -> None:
        # Time entries first: a kill between the two writes leaves time entries
        # past the last offset entry, which recovery drops and re-derives.
        self.time_index.sync()
        self.index.sync()

    def seal(self) -> None:
        """Called when the segment stops being active (roll, close).

        Records the segment's max timestamp in the time index, as Kafka does,
        so it is known after a restart without scanning.
        """
        if self.max_timestamp > self.time_index.last_timestamp:
            self.time_index.append(
                [self.max_timestamp, self.offset_of_max_timestamp - self.base_offset]
            )
        # Sealed segments are read-only; their indexes stay in memory.
        self.time_index.close()
        self.index.close()
        for index in (self.index, self.time_index):
            # Kafka's layout: every sealed segment has both files, empty or not.
            os.close(os.open(index.path, os.O_WRONLY | os.O_CREAT | _CLOEXEC, 0o644))

    # -- writing --------------------------------------------------------------

    def append(self, data: bytearray, batches: list, interval: int) -> None:
        """Write a record set whose batches already carry their final offsets (and were checked)."""
        start = self.size
        try:
            write_all(self.fd, data)
        except BaseException:
            # Leave no half-written batch behind for readers or recovery.
            try:
                os.ftruncate(self.fd, start)
            except OSError:
                pass
            raise
        self.size = start + len(data)
        if self.verified == start:
            self.verified = self.size
        new_index, new_time = self.index_batches(
            (
                (start + b.position, b.base_offset + b.last_offset_delta, b.size, b.max_timestamp)
                for b in batches
            ),
            interval,
        )
        last = batches[-1]
        self.next_offset = last.base_offset + last.last_offset_delta + 1
        if new_index or new_time:
            self.persist_index_entries(new_index, new_time)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        self.size = size
        self.verified = min(self.verified, size)

    # -- reading --------------------------------------------------------------

    def pread(self, size: int, position: int) -> bytes:
        data = os.pread(self.fd, size, position)
        if len(data) != size:
            raise CorruptBatchError(
                f"{self.path}: short read of {len(data)} bytes at {position}, wanted {size}"
            )
        return data

    def iter_headers(
        self, position: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, tuple]]:
        """Yield (position, header tuple) for each batch from ``position`` up to ``end``.

        Reads headers only, in chunks, never record data beyond a chunk.
        """
        end = self.size if end is None else end
        unpack = HEADER.unpack_from
        chunk = b""
        chunk_pos = 0
        while position + HEADER_SIZE <= end:
            off = position - chunk_pos
            if off < 0 or off + HEADER_SIZE > len(chunk):
                # Not kept across yields: the LRU may close it in between.
                chunk = os.pread(self.fd, min(_WALK_CHUNK, end - position), position)
                chunk_pos = position
                off = 0
                if len(chunk) < HEADER_SIZE:
                    return
            h = unpack(chunk, off)
            if h[H_MAGIC] != 2 or h[H_BATCH_LENGTH] < MIN_BATCH_LENGTH:
                raise CorruptBatchError(
                    f"{self.path}: invalid batch header at position {position} "
                    f"(magic {h[H_MAGIC]}, batchLength {h[H_BATCH_LENGTH]})"
                )
            yield position, h
            position += LOG_OVERHEAD + h[H_BATCH_LENGTH]

    def find_batch(self, offset: int) -> tuple[int, int] | None:
        """(position, size) of the first batch whose last offset >= ``offset``."""
        for position, h in self.iter_headers(self.index.lookup(offset)):
            if h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA] >= offset:
                return position, LOG_OVERHEAD + h[H_BATCH_LENGTH]
        return None

    def boundary_before(self, start: int, limit: int) -> tuple[int, int]:
        """Largest batch end <= ``limit`` for batches starting at ``start``.

        Returns (boundary, base offset of the batch starting there, or -1 if
        not seen). The boundary is ``start`` when even the first batch does not
        fit. The index gives a batch start close below ``limit``, so only a
        few headers are read.
        """
        boundary = max(self.index.floor_position(limit), start)
        for position, h in self.iter_headers(boundary, min(limit, self.size)):
            end = position + LOG_OVERHEAD + h[H_BATCH_LENGTH]
            if end > limit:
                return boundary, h[H_BASE_OFFSET]
            boundary = end
        return boundary, -1

    # -- lifecycle ------------------------------------------------------------

    def flush(self) -> None:
        os.fsync(self.fd)
        self.time_index.flush()
        self.index.flush()

    def close(self) -> None:
        self.time_index.close()
        self.index.close()
        self.closed = True
        OPEN_FILES.forget(self)
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def delete(self) -> None:
        self.close()
        for p in (self.path, self.index.path, self.time_index.path):
            p.unlink(missing_ok=True)
