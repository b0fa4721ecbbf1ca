"""Server sides of the SASL mechanisms: PLAIN, SCRAM-SHA-256/512 (scramp), OAUTHBEARER (unsecured JWTs).

Each exchange is fed the client's tokens one by one (`step`) and answers
the server's token; `done` says the principal is established, and a
failed login raises `AuthenticationFailed` with the message the client is
told (never the password, never whether the user exists).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable

from chronik.security.principal import user
from chronik.security.scram import CredentialStore

log = logging.getLogger("chronik.security")

PLAIN = "PLAIN"
OAUTHBEARER = "OAUTHBEARER"
SCRAM_SHA_256 = "SCRAM-SHA-256"
SCRAM_SHA_512 = "SCRAM-SHA-512"
ALL_MECHANISMS = (PLAIN, SCRAM_SHA_256, SCRAM_SHA_512, OAUTHBEARER)
# Kafka's allowable clock skew for unsecured JWTs is 0; a second of grace avoids flaky ends.
_OAUTH_SKEW_S = 1.0


class AuthenticationFailed(Exception):
    """The client's fault: the message goes back in SaslAuthenticate's error_message."""


class Exchange:
    mechanism = ""
    done = False
    principal: str | None = None

    def step(self, token: bytes) -> bytes:
        raise NotImplementedError


class PlainExchange(Exchange):
    mechanism = PLAIN

    def __init__(self, users: CredentialStore) -> None:
        self.users = users

    def step(self, token: bytes) -> bytes:
        parts = token.split(b"\x00")
        if len(parts) != 3:
            raise AuthenticationFailed("Invalid SASL/PLAIN response: expected 3 tokens")
        authzid, name, password = (p.decode("utf-8", "replace") for p in parts)
        if not name:
            raise AuthenticationFailed("Authentication failed: username not specified")
        if not password:
            raise AuthenticationFailed("Authentication failed: password not specified")
        if authzid and authzid != name:
            raise AuthenticationFailed("Authentication failed: Client requested an authorization id that is "
                                       "different from username")
        if not self.users.check_plain(name, password):
            raise AuthenticationFailed("Authentication failed: Invalid username or password")
        self.done, self.principal = True, user(name)
        return b""


def _scram_username(raw: str) -> str:
    return raw.replace("=2C", ",").replace("=3D", "=")


class ScramExchange(Exchange):
    def __init__(self, mechanism: str, users: CredentialStore) -> None:
        self.mechanism = mechanism
        self.users = users
        self._user: str | None = None
        # scramp (with asn1crypto and ssl) is imported by the first SCRAM login, not by every broker start.
        from scramp import ScramMechanism

        self._server = ScramMechanism(mechanism).make_server(self._auth_info)

    def _auth_info(self, username: str):
        name = _scram_username(username)
        cred = self.users.get(name, self.mechanism)
        if cred is None:
            raise AuthenticationFailed(self._invalid())
        self._user = name
        return cred.auth_info()

    def _invalid(self) -> str:
        return (f"Authentication failed during authentication due to invalid credentials with SASL "
                f"mechanism {self.mechanism}")

    def _kafka_nonce(self, final: str) -> None:
        """Kafka's ScramSaslServer accepts a client-final nonce that merely *ends with* the server's
        (librdkafka 2.0 sends the client nonce twice, and signs that message); scramp wants it equal,
        so it is told that nonce, after the same endsWith check. The proof is still scramp's to verify."""
        nonce = str(self._server.nonce)
        for part in final.split(","):
            if part.startswith("r="):
                sent = part[2:]
                if sent != nonce and sent.endswith(nonce):
                    self._server.nonce = type(self._server.nonce)(sent)
                return

    def step(self, token: bytes) -> bytes:
        from scramp import ScramException

        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthenticationFailed(f"Invalid {self.mechanism} message: not UTF-8") from None
        try:
            if self._user is None:
                self._server.set_client_first(text)
                if self._user is None:
                    raise AuthenticationFailed(self._invalid())
                return self._server.get_server_first().encode()
            self._kafka_nonce(text)
            self._server.set_client_final(text)
            final = self._server.get_server_final().encode()
        except AuthenticationFailed:
            raise
        except ScramException as exc:
            log.debug("%s exchange failed: %s", self.mechanism, exc)
            if "proof" in str(exc).lower() or "key" in str(exc).lower():
                raise AuthenticationFailed(self._invalid()) from None
            raise AuthenticationFailed(f"Invalid {self.mechanism} message") from None
        except Exception as exc:
            log.debug("%s exchange failed: %r", self.mechanism, exc)
            raise AuthenticationFailed(f"Invalid {self.mechanism} message") from None
        self.done, self.principal = True, user(self._user)
        return final


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class UnsecuredOAuthExchange(Exchange):
    """Kafka's OAuthBearerUnsecuredValidatorCallbackHandler: alg none, principal from `sub`, `exp` honoured."""

    mechanism = OAUTHBEARER

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def step(self, token: bytes) -> bytes:
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid OAUTHBEARER client first message") from None
        parts = text.split("\x01")
        if len(parts) < 3 or not parts[0].startswith(("n,", "y,")) or parts[-1] != "" or parts[-2] != "":
            raise AuthenticationFailed("Invalid OAUTHBEARER client first message")
        kv = dict(p.split("=", 1) for p in parts[1:-2] if "=" in p)
        auth = kv.get("auth", "")
        if not auth.startswith("Bearer "):
            raise AuthenticationFailed("Invalid OAUTHBEARER client first message: no bearer token")
        self.principal = user(self._validate(auth[len("Bearer "):].strip()))
        self.done = True
        return b""

    def _validate(self, jwt: str) -> str:
        pieces = jwt.split(".")
        if len(pieces) != 3:
            raise AuthenticationFailed('{"status":"invalid_token"} (not a JWT: header.payload.signature)')
        try:
            header = json.loads(_b64url(pieces[0]))
            claims = json.loads(_b64url(pieces[1]))
        except (ValueError, binascii.Error):
            raise AuthenticationFailed('{"status":"invalid_token"} (undecodable JWT)') from None
        if not isinstance(header, dict) or header.get("alg") != "none" or not isinstance(claims, dict):
            raise AuthenticationFailed('{"status":"invalid_token"} (unsecured JWTs must have alg "none")')
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise AuthenticationFailed('{"status":"invalid_token"} (no principal claim "sub")')
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise AuthenticationFailed('{"status":"invalid_token"} (no expiration claim "exp")')
        if exp + _OAUTH_SKEW_S < self.clock():
            raise AuthenticationFailed('{"status":"invalid_token"} (the token has expired)')
        return sub


def new_exchange(mechanism: str, users: CredentialStore) -> Exchange:
    if mechanism == PLAIN:
        return PlainExchange(users)
    if mechanism in (SCRAM_SHA_256, SCRAM_SHA_512):
        return ScramExchange(mechanism, users)
    if mechanism == OAUTHBEARER:
        return UnsecuredOAuthExchange()
    raise ValueError(mechanism)
