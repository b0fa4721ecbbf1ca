"""`--fsync always` against the default: produce MB/s (1 KiB records) and p99 at 1,000 msgs/s.

The same workloads as bench/run.py's produce and latency legs (confluent-kafka,
acks=all), on a chronik broker started with each --fsync mode, alternating
(never, always, never, always, ...) because the disk and CPUs are shared.

Each `always` row also carries the broker's own group-commit summary from its
shutdown log (fsync batches, their mean and max time, segment preallocations),
which says whether a tail came from the disk (a long batch) or from elsewhere.

Run: python bench/bench_fsync.py [--rounds 2] [--count 200000] [--latency-seconds 5] [--modes never,always]

A/B of two checkouts: run this file from each (`python /path/to/other/bench/bench_fsync.py`
starts that checkout's broker), alternating, under the bench lock.
"""

from __future__ import annotations

import argparse
import json
import re
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
        target.terminate()  # SIGTERM: the broker logs its group-commit summary on the way out
        summary = _group_commit_summary(target)
        target.stop()
    cpu_per_gb = (cpu1 - cpu0) / (tp.bytes / 1e9)
    return {"fsync": mode, "mb_per_s": round(tp.mb_per_s, 1), "cpu_s_per_gb": round(cpu_per_gb, 2),
            "p50_ms": round(lat.p50_ms, 2), "p99_ms": round(lat.p99_ms, 2), "max_ms": round(lat.max_ms, 2),
            "rate": round(lat.achieved_rate), **summary}


_SUMMARY = re.compile(r"group commit: (\d+) fsyncs in (\d+) batches \((\d+) failed\); batch fsync time mean "
                      r"([\d.]+) ms, max ([\d.]+) ms(?:; (\d+) preallocations)?")


def _group_commit_summary(target) -> dict:
    try:
        text = target.log_path().read_text(errors="replace")
    except OSError:
        return {}
    m = _SUMMARY.search(text)
    if m is None:
        return {}
    out = {"fsync_batches": int(m.group(2)), "fsync_failed": int(m.group(3)),
           "batch_mean_ms": float(m.group(4)), "batch_max_ms": float(m.group(5))}
    if m.group(6) is not None:
        out["preallocations"] = int(m.group(6))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--latency-seconds", type=float, default=5.0)
    ap.add_argument("--modes", default="never,always", help="comma-separated --fsync modes, run in this order")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for _ in range(args.rounds):
        for mode in modes:
            print(json.dumps(one(mode, args.count, args.latency_seconds)), flush=True)


if __name__ == "__main__":
    main()
