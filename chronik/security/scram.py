"""SCRAM credentials: salted and hashed, never a clear password (RFC 5802 / Kafka's ScramCredential).

A credential is (salt, stored key, server key, iterations). It is made from
a password (`--sasl-user`, `chronik users create`) or from the salted
password an AlterUserScramCredentials request carries, and is all the
SCRAM exchange (scramp) and a PLAIN login need.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

# Kafka's mechanism codes in Describe/AlterUserScramCredentials.
MECHANISMS = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
BY_CODE = {v: k for k, v in MECHANISMS.items()}
_HASH = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
DEFAULT_ITERATIONS = 4096
MIN_ITERATIONS = 4096  # Kafka's ScramMechanism.minIterations
MAX_ITERATIONS = 16384


@dataclass(frozen=True)
class Credential:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    def to_json(self) -> dict:
        b64 = base64.b64encode
        return {"salt": b64(self.salt).decode(), "stored_key": b64(self.stored_key).decode(),
                "server_key": b64(self.server_key).decode(), "iterations": self.iterations}

    @classmethod
    def from_json(cls, d: dict) -> Credential:
        b = base64.b64decode
        return cls(b(d["salt"]), b(d["stored_key"]), b(d["server_key"]), int(d["iterations"]))

    def auth_info(self) -> tuple[bytes, bytes, bytes, int]:
        """What scramp's server `auth_fn` returns."""
        return self.salt, self.stored_key, self.server_key, self.iterations


def from_salted_password(mechanism: str, salt: bytes, salted: bytes, iterations: int) -> Credential:
    h = _HASH[mechanism]
    client_key = hmac.digest(salted, b"Client Key", h)
    stored_key = hashlib.new(h, client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", h)
    return Credential(salt, stored_key, server_key, iterations)


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(_HASH[mechanism], password.encode(), salt, iterations)


def from_password(mechanism: str, password: str, iterations: int = DEFAULT_ITERATIONS,
                  salt: bytes | None = None) -> Credential:
    salt = salt if salt is not None else os.urandom(32)
    return from_salted_password(mechanism, salt, salted_password(mechanism, password, salt, iterations),
                                iterations)


def verify_password(mechanism: str, cred: Credential, password: str) -> bool:
    """A PLAIN login checked against a stored SCRAM credential (constant time)."""
    again = from_salted_password(mechanism, cred.salt,
                                 salted_password(mechanism, password, cred.salt, cred.iterations), cred.iterations)
    return hmac.compare_digest(again.stored_key, cred.stored_key)


class CredentialStore:
    """user -> mechanism -> Credential, with a callback that persists the whole table."""

    def __init__(self, data: dict | None = None, save=None) -> None:
        self._users: dict[str, dict[str, Credential]] = {
            u: {m: Credential.from_json(c) for m, c in mechs.items()} for u, mechs in (data or {}).items()}
        self._save = save

    def to_json(self) -> dict:
        return {u: {m: c.to_json() for m, c in mechs.items()} for u, mechs in self._users.items()}

    def get(self, user: str, mechanism: str) -> Credential | None:
        return self._users.get(user, {}).get(mechanism)

    def users(self) -> dict[str, dict[str, Credential]]:
        return self._users

    def put(self, user: str, mechanism: str, cred: Credential, persist: bool = True) -> None:
        self._users.setdefault(user, {})[mechanism] = cred
        if persist:
            self.persist()

    def delete(self, user: str, mechanism: str, persist: bool = True) -> bool:
        mechs = self._users.get(user)
        if not mechs or mechanism not in mechs:
            return False
        del mechs[mechanism]
        if not mechs:
            del self._users[user]
        if persist:
            self.persist()
        return True

    def persist(self) -> None:
        if self._save is not None:
            self._save(self.to_json())

    def check_plain(self, user: str, password: str) -> bool:
        mechs = self._users.get(user, {})
        for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            cred = mechs.get(mech)
            if cred is not None:
                return verify_password(mech, cred, password)
        return False
