"""A partition's log: a directory of segments in Kafka's on-disk layout.

Over 500 lines on purpose: PartitionLog is one object (open, append, read,
timestamp lookups, trimming, segment swaps) whose methods share the segment
list, the offsets and the read hints; the parts without that state live in
segment.py, recovery.py, swap.py and atomic.py.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import struct
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chronik.clock import wall_ms
from chronik.storage.atomic import TMP_SUFFIX, atomic_write, fsync_dir
from chronik.storage.batch import (
    BATCH_LENGTH_OFFSET,
    H_BASE_OFFSET,
    H_BATCH_LENGTH,
    H_LAST_OFFSET_DELTA,
    H_MAX_TIMESTAMP,
    HEADER,
    HEADER_SIZE,
    LEADER_EPOCH_OFFSET,
    LOG_OVERHEAD,
    MIN_BATCH_LENGTH,
    TIMESTAMP_TYPE_MASK,
    BatchInfo,
    CorruptBatchError,
    scan_batches,
    set_log_append_time,
    verify_batches,
)
from chronik.storage.recovery import load_sealed_segment, recover_active_segment
from chronik.storage.segment import INT32_MAX, Segment, segment_name
from chronik.storage.swap import CLEANED_SUFFIX, SWAP_SUFFIX, finish_interrupted_swaps

__all__ = [
    "AppendResult",
    "LogConfig",
    "MessageTooLargeError",
    "OffsetOutOfRangeError",
    "PartitionLog",
    "ReadResult",
    "SyncPlan",
    "make_partition_files",
]

logger = logging.getLogger("chronik.storage")

LOG_START_OFFSET_FILE = "log-start-offset"
# First offset the cleaner has not yet compacted (Kafka keeps these in one
# cleaner-offset-checkpoint per log dir; one small file per partition is
# simpler and is deleted with the partition).
CLEANER_CHECKPOINT_FILE = "cleaner-offset-checkpoint"
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
# Remembered fetch end positions (offset -> segment, position); a handful of
# consumers per partition is the common case.
_MAX_READ_HINTS = 64


@dataclass
class LogConfig:
    segment_bytes: int = 1073741824
    segment_ms: int = 604800000
    index_interval_bytes: int = 4096
    max_message_bytes: int = 1048588
    message_timestamp_type: str = "CreateTime"
    flush_messages: int | None = None


class MessageTooLargeError(Exception):
    """A batch exceeds max.message.bytes (Kafka's MESSAGE_TOO_LARGE)."""


class OffsetOutOfRangeError(Exception):
    """A fetch or delete asked for an offset outside [log start, log end]."""


@dataclass(slots=True)
class AppendResult:
    base_offset: int
    last_offset: int
    log_append_time: int
    log_start_offset: int


@dataclass(slots=True)
class SyncPlan:
    """PartitionLog.sync_plan's answer: what to fsync, preallocate and trim, off the loop."""

    paths: list[Path]  # files then directories to fsync
    base: int  # the active segment's base offset: the next plan's `since_base`
    active: Path  # the active segment, to allocate ahead of `size` up to `limit`
    size: int
    limit: int
    sealed: list[tuple[Path, int, int]]  # (path, descriptor to close, size) of segments sealed since


@dataclass(slots=True)
class ReadResult:
    data: bytes
    high_watermark: int
    log_start_offset: int


class PartitionLog:
    """Append/read/trim one partition. Not thread-safe: one owner (the event loop)."""

    # Slots: a broker keeps one per partition (a __dict__ of these was ~1 KB each).
    __slots__ = (
        "directory", "config", "_now_ms", "leader_epoch", "_unflushed", "dirty", "_closed",
        "rolls", "_read_hints", "_damage", "recovery_actions", "_segments", "_bases",
        "_log_start", "_log_end", "on_open", "_opened", "_lazy_create", "_files_made", "__weakref__",
    )

    def __init__(
        self,
        directory: Path,
        config: LogConfig,
        *,
        now_ms: Callable[[], int] = wall_ms,
        lazy: bool = False,
        on_open: Callable[[PartitionLog], None] | None = None,
    ) -> None:
        self.directory = directory if isinstance(directory, Path) else Path(directory)
        self.config = config
        self._now_ms = now_ms
        # Stamped into every appended batch as Kafka does; a single-node broker
        # never changes leader, so the broker may leave it at 0.
        self.leader_epoch = 0
        self._unflushed = 0
        # Appended to since the last flush (close() of many logs fsyncs only these).
        self.dirty = False
        self._closed = False
        # Segment rolls since open (the broker's metrics sum them).
        self.rolls = 0
        self._read_hints: dict[int, tuple[Segment, int]] = {}
        # (segment base, byte) of damage already reported; made on the first
        # (an empty set is 216 bytes, times 10,000 partitions).
        self._damage: set[tuple[int, int]] | None = None
        # What recovery repaired at open, one description per repair.
        self.recovery_actions: list[str] = []
        self._segments: list[Segment] = []
        self._bases: list[int] = []
        self._log_start = self._log_end = 0
        # Called once the log is open (the broker rebuilds producer state there).
        self.on_open = on_open
        self._opened = False
        # A lazy log whose directory is missing stays without files until written.
        self._lazy_create = lazy
        # Its directory and first segment were created off the loop (make_partition_files).
        self._files_made = False
        if not lazy:
            self.open()

    # -- opening --------------------------------------------------------------

    @property
    def opened(self) -> bool:
        return self._opened

    def open(self) -> None:
        """Load and recover the segments, once.

        A ``lazy`` log does this on first use (any read, append or offset
        lookup), so a broker with many partitions accepts connections first and
        recovers them afterwards or on demand; until then nothing is on disk for
        a partition that was never written. A failed open leaves the log closed
        to use and is tried again next time.
        """
        if self._opened or self._closed:
            return
        try:
            self._open_segments()
        except BaseException:
            for seg in self._segments:
                try:
                    seg.close()
                except OSError:
                    pass
            self._segments.clear()
            self._bases.clear()
            raise
        self._opened = True
        if self.on_open is not None:
            try:
                self.on_open(self)
            except Exception:
                logger.exception("%s: after-open hook failed", self.directory)

    def _open_segments(self) -> None:
        d = self.directory
        # One listing serves every question below: opening 10,000 partitions
        # at start-up is mostly system calls.
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            if self._lazy_create:
                # Never written: an empty log at offset 0 with nothing on disk
                # until its first append (reads, offset lookups, metrics and the
                # start-up opener must not create 50,000 directories).
                self._log_start = self._log_end = 0
                return
            d.mkdir(parents=True, exist_ok=True)
            names = []
        repairs: list[str] = []
        for name in names:
            if name.endswith(TMP_SUFFIX):
                (d / name).unlink(missing_ok=True)
        if any(n.endswith((CLEANED_SUFFIX, SWAP_SUFFIX)) for n in names):
            repairs += finish_interrupted_swaps(d)
            names = os.listdir(d)
        bases = sorted(
            int(n[:20]) for n in names if len(n) == 24 and n.endswith(".log") and n[:20].isdigit()
        )
        interval = self.config.index_interval_bytes
        for base in bases:
            seg = Segment(d, base)
            self._segments.append(seg)
            self._bases.append(base)
        for seg in self._segments[:-1]:
            repairs += [f"{seg.path.name}: {a}" for a in load_sealed_segment(seg, interval)]

        stored_start = self._read_log_start() if LOG_START_OFFSET_FILE in names else 0
        if self._segments:
            active = self._segments[-1]
            result = recover_active_segment(active, interval)
            repairs += [f"{active.path.name}: {a}" for a in result.actions]
            active.created_ms = self._roll_base_ms(active)
            self._log_end = active.next_offset
            self._log_start = max(stored_start, self._bases[0])
        else:
            self._log_start = stored_start
            self._log_end = stored_start
            self._new_segment(stored_start)

        if self._log_start > self._log_end:
            # Data the log start says exists is gone (e.g. a truncated tail):
            # restart empty at the log start rather than reuse offsets below it.
            repairs.append(
                f"log end {self._log_end} below log start {self._log_start}; emptied the log"
            )
            for seg in self._segments:
                seg.delete()
            self._segments.clear()
            self._bases.clear()
            self._log_end = self._log_start
            self._new_segment(self._log_start)
        self.recovery_actions = repairs
        if repairs:
            logger.warning("recovered %s: %s", self.directory, "; ".join(repairs))

    def _materialize(self) -> None:
        """The directory and first segment of a log that had nothing on disk."""
        made, self._files_made = self._files_made, False
        if not made:
            self.directory.mkdir(parents=True, exist_ok=True)
            try:
                self._new_segment(self._log_end)
                return
            except FileExistsError:
                pass  # made by make_partition_files all the same (a request of a deleted twin, say)
        try:
            seg = Segment(self.directory, self._log_end)  # made off the loop: open, not create
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)  # removed meanwhile: make them here
            self._new_segment(self._log_end)
            return
        if seg.size:
            seg.close()  # not the empty file that was made: never append after bytes of unknown origin
            raise FileExistsError(errno.EEXIST, "segment file exists and is not empty", str(seg.path))
        seg.created_ms = self._now_ms()
        self._segments.append(seg)
        self._bases.append(self._log_end)

    @property
    def needs_files(self) -> bool:
        """Opened with nothing on disk: its first append creates the directory and first segment
        (1-5 ms of file-system work on a busy disk), unless make_partition_files did it first."""
        return self._opened and not self._segments and not self._files_made and not self._closed

    def files_to_make(self) -> tuple[Path, Path]:
        """(directory, first segment file) for make_partition_files, on another thread."""
        return self.directory, self.directory / segment_name(self._log_end, ".log")

    def files_made(self) -> None:
        """make_partition_files has created files_to_make(): the first append opens them instead."""
        if not self._segments:
            self._files_made = True

    def _roll_base_ms(self, seg: Segment) -> int:
        # The in-process creation time is gone after a restart; like Kafka, fall
        # back to the first batch's timestamp (never in the future).
        now = self._now_ms()
        if seg.size >= HEADER_SIZE:
            first_max_ts = HEADER.unpack_from(os.pread(seg.fd, HEADER_SIZE, 0))[H_MAX_TIMESTAMP]
            if 0 <= first_max_ts <= now:
                return first_max_ts
        return now

    def _read_log_start(self) -> int:
        try:
            return int((self.directory / LOG_START_OFFSET_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _write_log_start(self, offset: int) -> None:
        atomic_write(self.directory / LOG_START_OFFSET_FILE, f"{offset}\n")

    def _new_segment(self, base_offset: int) -> Segment:
        seg = Segment(self.directory, base_offset, create=True)
        seg.created_ms = self._now_ms()
        self._segments.append(seg)
        self._bases.append(base_offset)
        return seg

    # -- inspection -----------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        if not self._opened:
            self.open()
        return self._log_start

    @property
    def log_end_offset(self) -> int:
        if not self._opened:
            self.open()
        return self._log_end

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def segments(self) -> list[Segment]:
        if not self._opened:
            self.open()
        return list(self._segments)

    def size_bytes(self) -> int:
        if not self._opened:
            self.open()
        return sum(seg.size for seg in self._segments)

    # -- append ---------------------------------------------------------------

    def append(self, data: bytearray, batches: list[BatchInfo] | None = None) -> AppendResult:
        """Assign offsets to a produce record set and write it to the active segment.

        The BatchInfo objects are updated in place with their assigned offsets
        (and LogAppendTime timestamps) so callers can use them afterwards.
        """
        if not self._opened:
            self.open()
        if not self._segments:
            self._materialize()
        if batches is None:
            batches = scan_batches(data)
        elif not batches:
            raise CorruptBatchError("empty record set")
        config = self.config
        max_message_bytes = config.max_message_bytes
        for b in batches:
            if b.size > max_message_bytes:
                raise MessageTooLargeError(
                    f"batch of {b.size} bytes exceeds max.message.bytes={max_message_bytes}"
                )
            if b.record_count != b.last_offset_delta + 1:
                raise CorruptBatchError(
                    f"batch at position {b.position}: recordCount {b.record_count} does not "
                    f"match lastOffsetDelta {b.last_offset_delta}"
                )

        log_append_time = -1
        if config.message_timestamp_type == "LogAppendTime":
            log_append_time = self._now_ms()
        first_offset = next_offset = self._log_end
        epoch = self.leader_epoch
        pack_base = _INT64.pack_into
        pack_epoch = _INT32.pack_into
        for b in batches:
            # Both fields lie outside the CRC: patched in place, no recompute.
            pack_base(data, b.position, next_offset)
            pack_epoch(data, b.position + LEADER_EPOCH_OFFSET, epoch)
            b.base_offset = next_offset
            if log_append_time >= 0:
                set_log_append_time(data, b.position, b.size, log_append_time)
                b.max_timestamp = log_append_time
                b.attributes |= TIMESTAMP_TYPE_MASK
            next_offset += b.last_offset_delta + 1

        segment = self._segment_for_append(len(data), next_offset - 1)
        segment.append(data, batches, config.index_interval_bytes)
        self._log_end = next_offset
        self.dirty = True

        if config.flush_messages is not None:
            self._unflushed += sum(b.record_count for b in batches)
            if self._unflushed >= config.flush_messages:
                try:
                    self.flush()
                except OSError as exc:
                    # The batch is in the log with its offset: failing now would
                    # let a retry append it twice. Say so, and fsync again next time.
                    logger.error("%s: fsync failed: %s", self.directory, exc.strerror or exc)
        return AppendResult(first_offset, next_offset - 1, log_append_time, self._log_start)

    def _segment_for_append(self, nbytes: int, last_offset: int) -> Segment:
        seg = self._segments[-1]
        if seg.size == 0:
            return seg
        config = self.config
        new_size = seg.size + nbytes
        if (
            new_size > config.segment_bytes
            or new_size > INT32_MAX  # index positions are int32
            or last_offset - seg.base_offset > INT32_MAX  # index offsets are relative int32
            or self._now_ms() - seg.created_ms > config.segment_ms
        ):
            return self._roll()
        return seg

    def _roll(self) -> Segment:
        old = self._segments[-1]
        old.seal()
        self.rolls += 1
        if self.config.flush_messages is not None:
            old.flush()
        return self._new_segment(self._log_end)

    # -- read -----------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> ReadResult:
        """Whole batches from the one containing ``offset``, up to ``max_bytes``.

        At least one batch is returned even if it alone exceeds ``max_bytes``
        (KIP-74), so a consumer can always make progress.
        """
        if not self._opened:
            self.open()
        log_end = self._log_end
        log_start = self._log_start
        if offset == log_end:
            return ReadResult(b"", log_end, log_start)
        if offset < log_start or offset > log_end:
            raise OffsetOutOfRangeError(
                f"offset {offset} is outside [{log_start}, {log_end}] of {self.directory.name}"
            )
        segments = self._segments
        bases = self._bases
        hint = self._read_hints.get(offset)
        if hint is not None and not hint[0].closed and hint[1] < hint[0].size:
            # A consumer continuing where its previous fetch ended: skip the
            # index lookup and header walk.
            seg, start = hint
            first_size = -1
            i = bisect_right(bases, seg.base_offset) - 1
        else:
            i = bisect_right(bases, offset) - 1
            while True:
                seg = segments[i]
                found = seg.find_batch(offset)
                if found is not None:
                    start, first_size = found
                    break
                i += 1
                if i == len(segments):  # only possible for a log with gaps
                    return ReadResult(b"", log_end, log_start)
        parts: list[bytes] = []
        remaining = max_bytes
        next_offset = -1
        while True:
            size = seg.size
            if start + remaining >= size:
                end = size
                next_offset = bases[i + 1] if i + 1 < len(segments) else log_end
            else:
                end, next_offset = seg.boundary_before(start, start + remaining)
                if end == start:
                    if parts:
                        break
                    if first_size < 0:
                        first_size = LOG_OVERHEAD + _INT32.unpack(
                            seg.pread(4, start + BATCH_LENGTH_OFFSET)
                        )[0]
                    end = start + first_size
                    next_offset = -1
                    if end > size or first_size < MIN_BATCH_LENGTH + LOG_OVERHEAD:
                        self._checked(seg, start, seg.pread(min(size - start, HEADER_SIZE), start), first=True)
                        raise CorruptBatchError(f"{seg.path}: batch at byte {start} claims {first_size} bytes")
            piece = seg.pread(end - start, start)
            if end > seg.verified:
                piece = self._checked(seg, start, piece, first=not parts)
                if len(piece) < end - start:
                    # Damage follows: serve the sound batches before it, and no further.
                    parts.append(piece)
                    next_offset = -1
                    break
            parts.append(piece)
            remaining -= end - start
            if end < size or remaining <= 0 or i + 1 == len(segments):
                break
            i += 1
            seg = segments[i]
            start = 0
        if next_offset >= 0:
            hints = self._read_hints
            if len(hints) >= _MAX_READ_HINTS:
                hints.clear()
            if end == seg.size and i + 1 < len(segments):
                hints[next_offset] = (segments[i + 1], 0)
            else:
                hints[next_offset] = (seg, end)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return ReadResult(data, log_end, log_start)

    def _checked(self, seg: Segment, start: int, piece: bytes, first: bool) -> bytes:
        """The sound prefix of a piece read from `start`; damage is logged once per place.

        Bytes are checked the first time they are read (appended ones were
        checked on the way in), so a flipped bit on disk is never served as if
        it were a record, and a bad length never makes a reader stop silently.
        """
        known = seg.verified
        good, why = verify_batches(piece, known - start if start <= known else 0)
        if start <= known:
            seg.verified = start + good
        if why is None:
            return piece
        where = (seg.base_offset, start + good)
        if self._damage is None:
            self._damage = set()
        if where not in self._damage:
            self._damage.add(where)
            logger.error("%s: damaged data, not served: %s", seg.path, why)
        if good == 0 and first:
            raise CorruptBatchError(f"{seg.path}: {why}")
        return piece[:good]

    # -- timestamps -----------------------------------------------------------

    def offset_for_timestamp(self, timestamp_ms: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the earliest record with timestamp >= ``timestamp_ms``."""
        if not self._opened:
            self.open()
        log_start = self._log_start
        for seg in self._segments:
            if seg.max_timestamp < timestamp_ms:
                continue
            from_offset = max(log_start, seg.base_offset)
            hint = seg.time_index.lookup(timestamp_ms)
            if hint is not None and hint > from_offset:
                from_offset = hint
            for position, h in seg.iter_headers(seg.index.lookup(from_offset)):
                if h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA] < log_start or h[H_MAX_TIMESTAMP] < timestamp_ms:
                    continue
                batch = seg.pread(LOG_OVERHEAD + h[H_BATCH_LENGTH], position)
                for record in _decode(batch):
                    if record.offset >= log_start and record.timestamp >= timestamp_ms:
                        return record.offset, record.timestamp
        return None

    def max_timestamp(self) -> tuple[int, int]:
        """(offset, timestamp) of the first record carrying the largest timestamp."""
        if not self._opened:
            self.open()
        best: Segment | None = None
        for seg in self._segments:
            if seg.max_timestamp >= 0 and (best is None or seg.max_timestamp > best.max_timestamp):
                best = seg
        if best is None:
            return -1, -1
        found = best.find_batch(best.offset_of_max_timestamp)
        if found is not None:
            position, size = found
            for record in _decode(best.pread(size, position)):
                if record.timestamp == best.max_timestamp and record.offset >= self._log_start:
                    return record.offset, record.timestamp
        # The maximum sits below the log start: look at the visible part only.
        return self._max_timestamp_visible()

    def _max_timestamp_visible(self) -> tuple[int, int]:
        log_start = self._log_start
        best_ts, best_seg, best_pos, best_size = -1, None, 0, 0
        first = self._segments[0]
        for position, h in first.iter_headers(first.index.lookup(log_start)):
            if h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA] >= log_start and h[H_MAX_TIMESTAMP] > best_ts:
                best_ts, best_seg = h[H_MAX_TIMESTAMP], first
                best_pos, best_size = position, LOG_OVERHEAD + h[H_BATCH_LENGTH]
        for seg in self._segments[1:]:
            if seg.max_timestamp > best_ts:
                found = seg.find_batch(seg.offset_of_max_timestamp)
                if found is not None:
                    best_ts, best_seg = seg.max_timestamp, seg
                    best_pos, best_size = found
        if best_seg is None:
            return -1, -1
        best_record: tuple[int, int] = (-1, -1)
        for record in _decode(best_seg.pread(best_size, best_pos)):
            if record.offset >= log_start and record.timestamp > best_record[1]:
                best_record = (record.offset, record.timestamp)
        return best_record

    # -- trimming -------------------------------------------------------------

    def delete_records_before(self, offset: int) -> int:
        """Advance the log start (DeleteRecords) and drop segments wholly below it."""
        if not self._opened:
            self.open()
        if offset > self._log_end or offset < 0:
            raise OffsetOutOfRangeError(
                f"cannot delete before {offset}: log end is {self._log_end}"
            )
        if offset <= self._log_start:
            return self._log_start
        # Persist first: a crash after deleting files must not resurrect the old start.
        self._write_log_start(offset)
        self._log_start = offset
        self._read_hints.clear()
        segments = self._segments
        while len(segments) > 1 and segments[1].base_offset <= offset:
            segments.pop(0).delete()
            self._bases.pop(0)
        return offset

    def roll_if_due(self) -> bool:
        """Roll a non-empty active segment older than segment.ms (the timer half of rolling)."""
        if not self._opened:
            self.open()
        if not self._segments:
            return False
        seg = self._segments[-1]
        if seg.size and self._now_ms() - seg.created_ms > self.config.segment_ms:
            self._roll()
            return True
        return False

    def delete_oldest_segments(self, count: int) -> list[Segment]:
        """Delete the ``count`` oldest segments and move the log start past them.

        The active segment is rolled first if it is among them, so a log never
        lacks a segment to append to. Returns the deleted segments.
        """
        if not self._opened:
            self.open()
        count = min(count, len(self._segments))
        if count <= 0:
            return []
        if count == len(self._segments):
            if self._segments[-1].size == 0:
                count -= 1  # an empty active segment holds nothing to delete
            else:
                self._roll()
            if count <= 0:
                return []
        new_start = max(self._log_start, self._segments[count].base_offset)
        # Persist first: a crash after deleting files must not resurrect the old start.
        if new_start != self._log_start:
            self._write_log_start(new_start)
            self._log_start = new_start
        self._read_hints.clear()
        gone = self._segments[:count]
        del self._segments[:count]
        del self._bases[:count]
        for seg in gone:
            seg.delete()
        return gone

    # -- compaction support -----------------------------------------------------

    def read_cleaner_checkpoint(self) -> int:
        try:
            text = (self.directory / CLEANER_CHECKPOINT_FILE).read_text().strip()
            return int(text or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def write_cleaner_checkpoint(self, offset: int) -> None:
        atomic_write(self.directory / CLEANER_CHECKPOINT_FILE, f"{offset}\n")

    def replace_segments(self, old: list[Segment], swap_path: Path | None) -> Segment | None:
        """Swap a cleaned ``<base>.log.swap`` in for the contiguous sealed segments ``old``.

        The swap file is complete and fsynced; each step below leaves a
        directory that ``finish_interrupted_swaps`` turns into either the old
        segments or the new one, never a mix within one offset range. With
        ``swap_path`` None every record of ``old`` was dropped and the
        segments are just deleted (any subset of them is an equally valid log).
        """
        if not self._opened:
            self.open()
        if not old or any(seg not in self._segments for seg in old):
            raise ValueError("segments to replace are no longer part of the log")
        first = self._segments.index(old[0])
        if self._segments[first : first + len(old)] != old or first + len(old) >= len(
            self._segments
        ):
            raise ValueError("only contiguous sealed segments can be replaced")
        self._read_hints.clear()
        base = old[0].base_offset
        for seg in old:
            seg.close()
            seg.index.path.unlink(missing_ok=True)
            seg.time_index.path.unlink(missing_ok=True)
        for seg in old[1:]:
            seg.path.unlink(missing_ok=True)
        new: Segment | None = None
        if swap_path is None:
            old[0].path.unlink(missing_ok=True)
            del self._segments[first : first + len(old)]
            del self._bases[first : first + len(old)]
            if first == 0:
                # The log now starts at the next segment: nothing is left below it.
                self._log_start = max(self._log_start, self._bases[0])
        else:
            os.replace(swap_path, old[0].path)
            fsync_dir(self.directory)
            new = Segment(self.directory, base)
            new.created_ms = old[0].created_ms
            load_sealed_segment(new, self.config.index_interval_bytes)
            self._segments[first : first + len(old)] = [new]
            self._bases[first : first + len(old)] = [base]
        fsync_dir(self.directory)
        return new

    # -- lifecycle ------------------------------------------------------------

    def flush(self) -> None:
        if self._segments:
            self._segments[-1].flush()
        self._unflushed = 0
        self.dirty = False

    def sync_plan(self, since_base: int | None) -> SyncPlan:
        """What the group commit's worker must do, off the loop, so that everything appended so far
        survives power loss -- and keeps later appends cheap.

        `since_base` is the active segment's base offset from the previous plan (None: no plan
        yet). The plan: fsync the segment files written since (the active one, and those a roll
        left behind), then the directories whose entries changed since: this one when a segment
        was created, and on the first call its parent too (a new partition); allocate the active
        segment ahead of its end (storage.prealloc); give back what a roll left allocated past
        the end of the segments it sealed, through descriptors the worker owns and must close.
        Paths and such descriptors only: no file handle of this log is shared with another thread.
        """
        active = self._segments[-1]
        paths = [active.path]
        sealed: list[tuple[Path, int, int]] = []
        if since_base != active.base_offset:
            if since_base is not None:
                for seg in reversed(self._segments[:-1]):
                    if seg.base_offset < since_base:
                        break
                    paths.append(seg.path)
                    try:
                        sealed.append((seg.path, os.dup(seg.fd), seg.size))
                    except OSError:
                        pass  # out of descriptors: its tail stays allocated
            paths.append(self.directory)
            if since_base is None:
                paths.append(self.directory.parent)
        return SyncPlan(paths, active.base_offset, active.path, active.size,
                        min(self.config.segment_bytes, INT32_MAX), sealed)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for seg in self._segments:
            seg.close()

    def delete(self) -> None:
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def make_partition_files(directory: Path, segment: Path) -> None:
    """Create a partition's directory and its empty first segment: paths only, any thread.

    The file is left empty and without indexes (they appear with their first
    entries); PartitionLog adopts it only while it is still empty.
    """
    directory.mkdir(parents=True, exist_ok=True)
    os.close(os.open(segment, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644))


def _decode(batch: bytes):
    # Off the hot path only: used to pin an exact record inside one batch.
    from kafka.record.default_records import DefaultRecordBatch

    return iter(DefaultRecordBatch(batch))
