"""Replace a file atomically and durably: the one write-then-rename of Chronik.

``atomic_write(path, data)`` writes ``<path>.tmp`` in the same directory,
flushes and fsyncs it, renames it over ``path`` with ``os.replace`` and then
fsyncs the directory, so that after a crash ``path`` holds either the old or
the new content, and once the call returns the new content survives a power
loss. There is one durability level on purpose: every file replaced this way
is small or rarely written (metadata, checkpoints, index rewrites, snapshots),
so the two fsyncs cost nothing that matters.

Stray ``*.tmp`` files left by a crash are harmless: the next write truncates
them, and partition directories delete them at open.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["TMP_SUFFIX", "atomic_write", "fsync_dir", "fsync_path", "tmp_path"]

TMP_SUFFIX = ".tmp"


def tmp_path(path: Path) -> Path:
    """The temporary file ``atomic_write`` uses for ``path`` (same directory)."""
    return path.with_name(path.name + TMP_SUFFIX)


def fsync_path(path: str | os.PathLike[str]) -> bool:
    """fsync a file or directory by path, through a fresh descriptor (fsync flushes the file, whichever
    descriptor wrote it). False if it is gone meanwhile (retention): nothing is left to sync."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make renames and creations inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | bytearray | memoryview | str | Callable[[BinaryIO], object],
) -> None:
    """Replace ``path`` with ``data`` (bytes, UTF-8 text, or a callback writing to a binary file).

    The callback form streams large content: ``atomic_write(p, lambda f: f.writelines(chunks))``.
    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
