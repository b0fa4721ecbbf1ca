"""The one clock: wall time in milliseconds (record timestamps) and monotonic seconds (timers)."""

from __future__ import annotations

import time


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic() -> float:
    return time.monotonic()
