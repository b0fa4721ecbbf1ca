"""SaslAuthenticate (36), v0-2: one SASL token each way.

A failed login answers SASL_AUTHENTICATION_FAILED with the mechanism's
message (never the password), and the connection closes once that answer
is sent, as in Kafka. session_lifetime_ms is 0: no re-authentication
(KIP-368's connections.max.reauth.ms is off, Kafka's default).
"""

from __future__ import annotations

import logging

from kafka.protocol.sasl import SaslAuthenticateResponse

from chronik.security.mechanisms import AuthenticationFailed
from chronik.security.session import State
from chronik.wire.errors import ErrorCode

API_KEY = 36

log = logging.getLogger("chronik.security")


def handle(ctx, req):
    session = ctx.security
    sasl = session.gate if session is not None else None
    v = ctx.api_version
    if sasl is None or sasl.state is not State.MECHANISM:
        if session is not None:
            session.closing = True
        return SaslAuthenticateResponse(version=v, error_code=ErrorCode.ILLEGAL_SASL_STATE,
                                        error_message="Unexpected SaslAuthenticate request", auth_bytes=b"",
                                        session_lifetime_ms=0)
    try:
        out = sasl.authenticate(req.auth_bytes)
    except AuthenticationFailed as exc:
        session.closing = True
        log.info("SASL authentication failed from %s (%s): %s", ctx.host, sasl.exchange.mechanism, exc)
        return SaslAuthenticateResponse(version=v, error_code=ErrorCode.SASL_AUTHENTICATION_FAILED,
                                        error_message=str(exc), auth_bytes=b"", session_lifetime_ms=0)
    if sasl.state is State.AUTHENTICATED:
        session.authenticated()
        log.debug("authenticated %s from %s with %s", session.principal, ctx.host, session.mechanism)
    return SaslAuthenticateResponse(version=v, error_code=ErrorCode.NONE, error_message=None, auth_bytes=out,
                                    session_lifetime_ms=0)
