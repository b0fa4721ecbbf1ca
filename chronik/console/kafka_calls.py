"""Console writes as Kafka requests: the same handlers, the same authorizer, the same errors.

A console action (create a topic, produce, reset offsets ...) is built as the
Kafka request a client would send, encoded and decoded once (so every field
holds what the wire would give the handler), authorised by `authz.check` as
the console user's principal, then answered by the API key's handler. So the
console can do nothing a Kafka client of that principal could not, and its
errors are Kafka's.

`ConsoleSecurity` stands in for a connection's session: principal, host and
the endpoint handlers advertise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any

from chronik.broker import authz
from chronik.broker.context import RequestContext
from chronik.broker.handlers import HANDLERS
from chronik.broker.purgatory import Deferred
from chronik.wire.apis import ALL_APIS
from chronik.wire.errors import ErrorCode

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore

CLIENT_ID = "chronik-console"
# Negative ids: never a real connection's (the purgatory keys parked requests by owner).
_CONN_IDS = count(-1, -1)


@dataclass(slots=True)
class ConsoleSecurity:
    principal: str
    host: str
    endpoint: tuple[str, int]


class KafkaCallError(Exception):
    """A Kafka error code for a console action, with Kafka's message when there is one."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = int(code)
        try:
            self.name = ErrorCode(self.code).name
        except ValueError:
            self.name = f"ERROR_{self.code}"
        super().__init__(message or self.name)
        self.message = message or self.name


def http_status(code: int) -> int:
    """The HTTP status a Kafka error code answers with."""
    name = KafkaCallError(code).name
    if name.endswith("AUTHORIZATION_FAILED"):
        return 403
    if name in ("UNKNOWN_TOPIC_OR_PARTITION", "UNKNOWN_TOPIC_ID", "GROUP_ID_NOT_FOUND", "RESOURCE_NOT_FOUND"):
        return 404
    if name in ("TOPIC_ALREADY_EXISTS", "NON_EMPTY_GROUP", "UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS",
                "ILLEGAL_GENERATION", "CONCURRENT_TRANSACTIONS"):
        return 409
    if name in ("KAFKA_STORAGE_ERROR", "UNKNOWN_SERVER_ERROR", "COORDINATOR_NOT_AVAILABLE",
                "COORDINATOR_LOAD_IN_PROGRESS"):
        return 503
    return 400


def _answer(core: BrokerCore, security: ConsoleSecurity, request: Any, version: int) -> tuple[Any, Any]:
    """The handler's answer (perhaps a Deferred) and the authorizer's filter for it, if any."""
    spec = ALL_APIS[request.API_KEY]
    version = max(spec.min_version, min(version, spec.max_version))
    decoded = spec.request.decode(request.encode(version=version), version=version)
    ctx = RequestContext(core=core, api_key=spec.key, api_version=version, correlation_id=0,
                         client_id=CLIENT_ID, conn_id=next(_CONN_IDS), peer=(security.host, 0),
                         security=security)
    post = None
    if core.authorizer is not None:
        verdict = authz.check(ctx, spec.key, decoded)
        if isinstance(verdict, authz.Denied):
            raise KafkaCallError(verdict.code, verdict.message)
        post = verdict
    return HANDLERS[spec.key](ctx, decoded), post


def call(core: BrokerCore, security: ConsoleSecurity, request: Any, version: int) -> Any:
    """Answer `request` at `version` (clamped to what we serve) as `security.principal` would be answered;
    for requests that never park (simple commits, admin calls)."""
    response, post = _answer(core, security, request, version)
    if isinstance(response, Deferred):
        core.purgatory.cancel_owner(response.owner)
        raise KafkaCallError(ErrorCode.REQUEST_TIMED_OUT, "the broker parked the request")
    return post(response) if post is not None else response


def call_then(core: BrokerCore, security: ConsoleSecurity, request: Any, version: int,
              then: Callable[[Any], None]) -> None:
    """`call`, for requests whose answer may wait (a produce to a partition whose files are being made):
    `then(response)` runs now or, later, on the loop; with None if the broker failed to answer."""
    response, post = _answer(core, security, request, version)
    if not isinstance(response, Deferred):
        then(post(response) if post is not None else response)
        return

    def done(resp: Any) -> None:
        then(post(resp) if post is not None and resp is not None else resp)

    if response.done:
        done(response.result)
    else:
        response.on_done = done


def check_code(code: int, message: str | None = None) -> None:
    if code:
        raise KafkaCallError(code, message or None)
