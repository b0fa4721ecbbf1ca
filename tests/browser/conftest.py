"""The web console in real headless Chromium: a broker with seeded data, a browser per module.

Debian's `chromium` (apt-get install chromium) driven by the `playwright` package
with `executable_path` — Playwright never downloads a browser here. axe-core comes
from npm into tests/browser/node_modules (`npm install --prefix tests/browser`).
One broker with seeded data serves the whole session, one browser each module; tests use
their own topic and group names beyond the seeded ones. Where Chromium or axe-core
is missing the tests skip and say what to install; under CI (CI=true) they fail
instead, since .ci/run installs both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess, free_port

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}

# Record timestamps the pages show: yesterday at a whole hour, so retention (7 days on "orders") keeps them
T0 = (int(time.time()) // 3600 - 24) * 3600 * 1000

USER_AVRO = json.dumps({"type": "record", "name": "User", "namespace": "shop", "fields": [
    {"name": "name", "type": "string"}, {"name": "age", "type": "int"},
    {"name": "email", "type": ["null", "string"], "default": None}]})
USER_AVRO_V2 = json.dumps({"type": "record", "name": "User", "namespace": "shop", "fields": [
    {"name": "name", "type": "string"}, {"name": "age", "type": "int"},
    {"name": "email", "type": ["null", "string"], "default": None},
    {"name": "country", "type": "string", "default": "FR"}]})


def missing(what: str) -> None:
    """Skip with the reason, or fail under CI where .ci/run must have installed it."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI installs it in .ci/run)")
    pytest.skip(what)


