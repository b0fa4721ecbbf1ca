"""Start-up checks of segments: torn tails and stale or missing indexes.

The active segment is the only one that can have been cut short by a crash
(``write()`` returned for everything acknowledged, but a kill during a write
can leave a partial batch; a power loss can leave anything). Its offset index
is trusted up to its last entry once that entry is confirmed against the log;
everything after it is CRC-verified and re-indexed. Older segments only get
their indexes sanity-checked and rebuilt from batch headers when needed.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crc32c import crc32c

from chronik.storage.batch import (
    ATTRIBUTES_OFFSET,
    H_BASE_OFFSET,
    H_BATCH_LENGTH,
    H_CRC,
    H_LAST_OFFSET_DELTA,
    H_MAGIC,
    H_MAX_TIMESTAMP,
    HEADER,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MIN_BATCH_LENGTH,
    CorruptBatchError,
    _check_header,
)
from chronik.storage.segment import MISSING_OFFSET_INDEX, MISSING_TIME_INDEX, Segment

__all__ = ["RecoveryResult", "load_sealed_segment", "recover_active_segment", "recover_segment"]

# Verification reads this much at once; a larger batch gets a read of its own size.
_SCAN_CHUNK = 1 << 20
# Index entries checked from the end before giving up and rebuilding from scratch.
_MAX_STALE_ENTRIES = 16


@dataclass
class RecoveryResult:
    path: Path
    original_size: int
    valid_size: int
    next_offset: int
    batches_verified: int = 0
    actions: list[str] = field(default_factory=list)

    @property
    def truncated_bytes(self) -> int:
        return self.original_size - self.valid_size

    @property
    def repaired(self) -> bool:
        return bool(self.actions)


def recover_segment(
    log_path: Path, *, index_interval_bytes: int = 4096, full: bool = False
) -> RecoveryResult:
    """Recover one segment file as if it were the active one (for offline tools).

    ``full`` verifies every batch instead of only those after the last index entry.
    """
    log_path = Path(log_path)
    seg = Segment(log_path.parent, int(log_path.stem))
    try:
        return recover_active_segment(seg, index_interval_bytes, full=full)
    finally:
        seg.close()


def _snapshot(seg: Segment) -> tuple[array, array, array, array]:
    return (
        array("i", seg.index.offsets),
        array("i", seg.index.positions),
        array("q", seg.time_index.timestamps),
        array("i", seg.time_index.offsets),
    )


def _last_index_entry_matches(seg: Segment) -> bool:
    position = seg.index.positions[-1]
    raw = os.pread(seg.fd, HEADER_SIZE, position)
    if len(raw) < HEADER_SIZE:
        return False
    h = HEADER.unpack_from(raw)
    return (
        h[H_MAGIC] == 2
        and h[H_BATCH_LENGTH] >= MIN_BATCH_LENGTH
        and h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA] == seg.base_offset + seg.index.offsets[-1]
    )


def recover_active_segment(
    seg: Segment, index_interval_bytes: int, *, full: bool = False
) -> RecoveryResult:
    """Verify and repair an open segment; leave it ready for appends.

    Sets ``seg.next_offset``, max-timestamp state and ``bytes_since_index`` so
    appends continue the index exactly as if there had been no restart.
    """
    result = RecoveryResult(seg.path, seg.size, seg.size, seg.base_offset)
    actions = result.actions
    # The log may have lost its tail (power loss, manual truncation): judge
    # the index only by the entries that still point inside the file.
    index_problem = seg.index.load(seg.size, trim_past=True)
    time_problem = seg.time_index.load()
    # An active segment's index files appear with their first entries: a
    # missing one is rebuilt by a full scan below, but is not a repair to
    # report, and stays absent while it would be empty.
    index_missing = index_problem == MISSING_OFFSET_INDEX
    time_missing = time_problem == MISSING_TIME_INDEX
    before = _snapshot(seg)
    dropped = seg.index.dropped

    resume = False
    if not full and index_problem is None and time_problem is None and len(seg.index):
        # Walk back over a few stale entries rather than re-verify the whole segment.
        for _ in range(_MAX_STALE_ENTRIES):
            if not len(seg.index) or _last_index_entry_matches(seg):
                break
            seg.index.offsets.pop()
            seg.index.positions.pop()
            dropped += 1
        resume = bool(len(seg.index)) and _last_index_entry_matches(seg)
        if dropped and resume:
            actions.append(f"dropped {dropped} offset index entries past the valid log")
        elif not resume and dropped:
            actions.append("offset index does not match the log; rebuilt indexes")
    elif dropped:
        actions.append("offset index does not match the log; rebuilt indexes")
    else:
        for problem in (index_problem, time_problem):
            if problem is not None and problem not in (MISSING_OFFSET_INDEX, MISSING_TIME_INDEX):
                actions.append(f"{problem}; rebuilt indexes")

    if resume:
        start = seg.index.positions[-1]
        # Time entries beyond the last offset entry can only be leftovers
        # (e.g. written on roll); they are re-derived by the scan below.
        keep = bisect_right(seg.time_index.offsets, seg.index.offsets[-1])
        del seg.time_index.timestamps[keep:]
        del seg.time_index.offsets[keep:]
        if keep:
            seg.max_timestamp = seg.time_index.timestamps[-1]
            seg.offset_of_max_timestamp = seg.base_offset + seg.time_index.offsets[-1]
        else:
            seg.max_timestamp = seg.offset_of_max_timestamp = -1
    else:
        start = 0
        seg.index.offsets, seg.index.positions = array("i"), array("i")
        seg.time_index.timestamps, seg.time_index.offsets = array("q"), array("i")
        seg.max_timestamp = seg.offset_of_max_timestamp = -1
    # Starting right after an index entry: the batch at `start` is not indexed again.
    seg.bytes_since_index = 0

    state = {"position": start, "last_offset": -1, "count": 0, "reason": None}
    new_index, new_time = seg.index_batches(_verified_batches(seg, state), index_interval_bytes)
    valid = state["position"]
    result.batches_verified = state["count"]

    if valid < seg.size:
        if resume and valid <= start:
            # The indexed batch itself is damaged: nothing after the index is
            # trustworthy, so truncate and re-derive everything from scratch.
            actions.append(
                f"truncated {seg.size - valid} bytes at position {valid}: {state['reason']}"
            )
            seg.truncate(valid)
            again = recover_active_segment(seg, index_interval_bytes, full=True)
            result.valid_size = again.valid_size
            result.next_offset = again.next_offset
            result.batches_verified += again.batches_verified
            actions.extend(again.actions)
            return result
        actions.append(f"truncated {seg.size - valid} bytes at position {valid}: {state['reason']}")
        seg.truncate(valid)
    result.valid_size = valid

    seg.index.offsets.extend(new_index[0::2])
    seg.index.positions.extend(new_index[1::2])
    seg.time_index.timestamps.extend(new_time[0::2])
    seg.time_index.offsets.extend(new_time[1::2])
    after = _snapshot(seg)
    if after[:2] != before[:2] or (index_problem is not None and not index_missing) or dropped:
        if resume and new_index and not actions:
            actions.append(f"added {len(new_index) // 2} offset index entries lost in a crash")
        seg.index.rewrite()
    if after[2:] != before[2:] or (time_problem is not None and not time_missing):
        seg.time_index.rewrite()

    seg.next_offset = state["last_offset"] + 1 if state["count"] else seg.base_offset
    result.next_offset = seg.next_offset
    return result


def _verified_batches(seg: Segment, state: dict) -> Iterator[tuple[int, int, int, int]]:
    """CRC-check batches from state['position'], yielding index tuples.

    Stops silently at the first bad batch, leaving its position and the reason
    in ``state`` so the caller can truncate.
    """
    size = seg.size
    pos = state["position"]
    buf = b""
    buf_pos = pos
    prev_last = seg.base_offset - 1
    unpack = HEADER.unpack_from
    while pos < size:
        available = size - pos
        if available < HEADER_SIZE:
            state["reason"] = f"torn batch header ({available} bytes)"
            break
        off = pos - buf_pos
        if off + HEADER_SIZE > len(buf):
            buf = os.pread(seg.fd, _SCAN_CHUNK, pos)  # not kept across yields (LRU)
            buf_pos, off = pos, 0
        h = unpack(buf, off)
        try:
            _check_header(h, pos, available)
        except CorruptBatchError as exc:
            state["reason"] = str(exc)
            break
        base_offset = h[H_BASE_OFFSET]
        batch_size = LOG_OVERHEAD + h[H_BATCH_LENGTH]
        end = pos + batch_size
        if end - buf_pos > len(buf):
            buf = os.pread(seg.fd, max(_SCAN_CHUNK, end - pos), pos)
            buf_pos, off = pos, 0
        if crc32c(memoryview(buf)[off + ATTRIBUTES_OFFSET : end - buf_pos]) != h[H_CRC]:
            state["reason"] = f"CRC mismatch in batch with baseOffset {base_offset}"
            break
        if base_offset <= prev_last:
            state["reason"] = f"baseOffset {base_offset} does not follow offset {prev_last}"
            break
        last = base_offset + h[H_LAST_OFFSET_DELTA]
        prev_last = last
        state["last_offset"] = last
        state["count"] += 1
        pos = end
        state["position"] = pos
        yield pos - batch_size, last, batch_size, h[H_MAX_TIMESTAMP]


def load_sealed_segment(seg: Segment, index_interval_bytes: int) -> list[str]:
    """Load the indexes of a non-active segment, rebuilding them from headers if needed.

    Returns what had to be repaired (empty when the files were fine).
    """
    actions: list[str] = []
    problems = [p for p in (seg.index.load(seg.size), seg.time_index.load()) if p]
    if not problems and seg.size and not len(seg.time_index):
        problems.append("time index empty")
    if not problems:
        seg.max_timestamp = seg.time_index.timestamps[-1] if len(seg.time_index) else -1
        seg.offset_of_max_timestamp = (
            seg.base_offset + seg.time_index.offsets[-1] if len(seg.time_index) else -1
        )
        return actions

    actions.append("; ".join(problems) + "; rebuilt indexes from batch headers")
    seg.index.offsets, seg.index.positions = array("i"), array("i")
    seg.time_index.timestamps, seg.time_index.offsets = array("q"), array("i")
    seg.max_timestamp = seg.offset_of_max_timestamp = -1
    seg.bytes_since_index = 0
    state = {"position": 0, "reason": None, "last_offset": -1}
    new_index, new_time = seg.index_batches(_header_batches(seg, state), index_interval_bytes)
    if state["position"] < seg.size:
        actions.append(
            f"truncated {seg.size - state['position']} bytes at position {state['position']}: "
            f"{state['reason']}"
        )
        seg.truncate(state["position"])
    seg.index.offsets.extend(new_index[0::2])
    seg.index.positions.extend(new_index[1::2])
    seg.time_index.timestamps.extend(new_time[0::2])
    seg.time_index.offsets.extend(new_time[1::2])
    if seg.max_timestamp > seg.time_index.last_timestamp:
        seg.time_index.timestamps.append(seg.max_timestamp)
        seg.time_index.offsets.append(seg.offset_of_max_timestamp - seg.base_offset)
    seg.index.rewrite()
    seg.time_index.rewrite()
    if state["last_offset"] >= 0:
        seg.next_offset = state["last_offset"] + 1
    return actions


def _header_batches(seg: Segment, state: dict) -> Iterator[tuple[int, int, int, int]]:
    """Index tuples from headers only (no CRC): sealed segments were verified when active."""
    try:
        for position, h in seg.iter_headers(0):
            size = LOG_OVERHEAD + h[H_BATCH_LENGTH]
            if position + size > seg.size:
                state["reason"] = "torn batch at the end of the segment"
                return
            last = h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA]
            state["position"] = position + size
            state["last_offset"] = last
            yield position, last, size, h[H_MAX_TIMESTAMP]
        if state["position"] < seg.size:
            state["reason"] = "torn batch header at the end of the segment"
    except CorruptBatchError as exc:
        state["reason"] = str(exc)
