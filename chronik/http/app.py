"""The admin HTTP app: a small router and the routes of the admin port.

    GET /metrics     Prometheus text format (chronik.http.metrics), built in
                     slices on the loop
    GET /healthz     200 while the process serves HTTP at all
    GET /readyz      200 once recovery is done and the Kafka listener serves,
                     503 before
    GET /v1/status   JSON: version, uptime, topics, partitions, data dir
                     size, connections

Mounted apps, by path prefix (`mount()`): the schema registry
(core.registry_app, Confluent's REST API: /subjects, /schemas, /config,
/mode, /compatibility) and search (core.search's SearchApp: /_search,
/{topic}/_search, /_cat/indices). Search runs in its worker threads; its
answer is collected on the loop by a short timer, never waited for.
Errors are JSON (`{"error": {"status": 404, "message": ...}}`). Nothing
here blocks the loop: the data directory's size is walked in a worker
thread at most every `DIR_SIZE_MAX_AGE` seconds and the last figure is
served with its age.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronik import __version__
from chronik.http.metrics import CONTENT_TYPE, LoopView, MetricsRenderer
from chronik.http.protocol import HttpConnection, Request, Response, error_response, import_h11, json_response

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore
    from chronik.broker.scheduler import Scheduler

log = logging.getLogger("chronik.http")

Handler = Callable[[Request, Callable[[Response], None]], None]
DIR_SIZE_MAX_AGE = 10.0
SEARCH_POLL_S = 0.002
REGISTRY_ROOTS = ("subjects", "schemas", "config", "mode", "compatibility")


def owned_by_registry(path: str) -> bool:
    return path.lstrip("/").split("/", 1)[0] in REGISTRY_ROOTS


def owned_by_search(path: str) -> bool:
    p = path.rstrip("/")
    return p.endswith("/_search") or p.startswith("/_cat/indices")
LOG_BYTES_MAX_AGE = 2.0
# h11 and prometheus_client are imported this long after start (see AdminApp.warm_up).
WARM_UP_AFTER_S = 1.0


class Router:
    def __init__(self) -> None:
        self.routes: dict[str, dict[str, Handler]] = {}
        # (does this path belong to the app?, handler): apps mounted by prefix
        self.mounts: list[tuple[Callable[[str], bool], Handler]] = []

    def mount(self, owns: Callable[[str], bool], handler: Handler) -> None:
        self.mounts.append((owns, handler))

    def route(self, path: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Handler], Handler]:
        def add(fn: Handler) -> Handler:
            table = self.routes.setdefault(path, {})
            for m in methods:
                table[m] = fn
                if m == "GET":
                    table["HEAD"] = fn
            return fn

        return add

    def __call__(self, req: Request, respond: Callable[[Response], None]) -> None:
        table = self.routes.get(req.path.rstrip("/") or "/")
        if table is None:
            for owns, handler in self.mounts:
                if owns(req.path):
                    handler(req, respond)
                    return
            respond(error_response(404, f"no route for {req.path}"))
            return
        fn = table.get(req.method)
        if fn is None:
            resp = error_response(405, f"{req.method} is not allowed on {req.path}")
            resp.headers.append(("allow", ", ".join(sorted(table))))
            respond(resp)
            return
        fn(req, respond)


class DirSize:
    """The data directory's size in bytes, walked off the loop and cached."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bytes: int | None = None
        self.files = 0
        self.at = 0.0
        self._running = False
        self._lock = threading.Lock()

    def get(self) -> tuple[int | None, float | None]:
        """(bytes, age in seconds) of the last walk; starts a new walk when stale."""
        now = time.monotonic()
        with self._lock:
            stale = self.bytes is None or now - self.at > DIR_SIZE_MAX_AGE
            if stale and not self._running:
                self._running = True
                threading.Thread(target=self._walk, name="dir-size", daemon=True).start()
            return self.bytes, (now - self.at if self.bytes is not None else None)

    def _walk(self) -> None:
        total = files = 0
        stack = [str(self.path)]
        try:
            while stack:
                d = stack.pop()
                try:
                    with os.scandir(d) as it:
                        for e in it:
                            try:
                                if e.is_dir(follow_symlinks=False):
                                    stack.append(e.path)
                                else:
                                    total += e.stat(follow_symlinks=False).st_blocks * 512
                                    files += 1
                            except OSError:
                                continue  # deleted under us
                except OSError:
                    continue
        finally:
            with self._lock:
                self.bytes, self.files, self.at, self._running = total, files, time.monotonic(), False


