"""limit_arenas: with it, threads that allocate share at most ARENA_MAX glibc arenas.

Run in a fresh interpreter: glibc fixes its arena limit once more than 8 arenas
exist, which the test process may have done already.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from chronik.search.malloc import ARENA_MAX

CHILD = r"""
import ctypes, os, sys, tempfile, threading
from chronik.search.malloc import limit_arenas
if sys.argv[1] == "limit":
    assert limit_arenas()
barrier = threading.Barrier(8)
keep = []
def work():
    barrier.wait()
    keep.append([bytes(200_000) for _ in range(20)])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, f)
libc.fclose(f)
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


def arenas(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_threads_share_at_most_arena_max_arenas() -> None:
    unlimited = arenas("free")
    limited = arenas("limit")
    assert limited <= ARENA_MAX
    assert unlimited > ARENA_MAX  # what the limit prevents: an arena per allocating thread
