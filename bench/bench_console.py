"""What the web console costs: page weight, time to first render, produce with the console open.

    python bench/bench_console.py [--mb 1000] [--samples 5] [--loads 5] [--json bench/results/console.json]

Starts one broker (`chronik integrated`, admin port on a free port) and one
headless Debian Chromium driven by Playwright (executable_path, no download),
then measures:

- page weight: bytes transferred (response headers + encoded bodies, from
  Playwright's requestfinished events) for a cold load of the overview until
  its first data is drawn, per URL; the same with a full 15-minute chart
  history (the charts' first answer carries the history so far: extrapolated
  from its bytes per point); and what the open overview then fetches per
  second (its live charts);
- time to first render: First Contentful Paint and the time until the
  overview shows its first data (performance.now() when its root gets
  data-loaded), median of --loads cold loads, each in a fresh browser context;
- produce with the console open vs closed: --mb MiB of 1 KiB records with
  confluent-kafka (acks=all, linger 5 ms, as bench/workloads.py) into a busy
  topic (a fresh one each sample, deleted after it), alternating closed /
  open (the topic's page open with live tail on), --samples of each; client
  MB/s and broker CPU seconds per GB (utime+stime from /proc/PID/stat).
  "Closed" keeps the browser running on about:blank so both legs share the
  machine alike. Target: open within 5 % of closed. A sample is ~0.6 s of
  broker CPU per GiB and /proc counts 10 ms ticks, so samples under ~1 GiB
  cannot resolve 5 % (hence --mb 1000). Also printed: the median of each
  open sample against the closed one just before it.

Prints a table and writes JSON. Numbers, not asserts (bench/README.md). The
broker is stopped by its PID.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.targets import cpu_seconds, free_port  # noqa: E402
from bench.workloads import produce_all  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHRONIK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
RECORD = 1024


def start_broker(tmp: Path) -> tuple[subprocess.Popen, str, str]:
    port, http_port = free_port(), free_port()
    log_path = tmp / "broker.log"
    args = [sys.executable, "-m", "chronik", "integrated", "-p", str(port), "-d", str(tmp / "data"),
            "--http-port", str(http_port), "--no-schema-registry-port", "--log-level", "warning"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 30
    while "listening on" not in log_path.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(log_path.read_text(errors="replace"))
        time.sleep(0.05)
    return proc, f"127.0.0.1:{port}", f"http://127.0.0.1:{http_port}"


def produce(bootstrap: str, topic: str, mb: int) -> float:
    """MB/s (10^6 bytes of payload) for `mb` MiB of 1 KiB records, first produce to last ack."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "batch.size": 1_000_000,
                  "queue.buffering.max.kbytes": 1 << 20, "log_level": 0})
    value = b"x" * RECORD
    n = mb * 1024 * 1024 // RECORD
    t0 = time.perf_counter()
    produce_all(p, topic, value, n)
    left = p.flush(300)
    if left:
        raise RuntimeError(f"{left} records not acknowledged")
    return n * RECORD / (time.perf_counter() - t0) / 1e6


