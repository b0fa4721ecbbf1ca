"""`--fsync always` against the default: produce MB/s (1 KiB records) and p99 at 1,000 msgs/s.

The same workloads as bench/run.py's produce and latency legs (confluent-kafka,
acks=all), on a chronik broker started with each --fsync mode, alternating
(never, always, never, always, ...) because the disk and CPUs are shared.

Run: python bench/bench_fsync.py [--rounds 2] [--count 200000] [--latency-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.targets import chronik_target  # noqa: E402
from bench.workloads import create_topic, fresh_name, produce_latency, produce_throughput  # noqa: E402


def one(mode: str, count: int, latency_seconds: float) -> dict:
    target = chronik_target()
    target.command += ["--fsync", mode, "--no-http", "--no-schema-registry-port"]
    target.start()
    try:
        topic = fresh_name("fsync")
        create_topic(target.bootstrap, topic)
        cpu0 = target.cpu()
        tp = produce_throughput(target.bootstrap, topic, count, 1024)
        cpu1 = target.cpu()
        lat_topic = fresh_name("fsync-lat")
        create_topic(target.bootstrap, lat_topic)
        lat = produce_latency(target.bootstrap, lat_topic, 1000, latency_seconds, 1024)
    finally:
        target.stop()
    cpu_per_gb = (cpu1 - cpu0) / (tp.bytes / 1e9)
    return {"fsync": mode, "mb_per_s": round(tp.mb_per_s, 1), "cpu_s_per_gb": round(cpu_per_gb, 2),
            "p50_ms": round(lat.p50_ms, 2), "p99_ms": round(lat.p99_ms, 2), "max_ms": round(lat.max_ms, 2),
            "rate": round(lat.achieved_rate)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--latency-seconds", type=float, default=5.0)
    args = ap.parse_args()
    for _ in range(args.rounds):
        for mode in ("never", "always"):
            print(json.dumps(one(mode, args.count, args.latency_seconds)), flush=True)


if __name__ == "__main__":
    main()
