"""A connection's security state, and SASL authentication as a state table.

The server makes a `Session` per accepted connection (its listener's
protocol, the peer's address, the TLS principal once the handshake is
done) and the dispatcher consults `session.gate` before every request:
None means "authenticated, serve it" (one attribute check), otherwise the
`Sasl` table says what a request of that API key may do in the current
state. Kafka's rules (SaslServerAuthenticator):

    state          ApiVersions   SaslHandshake       SaslAuthenticate   other
    START          serve         handshake           close              close
    MECHANISM      close         close               authenticate       close
    RAW (v0)       -- raw SASL tokens follow, without Kafka headers --
    AUTHENTICATED  (gate is None: everything is served; a new handshake is ILLEGAL_SASL_STATE)

A failed login answers SASL_AUTHENTICATION_FAILED and closes; anything
else out of place closes the connection at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from chronik.security.mechanisms import AuthenticationFailed, Exchange, new_exchange
from chronik.security.principal import ANONYMOUS, subject_dn
from chronik.security.scram import CredentialStore

API_VERSIONS = 18
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


class State(enum.Enum):
    START = "start"
    MECHANISM = "mechanism"
    RAW = "raw"
    AUTHENTICATED = "authenticated"
    FAILED = "failed"


class Action(enum.Enum):
    SERVE = "serve"        # an ordinary request (ApiVersions)
    HANDSHAKE = "handshake"
    AUTHENTICATE = "authenticate"
    CLOSE = "close"


TABLE: dict[tuple[State, int], Action] = {
    (State.START, API_VERSIONS): Action.SERVE,
    (State.START, SASL_HANDSHAKE): Action.HANDSHAKE,
    (State.MECHANISM, SASL_AUTHENTICATE): Action.AUTHENTICATE,
}


@dataclass
class HandshakeResult:
    error: str | None  # None, "unsupported"
    mechanisms: list[str]


class Sasl:
    def __init__(self, mechanisms: tuple[str, ...], users: CredentialStore) -> None:
        self.mechanisms = mechanisms
        self.users = users
        self.state = State.START
        self.exchange: Exchange | None = None

    def action(self, api_key: int) -> Action:
        return TABLE.get((self.state, api_key), Action.CLOSE)

    def handshake(self, mechanism: str, version: int) -> HandshakeResult:
        if self.state is not State.START:
            return HandshakeResult("illegal", list(self.mechanisms))
        if mechanism not in self.mechanisms:
            self.state = State.FAILED
            return HandshakeResult("unsupported", list(self.mechanisms))
        self.exchange = new_exchange(mechanism, self.users)
        self.state = State.RAW if version == 0 else State.MECHANISM
        return HandshakeResult(None, list(self.mechanisms))

    def authenticate(self, token: bytes) -> bytes:
        """The server's answer to one client token; AuthenticationFailed ends the exchange."""
        assert self.exchange is not None
        try:
            out = self.exchange.step(bytes(token))
        except AuthenticationFailed:
            self.state = State.FAILED
            raise
        if self.exchange.done:
            self.state = State.AUTHENTICATED
        return out


@dataclass(eq=False)
class Session:
    """What a connection's requests are answered as."""

    listener: str
    protocol: str
    host: str
    endpoint: tuple[str, int]
    principal: str = ANONYMOUS
    sasl: Sasl | None = None
    gate: Sasl | None = None  # the Sasl exchange while unauthenticated; None: serve
    closing: bool = False  # answer this request, then close
    mechanism: str | None = None
    extra: dict = field(default_factory=dict)

    def tls_established(self, peer_cert: dict | None) -> None:
        """Kafka's default principal builder: `User:<subject DN>` for a TLS client certificate."""
        if peer_cert and self.protocol == "SSL":
            self.principal = "User:" + subject_dn(peer_cert)

    def authenticated(self) -> None:
        assert self.sasl is not None and self.sasl.exchange is not None
        self.principal = self.sasl.exchange.principal or ANONYMOUS
        self.mechanism = self.sasl.exchange.mechanism
        self.gate = None


def new_session(listener: str, protocol: str, host: str, endpoint: tuple[str, int],
                mechanisms: tuple[str, ...], users: CredentialStore) -> Session:
    s = Session(listener, protocol, host, endpoint)
    if protocol.startswith("SASL_"):
        s.sasl = s.gate = Sasl(mechanisms, users)
    return s