def seed(bootstrap: str) -> None:
    """Some realistic state for the pages: topics with records, a group with lag."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("busy", 1, 1), NewTopic("orders", 3, 1)]).values():
        f.result(15)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(300):
        p.produce("orders", key=f"order-{i}", value=json.dumps({"order": i, "amount": i * 3}))
    p.flush(30)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "billing", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["orders"])
    got = 0
    deadline = time.monotonic() + 30
    while got < 100 and time.monotonic() < deadline:
        got += len([m for m in c.consume(100 - got, 0.5) if m.error() is None])
    c.commit(asynchronous=False)
    c.close()


class Transfer:
    """Bytes on the wire per finished request (headers + encoded body), from Playwright's events."""

    def __init__(self, page) -> None:
        self.rows: list[tuple[float, str, int]] = []
        page.on("requestfinished", self.finished)

    def finished(self, req) -> None:
        try:
            s = req.sizes()
        except Exception:
            return
        self.rows.append((time.monotonic(), req.url, s["responseHeadersSize"] + max(s["responseBodySize"], 0)))

    def total(self, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(n for t, _, n in self.rows if since <= t <= until)


def load_overview(browser, url: str) -> dict:
    """One cold load of the overview in a fresh context: weight and timings."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    transfer = Transfer(page)
    try:
        page.goto(url + "/")
        page.wait_for_function("() => document.querySelector('[data-testid=page-overview][data-loaded=true]')",
                               polling="raf")
        data_ms = page.evaluate("performance.now()")
        page.wait_for_timeout(300)  # requests already in flight finish
        loaded_at = time.monotonic()
        initial = transfer.total()
        fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null")
        page.wait_for_timeout(10_000)  # the live charts poll while the page stays open
        per_s = transfer.total(since=loaded_at) / ((time.monotonic() - loaded_at) or 1)
        by_url: dict[str, int] = {}
        for t, u, n in transfer.rows:
            if t <= loaded_at:
                path = u.split("?")[0].split("/", 3)[-1] or "/"
                by_url[path] = by_url.get(path, 0) + n
        return {"initial_bytes": initial, "requests": sum(1 for t, _, _ in transfer.rows if t <= loaded_at),
                "fcp_ms": fcp, "data_ms": data_ms, "open_bytes_per_s": per_s, "by_url": by_url}
    finally:
        ctx.close()


SERIES = "console/api/overview/series"
SERIES_POINTS = 900  # 15 minutes at one point a second


def series_size(url: str) -> tuple[int, int]:
    """(points, bytes on the wire as a browser gets it) of the overview's whole chart history now."""
    import urllib.request

    req = urllib.request.Request(f"{url}/{SERIES}?since=0", headers={"accept-encoding": "gzip, deflate, br"})
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        body = gzip.decompress(raw) if r.headers.get("content-encoding") == "gzip" else raw
    return max(len(json.loads(body)["points"]), 1), len(raw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1000, help="MiB per produce sample")
    ap.add_argument("--samples", type=int, default=5, help="produce samples per leg (closed, open)")
    ap.add_argument("--loads", type=int, default=5, help="cold loads of the overview")
    ap.add_argument("--json", default=str(REPO / "bench" / "results" / "console.json"))
    args = ap.parse_args()
    from confluent_kafka.admin import AdminClient, NewTopic
    from playwright.sync_api import sync_playwright

    out: dict = {"machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
                 "plan": {"mb": args.mb, "samples": args.samples, "loads": args.loads, "record": RECORD}}
    with tempfile.TemporaryDirectory(prefix="bench-console-") as d:
        proc, bootstrap, url = start_broker(Path(d))
        pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            seed(bootstrap)
            loads = [load_overview(browser, url) for _ in range(args.loads)]
            out["overview_loads"] = loads
            out["page_weight_kb"] = statistics.median(x["initial_bytes"] for x in loads) / 1024
            out["open_kb_per_s"] = statistics.median(x["open_bytes_per_s"] for x in loads) / 1024
            out["fcp_ms"] = statistics.median(x["fcp_ms"] for x in loads if x["fcp_ms"] is not None)
            out["first_data_ms"] = statistics.median(x["data_ms"] for x in loads)
            # the charts' first answer carries the history so far (up to 15 min): what it weighs when full
            points, series_bytes = series_size(url)
            last = loads[-1]
            out["series"] = {"points": points, "bytes": series_bytes, "bytes_per_point": series_bytes / points}
            out["page_weight_full_history_kb"] = (last["initial_bytes"] - last["by_url"].get(SERIES, 0)
                                                  + SERIES_POINTS * series_bytes / points) / 1024

            ctx = browser.new_context(viewport={"width": 1280, "height": 800})
            page = ctx.new_page()
            admin = AdminClient({"bootstrap.servers": bootstrap})
            produce(bootstrap, "busy", 1)  # warm: connection, metadata, first segment
            samples: dict[str, list[dict]] = {"closed": [], "open": []}
            for i in range(args.samples * 2):
                leg = ("closed", "open")[i % 2]
                # a fresh topic a sample, deleted after it: GBs of dirty pages would otherwise bring the
                # kernel's writeback throttling in halfway (broker CPU/GB tripled in both legs at ~5 GB)
                topic = f"busy-{i}"
                admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
                produce(bootstrap, topic, 1)
                if leg == "open":
                    page.goto(f"{url}/#/topics/{topic}")
                    page.wait_for_selector("[data-testid=page-topic][data-loaded=true]")
                    page.check("#tail")
                cpu0 = cpu_seconds(proc.pid)
                mbs = produce(bootstrap, topic, args.mb)
                cpu = cpu_seconds(proc.pid) - cpu0
                page.goto("about:blank")
                admin.delete_topics([topic])[topic].result(30)
                samples[leg].append({"mb_per_s": mbs, "cpu_s_per_gb": cpu / (args.mb * 1024 * 1024 / 1e9)})
                print(f"  {leg:<6} {mbs:7.1f} MB/s  {samples[leg][-1]['cpu_s_per_gb']:6.2f} CPU s/GB", flush=True)
            ctx.close()
            browser.close()
        finally:
            pw.stop()
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    out["produce"] = samples
    med = {leg: {k: statistics.median(s[k] for s in rows) for k in ("mb_per_s", "cpu_s_per_gb")}
           for leg, rows in samples.items()}
    out["produce_median"] = med
    out["open_vs_closed"] = {"mb_per_s": med["open"]["mb_per_s"] / med["closed"]["mb_per_s"] - 1,
                             "cpu_s_per_gb": med["open"]["cpu_s_per_gb"] / med["closed"]["cpu_s_per_gb"] - 1}
    # each open sample against the closed one just before it: robust to drift over the run
    pairs = list(zip(samples["closed"], samples["open"], strict=False))
    out["open_vs_closed_paired"] = {k: statistics.median(o[k] / c[k] - 1 for c, o in pairs)
                                    for k in ("mb_per_s", "cpu_s_per_gb")}
    out["machine"]["loadavg_after"] = os.getloadavg()

    print()
    print(f"{'figure':<44} {'value':>12}")
    print(f"{'overview page weight (cold load, KB)':<44} {out['page_weight_kb']:>12.1f}")
    print(f"{'  with a full 15-min chart history (KB)':<44} {out['page_weight_full_history_kb']:>12.1f}")
    print(f"{'overview open: live updates (KB/s)':<44} {out['open_kb_per_s']:>12.2f}")
    print(f"{'first contentful paint (ms, median)':<44} {out['fcp_ms']:>12.0f}")
    print(f"{'first data drawn (ms, median)':<44} {out['first_data_ms']:>12.0f}")
    for leg in ("closed", "open"):
        print(f"{'produce 1 KiB, console ' + leg + ' (MB/s)':<44} {med[leg]['mb_per_s']:>12.1f}")
        print(f"{'broker CPU s/GB, console ' + leg:<44} {med[leg]['cpu_s_per_gb']:>12.2f}")
    ovc = out["open_vs_closed"]
    print(f"{'open vs closed, MB/s':<44} {ovc['mb_per_s']:>+12.1%}  (target: no worse than -5 %: "
          f"{'met' if ovc['mb_per_s'] >= -0.05 else 'missed'})")
    print(f"{'open vs closed, broker CPU s/GB':<44} {ovc['cpu_s_per_gb']:>+12.1%}  (target: no worse than +5 %: "
          f"{'met' if ovc['cpu_s_per_gb'] <= 0.05 else 'missed'})")
    paired = out["open_vs_closed_paired"]
    print(f"{'  paired (median of open/previous closed), MB/s':<44} {paired['mb_per_s']:>+12.1%}")
    print(f"{'  paired, broker CPU s/GB':<44} {paired['cpu_s_per_gb']:>+12.1%}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
