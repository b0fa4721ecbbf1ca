"""What a handler gets besides its request."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chronik.broker.purgatory import Deferred, TryComplete
from chronik.clock import wall_ms
from chronik.security.principal import ANONYMOUS

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
    # The connection's chronik.security.session.Session (listener, principal), if the server made one.
    security: Any = None

    @property
    def principal(self) -> str:
        return self.security.principal if self.security is not None else ANONYMOUS

    @property
    def host(self) -> str:
        if self.security is not None:
            return self.security.host
        return self.peer[0] if isinstance(self.peer, tuple) else str(self.peer or "")

    @property
    def endpoint(self) -> tuple[str, int]:
        """The advertised host and port of the listener this request came through."""
        if self.security is not None:
            return self.security.endpoint
        c = self.core.config
        return c.advertised, c.port

    def allowed(self, operation: int, resource_type: int, name: str) -> bool:
        """May this request's principal do `operation` on the resource? Always, without an authorizer."""
        authz = self.core.authorizer
        if authz is None:
            return True
        return authz.authorize(self.principal, self.host, operation, resource_type, name)

    def allowed_any(self, operation: int, resource_type: int) -> bool:
        authz = self.core.authorizer
        if authz is None:
            return True
        return authz.authorize_any(self.principal, self.host, operation, resource_type)

    @property
    def now_ms(self) -> int:
        return wall_ms()

    def defer(self, try_complete: TryComplete, timeout_ms: int, keys: Iterable[Hashable]) -> Deferred:
        """Park this request until `try_complete` returns an answer or the timeout passes."""
        purgatory = self.core.purgatory
        d = Deferred(try_complete, purgatory.clock() + max(0, timeout_ms) / 1000.0, keys, owner=self.conn_id)
        purgatory.add(d)
        return d
