"""kafka-producer-perf-test against Chronik, Apache Kafka and Tansu, one after the other.

Usage: python bench/perf_test.py [--num-records 200000] [--record-size 1024] [--only chronik,kafka,tansu]

Runs Kafka's own ProducerPerformance (the jars of scripts/kafka-reference.sh) with
`--throughput -1 --producer-props acks=all` against each target on a fresh topic
and prints its summary line: records/s, MB/s, average and max latency, percentiles.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from targets import REPO, chronik_target, kafka_target, tansu_target

SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                     r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")


def perf(bootstrap: str, records: int, size: int) -> dict[str, float]:
    libs = subprocess.run(["bash", str(REPO / "scripts" / "kafka-reference.sh"), "assemble"], check=True,
                          capture_output=True, text=True).stdout.strip()
    out = subprocess.run(
        ["java", "-Xmx256m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", "perf-test", "--num-records", str(records), "--record-size", str(size), "--throughput", "-1",
         "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all"],
        capture_output=True, text=True, timeout=600).stdout
    m = SUMMARY.search(out)
    if m is None:
        raise RuntimeError(f"no summary line:\n{out[-2000:]}")
    keys = ("records", "records_s", "mb_s", "avg_ms", "max_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms")
    return dict(zip(keys, map(float, m.groups()), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-records", type=int, default=200_000)
    parser.add_argument("--record-size", type=int, default=1024)
    parser.add_argument("--only", default="chronik,kafka,tansu")
    args = parser.parse_args()
    factories = {"chronik": chronik_target, "kafka": kafka_target, "tansu": tansu_target}
    print("| target | records/s | MB/s | avg ms | max ms | p50 | p95 | p99 | p99.9 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.only.split(","):
        target = factories[name]()
        try:
            target.start()
            f = perf(target.bootstrap, args.num_records, args.record_size)
            print(f"| {name} | {f['records_s']:,.0f} | {f['mb_s']:.1f} | {f['avg_ms']:.1f} | {f['max_ms']:.0f} | "
                  f"{f['p50_ms']:.0f} | {f['p95_ms']:.0f} | {f['p99_ms']:.0f} | {f['p999_ms']:.0f} |", flush=True)
        except Exception as e:  # one target's failure must not hide the others' figures
            print(f"| {name} | failed: {e} |", flush=True)
        finally:
            target.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
