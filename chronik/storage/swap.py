"""The cleaner's swap-file protocol: replace sealed segments by a compacted one, crash-safe.

A compacted segment is written as ``<base>.log.cleaned``, fsynced, renamed to
``<base>.log.swap`` (the directory fsynced: from here on the swap is the
truth for its offset range), then swapped in by
``PartitionLog.replace_segments``. ``finish_interrupted_swaps`` runs when a
partition opens and turns any crash point into either the old segments or
the new one, never a mix within one offset range.
"""

from __future__ import annotations

import os
from pathlib import Path

from chronik.storage.atomic import fsync_dir
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

__all__ = ["CLEANED_SUFFIX", "SWAP_SUFFIX", "cleaned_path", "finish_interrupted_swaps", "swap_path"]

CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"


def cleaned_path(directory: Path, base_offset: int) -> Path:
    """Where the cleaner writes the compacted segment starting at ``base_offset``."""
    return directory / f"{base_offset:020d}.log{CLEANED_SUFFIX}"


def swap_path(directory: Path, base_offset: int) -> Path:
    """The complete, fsynced compacted segment waiting to be swapped in."""
    return directory / f"{base_offset:020d}.log{SWAP_SUFFIX}"


def finish_interrupted_swaps(directory: Path) -> list[str]:
    """Complete or discard a compaction that a crash interrupted.

    ``.cleaned`` files were never complete: delete them. A ``.swap`` file is a
    complete, fsynced replacement for every segment whose base offset lies in
    its offset range: delete those (some may already be gone), then rename it
    into place. Index files of the replaced range are deleted so they are
    rebuilt from the new log.
    """
    actions: list[str] = []
    for cleaned in directory.glob("*" + CLEANED_SUFFIX):
        cleaned.unlink(missing_ok=True)
        actions.append(f"discarded unfinished compaction output {cleaned.name}")
    for swap in sorted(directory.glob("*.log" + SWAP_SUFFIX)):
        stem = swap.name.split(".", 1)[0]
        if len(stem) != 20 or not stem.isdigit():
            continue
        base = int(stem)
        try:
            last = _last_offset_in_file(swap, base)
        except CorruptBatchError:
            # Cannot happen for a file fsynced before its rename; be safe and keep the old data.
            swap.unlink(missing_ok=True)
            actions.append(f"discarded unreadable {swap.name}")
            continue
        for log_file in directory.glob("*.log"):
            s = log_file.stem
            if len(s) == 20 and s.isdigit() and base <= int(s) <= last:
                for suffix in (".index", ".timeindex"):
                    log_file.with_suffix(suffix).unlink(missing_ok=True)
                if int(s) != base:
                    log_file.unlink(missing_ok=True)
        for suffix in (".index", ".timeindex"):
            (directory / f"{stem}{suffix}").unlink(missing_ok=True)
        os.replace(swap, directory / f"{stem}.log")
        actions.append(f"completed interrupted compaction swap of {stem}.log")
    if actions:
        fsync_dir(directory)
    return actions


def _last_offset_in_file(path: Path, default: int) -> int:
    """Last offset of the batches in a log file, walking headers only."""
    last = default
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos + HEADER_SIZE <= size:
            h = HEADER.unpack(os.pread(fd, HEADER_SIZE, pos))
            if h[H_MAGIC] != 2 or h[H_BATCH_LENGTH] < MIN_BATCH_LENGTH:
                raise CorruptBatchError(f"{path.name}: invalid batch header at {pos}")
            last = max(last, h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA])
            pos += LOG_OVERHEAD + h[H_BATCH_LENGTH]
    finally:
        os.close(fd)
    return last
