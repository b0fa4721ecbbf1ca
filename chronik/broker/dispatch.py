"""From a request frame to response buffers: header, decode, handler, encode.

Whose fault decides what happens: input we cannot parse (a bad header, an
unknown API or version, a body that does not decode) closes the connection,
because Kafka's framing cannot be trusted past it; a handler that raises is
our bug, so the request is answered with UNKNOWN_SERVER_ERROR (Kafka's
getErrorResponse), one traceback is logged, and the connection goes on.

Every answered request is timed from its dispatch to its encoding (so a
long-poll's wait in the purgatory counts, as in Kafka's TotalTimeMs) into
`core.stats` per API key and version, with its top-level error code.

Security, when the connection has a session (chronik.security.session):
until SASL authentication is done, `session.gate` decides what a request
may do (its state table; anything out of place closes the connection);
raw SASL tokens after a v0 handshake are answered here. With an
authorizer on the core, `authz.check` runs before the handler, and a
denied request is answered with the authorization error code, built like
any error response. Without one, the cost is one attribute check.
"""

from __future__ import annotations

import logging
import struct
from time import perf_counter
from typing import Any

from kafka.protocol.metadata.api_versions import ApiVersionsResponse

from chronik.broker import authz
from chronik.broker.context import RequestContext
from chronik.broker.core import BrokerCore
from chronik.broker.handlers import HANDLERS
from chronik.broker.handlers.api_versions import api_version_entries
from chronik.broker.purgatory import Deferred
from chronik.broker.storage_health import is_storage_error
from chronik.security.mechanisms import AuthenticationFailed
from chronik.security.session import Action, State
from chronik.wire import produce_codec
from chronik.wire.apis import ALL_APIS
from chronik.wire.error_response import build_error_response
from chronik.wire.errors import ErrorCode
from chronik.wire.framing import API_VERSIONS_KEY, MalformedFrame, frame_response, parse_request_header
from chronik.wire.nulls import first_forbidden_null
from chronik.wire.zero_copy import install as _install_zero_copy

_install_zero_copy()

log = logging.getLogger("chronik.dispatch")

PRODUCE_KEY = 0
_SIZE = struct.Struct(">i")


# (api key, version) -> flexible (tagged fields, compact types); asked twice per request.
_FLEXIBLE = {(k, v): spec.flexible(v) for k, spec in ALL_APIS.items() for v in range(spec.max_version + 1)}


def _flexible_of(api_key: int, version: int) -> bool:
    flexible = _FLEXIBLE.get((api_key, version))
    if flexible is None:
        spec = ALL_APIS.get(api_key)
        flexible = spec is not None and 0 <= version <= spec.max_version and spec.flexible(version)
    return flexible


def _schema_request(spec: Any, body: memoryview, version: int, request: Any) -> Any:
    """The request as kafka-python's classes hold it: error answers mirror it through their schemas."""
    if isinstance(request, produce_codec.ProduceRequestData):
        return spec.request.decode(body, version=version)
    return request


