"""What /metrics costs: scrape time at 10,000 partitions, and the produce p99 while scraped every second.

    python bench/bench_metrics.py                 # both legs, ~2 min on 2 cores
    python bench/bench_metrics.py --partitions 1000 --seconds 5   # quicker

1. Scrape time (in-process, no HTTP): a BrokerCore on a temp dir with
   `--partitions` partitions (100 topics), one record in every partition
   and a consumer group with a committed offset on every partition, so each
   per-partition family and the group families are full. We time the whole
   scrape (MetricsRenderer.render) and, separately, the longest slice the
   loop is held for when the scrape runs in slices (MetricsRenderer.steps,
   as /metrics does). Target: scrape < 250 ms.
2. Produce p99: a real broker holding the same number of partitions;
   confluent-kafka produces 1 KiB records at a fixed 1,000 msgs/s
   (acks=all, linger.ms=0) to one of them for `--seconds`, latency =
   delivery callback - produce(). Legs alternate: without a scraper, then
   with a thread that GETs /metrics every second; `--rounds` of each.
   Target: p99 rises by < 1 ms.
3. Sending the answer (in-process, real sockets): the scrape's body is
   served by the loop's HTTP code (HttpConnection over a StreamTransport)
   to curl, and every call the loop makes for it is timed: the longest one
   is how long a Kafka request arriving meanwhile can wait because of it,
   the sum what it costs the loop. Load-robust where leg 2 is not (on a
   busy machine p99 is the machine's, not the scrape's): the thread CPU
   time of each call is reported beside its wall time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- leg 1: scrape time in-process ---------------------------------------------------------
class _Sched:
    def clock(self) -> float:
        return time.monotonic()

    def call_later(self, delay, callback):
        return None


class _Loop:
    accepted_total = closed_total = 0
    idle_seconds = 0.0
    started = time.monotonic()
    connections_open = 0
    stream_connections = 1


def _core_with_partitions(tmp: Path, partitions: int) -> tuple[Any, int]:
    """A BrokerCore with `partitions` partitions in 100 topics, a record in each and a group's offset on each."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    from chronik.broker.config import BrokerConfig
    from chronik.broker.core import BrokerCore

    core = BrokerCore(BrokerConfig(data_dir=tmp, port=0), _Sched())
    topics = 100
    per = max(1, partitions // topics)
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    b.append(0, timestamp=int(time.time() * 1000), key=None, value=b"x" * 100, headers=[])
    batch = bytes(b.build())
    for t in range(topics):
        name = f"bench-{t:03d}"
        core.create_topic(name, per)
        for p in range(per):
            core.append(name, p, bytearray(batch))
        core.offsets.commit("bench-group", {(name, p): (1, None, -1) for p in range(per)})
    return core, topics * per


def scrape_leg(partitions: int, repeats: int) -> dict:
    from chronik.http.metrics import MetricsRenderer

    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    try:
        t0 = time.perf_counter()
        core, partitions = _core_with_partitions(tmp, partitions)
        setup = time.perf_counter() - t0
        r = MetricsRenderer(core, _Loop(), "127.0.0.1:9092")
        totals, slices, sizes = [], [], []
        # Garbage collections during the scrapes after the first (which builds the cached families):
        # a pass runs inside a slice, so its pause is loop time too.
        collections, pauses, started = [0, 0, 0], [0.0], [0.0]

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                collections[info["generation"]] += 1
                pauses.append(time.perf_counter() - started[0])

        r.render()
        gc.callbacks.append(on_gc)
        for _ in range(repeats):
            t0 = time.perf_counter()
            body = r.render()
            totals.append(time.perf_counter() - t0)
            sizes.append(len(body))
            gen = r.steps()
            worst = 0.0
            while True:
                s0 = time.perf_counter()
                try:
                    next(gen)
                except StopIteration:
                    worst = max(worst, time.perf_counter() - s0)
                    break
                worst = max(worst, time.perf_counter() - s0)
            slices.append(worst)
        gc.callbacks.remove(on_gc)
        core.close()
        return {
            "partitions": partitions,
            "setup_s": round(setup, 2),
            "scrape_ms_median": round(statistics.median(totals) * 1000, 1),
            "scrape_ms_max": round(max(totals) * 1000, 1),
            "longest_slice_ms_median": round(statistics.median(slices) * 1000, 2),
            "gc_collections_per_scrape_by_generation": [round(c / (2 * repeats), 1) for c in collections],
            "gc_longest_pause_ms": round(max(pauses) * 1000, 2),
            "body_bytes": sizes[-1],
            "samples": body.count(b"\n") - body.count(b"\n#"),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- leg 3: the loop's calls that send the answer ------------------------------------------------
def send_leg(partitions: int, repeats: int) -> dict:
    """Serve the scrape's body to curl through the loop's HTTP code; time every call the loop makes."""
    import selectors

    from chronik.broker.streams import StreamConnections, StreamListener, StreamTransport
    from chronik.http.metrics import MetricsRenderer
    from chronik.http.protocol import HttpConnection, Response

    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    try:
        core, partitions = _core_with_partitions(tmp, partitions)
        gen = MetricsRenderer(core, _Loop(), "127.0.0.1:9092").steps()
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                chunks = stop.value
                break
        core.close()
        sel = selectors.DefaultSelector()
        streams = StreamConnections(sel, lambda delay, cb: None)
        port = streams.listen("127.0.0.1", 0, lambda: HttpConnection(
            lambda req, respond: respond(Response(200, list(chunks), "text/plain"))))
        worst_wall, worst_cpu, total_wall, total_cpu, calls = [], [], [], [], []
        for _ in range(repeats):
            curl = subprocess.Popen(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/metrics"])
            w = c = tw = tc = 0.0
            n = 0
            while curl.poll() is None:
                for key, mask in sel.select(0.01):
                    w0, c0 = time.perf_counter(), time.thread_time()
                    if isinstance(key.data, StreamListener):
                        streams.accept(key.data)
                    elif isinstance(key.data, StreamTransport):
                        streams.ready(key.data, mask)
                    dw, dc = time.perf_counter() - w0, time.thread_time() - c0
                    w, c, tw, tc, n = max(w, dw), max(c, dc), tw + dw, tc + dc, n + 1
            curl.wait()
            for t in list(streams.transports):
                streams.close(t)
            worst_wall.append(w)
            worst_cpu.append(c)
            total_wall.append(tw)
            total_cpu.append(tc)
            calls.append(n)
        streams.close_all()
        sel.close()
        ms = 1000
        return {
            "body_bytes": sum(map(len, chunks)),
            "longest_call_ms_median": round(statistics.median(worst_wall) * ms, 2),
            "longest_call_cpu_ms_median": round(statistics.median(worst_cpu) * ms, 2),
            "loop_ms_per_scrape_median": round(statistics.median(total_wall) * ms, 2),
            "loop_cpu_ms_per_scrape_median": round(statistics.median(total_cpu) * ms, 2),
            "calls_per_scrape_median": statistics.median(calls),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- leg 2: produce p99 with and without a scraper -------------------------------------------------
def start_broker(data_dir: Path) -> tuple[subprocess.Popen, str, str]:
    port, http = _free_port(), _free_port()
    cmd = [sys.executable, "-m", "chronik", "integrated", "-p", str(port), "-d", str(data_dir),
           "--http-port", str(http), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, f"127.0.0.1:{port}", f"http://127.0.0.1:{http}"
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("broker did not start")


def create_partitions(bootstrap: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    per = max(1, partitions // 100)
    futures = admin.create_topics([NewTopic(f"bench-{t:03d}", per, 1) for t in range(100)], request_timeout=120)
    for f in futures.values():
        f.result(120)


def latency_leg(bootstrap: str, seconds: float, rate: int = 1000) -> list[float]:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0, "enable.idempotence": False})
    lat: list[float] = []
    payload = b"x" * 1024

    def cb(err, msg, sent):
        if err is None:
            lat.append(time.perf_counter() - sent)

    # warm-up: metadata and the connection
    p.produce("bench-000", payload, partition=0)
    p.flush(10)
    start = time.perf_counter()
    n = int(seconds * rate)
    for i in range(n):
        due = start + i / rate
        while True:
            now = time.perf_counter()
            if now >= due:
                break
            p.poll(min(0.001, due - now))
        sent = time.perf_counter()
        p.produce("bench-000", payload, partition=0, on_delivery=lambda e, m, s=sent: cb(e, m, s))
        p.poll(0)
    p.flush(30)
    return lat


_SCRAPER = """
import signal, sys, time, urllib.request
done = []
signal.signal(signal.SIGTERM, lambda *a: done.append(1))
while not done:
    s0 = time.perf_counter()
    with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
        r.read()
    print(time.perf_counter() - s0, flush=True)
    end = s0 + 1.0
    while not done and time.perf_counter() < end:
        time.sleep(0.05)
"""


# The same with curl (less client CPU on the shared cores); prints seconds per scrape.
_CURL_SCRAPER = """
trap 'exit 0' TERM
while true; do
    curl -s -o /dev/null -w '%{time_total}\\n' "$1"
    sleep 0.95 & wait $!
done
"""


def p_ms(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 3)


def p99_leg(partitions: int, seconds: float, rounds: int, scraper_cmd: str = "python") -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-broker-"))
    proc = None
    try:
        proc, bootstrap, http = start_broker(tmp / "data")
        t0 = time.perf_counter()
        create_partitions(bootstrap, partitions)
        created = time.perf_counter() - t0
        scrape_times: list[float] = []
        result = {"without_scrape": [], "with_scrape": []}
        for _ in range(rounds):
            for mode in ("without_scrape", "with_scrape"):
                scraper = None
                if mode == "with_scrape":
                    # Its own process, as Prometheus is: reading 10 MB in a thread of this
                    # process would hold the GIL of the producer being timed.
                    cmd = [sys.executable, "-c", _SCRAPER, http + "/metrics"]
                    if scraper_cmd == "curl":
                        cmd = ["bash", "-c", _CURL_SCRAPER, "scraper", http + "/metrics"]
                    scraper = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
                lat = latency_leg(bootstrap, seconds)
                if scraper is not None:
                    scraper.send_signal(signal.SIGTERM)
                    out, _ = scraper.communicate(timeout=30)
                    scrape_times += [float(x) for x in out.split() if x.replace(".", "", 1).isdigit()]
                result[mode].append({"n": len(lat), "p50_ms": p_ms(lat, 0.5), "p99_ms": p_ms(lat, 0.99),
                                     "max_ms": p_ms(lat, 1.0)})
        p99_without = statistics.median(r["p99_ms"] for r in result["without_scrape"])
        p99_with = statistics.median(r["p99_ms"] for r in result["with_scrape"])
        return {
            "partitions": partitions,
            "create_s": round(created, 1),
            "seconds_per_leg": seconds,
            "rounds": result,
            "p99_ms_without_scrape": p99_without,
            "p99_ms_with_scrape": p99_with,
            "p99_rise_ms": round(p99_with - p99_without, 3),
            # Legs alternate, so each round is a pair: the median of the pairs' differences
            # is less sensitive to the machine's load drifting during the run.
            "p99_rise_ms_paired_median": round(statistics.median(
                w["p99_ms"] - o["p99_ms"]
                for o, w in zip(result["without_scrape"], result["with_scrape"], strict=True)), 3),
            "http_scrape_ms_median": round(statistics.median(scrape_times) * 1000, 1) if scrape_times else None,
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--partitions", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each p99 leg")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="scrapes timed in leg 1")
    ap.add_argument("--only", choices=("scrape", "p99", "send"), default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--scraper", choices=("python", "curl"), default="python",
                    help="the scraping client: a Python process (urllib) or curl")
    args = ap.parse_args()
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if args.only in (None, "scrape"):
        out["scrape"] = scrape_leg(args.partitions, args.repeats)
        print(json.dumps({"scrape": out["scrape"]}), flush=True)
    if args.only in (None, "send"):
        out["send"] = send_leg(args.partitions, args.repeats)
        print(json.dumps({"send": out["send"]}), flush=True)
    if args.only in (None, "p99"):
        out["p99"] = p99_leg(args.partitions, args.seconds, args.rounds, args.scraper)
        out["p99"]["scraper"] = args.scraper
        print(json.dumps({"p99": out["p99"]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
