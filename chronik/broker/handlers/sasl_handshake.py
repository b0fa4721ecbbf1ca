"""SaslHandshake (17), v0-1: choose the SASL mechanism of a SASL listener's connection.

v1 is followed by SaslAuthenticate requests; v0 by bare SASL tokens (the
dispatcher answers those). An unsupported mechanism answers
UNSUPPORTED_SASL_MECHANISM with the enabled ones and closes, as Kafka's
SaslServerAuthenticator does. Outside the handshake phase (a plaintext or
SSL listener, or after authentication) the answer is ILLEGAL_SASL_STATE.
"""

from __future__ import annotations

from kafka.protocol.sasl import SaslHandshakeResponse

from chronik.wire.errors import ErrorCode

API_KEY = 17


def handle(ctx, req):
    session = ctx.security
    sasl = session.gate if session is not None else None
    if sasl is None:
        mechanisms = list(session.sasl.mechanisms) if session is not None and session.sasl else []
        return SaslHandshakeResponse(version=ctx.api_version, error_code=ErrorCode.ILLEGAL_SASL_STATE,
                                     mechanisms=mechanisms)
    result = sasl.handshake(req.mechanism, ctx.api_version)
    if result.error is not None:
        session.closing = True
        return SaslHandshakeResponse(version=ctx.api_version, error_code=ErrorCode.UNSUPPORTED_SASL_MECHANISM,
                                     mechanisms=result.mechanisms)
    return SaslHandshakeResponse(version=ctx.api_version, error_code=ErrorCode.NONE, mechanisms=result.mechanisms)