class Dispatcher:
    def __init__(self, core: BrokerCore) -> None:
        self.core = core

    def __call__(self, conn: Any, frame: bytearray) -> Any:
        started = perf_counter()
        session = getattr(conn, "sec", None)
        if session is not None and session.gate is not None and session.gate.state is State.RAW:
            return self._raw_sasl_token(session, frame)
        view = memoryview(frame)
        header = parse_request_header(view, _flexible_of)
        key, version = header.api_key, header.api_version
        if session is not None and session.gate is not None and session.gate.action(key) is Action.CLOSE:
            raise MalformedFrame(f"request of api key {key} before SASL authentication completed "
                                 f"(state {session.gate.state.value})")
        spec = ALL_APIS.get(key)
        handler = HANDLERS.get(key)
        if key == API_VERSIONS_KEY and spec is not None and not (
            spec.min_version <= version <= spec.max_version
        ):
            return self._unsupported_api_versions(header.correlation_id)
        if spec is None or handler is None:
            raise MalformedFrame(f"unknown api key {key}")
        if not spec.min_version <= version <= spec.max_version:
            raise MalformedFrame(
                f"unsupported version {version} of {spec.name} "
                f"(serving {spec.min_version}-{spec.max_version})"
            )
        body = view[header.body_offset :]
        try:
            if key == PRODUCE_KEY and produce_codec.MIN_VERSION <= version <= produce_codec.MAX_VERSION:
                request = produce_codec.decode_request(body, version)
                null = None
            else:
                request = spec.request.decode(body, version=version)
                null = first_forbidden_null(request, version)
        except produce_codec.ForbiddenNull as exc:
            null = exc.path
        except Exception as exc:
            raise MalformedFrame(f"cannot decode {spec.name} v{version}: {exc}") from None
        if null is not None:
            # Kafka's parser refuses these too (and closes the connection).
            raise MalformedFrame(f"{spec.name} v{version}: non-nullable field {null} was serialized as null")

        flexible = _flexible_of(key, version)
        ctx = RequestContext(
            core=self.core,
            api_key=key,
            api_version=version,
            correlation_id=header.correlation_id,
            client_id=header.client_id,
            conn_id=conn.conn_id if conn is not None else 0,
            peer=getattr(conn, "peer", None),
            security=session,
        )
        post = None
        if self.core.authorizer is not None:
            verdict = authz.check(ctx, key, request)
            if isinstance(verdict, authz.Denied):
                if key == PRODUCE_KEY and getattr(request, "acks", 1) == 0:
                    # Kafka closes the connection: the producer gets no answer to learn it from.
                    raise MalformedFrame("acks=0 produce not authorized")
                denied = authz.denied_response(spec.response, _schema_request(spec, body, version, request),
                                               version, key, verdict, build_error_response)
                return frame_response(key, header.correlation_id, flexible, denied.encode(version=version))
            post = verdict
        try:
            response = handler(ctx, request)
        except Exception as exc:
            if is_storage_error(exc):
                # The disk, not a bug: one line per condition, and the client is told so.
                self.core.storage.failed(f"{spec.name} state", exc)
                code = ErrorCode.KAFKA_STORAGE_ERROR
            else:
                log.exception("%s v%d handler failed; answering UNKNOWN_SERVER_ERROR", spec.name, version)
                code = ErrorCode.UNKNOWN_SERVER_ERROR
            if key == PRODUCE_KEY and getattr(request, "acks", 1) == 0:
                self.core.stats.request_done(key, version, perf_counter() - started)
                return None  # acks=0 gets no answer, whatever happened
            response = build_error_response(spec.response, _schema_request(spec, body, version, request), version,
                                            code)
        stats = self.core.stats
        if response is None:
            stats.request_done(key, version, perf_counter() - started)
            return None
        if post is not None and not isinstance(response, Deferred):
            response = post(response)

        if isinstance(response, Deferred):
            def encode(resp: Any) -> list:
                return self._encode(resp, spec, version, flexible, header.correlation_id, started, body, request)

            def failure() -> Any:
                return build_error_response(spec.response, _schema_request(spec, body, version, request), version,
                                            ErrorCode.UNKNOWN_SERVER_ERROR)

            response.encode = encode
            response.failure = failure
            if response.done and response.result is not None and not isinstance(response.result, list):
                response.result = encode(response.result)
            return response
        return self._encode(response, spec, version, flexible, header.correlation_id, started, body, request)

    def _encode(self, resp: Any, spec: Any, version: int, flexible: bool, correlation_id: int, started: float,
                body: memoryview, request: Any) -> list:
        """The response's frame buffers; counted in the stats (its time, its top-level error)."""
        key = spec.key
        stats = self.core.stats
        try:
            out = resp.encode(version=version)
        except Exception:
            log.exception("%s v%d response does not encode; answering UNKNOWN_SERVER_ERROR", spec.name, version)
            out = build_error_response(spec.response, _schema_request(spec, body, version, request), version,
                                       ErrorCode.UNKNOWN_SERVER_ERROR).encode(version=version)
        code = getattr(resp, "error_code", 0)
        if code:
            stats.error(key, code)
        stats.request_done(key, version, perf_counter() - started)
        return frame_response(key, correlation_id, flexible, out)

    @staticmethod
    def _raw_sasl_token(session: Any, frame: bytearray) -> list:
        """After SaslHandshake v0 the client sends bare SASL tokens; a failure closes the connection."""
        try:
            out = session.gate.authenticate(bytes(frame))
        except AuthenticationFailed as exc:
            raise MalformedFrame(f"SASL authentication failed: {exc}") from None
        if session.gate.state is State.AUTHENTICATED:
            session.authenticated()
        return [_SIZE.pack(len(out)), out]

    def _unsupported_api_versions(self, correlation_id: int) -> list:
        """KIP-511: answer an unknown ApiVersions version in v0 with our ranges."""
        resp = ApiVersionsResponse(
            version=0,
            error_code=ErrorCode.UNSUPPORTED_VERSION,
            api_keys=api_version_entries(),
        )
        return frame_response(API_VERSIONS_KEY, correlation_id, False, resp.encode(version=0))
