"""Log cleaner for ``cleanup.policy=compact``: keep the latest record per key.

One cleaning round of a partition, as in Kafka's LogCleaner:

1. The *cleanable* range is the sealed segments below the first uncleanable
   offset: the active segment, the last stable offset (an open transaction
   may still abort) and ``min.compaction.lag.ms`` all bound it. It splits at
   the cleaner checkpoint into a clean head (compacted before) and a dirty
   tail; a round runs when dirty/total reaches ``min.cleanable.dirty.ratio``.
2. An offset map ``key -> latest offset`` is built from the dirty tail.
3. The cleanable segments are rewritten in groups that fit ``segment.bytes``:
   a record survives unless a later record has the same key, it is a
   tombstone older than ``delete.retention.ms``, or it belongs to an aborted
   transaction. Offsets never change (gaps are normal in a compacted log);
   batches whose records all survive are copied byte for byte, others are
   re-encoded with kafka-python's builder, keeping each record's offset,
   timestamp, key, value and headers and the batch's codec, producer id,
   epoch, base sequence and last offset.
4. Each group is written to ``<base>.log.cleaned``, fsynced, renamed to
   ``<base>.log.swap`` and swapped in by PartitionLog.replace_segments; a
   crash at any point leaves the old segments or the new one (see
   ``finish_interrupted_swaps``).

Transactions: control batches are always kept. Abort markers must stay as
long as the aborted-transaction index (owned by the transaction
coordinator) lists their transaction, or a read_committed consumer would
keep skipping that producer's later batches; commit markers are a few
dozen bytes each, so keeping them costs little and keeps the rule simple.
The last batch of every producer is kept, emptied of records if need be,
so that producer ids, epochs and sequences can be rebuilt from the log.

Tombstones: Kafka dates a tombstone's deletion horizon from when its segment
was first cleaned; here the batch's max timestamp is used, which is known
offline too and is never later than that.

The round is a generator that yields after small units of work (one batch
or a few hundred records) so that the broker can drive it from its event
loop in time-bounded slices and keep serving requests meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

from kafka.record.default_records import DefaultRecordBatch

from chronik.clock import monotonic
from chronik.storage.atomic import fsync_dir
from chronik.storage.batch import (
    H_BASE_OFFSET,
    H_LAST_OFFSET_DELTA,
    H_PRODUCER_ID,
    HEADER_SIZE,
    TRANSACTIONAL_MASK,
    BatchHeader,
)
from chronik.storage.log import PartitionLog
from chronik.storage.reencode import rebuild_batch
from chronik.storage.segment import INT32_MAX, Segment, write_all
from chronik.storage.swap import cleaned_path, swap_path
from chronik.storage.txn_index import aborted_ranges

__all__ = [
    "Blocking",
    "CleanStats",
    "CleanerConfig",
    "clean_log",
    "cleaning_due",
    "dirty_ratio",
    "run_to_completion",
]

# Yield to the caller after this many records decoded or copied.
_RECORDS_PER_STEP = 200
# Segment reads for the cleaner: whole batches, about this much at a time.
_READ_CHUNK = 256 * 1024
# Keys in one offset map; a larger dirty range is cleaned over several rounds.
MAX_MAP_KEYS = 2_000_000


@dataclass(frozen=True, slots=True)
class Blocking:
    """Yielded by a cleaning round for slow I/O (fsync) that must not run on the loop.

    The driver runs ``work`` (in a worker thread in the broker) and resumes
    the round when it has finished; nothing else in the round runs meanwhile.
    """

    work: Callable[[], None]


@dataclass
class CleanerConfig:
    delete_retention_ms: int = 86_400_000
    min_cleanable_dirty_ratio: float = 0.5
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = 2**63 - 1
    segment_bytes: int = 1 << 30


@dataclass
class CleanStats:
    segments_before: int = 0
    segments_after: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    records_read: int = 0
    records_kept: int = 0
    tombstones_dropped: int = 0
    aborted_dropped: int = 0
    keys: int = 0
    first_dirty: int = 0
    cleanable_end: int = 0
    skipped: str | None = None
    seconds: float = 0.0
    # When the oldest tombstone kept this round becomes deletable (None: none kept).
    tombstone_expiry_ms: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class _Range:
    segments: list[Segment]  # the cleanable sealed segments, oldest first
    end: int  # first offset not cleaned this round
    first_dirty: int
    dirty_bytes: int
    total_bytes: int
    forced: bool = False  # max.compaction.lag.ms passed for some dirty record


@dataclass
class _Plan:
    offset_map: dict[bytes, int] = field(default_factory=dict)
    # producer id -> last offset of its last batch anywhere in the log
    producer_last: dict[int, int] = field(default_factory=dict)
    aborted: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    delete_retention_ms: int = 0
    # The log's last offset when the round began. Its batch is never dropped
    # (only emptied): an idle active segment may have been rolled by
    # segment.ms, and without a batch ending at the high watermark - 1 a
    # consumer positioned after the last surviving record could not advance.
    last_offset: int = -1


def _in_aborted(plan: _Plan, h: BatchHeader) -> bool:
    ranges = plan.aborted.get(h.producer_id)
    if not ranges or not h.attributes & TRANSACTIONAL_MASK:
        return False
    base = h.base_offset
    return any(first <= base <= last for first, last in ranges)


def _cleanable_range(
    plog: PartitionLog, cfg: CleanerConfig, now_ms: int, stable_offset: int
) -> _Range:
    segs = plog.segments
    sealed = segs[:-1]
    first_dirty = max(plog.read_cleaner_checkpoint(), plog.log_start_offset)
    out: list[Segment] = []
    lag_bound = now_ms - cfg.min_compaction_lag_ms
    for i, seg in enumerate(sealed):
        end = segs[i + 1].base_offset
        if end > stable_offset:
            break
        if cfg.min_compaction_lag_ms > 0 and seg.max_timestamp > lag_bound:
            break
        out.append(seg)
    end = segs[len(out)].base_offset if out else (segs[0].base_offset if segs else 0)
    dirty = sum(s.size for i, s in enumerate(out) if _seg_end(segs, i) > first_dirty)
    total = sum(s.size for s in out)
    forced = False
    if cfg.max_compaction_lag_ms < 2**62:
        forced = any(
            _seg_end(segs, i) > first_dirty
            and 0 <= s.max_timestamp < now_ms - cfg.max_compaction_lag_ms
            for i, s in enumerate(out)
        )
    return _Range(out, end, first_dirty, dirty, total, forced)


def _seg_end(segs: list[Segment], i: int) -> int:
    return segs[i + 1].base_offset


def dirty_ratio(
    plog: PartitionLog, cfg: CleanerConfig, now_ms: int, stable_offset: int | None = None
) -> tuple[float, int]:
    """(dirty ratio, dirty bytes) of the cleanable part of the log."""
    rng = _cleanable_range(
        plog, cfg, now_ms, plog.log_end_offset if stable_offset is None else stable_offset
    )
    if not rng.total_bytes:
        return 0.0, 0
    return rng.dirty_bytes / rng.total_bytes, rng.dirty_bytes


def cleaning_due(
    plog: PartitionLog, cfg: CleanerConfig, now_ms: int, stable_offset: int | None = None
) -> bool:
    """Whether the cleaner should run: dirty ratio reached, or max.compaction.lag.ms passed."""
    rng = _cleanable_range(
        plog, cfg, now_ms, plog.log_end_offset if stable_offset is None else stable_offset
    )
    if not rng.dirty_bytes:
        return False
    return rng.forced or rng.dirty_bytes / rng.total_bytes >= cfg.min_cleanable_dirty_ratio


def _batches(seg: Segment, stats: CleanStats) -> Iterator[tuple[BatchHeader, bytes]]:
    """(header, raw batch) of every batch in a sealed segment, read in large chunks."""
    pos = 0
    size = seg.size
    while pos < size:
        chunk = os.pread(seg.fd, min(_READ_CHUNK, size - pos), pos)
        n = len(chunk)
        off = 0
        while off + HEADER_SIZE <= n:
            h = BatchHeader.unpack_from(chunk, off)
            end = off + h.size
            if end > n:
                break
            yield h, chunk[off:end]
            off = end
        if off == 0:
            # A batch larger than the chunk gets a read of its own.
            h = BatchHeader.unpack_from(seg.pread(HEADER_SIZE, pos))
            yield h, seg.pread(h.size, pos)
            off = h.size
        stats.bytes_read += off
        pos += off


def _records(raw: bytes) -> DefaultRecordBatch:
    return DefaultRecordBatch(raw)


def clean_log(
    plog: PartitionLog,
    cfg: CleanerConfig,
    now_ms: int,
    *,
    stable_offset: int | None = None,
    force: bool = False,
    alive: Callable[[], bool] = lambda: True,
) -> Generator[Blocking | None, None, CleanStats]:
    """One cleaning round of ``plog``; a generator yielding between small steps.

    ``stable_offset`` bounds the cleanable range (the partition's last stable
    offset); ``force`` ignores min.cleanable.dirty.ratio. ``alive`` is asked
    before each swap: when it returns False (topic deleted, broker stopping)
    the round ends without touching the log.
    """
    started = monotonic()
    stats = CleanStats()
    stable = plog.log_end_offset if stable_offset is None else stable_offset
    rng = _cleanable_range(plog, cfg, now_ms, stable)
    stats.first_dirty, stats.cleanable_end = rng.first_dirty, rng.end
    stats.segments_before = len(rng.segments)
    if not rng.segments or (not rng.dirty_bytes and not force):
        stats.skipped = "nothing to clean"
        return stats
    ratio = rng.dirty_bytes / rng.total_bytes if rng.total_bytes else 0.0
    if not force and not rng.forced and ratio < cfg.min_cleanable_dirty_ratio:
        stats.skipped = f"dirty ratio {ratio:.2f} below {cfg.min_cleanable_dirty_ratio}"
        return stats

    plan = _Plan(
        aborted=aborted_ranges(plog.directory),
        delete_retention_ms=cfg.delete_retention_ms,
        last_offset=plog.log_end_offset - 1,
    )
    yield
    # Producer bookkeeping needs the last batch of each producer in the whole log.
    for seg in plog.segments:
        for n, (_pos, h) in enumerate(seg.iter_headers(0)):
            producer_id = h[H_PRODUCER_ID]
            if producer_id >= 0:
                plan.producer_last[producer_id] = h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA]
            if n % 2000 == 1999:
                yield
        yield

    # Offset map over the dirty part; stop at a segment boundary if it grows too big.
    segs = plog.segments
    end = rng.end
    offset_map = plan.offset_map
    done = 0
    for i, seg in enumerate(rng.segments):
        if _seg_end(segs, i) <= rng.first_dirty:
            continue
        if len(offset_map) >= MAX_MAP_KEYS:
            end = seg.base_offset
            break
        for h, raw in _batches(seg, CleanStats()):
            if h.is_control or _in_aborted(plan, h):
                continue
            for r in _records(raw):
                key = r.key
                if key is not None:
                    offset_map[key] = r.offset
                done += 1
                if done >= _RECORDS_PER_STEP:
                    done = 0
                    yield
            yield
    stats.keys = len(offset_map)
    stats.cleanable_end = end
    to_clean = [s for s in rng.segments if s.base_offset < end]

    horizon = now_ms - cfg.delete_retention_ms
    for group in _groups(to_clean, segs, cfg.segment_bytes):
        if not alive():
            stats.skipped = "stopped"
            return stats
        yield from _clean_group(plog, group, plan, horizon, stats, alive)
    if alive():
        plog.write_cleaner_checkpoint(end)
    stats.segments_after = sum(1 for s in plog.segments if s.base_offset < end)
    stats.seconds = monotonic() - started
    return stats


def _groups(to_clean: list[Segment], segs: list[Segment], max_bytes: int) -> list[list[Segment]]:
    """Consecutive segments whose sizes together fit ``max_bytes`` (one output segment each)."""
    groups: list[list[Segment]] = []
    current: list[Segment] = []
    size = 0
    for seg in to_clean:
        if current and (
            size + seg.size > max_bytes
            or _seg_end(segs, segs.index(seg)) - current[0].base_offset > INT32_MAX
        ):
            groups.append(current)
            current, size = [], 0
        current.append(seg)
        size += seg.size
    if current:
        groups.append(current)
    return groups


def _clean_group(
    plog: PartitionLog,
    group: list[Segment],
    plan: _Plan,
    horizon: int,
    stats: CleanStats,
    alive: Callable[[], bool],
) -> Generator[Blocking | None, None, None]:
    directory = plog.directory
    base = group[0].base_offset
    cleaned = cleaned_path(directory, base)
    swap = swap_path(directory, base)
    fd = os.open(cleaned, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    offset_map = plan.offset_map
    producer_last = plan.producer_last
    changed = False
    written = 0
    pending: list[bytes | bytearray] = []
    pending_bytes = 0
    try:
        for seg in group:
            for h, raw in _batches(seg, stats):
                if h.is_control:
                    pending.append(raw)
                    pending_bytes += len(raw)
                    continue
                aborted = _in_aborted(plan, h)
                kept = []
                n = 0
                for r in _records(raw):
                    n += 1
                    if n % _RECORDS_PER_STEP == 0:
                        yield None
                    key = r.key
                    if aborted:
                        stats.aborted_dropped += 1
                        continue
                    if key is not None:
                        if offset_map.get(key, -1) > r.offset:
                            continue
                        if r.value is None:
                            if h.max_timestamp < horizon:
                                stats.tombstones_dropped += 1
                                continue
                            expiry = h.max_timestamp + plan.delete_retention_ms
                            if stats.tombstone_expiry_ms is None or expiry < stats.tombstone_expiry_ms:
                                stats.tombstone_expiry_ms = expiry
                    kept.append(r)
                stats.records_read += n
                stats.records_kept += len(kept)
                if len(kept) == n:
                    out: bytes | bytearray = raw
                elif kept or h.last_offset == plan.last_offset or (
                    h.producer_id >= 0 and producer_last.get(h.producer_id) == h.last_offset
                ):
                    out = rebuild_batch(h, kept)
                    changed = True
                else:
                    changed = True
                    continue
                pending.append(out)
                pending_bytes += len(out)
                if pending_bytes >= _READ_CHUNK:
                    data = b"".join(pending)
                    write_all(fd, data)
                    written += len(data)
                    pending, pending_bytes = [], 0
                yield
        if pending:
            data = b"".join(pending)
            write_all(fd, data)
            written += len(data)
        if not changed:
            # Already as small as it gets: leave the segments alone.
            stats.bytes_written += sum(s.size for s in group)
            return
        # fsync can take long: hand it to the driver (a worker thread in the broker).
        yield Blocking(lambda: os.fsync(fd))
    finally:
        os.close(fd)
        if not changed or not alive() or any(s.closed for s in group):
            cleaned.unlink(missing_ok=True)
    if not alive() or any(s.closed for s in group):
        return
    yield
    # Even an empty result is swapped in as an (empty) segment, as Kafka does:
    # deleting the group instead would move the log start of a compacted
    # topic, and readers starting from offset 0 would be told it is out of range.
    os.replace(cleaned, swap)
    yield Blocking(lambda: fsync_dir(directory))
    if not alive() or any(s.closed for s in group):
        swap.unlink(missing_ok=True)
        return
    try:
        plog.replace_segments(group, swap)
    except ValueError:
        # The log changed under us (DeleteRecords, retention): the swap is stale.
        swap.unlink(missing_ok=True)
        return
    stats.bytes_written += written


def run_to_completion(gen: Generator[Blocking | None, None, CleanStats]) -> CleanStats:
    """Drive a cleaning round synchronously (offline tools, tests)."""
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        if step is not None:
            step.work()
