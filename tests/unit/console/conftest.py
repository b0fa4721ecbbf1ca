"""A real BrokerCore and AdminApp with the console mounted, driven request by request (no sockets)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.console.app import ConsoleApp
from chronik.http.app import AdminApp
from chronik.http.protocol import Request, Response

URL = "http://127.0.0.1:9644"
HOST = "127.0.0.1:9644"


class Scheduler:
    """Timers kept in a list; `run_due()` fires what is due (tests advance nothing by sleeping)."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, object]] = []

    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def call_later(self, delay, fn):
        self.timers.append((delay, fn))
        return None

    def run_zero(self, rounds: int = 10_000) -> None:
        """Run the timers at 0 s (slices of a download, search polls) until none is left."""
        for _ in range(rounds):
            now = [t for t in self.timers if t[0] <= 0.01]
            if not now:
                return
            self.timers = [t for t in self.timers if t[0] > 0.01]
            for _, fn in now:
                fn()


@dataclass
class Loop:
    started: float = time.monotonic()
    connections_open: int = 0
    stream_connections: int = 1
    accepted_total: int = 0
    closed_total: int = 0


class Client:
    def __init__(self, console: ConsoleApp, scheduler: Scheduler) -> None:
        self.console = console
        self.scheduler = scheduler
        self.cookie: str | None = None
        self.csrf: str | None = None

    def request(self, method: str, target: str, body: object = None, headers: dict | None = None,
                wait: float = 10.0) -> Response:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(target)
        hdrs = {"host": HOST}
        if self.cookie:
            hdrs["cookie"] = self.cookie
        hdrs.update(headers or {})
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        req = Request(method, target, parts.path, parse_qs(parts.query),
                      [(k.lower(), v) for k, v in hdrs.items() if v is not None], raw)
        got: list[Response] = []
        self.console(req, got.append)
        deadline = time.monotonic() + wait
        while not got and time.monotonic() < deadline:
            self.scheduler.run_zero()
            if not got:
                time.sleep(0.005)
        assert got, f"no answer to {method} {target}"
        return got[0]

    def get(self, target: str, **kw) -> tuple[int, object]:
        r = self.request("GET", target, **kw)
        return r.status, _json(r)

    def post(self, target: str, body: object = None, token: bool = True, origin: str | None = URL,
             headers: dict | None = None) -> tuple[int, object]:
        h = {"content-type": "application/json", "origin": origin}
        if token:
            h["x-csrf-token"] = self.csrf
        h.update(headers or {})
        r = self.request("POST", target, body if body is not None else {}, h)
        return r.status, _json(r)

    def login_session(self) -> dict:
        r = self.request("GET", "/console/api/session")
        cookie = dict(r.headers).get("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        out = _json(r)
        self.csrf = out["csrf_token"]
        return out


def _json(r: Response):
    raw = r.body if isinstance(r.body, bytes) else b"".join(r.body)
    if r.content_type.startswith("application/json"):
        return json.loads(raw)
    return raw


def make(tmp_path: Path, read_only: bool = False, **config) -> tuple[BrokerCore, ConsoleApp, Client]:
    sched = Scheduler()
    core = BrokerCore(BrokerConfig(data_dir=tmp_path / "data", **config), sched)
    admin = AdminApp(core, Loop(), sched, "127.0.0.1:9092", URL)
    console = ConsoleApp(admin, read_only=read_only)
    return core, console, Client(console, sched)


@pytest.fixture
def env(tmp_path: Path):
    core, console, client = make(tmp_path)
    client.login_session()
    yield core, console, client
    core.close()