class AdminApp:
    def __init__(self, core: BrokerCore, loop: LoopView, scheduler: Scheduler, kafka_address: str,
                 http_url: str | None) -> None:
        self.core = core
        self.loop = loop
        self.scheduler = scheduler
        self.kafka_address = kafka_address
        self.http_url = http_url
        self.metrics = MetricsRenderer(core, loop, kafka_address)
        self.dir_size = DirSize(core.data_dir)
        self._log_bytes_cache: tuple[float, int] | None = None
        self._search_app: Any = None  # made on the first search request (it starts worker threads)
        self.router = Router()
        r = self.router
        r.route("/metrics")(self.get_metrics)
        r.route("/healthz")(self.get_healthz)
        r.route("/readyz")(self.get_readyz)
        r.route("/v1/status")(self.get_status)
        r.mount(owned_by_registry, self.registry)
        r.mount(owned_by_search, self.search)
        scheduler.call_later(WARM_UP_AFTER_S, self.warm_up)

    def warm_up(self) -> None:
        """Import what the first request and the first scrape need (~20-40 ms) soon after start-up,
        not during it (start-up to accepting connections) and not in the first scrape's loop time."""
        import_h11()
        _ = self.metrics.registry

    def connection(self) -> HttpConnection:
        """A protocol object for one HTTP connection (the server's StreamProtocol factory)."""
        return HttpConnection(self.router)

    def registry_connection(self) -> HttpConnection:
        """A connection of the schema registry's own port: every path is the registry's."""
        return HttpConnection(self.registry)

    # -- mounted apps ------------------------------------------------------------------
    def registry(self, req: Request, respond: Callable[[Response], None]) -> None:
        status, headers, body = self.core.registry_app.handle(
            req.method, req.path, req.query, dict(req.headers), req.body)
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
        respond(Response(status, body, ctype))

    def search(self, req: Request, respond: Callable[[Response], None]) -> None:
        if self._search_app is None:
            from chronik.search.api import SearchApp

            self._search_app = SearchApp(self.core.search)
        fut = self._search_app.submit(req.method, req.path, req.query, dict(req.headers), req.body)

        def collect() -> None:
            # The query runs in search's threads; the loop looks for the answer, never waits.
            if not fut.done():
                self.scheduler.call_later(SEARCH_POLL_S, collect)
                return
            try:
                status, headers, body = fut.result()
            except Exception:
                log.exception("search request failed")
                respond(error_response(500, "search failed"))
                return
            ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
            respond(Response(status, body, ctype))

        collect()

    # -- routes ------------------------------------------------------------------
    def get_healthz(self, req: Request, respond: Callable[[Response], None]) -> None:
        respond(json_response(200, {"status": "ok"}))

    def get_readyz(self, req: Request, respond: Callable[[Response], None]) -> None:
        failing = self.core.storage.failing
        if self.core.ready and failing:
            # A full disk: the broker answers, but writes fail (KAFKA_STORAGE_ERROR) until space returns.
            respond(json_response(503, {"status": "storage", "message": "writes are failing: " + "; ".join(
                f"{what}: {why}" for what, why in sorted(failing.items()))}))
        elif self.core.ready:
            respond(json_response(200, {"status": "ready"}))
        else:
            respond(json_response(503, {"status": "starting", "message": "recovery is not finished"}))

    def get_status(self, req: Request, respond: Callable[[Response], None]) -> None:
        respond(json_response(200, self.status()))

    def _log_bytes(self) -> int:
        """Bytes in the partition logs (from memory; cached for LOG_BYTES_MAX_AGE: O(partitions))."""
        now = time.monotonic()
        if self._log_bytes_cache is None or now - self._log_bytes_cache[0] > LOG_BYTES_MAX_AGE:
            total = 0
            for t in self.core.topics.values():
                for plog in t.partitions:
                    if not plog.closed:
                        total += plog.size_bytes()
            self._log_bytes_cache = (now, total)
        return self._log_bytes_cache[1]

    def status(self) -> dict[str, Any]:
        core = self.core
        partitions = sum(len(t.partitions) for t in core.topics.values())
        log_bytes = self._log_bytes()
        dir_bytes, age = self.dir_size.get()
        loop = self.loop
        return {
            "version": __version__,
            "node_id": core.config.node_id,
            "cluster_id": core.cluster_id,
            "uptime_seconds": round(time.monotonic() - loop.started, 3),
            "ready": core.ready,
            "kafka": self.kafka_address,
            "http": self.http_url,
            "data_dir": str(core.data_dir),
            "topics": len(core.topics),
            "partitions": partitions,
            "log_bytes": log_bytes,
            "data_dir_bytes": dir_bytes,
            "data_dir_bytes_age_seconds": None if age is None else round(age, 3),
            "groups": sum(1 for g in core.groups.groups.values() if g.state.value != "Dead"),
            "connections": {
                "kafka": loop.connections_open,
                "http": loop.stream_connections,
                "accepted": loop.accepted_total,
                "closed": loop.closed_total,
            },
        }

    def get_metrics(self, req: Request, respond: Callable[[Response], None]) -> None:
        steps = self.metrics.steps()

        def run() -> None:
            try:
                next(steps)
            except StopIteration as stop:
                respond(Response(200, stop.value, CONTENT_TYPE))
                return
            except Exception:
                respond(error_response(500, "metrics failed (logged by the broker)"))
                raise
            self.scheduler.call_later(0, run)

        run()
