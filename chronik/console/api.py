"""The pieces every console route shares: the call, its errors, the principal's permissions.

A route is `fn(call) -> JSON-able | Response`; it raises `ApiError` (or
`KafkaCallError`, `ReadError`) for anything the user got wrong, which the
app answers as 4xx JSON. `Call.allowed` asks the broker's authorizer as the
session's principal (always yes without one), so reads are filtered and
refused as a Kafka client of that principal would see them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chronik.console.kafka_calls import ConsoleSecurity
from chronik.security.acl import Operation, ResourceType

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore
    from chronik.console.sessions import ConsoleSession
    from chronik.http.protocol import Request


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.code:
            err["code"] = self.code
        return {"error": err, **self.extra}


@dataclass
class Call:
    core: BrokerCore
    request: Request
    params: dict[str, str]
    session: ConsoleSession
    security: ConsoleSecurity
    _json: Any = field(default=None, repr=False)

    # -- input -----------------------------------------------------------------------------
    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.request.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int | None = None, lo: int | None = None,
                hi: int | None = None) -> int | None:
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        return to_int(raw, name, lo, hi)

    def body(self) -> dict[str, Any]:
        if self._json is None:
            raw = self.request.body or b"{}"
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, f"the request body is not JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise ApiError(400, "the request body must be a JSON object")
            self._json = obj
        return self._json

    # -- permissions ----------------------------------------------------------------------------
    def allowed(self, op: Operation, rtype: ResourceType, name: str) -> bool:
        authz = self.core.authorizer
        if authz is None:
            return True
        return authz.authorize(self.security.principal, self.security.host, op, rtype, name)

    def require(self, op: Operation, rtype: ResourceType, name: str) -> None:
        if not self.allowed(op, rtype, name):
            what = {ResourceType.TOPIC: "topic", ResourceType.GROUP: "group"}.get(rtype, rtype.name.lower())
            raise ApiError(403, f"{self.security.principal} may not {op.name} {what} {name}",
                           f"{rtype.name}_AUTHORIZATION_FAILED")


def to_int(raw: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(raw, bool):
        raise ApiError(400, f"{name} must be an integer, not {raw!r}")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be an integer, not {raw!r}") from None
    if lo is not None and value < lo:
        raise ApiError(400, f"{name} must be at least {lo}, not {value}")
    if hi is not None and value > hi:
        raise ApiError(400, f"{name} must be at most {hi}, not {value}")
    return value


def parse_time_ms(raw: Any, name: str = "time") -> int:
    """Epoch milliseconds, or an ISO 8601 date/time (UTC unless it says otherwise)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be epoch milliseconds or an ISO 8601 time, not {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


Route = tuple[str, str, Callable[[Call], Any], bool]  # method, pattern, handler, is a write
