"""The console's HTTP app: its pages, its JSON API, sessions and the write guards.

Mounted on the admin port's router by the broker's start-up
(through chronik.console.mount.ConsoleMount), so it runs on the one
selectors loop through the sans-IO HTTP layer (chronik.http.protocol): a
route answers at once from memory, or later (a download built in slices, a
search collected from the search threads), never by waiting.

    GET  /  and /console            the page (index.html; hash routes inside)
    GET  /console/static/<file>     its CSS and JavaScript (package data)
    GET  /console/api/...           reads (the table is in chronik/console/__init__.py)
    POST /console/api/...           writes: same origin + CSRF token, not in read-only mode

Every request must name this broker in `Host` (DNS rebinding); a write
must also pass `sessions.check_write`; `--console-read-only` refuses every
write with 403 before any of that. Bad input is a 4xx JSON answer; a bug
is a 500 JSON answer with the traceback in the broker's log.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chronik import __version__
from chronik.console.api import ApiError, Call, Route
from chronik.console.decode import Decoder
from chronik.console.groups import GroupRoutes
from chronik.console.kafka_calls import ConsoleSecurity, KafkaCallError, http_status
from chronik.console.messages import Later, MessageRoutes
from chronik.console.mount import PAGE_PATHS, owns
from chronik.console.records import ReadError
from chronik.console.sampler import Sampler
from chronik.console.schemas import SchemaRoutes
from chronik.console.sessions import (
    CSRF_HEADER,
    ConsoleSession,
    Forbidden,
    Sessions,
    check_write,
    host_allowed,
    served_hosts,
)
from chronik.console.topics import TopicRoutes
from chronik.http.protocol import Request, Response, json_response
from chronik.security.principal import ANONYMOUS

if TYPE_CHECKING:
    from chronik.http.app import AdminApp

log = logging.getLogger("chronik.console")

READ_ONLY_MESSAGE = "the console is read-only (the broker runs with --console-read-only)"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
SECURITY_HEADERS = [
    ("content-security-policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
]
GZIP_MIN, GZIP_MAX = 2048, 1024 * 1024


def _gzipping(respond: Callable[[Response], None]) -> Callable[[Response], None]:
    """Compress JSON answers between GZIP_MIN and GZIP_MAX bytes (a chart's 15-minute history:
    ~250 KB -> ~25 KB, ~2 ms at level 1); larger ones (downloads) go as they are, never a long
    compression on the loop."""

    def send(resp: Response) -> None:
        body = resp.body if isinstance(resp.body, bytes) else b"".join(resp.body)
        if resp.content_type.startswith("application/json") and GZIP_MIN <= len(body) <= GZIP_MAX:
            resp.body = gzip.compress(body, 1, mtime=0)
            resp.headers += [("content-encoding", "gzip"), ("vary", "accept-encoding")]
        respond(resp)

    return send


class ConsoleApp:
    def __init__(self, admin: AdminApp, read_only: bool = False) -> None:
        self.admin = admin
        self.core = admin.core
        self.read_only = read_only
        self.sessions = Sessions(auth_required=self.core.authorizer is not None)
        self.sampler = Sampler(self.core, admin.scheduler)
        self.decoder = Decoder(self.core.registry)
        self._static: dict[str, tuple[bytes, str, bytes]] = {}
        self.routes: list[tuple[str, re.Pattern[str], Callable[[Call], Any], bool]] = []
        table: list[Route] = [
            ("GET", r"/console/api/session", self.session, False),
            ("POST", r"/console/api/login", self.login, False),
            ("POST", r"/console/api/logout", self.logout, False),
            ("GET", r"/console/api/overview", self.overview, False),
            ("GET", r"/console/api/overview/series", self.series, False),
            *TopicRoutes(self.sampler).routes(),
            *MessageRoutes(self.decoder, admin.scheduler, admin.search).routes(),
            *GroupRoutes(self.sampler).routes(),
            *SchemaRoutes().routes(),
        ]
        for method, pattern, fn, write in table:
            self.routes.append((method, re.compile(pattern), fn, write))

    owns = staticmethod(owns)

    def start(self) -> None:
        self.sampler.start()

    def close(self) -> None:
        self.sampler.stop()

    @property
    def security_host(self) -> str:
        served = served_hosts(self.admin.http_url)
        host = "127.0.0.1"
        if served:
            host = sorted(served)[0].rsplit(":", 1)[0].strip("[]")
        return host

    # -- the entry point --------------------------------------------------------------------
    def __call__(self, req: Request, respond: Callable[[Response], None]) -> None:
        if not host_allowed(req.header("host"), served_hosts(self.admin.http_url)):
            respond(self._json(403, ApiError(403, f"Host {req.header('host')!r} is not this broker's "
                                                  "console address").body()))
            return
        path = req.path
        if not path.startswith("/console/api/"):
            respond(self._page(req))
            return
        if "gzip" in (req.header("accept-encoding") or ""):
            respond = _gzipping(respond)
        try:
            result = self._api(req, path)
        except ApiError as exc:
            respond(self._json(exc.status, exc.body()))
            return
        except KafkaCallError as exc:
            respond(self._json(http_status(exc.code), ApiError(http_status(exc.code), exc.message, exc.name).body()))
            return
        except ReadError as exc:
            err = KafkaCallError(exc.code, exc.message)
            respond(self._json(http_status(exc.code), ApiError(http_status(exc.code), exc.message, err.name).body()))
            return
        except Exception:
            log.exception("console %s %s failed", req.method, path)
            respond(self._json(500, ApiError(500, "internal error (logged by the broker)").body()))
            return
        if isinstance(result, Later):
            def guarded(resp: Response) -> None:
                resp.headers.extend(SECURITY_HEADERS)
                resp.headers.append(("cache-control", "no-store"))
                respond(resp)

            try:
                result.start(guarded)
            except ApiError as exc:
                respond(self._json(exc.status, exc.body()))
            except Exception:
                log.exception("console %s %s failed", req.method, path)
                respond(self._json(500, ApiError(500, "internal error (logged by the broker)").body()))
            return
        if isinstance(result, Response):
            respond(result)
            return
        status, body = result if isinstance(result, tuple) else (200, result)
        respond(self._json(status, body))

    def _api(self, req: Request, path: str) -> Any:
        match = None
        allowed: list[str] = []
        for method, pattern, fn, write in self.routes:
            m = pattern.fullmatch(path.rstrip("/") or "/")
            if m is None:
                continue
            allowed.append(method)
            if method == req.method or (method == "GET" and req.method == "HEAD"):
                match = (fn, write, {k: unquote(v) for k, v in m.groupdict().items()})
                break
        if match is None:
            if allowed:
                raise ApiError(405, f"{req.method} is not allowed on {path} (use {', '.join(sorted(set(allowed)))})")
            raise ApiError(404, f"no console API at {path}")
        fn, write, params = match
        session = self.sessions.get(req.header("cookie"))
        if req.method == "POST":
            if write and self.read_only:
                raise ApiError(403, READ_ONLY_MESSAGE, "READ_ONLY")
            try:
                check_write(session, req.header(CSRF_HEADER), req.header("origin"), req.header("host"))
            except Forbidden as exc:
                raise ApiError(403, str(exc), "CSRF") from None
        if fn not in (self.session, self.login, self.logout):
            if self.sessions.auth_required and (session is None or session.principal is None):
                raise ApiError(401, "log in with a SASL user of this broker first", "UNAUTHENTICATED",
                               auth_required=True)
        if session is None:
            session = ConsoleSession("", "", ANONYMOUS)
        principal = session.principal or ANONYMOUS
        # ACL host matching sees the browser's address, as if it were the Kafka client.
        host = req.client_host or self.security_host
        c = Call(self.core, req, params, session,
                 ConsoleSecurity(principal, host, (self.core.config.advertised, self.core.config.port)))
        return fn(c)

    # -- sessions -----------------------------------------------------------------------------------
    def _session_body(self, s: ConsoleSession) -> dict[str, Any]:
        return {"version": __version__, "principal": s.principal, "auth_required": self.sessions.auth_required,
                "authenticated": s.principal is not None, "read_only": self.read_only, "csrf_token": s.csrf,
                "cluster_id": self.core.cluster_id}

    def session(self, c: Call) -> Any:
        s = self.sessions.get(c.request.header("cookie"))
        headers = []
        if s is None:
            s = self.sessions.new()
            headers.append(self.sessions.set_cookie(s))
        resp = self._json(200, self._session_body(s))
        resp.headers.extend(headers)
        return resp

    def login(self, c: Call) -> Any:
        body = c.body()
        user, password = body.get("username"), body.get("password")
        if not isinstance(user, str) or not user or not isinstance(password, str):
            raise ApiError(400, "give username and password")
        if not self.core.users.check_plain(user, password):
            raise ApiError(401, "wrong user name or password", "SASL_AUTHENTICATION_FAILED",
                           auth_required=self.sessions.auth_required)
        old = c.session
        if old.sid:
            self.sessions.drop(old)
        s = self.sessions.new()
        s.principal = f"User:{user}"
        resp = self._json(200, self._session_body(s))
        resp.headers.append(self.sessions.set_cookie(s))
        return resp

    def logout(self, c: Call) -> Any:
        if c.session.sid:
            self.sessions.drop(c.session)
        return {"logged_out": True}

    # -- overview ------------------------------------------------------------------------------------
    def overview(self, c: Call) -> Any:
        return {"status": self.admin.status(), "rates": self.sampler.latest(), "read_only": self.read_only}

    def series(self, c: Call) -> Any:
        since = c.int_arg("since", 0)
        return {"interval_ms": 1000, "points": self.sampler.series(since or 0)}

    # -- pages -----------------------------------------------------------------------------------------
    def _page(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return self._json(405, ApiError(405, f"{req.method} is not allowed on {req.path}").body())
        path = req.path
        if path == "/favicon.ico":
            return Response(204, b"", "image/x-icon", [("cache-control", "max-age=86400")])
        if path in PAGE_PATHS or path == "/console/":
            name = "index.html"
        elif path.startswith("/console/static/"):
            name = path[len("/console/static/"):]
        else:
            return self._json(404, ApiError(404, f"no console page at {path}").body())
        got = self._load(name)
        if got is None:
            return self._json(404, ApiError(404, f"no console file {name}").body())
        data, etag, packed = got
        ext = name[name.rfind("."):] if "." in name else ""
        headers = list(SECURITY_HEADERS)
        # Compressed once at first use: the overview's page weight is what goes over the wire.
        if "gzip" in (req.header("accept-encoding") or ""):
            data, etag = packed, etag[:-1] + '-gz"'
            headers.append(("content-encoding", "gzip"))
        headers += [("etag", etag), ("cache-control", "no-cache"), ("vary", "accept-encoding")]
        if req.header("if-none-match") == etag:
            return Response(304, b"", STATIC_TYPES.get(ext, "application/octet-stream"), headers)
        return Response(200, data, STATIC_TYPES.get(ext, "application/octet-stream"), headers)

    def _load(self, name: str) -> tuple[bytes, str, bytes] | None:
        if not re.fullmatch(r"[a-z0-9_-]+\.(html|css|js|svg)", name):
            return None
        got = self._static.get(name)
        if got is None:
            try:
                data = (resources.files("chronik.console") / "static" / name).read_bytes()
            except (FileNotFoundError, IsADirectoryError, OSError):
                return None
            got = self._static[name] = (data, '"' + hashlib.sha256(data).hexdigest()[:20] + '"',
                                        gzip.compress(data, 9, mtime=0))
        return got

    @staticmethod
    def _json(status: int, body: Any) -> Response:
        resp = json_response(status, body)
        resp.headers.extend(SECURITY_HEADERS)
        resp.headers.append(("cache-control", "no-store"))
        return resp
