"""The one clock of Chronik: wall-clock milliseconds and a monotonic second counter.

``wall_ms`` is what Kafka calls "now" (record timestamps, retention ages,
segment.ms): Unix epoch milliseconds. ``monotonic`` measures durations and
schedules timers; it never goes backwards. Code that needs a fake clock in
tests takes one of these as a parameter (``now_ms=wall_ms``) instead of
patching this module.
"""

from __future__ import annotations

import time

__all__ = ["monotonic", "wall_ms"]


def wall_ms() -> int:
    """Milliseconds since the Unix epoch (integer arithmetic: no float rounding)."""
    return time.time_ns() // 1_000_000


# Seconds from an arbitrary start, for durations and timers (an alias: no wrapper call).
monotonic = time.monotonic
