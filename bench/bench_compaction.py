"""Compaction throughput and its effect on produce latency.

Starts a Chronik broker, fills a topic with keyed records (cleanup.policy
delete, so nothing is cleaned yet), then switches it to ``compact`` while a
probe producer on another topic sends one record at a time and times each
acknowledgement. Reports the cleaner's throughput (MB of log read per second,
from the broker's "compacted" log lines) and the produce latencies seen
before and during compaction.

    /work/venv/bin/python bench/bench_compaction.py [--mb 40] [--keys 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

REPO = Path(__file__).resolve().parent.parent
COMPACTED = re.compile(r"compacted (\S+): .*?, (\d+) -> (\d+) bytes, .* in ([\d.]+) s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(bootstrap: str, topic: str, seconds: float, until=None) -> list[float]:
    """Send one record at a time; return each round trip in ms."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": 1})
    out: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until()):
        t0 = time.perf_counter()
        p.produce(topic, b"probe")
        p.flush(10)
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.002)
    return out


def summary(lat: list[float]) -> dict[str, float]:
    if not lat:
        return {}
    s = sorted(lat)
    return {
        "count": len(s),
        "p50_ms": round(statistics.median(s), 2),
        "p99_ms": round(s[int(len(s) * 0.99) - 1], 2),
        "max_ms": round(s[-1], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=40.0, help="MB of log to compact")
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--value-bytes", type=int, default=100)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-compaction-"))
    port = free_port()
    log_path = tmp / "broker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chronik", "integrated", "-p", str(port), "-d", str(tmp / "data"),
             "--log-retention-check-interval-ms", "200"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
    try:
        deadline = time.monotonic() + 20
        while "listening on" not in log_path.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                print(log_path.read_text(), file=sys.stderr)
                return 1
            time.sleep(0.05)
        bootstrap = f"127.0.0.1:{port}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for fut in admin.create_topics([
            NewTopic("kv", 1, 1, config={"segment.bytes": str(4 << 20), "retention.ms": "-1"}),
            NewTopic("probe", 1, 1),
        ]).values():
            fut.result(10)

        n = int(args.mb * 1e6 / (args.value_bytes + 40))
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 256 * 1024})
        value = os.urandom(args.value_bytes // 2).hex().encode()
        t0 = time.monotonic()
        for i in range(n):
            while True:
                try:
                    p.produce("kv", value, f"key-{i % args.keys:06d}".encode())
                    break
                except BufferError:
                    p.poll(0.01)
        p.flush(120)
        fill_s = time.monotonic() - t0
        size = sum(f.stat().st_size for f in (tmp / "data" / "kv-0").glob("*.log"))

        baseline = probe(bootstrap, "probe", 2.0)

        res = ConfigResource(ConfigResource.Type.TOPIC, "kv", incremental_configs=[
            ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("min.cleanable.dirty.ratio", "0.01",
                        incremental_operation=AlterConfigOpType.SET),
        ])
        for fut in admin.incremental_alter_configs([res]).values():
            fut.result(10)

        def done() -> bool:
            return bool(COMPACTED.search(log_path.read_text()))

        during = probe(bootstrap, "probe", 300.0, until=done)
        rounds = [m for m in COMPACTED.finditer(log_path.read_text()) if m.group(1) == "kv-0"]
        read = sum(int(m.group(2)) for m in rounds)
        secs = sum(float(m.group(4)) for m in rounds)
        report = {
            "records": n,
            "keys": args.keys,
            "log_bytes": size,
            "fill_seconds": round(fill_s, 2),
            "compaction_bytes_read": read,
            "compaction_seconds": round(secs, 2),
            "compaction_MBps": round(read / 1e6 / secs, 2) if secs else None,
            "produce_latency_idle": summary(baseline),
            "produce_latency_during_compaction": summary(during),
        }
        print(json.dumps(report, indent=2))
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
