"""glibc malloc arenas: few, so tantivy's threads do not each keep a heap of freed memory.

glibc gives a thread that finds the arenas busy an arena of its own, up to 8
per core, and memory freed in an arena stays resident in it. The search
indexer starts threads of tantivy's for every writer (indexing, segment
updates, merges; a writer is closed when idle and opened again later, for
each searchable topic), and each of those that allocates heavily (a writer's
indexing heap, a merge's buffers) leaves its arena's peak resident: measured
with bench/search.py's phases at 200,000 x 1 KiB JSON records (indexing, queries,
5,000 records/s to a second topic, 1,000 records/s to two more), RssAnon
rose to 253 MB; with two arenas it stayed at 117 MB.

mallopt(M_ARENA_MAX) only applies before glibc fixes its arena limit, which it
does once more than 8 arenas exist -- so this runs when the indexer starts,
before any tantivy thread. Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import logging

__all__ = ["ARENA_MAX", "limit_arenas"]

log = logging.getLogger("chronik.search")

ARENA_MAX = 2  # the machine this targets has 2 cores; tantivy's threads mostly take turns
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(n: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas at `n`; True if glibc took it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_ARENA_MAX, n) == 1
    if not ok:
        log.debug("search: mallopt(M_ARENA_MAX, %d) refused", n)
    return ok
