"""The open segment files: a least-recently-used set of file descriptors.

A broker with 10,000 partitions has at least 10,000 segment files; holding
one descriptor each breaks under macOS's default limit of 256 (and costs
kernel memory everywhere). Segments open their ``.log`` file on use and
register here; past ``capacity`` the least recently used one is closed and
reopens itself transparently the next time its ``fd`` is asked for.

Closing a descriptor loses nothing: written bytes are in the page cache,
and an ``fsync`` through a freshly opened descriptor flushes them (fsync
works on the file, not the descriptor). One rule follows for callers: use
``seg.fd`` right away in one system call and do not keep the number across
anything that may open another segment (a generator's ``yield``, a call into
another log), since the number may by then belong to another file. Worker
threads never touch a segment's ``fd``: evictions happen on the loop.
"""

from __future__ import annotations

import errno
import os
import resource
from collections import OrderedDict
from typing import Protocol

__all__ = ["OPEN_FILES", "OpenFiles", "default_capacity"]

# Share of RLIMIT_NOFILE given to segment files; the rest is for sockets,
# index writes, the metadata store and libraries.
_SHARE = 4
_MIN = 16
_MAX = 1024


class Evictable(Protocol):
    def evict(self) -> None: ...


def default_capacity() -> int:
    """A quarter of the soft RLIMIT_NOFILE, between 16 and 1,024 files."""
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return _MAX
    return max(_MIN, min(_MAX, soft // _SHARE))


class OpenFiles:
    """Segments holding an open descriptor, least recently used first."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or default_capacity()
        self._lru: OrderedDict[Evictable, None] = OrderedDict()
        # Descriptors closed to make room (a metric of how hard the LRU works).
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._lru)

    def __contains__(self, item: object) -> bool:
        return item in self._lru

    def opened(self, item: Evictable) -> None:
        """Register a freshly opened file; evict the least recently used past capacity."""
        lru = self._lru
        lru[item] = None
        while len(lru) > self.capacity:
            old, _ = lru.popitem(last=False)
            self.evictions += 1
            old.evict()

    def touch(self, item: Evictable) -> None:
        try:
            self._lru.move_to_end(item)
        except KeyError:
            pass

    def forget(self, item: Evictable) -> None:
        """The file was closed by its owner."""
        self._lru.pop(item, None)

    def make_room(self) -> bool:
        """Out of descriptors (EMFILE): close the older half of the files; False if none is open."""
        lru = self._lru
        if not lru:
            return False
        for _ in range(max(1, len(lru) // 2)):
            old, _ = lru.popitem(last=False)
            self.evictions += 1
            old.evict()
        return True

    def open(self, path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
        """os.open, making room in the LRU and trying again if the process is out of descriptors."""
        try:
            return os.open(path, flags, mode)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE) or not self.make_room():
                raise
        return os.open(path, flags, mode)

    def resize(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        lru = self._lru
        while len(lru) > self.capacity:
            old, _ = lru.popitem(last=False)
            self.evictions += 1
            old.evict()


# One per process: the descriptor limit is per process.
OPEN_FILES = OpenFiles()