def chromium_path() -> str:
    path = os.environ.get("CHRONIK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        missing("Debian's chromium is not installed: apt-get install chromium")
    return path


def orders(n: int = 40) -> list[dict]:
    """JSON orders on 2 partitions: record i on partition i % 2 at offset i // 2."""
    out = []
    for i in range(n):
        v = {"order": i, "user": f"user{i % 5}", "status": "failed" if i % 4 == 0 else "shipped",
             "amount": i * 10, "note": f"payment failed for order {i}" if i % 4 == 0 else f"order {i} shipped"}
        out.append({"partition": i % 2, "key": f"order-{i}", "value": json.dumps(v),
                    "headers": [("trace-id", f"trace-{i}".encode()), ("source", b"checkout")],
                    "timestamp": T0 + i * 1000})
    return out


@dataclass
class Console:
    """A running broker with its console; `url` is the console's root."""

    broker: BrokerProcess
    http_port: int

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def registry_url(self) -> str:
        return self.url  # the registry is mounted on the admin port too

    def admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, topic: str, partitions: int = 1, **configs: str) -> None:
        from confluent_kafka.admin import NewTopic

        admin = self.admin()  # kept alive until the result: a dropped AdminClient cancels its futures
        admin.create_topics([NewTopic(topic, partitions, 1, config=configs)])[topic].result(15)

    def produce(self, topic: str, records: list[dict]) -> None:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        for r in records:
            p.produce(topic, value=r.get("value"), key=r.get("key"), partition=r.get("partition", -1),
                      headers=r.get("headers"), timestamp=r.get("timestamp", 0))
        assert p.flush(20) == 0

    def consume(self, topic: str, expected: int, group: str | None = None, commit: bool = False,
                timeout: float = 30.0) -> list:
        """Read `expected` records (from the start unless the group has committed offsets)."""
        from confluent_kafka import Consumer

        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group or f"g-{uuid.uuid4().hex[:8]}",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        out: list = []
        deadline = time.monotonic() + timeout
        try:
            while len(out) < expected and time.monotonic() < deadline:
                for m in c.consume(min(100, expected - len(out)), timeout=0.5):
                    if m.error() is None:
                        out.append(m)
            if commit and out:
                c.commit(asynchronous=False)
        finally:
            c.close()
        return out

    def search_docs(self, topic: str) -> int:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/_cat/indices/{topic}?format=json", timeout=10) as r:
                rows = json.loads(r.read())
        except OSError:
            return -1
        return int(rows[0]["docs.count"]) if rows and rows[0].get("lag") == "0" else -1

    def wait_indexed(self, topic: str, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.search_docs(topic) == count:
                return
            time.sleep(0.1)
        raise AssertionError(f"the index of {topic} did not reach {count} docs")


def seed(c: Console) -> None:
    """Realistic data: JSON orders (indexed), plain text logs (not indexed), Avro users, groups with lag."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    c.create_topic("orders", 2, **{"chronik.search.enable": "true", "retention.ms": "604800000"})
    c.produce("orders", orders())
    c.create_topic("app-logs", 3, **{"cleanup.policy": "delete"})
    c.produce("app-logs", [{"key": f"host-{i % 3}", "value": f"GET /api/items/{i} 200 {i * 3} ms",
                            "timestamp": T0 + i * 500} for i in range(60)])
    c.create_topic("users-avro", 1, **{"cleanup.policy": "compact"})
    sr = SchemaRegistryClient({"url": c.registry_url})
    sr.register_schema("users-avro-value", Schema(USER_AVRO, "AVRO"))
    sr.register_schema("users-avro-value", Schema(USER_AVRO_V2, "AVRO"))
    ser = AvroSerializer(sr, USER_AVRO_V2, conf={"auto.register.schemas": False, "use.latest.version": True})
    ctx = SerializationContext("users-avro", MessageField.VALUE)
    c.produce("users-avro", [{"key": f"u{i}", "value": ser({"name": name, "age": 30 + i, "email": None,
                                                            "country": "FR"}, ctx),
                              "timestamp": T0 + i}
                             for i, name in enumerate(["alice", "bob", "carol"])])
    # "billing" read 10 of 40 orders and left: an empty group with lag 30
    got = c.consume("orders", 10, group="billing", commit=True)
    assert len(got) == 10, len(got)


@pytest.fixture(scope="session")
def console_factory(tmp_path_factory) -> Iterator:
    """Start brokers with the console on a free admin port; all stopped by PID at the end."""
    started: list[BrokerProcess] = []

    def make(*args: str) -> Console:
        http_port = free_port()
        root = tmp_path_factory.mktemp("console")
        b = BrokerProcess(data_dir=root / "data", port=free_port(),
                          extra_args=["--http-port", str(http_port), "--no-schema-registry-port",
                                      "--partitions", "1", *args])
        started.append(b)
        b.start(30)
        return Console(b, http_port)

    yield make
    for b in started:
        b.stop()
        b.kill()


@pytest.fixture(scope="session")
def console(console_factory) -> Console:
    """One broker with seeded data (see seed()); tests add their own topics and groups."""
    c = console_factory()
    seed(c)
    c.wait_indexed("orders", 40)
    return c


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium for one module. Not for the session: while Playwright's sync API runs, its
    asyncio loop is the thread's running loop, and later tests calling asyncio.run() would fail."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed: pip install -e '.[test]'")
    pw = sync_playwright().start()
    try:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        b = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


class PageLog:
    """What a page said: console errors and uncaught exceptions."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


@pytest.fixture
def page(browser, console) -> Iterator:
    """A fresh browser context on the console (base URL set, 1280×800); `page.log.errors` collects errors."""
    ctx = browser.new_context(base_url=console.url, viewport=VIEWPORT, timezone_id="UTC", locale="en-GB")
    ctx.set_default_timeout(15_000)
    p = ctx.new_page()
    p.log = PageLog()
    p.log.attach(p)
    try:
        yield p
    finally:
        ctx.close()


PAGES = {  # page name (its root's data-testid is page-<name>) -> URL
    "overview": "/#/",
    "topics": "/#/topics",
    "topic": "/#/topics/orders",
    "groups": "/#/groups",
    "group": "/#/groups/billing",
    "schemas": "/#/schemas",
    "subject": "/#/schemas/users-avro-value",
}


def open_page(page, url: str, name: str):
    """Go to a console URL and wait until the page has rendered its first data; its root element."""
    page.goto(url)
    root = page.locator(f'[data-testid="page-{name}"][data-loaded="true"]')
    root.wait_for()
    return root


def tid(page_or_locator, testid: str):
    return page_or_locator.locator(f'[data-testid="{testid}"]')


def number(text: str) -> float:
    """The number a cell shows ("1,234", "30", "2.5 KB" -> 1234, 30, 2.5)."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", text)
    assert m, f"no number in {text!r}"
    return float(m.group(0).replace(",", ""))


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run axe-core in the page; the violations of those impacts, each with its nodes' selectors."""
    if not AXE_JS.exists():
        missing("axe-core is not installed: npm install --prefix tests/browser")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated over the DevTools protocol: the console's Content-Security-Policy (script-src 'self')
        # rightly refuses an injected <script> tag, and the test must not weaken it
        page.evaluate(AXE_JS.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in impacts]
