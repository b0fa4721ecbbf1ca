"""Blocks allocated ahead of an active segment's end, past the end of the file (fallocate KEEP_SIZE).

Why (measured for `--fsync always`, issue 18): on ext4 mounted without a
journal and with `discard` (the CI machines), a segment appended in small
pieces and fsynced after each gets its blocks one writeback at a time, as
unwritten extents converted when the write completes. Converting merges
extents, and when the extent tree shrinks back into the inode the freed tree
block is discarded synchronously -- by a kernel worker holding the inode's
i_data_sem. Under disk load one discard took 50-180 ms, and the broker loop's
next write() to the same file waited for that lock: every connection stalled
(p99 181 ms at 1,000 acks=all msgs/s). With the blocks allocated in advance,
writeback allocates nothing and completing a write only moves the boundary
between the written and the unwritten extent.

FALLOC_FL_KEEP_SIZE leaves the file size alone: the size stays the log end,
so readers, recovery, `segments verify` and everything else that uses the size
see exactly what they saw before, and after a crash the preallocated blocks
lie past the end of the file where nothing reads them (no zeros that could be
taken for data). Kafka preallocates whole segments on Windows only and
truncates at roll; here the allocation grows with the segment (an eighth of
its size, 1 MiB to 8 MiB ahead, never past segment.bytes) so a broker with
thousands of partitions does not reserve gigabytes, and a sealed segment's
unused tail is given back (`trim`).

Only the group commit's worker thread calls these (the loop never waits for
an allocation); where fallocate does not exist (macOS, some filesystems) the
Preallocator turns itself off and nothing else changes.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path

__all__ = ["MAX_AHEAD", "MIN_AHEAD", "Preallocator", "ahead_for", "fallocate_keep_size"]

log = logging.getLogger("chronik.storage")

MIN_AHEAD = 1024 * 1024
MAX_AHEAD = 8 * 1024 * 1024
_FALLOC_FL_KEEP_SIZE = 0x01
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# errnos meaning "this system or filesystem cannot preallocate": stop trying.
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_BLOCK = 4096
_TRIM_SLACK = 64 * 1024
# Forget what was preallocated for this many paths at most (deleted topics leave entries behind).
_MAX_TRACKED = 65536

_fallocate = None


def _libc_fallocate():
    global _fallocate
    if _fallocate is None:
        if not sys.platform.startswith("linux"):
            raise OSError(errno.ENOSYS, "fallocate is Linux-only")
        import ctypes  # only a broker with --fsync always pays for the import

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.fallocate
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        fn.restype = ctypes.c_int
        _fallocate = (fn, ctypes.get_errno)
    return _fallocate


def fallocate_keep_size(fd: int, offset: int, length: int) -> None:
    """Allocate [offset, offset+length) of the file without changing its size (OSError on failure)."""
    fn, get_errno = _libc_fallocate()
    if fn(fd, _FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        code = get_errno()
        raise OSError(code, os.strerror(code))


def ahead_for(size: int) -> int:
    """How far past `size` an active segment should be allocated: an eighth of it, 1 MiB to 8 MiB.

    Not less: every allocation may land apart from the previous one and add an extent,
    and a file whose extent count hovers around the four the inode holds is the one
    whose tree block keeps being allocated and freed (and discarded)."""
    return min(MAX_AHEAD, max(MIN_AHEAD, (size // 8) // _BLOCK * _BLOCK))


class Preallocator:
    """The worker's side: keeps active segments allocated ahead of their end; trims sealed ones.

    Paths only (plus descriptors handed over for good), so no file handle of the
    loop is shared. Not thread-safe: one worker owns it.
    """

    def __init__(self) -> None:
        self.enabled = True
        self._end: dict[Path, int] = {}  # path -> allocated up to (what this process knows of)
        self.calls = 0  # fallocate calls that allocated
        self.bytes = 0  # bytes requested by them
        self.trimmed = 0  # sealed segments whose unused tail was given back

    def knows(self, path: Path) -> bool:
        """Whether `path` was allocated ahead by this preallocator already."""
        return path in self._end

    def ensure(self, path: Path, size: int, limit: int) -> None:
        """Have `path` (logical size `size`) allocated well past `size`, never past `limit`.

        Errors are only logged: preallocation is an optimisation, and a full disk
        shows itself to the writer anyway.
        """
        if not self.enabled:
            return
        ahead = ahead_for(size)
        end = self._end.get(path, -1)
        if end - size >= ahead // 2:
            return
        target = min(limit, size + ahead)
        if target <= max(end, size):
            return
        try:
            fd = os.open(path, os.O_WRONLY | _CLOEXEC)
        except OSError:
            return  # gone meanwhile (retention, topic deleted)
        try:
            if end < 0:
                # First sight of this file in this process: it may have been allocated before a restart.
                end = max(size, os.fstat(fd).st_blocks * 512)
                if end - size >= ahead // 2 or target <= end:
                    self._remember(path, end)
                    return
            start = max(end, size) // _BLOCK * _BLOCK
            fallocate_keep_size(fd, start, target - start)
            self.calls += 1
            self.bytes += target - start
            self._remember(path, target)
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                self.enabled = False
                log.info("segment preallocation off: %s", exc.strerror or exc)
            else:
                log.warning("%s: preallocation failed: %s", path, exc.strerror or exc)
        finally:
            os.close(fd)

    def trim(self, path: Path, fd: int, size: int) -> None:
        """Give back what lies allocated past the end of a sealed segment, then close `fd`.

        `fd` is the worker's own descriptor of that very file (a dup made by the loop at
        the roll): a path could by then name another file. A sealed segment no longer
        grows, so truncating it to its own size changes no byte of it.
        """
        self._end.pop(path, None)
        try:
            st = os.fstat(fd)
            # A few blocks over are the extent tree's own, or not worth a discard.
            if st.st_size == size and st.st_blocks * 512 > -(-size // _BLOCK) * _BLOCK + _TRIM_SLACK:
                os.ftruncate(fd, size)
                self.trimmed += 1
        except OSError as exc:
            log.warning("%s: cannot trim its preallocated tail: %s", path, exc.strerror or exc)
        finally:
            os.close(fd)

    def _remember(self, path: Path, end: int) -> None:
        if len(self._end) >= _MAX_TRACKED and path not in self._end:
            self._end.clear()
        self._end[path] = end
