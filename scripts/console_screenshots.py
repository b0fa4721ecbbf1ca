"""Screenshots of the web console for the README: docs/console/<page>.png at 1280×800.

    .venv/bin/python scripts/console_screenshots.py [--out docs/console] [--traffic-s 300]

Starts a broker on free ports with the data the browser tests use (JSON orders
with search on, text logs, Avro users with two schema versions, a group with
lag), produces steady traffic for --traffic-s seconds so the live charts have a
history, and photographs each page in headless Debian Chromium (Playwright,
executable_path). The broker is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.conftest import VIEWPORT, Console, chromium_path, seed  # noqa: E402
from tests.conftest import BrokerProcess, free_port  # noqa: E402

SHOTS = [  # file name, URL, page name, what to do before the picture
    ("overview", "/#/", "overview", None),
    ("topics", "/#/topics", "topics", None),
    ("topic", "/#/topics/orders", "topic", None),
    ("search", "/#/topics/orders", "topic", "search"),
    ("groups", "/#/groups", "groups", None),
    ("group", "/#/groups/billing", "group", None),
    ("schemas", "/#/schemas", "schemas", None),
    ("subject", "/#/schemas/users-avro-value", "subject", "diff"),
]


def traffic(c: Console, stop: threading.Event) -> None:
    """A few hundred JSON click records a second, and a consumer that keeps up, just."""
    from confluent_kafka import Consumer, Producer

    p = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 20})
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "shipping", "auto.offset.reset": "earliest"})
    cons.subscribe(["clicks"])  # about as fast as the producer: a lag that comes and goes
    i = 1000
    while not stop.is_set():
        for _ in range(40 + (i // 40) % 5 * 20):
            i += 1
            p.produce("clicks", key=f"session-{i % 97}",
                      value=json.dumps({"page": f"/products/{i % 31}", "ms": 20 + i % 180}))
        p.poll(0)
        cons.consume(90, timeout=0.05)
        time.sleep(0.2)
    p.flush(10)
    cons.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "docs" / "console"))
    ap.add_argument("--traffic-s", type=float, default=300.0)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="console-shots-"))
    http_port = free_port()
    b = BrokerProcess(data_dir=root / "data", port=free_port(),
                      extra_args=["--http-port", str(http_port), "--no-schema-registry-port"])
    b.start(30)
    stop = threading.Event()
    t: threading.Thread | None = None
    try:
        c = Console(b, http_port)
        seed(c)
        c.create_topic("clicks", 3)
        t = threading.Thread(target=traffic, args=(c, stop), daemon=True)
        t.start()
        time.sleep(args.traffic_s)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
            ctx = browser.new_context(base_url=c.url, viewport=VIEWPORT, timezone_id="UTC", locale="en-GB")
            page = ctx.new_page()
            for name, url, page_name, action in SHOTS:
                page.goto(url)
                page.locator(f'[data-testid="page-{page_name}"][data-loaded="true"]').wait_for(timeout=20_000)
                if action == "search":
                    page.fill("#search-query", "value.status:failed")
                    page.locator('[data-testid="search-submit"]').click()
                    page.locator('[data-testid="search-results"] [data-testid="message-row"]').first.wait_for()
                    page.locator('[data-testid="search-form"]').evaluate("e => e.scrollIntoView({block: 'start'})")
                elif action == "diff":
                    page.select_option("#diff-left", "1")
                    page.select_option("#diff-right", "2")
                    page.locator('[data-testid="diff-add"]').first.evaluate(
                        "e => e.scrollIntoView({block: 'center'})")
                page.wait_for_timeout(2500)  # let the live charts draw a few more points
                page.screenshot(path=str(out / f"{name}.png"))
                print(f"wrote {out / f'{name}.png'}")
            browser.close()
    finally:
        stop.set()
        if t is not None:
            t.join(30)  # the clients close before the broker stops
        b.stop()
        b.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
