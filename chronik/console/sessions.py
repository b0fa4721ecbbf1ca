"""Who is using the console, and whether a request may change anything.

A browser gets a session (a random id in an HttpOnly, SameSite=Strict
cookie) with its own CSRF token. Without an authorizer every session is
`User:ANONYMOUS`, as a PLAINTEXT Kafka client would be; with one, a session
has no principal until its user logs in with a SASL user and password,
checked against the broker's SCRAM credentials (the ones `--sasl-user` and
`chronik users` make), and then acts as `User:<name>`.

A write must be a POST with the session's token in `X-CSRF-Token`, an
`Origin` (when the browser sends one) equal to the page's own, and a `Host`
the broker serves (DNS rebinding: another site's name pointing at
127.0.0.1 is refused even for reads).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chronik.security.principal import ANONYMOUS

COOKIE = "chronik_console"
CSRF_HEADER = "x-csrf-token"
MAX_SESSIONS = 1000
SESSION_IDLE_S = 12 * 3600


@dataclass(slots=True)
class ConsoleSession:
    sid: str
    csrf: str
    principal: str | None  # None: must log in first
    last_used: float = field(default_factory=time.monotonic)


class Forbidden(Exception):
    pass


class Sessions:
    def __init__(self, auth_required: bool) -> None:
        self.auth_required = auth_required
        self._by_id: OrderedDict[str, ConsoleSession] = OrderedDict()

    def get(self, cookie_header: str | None) -> ConsoleSession | None:
        sid = cookie_value(cookie_header, COOKIE)
        s = self._by_id.get(sid) if sid else None
        if s is None:
            return None
        now = time.monotonic()
        if now - s.last_used > SESSION_IDLE_S:
            del self._by_id[s.sid]
            return None
        s.last_used = now
        self._by_id.move_to_end(s.sid)
        return s

    def new(self) -> ConsoleSession:
        s = ConsoleSession(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                           None if self.auth_required else ANONYMOUS)
        self._by_id[s.sid] = s
        while len(self._by_id) > MAX_SESSIONS:
            self._by_id.popitem(last=False)
        return s

    def drop(self, s: ConsoleSession) -> None:
        self._by_id.pop(s.sid, None)

    @staticmethod
    def set_cookie(s: ConsoleSession) -> tuple[str, str]:
        return ("set-cookie", f"{COOKIE}={s.sid}; Path=/; HttpOnly; SameSite=Strict")


def cookie_value(header: str | None, name: str) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        k, sep, v = part.strip().partition("=")
        if sep and k == name:
            return v
    return None


def host_allowed(host_header: str | None, served: set[str] | None) -> bool:
    """`served` None: the port is bound to a wildcard address, any name may reach it."""
    if served is None:
        return True
    return bool(host_header) and host_header.lower() in served


def served_hosts(http_url: str | None) -> set[str] | None:
    """Host header values that name this broker's admin port."""
    if not http_url:
        return None
    parts = urlsplit(http_url)
    host, port = parts.hostname or "", parts.port
    if host in ("0.0.0.0", "::", ""):
        return None
    names = {host}
    if host in ("127.0.0.1", "localhost", "::1"):
        names |= {"127.0.0.1", "localhost", "::1"}
    out = set()
    for n in names:
        shown = f"[{n}]" if ":" in n else n
        out.add(f"{shown}:{port}".lower())
        if port == 80:
            out.add(shown.lower())
    return out


def check_write(s: ConsoleSession | None, token: str | None, origin: str | None, host: str | None) -> None:
    """Raise Forbidden unless this POST comes from our own page of this session."""
    if s is None:
        raise Forbidden("no console session: load the console page first (GET /console/api/session)")
    if origin is not None and origin != "null":
        o = urlsplit(origin)
        if o.scheme not in ("http", "https") or (o.netloc or "").lower() != (host or "").lower():
            raise Forbidden(f"cross-origin request refused (Origin {origin} is not this console)")
    elif origin == "null":
        raise Forbidden("cross-origin request refused (Origin null)")
    if not token or not hmac.compare_digest(token, s.csrf):
        raise Forbidden("missing or wrong CSRF token (header X-CSRF-Token)")
