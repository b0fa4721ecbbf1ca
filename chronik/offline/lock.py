"""The data-directory lock: one process (a broker or an offline tool) per directory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

__all__ = ["LOCK_FILE", "DataDirLocked", "lock_data_dir"]

LOCK_FILE = ".lock"


class DataDirLocked(Exception):
    """Another process holds the directory."""


def lock_data_dir(data_dir: Path) -> TextIO:
    """Hold an exclusive lock on DIR/.lock until the returned file is closed (or the process ends).

    The file holds the holder's pid, so the error can name it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    f = open(data_dir / LOCK_FILE, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise DataDirLocked(
            f"data directory {data_dir} is in use by another chronik process (pid {holder})"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f
