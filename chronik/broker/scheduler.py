"""What the core needs of the event loop: a clock and timers (the server, or a fake in tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Scheduler(Protocol):
    def clock(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...
