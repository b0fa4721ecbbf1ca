"""What a handler gets besides its request."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chronik.broker.purgatory import Deferred, TryComplete
from chronik.clock import wall_ms

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore


@dataclass(slots=True)
class RequestContext:
    core: BrokerCore
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    conn_id: int
    peer: Any = None

    @property
    def now_ms(self) -> int:
        return wall_ms()

    def defer(self, try_complete: TryComplete, timeout_ms: int, keys: Iterable[Hashable]) -> Deferred:
        """Park this request until `try_complete` returns an answer or the timeout passes."""
        purgatory = self.core.purgatory
        d = Deferred(try_complete, purgatory.clock() + max(0, timeout_ms) / 1000.0, keys, owner=self.conn_id)
        purgatory.add(d)
        return d
