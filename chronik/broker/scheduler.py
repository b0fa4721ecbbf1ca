"""What the core needs of the event loop: a clock and timers (the server, or a fake in tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Scheduler(Protocol):
    def clock(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...


class LazyDeadline:
    """A deadline moved far more often than it expires (a session pushed by every heartbeat).

    Moving it later is one float store: a single timer is armed at a time and, when it fires
    before the (moved) deadline, re-arms for what is left. Moving it sooner re-arms at once.
    """

    __slots__ = ("_sched", "_on_expiry", "_timer", "_due", "deadline")

    def __init__(self, sched: Scheduler, on_expiry: Callable[[], None]) -> None:
        self._sched = sched
        self._on_expiry = on_expiry
        self._timer: Any = None
        self._due = 0.0
        self.deadline: float | None = None

    @property
    def armed(self) -> bool:
        return self.deadline is not None

    def push(self, delay: float) -> None:
        """Expire `delay` seconds from now, whatever the deadline was."""
        self.deadline = self._sched.clock() + delay
        if self._timer is not None:
            if self._due <= self.deadline:
                return
            self._timer.cancel()
        self._arm(delay)

    def arm(self, delay: float) -> None:
        """Expire `delay` seconds from now unless a deadline is already set (it stays)."""
        if self.deadline is None:
            self.push(delay)

    def clear(self) -> None:
        self.deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, delay: float) -> None:
        self._due = self._sched.clock() + delay
        self._timer = self._sched.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self.deadline is None:
            return
        left = self.deadline - self._sched.clock()
        if left > 0:
            self._arm(left)
            return
        self.deadline = None
        self._on_expiry()
