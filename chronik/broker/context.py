"""What a handler gets besides its request."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chronik.broker.purgatory import Deferred, TryComplete

if TYPE_CHECKING:
    from chronik.broker.state import BrokerState


@dataclass(slots=True)
class RequestContext:
    broker: BrokerState
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    conn_id: int
    peer: Any = None

    @property
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def defer(self, try_complete: TryComplete, timeout_ms: int, keys: Iterable[Hashable]) -> Deferred:
        """Park this request until `try_complete` returns an answer or the timeout passes."""
        purgatory = self.broker.purgatory
        d = Deferred(try_complete, purgatory.clock() + max(0, timeout_ms) / 1000.0, keys)
        purgatory.add(d)
        return d
