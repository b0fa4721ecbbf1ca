"""Chronik benchmark: Chronik vs Apache Kafka vs Tansu vs a do-nothing sink, measured in one run.

Usage: python bench/run.py [--quick] [--only chronik,kafka,tansu,sink]
                           [--bootstrap HOST:PORT] [--json out.json]

Workloads alternate across targets (workload A on every target, then B, ...) so
that drift on this shared machine hits every target alike. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import faulthandler
import json
import os
import platform
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from report import ROWS, Figures, render, verdicts
from rich.console import Console
from rich.markup import escape
from targets import Target, chronik_target, kafka_target, sink_target, tansu_target
from workloads import (
    SESSION_TIMEOUT_MS,
    consume_all,
    create_topic,
    first_assignment,
    fresh_name,
    produce_latency,
    produce_throughput,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH_DIR / "results" / "latest.json"
KIB = 1024
ABANDON_AFTER_S = 60.0


@dataclass(frozen=True)
class Plan:
    big_count: int = 200_000  # 1 KiB records
    small_count: int = 500_000  # 100 B records
    latency_rate: int = 1_000
    latency_seconds: float = 5.0
    # Repeats of the 1 KiB produce leg after round 1: pushes ~1 GB through the
    # broker in total and shows whether RSS keeps growing.
    produce_repeats: int = 2
    # Throughput and CPU legs run this many times (alternating) and report the
    # median: on 2 shared cores a single sample swings by tens of percent.
    samples: int = 5

    @staticmethod
    def quick() -> Plan:
        return Plan(big_count=20_000, small_count=50_000, latency_seconds=2.0,
                    produce_repeats=1, samples=2)


class Bench:
    def __init__(self, targets: list[Target], plan: Plan, console: Console) -> None:
        self.targets = targets
        self.plan = plan
        self.console = console
        self.figures: Figures = {t.name: {} for t in targets}
        self.errors: dict[str, dict[str, str]] = {t.name: {} for t in targets}
        self.extra: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
        self.big_topic: dict[str, str] = {}
        self.bytes_through: dict[str, int] = {t.name: 0 for t in targets}
        self.samples: dict[str, dict[str, list[float]]] = {t.name: {} for t in targets}

    # -- bookkeeping -------------------------------------------------------------

    def record(self, target: Target, key: str, value: float | None) -> None:
        self.figures[target.name][key] = value

    def sample(self, target: Target, key: str, value: float | None) -> None:
        """One of several samples; the reported figure is their median."""
        if value is not None:
            self.samples[target.name].setdefault(key, []).append(value)

    def summarise_samples(self) -> None:
        for name, by_key in self.samples.items():
            for key, values in by_key.items():
                self.figures[name][key] = statistics.median(values)
                self.extra[name][f"{key}_samples"] = [round(v, 3) for v in values]

    def attempt(self, target: Target, leg: str, fn: Callable[[], None]) -> None:
        """Run one leg on one target; a failure is recorded, never fatal to the run."""
        if {leg, "start", "abandoned"} & self.errors[target.name].keys():
            return
        if not target.alive():
            self.errors[target.name].setdefault("process", f"died: {target.log_tail()}")
            return
        self.console.print(f"  {leg:<22} {target.name:<8}", end="")
        t0 = time.perf_counter()
        try:
            fn()
            self.console.print(f" ok ({time.perf_counter() - t0:.1f}s)")
        except Exception as exc:  # noqa: BLE001 - any failure is a result to report
            elapsed = time.perf_counter() - t0
            self.errors[target.name][leg] = f"{type(exc).__name__}: {exc}"
            self.console.print(f" [red]failed[/] after {elapsed:.0f}s: {escape(str(exc))}")
            if elapsed > ABANDON_AFTER_S:
                # A leg that fails slowly means a hung broker: more legs would only
                # burn the run's time budget on timeouts.
                self.errors[target.name]["abandoned"] = f"skipped the rest after {leg}"
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()

    def each(self, leg: str, fn: Callable[[Target], None], produce_only_ok: bool = True) -> None:
        for target in self.targets:
            if target.produce_only and not produce_only_ok:
                continue
            self.attempt(target, leg, lambda t=target: fn(t))

    def sampled(self, leg: str, fn: Callable[[Target], None],
                produce_only_ok: bool = True) -> None:
        for i in range(self.plan.samples):
            self.each(f"{leg} #{i + 1}", fn, produce_only_ok)

    # -- legs --------------------------------------------------------------------

    def start_all(self) -> None:
        # One at a time, so start-up times are not inflated by each other.
        for target in self.targets:
            try:
                target.start()
                self.record(target, "startup_s", target.startup_s)
                self.console.print(f"  started {target.name} on {target.bootstrap}")
            except Exception as exc:  # noqa: BLE001
                self.errors[target.name]["start"] = str(exc)
                self.console.print(f"  [red]{target.name} failed to start[/]: {escape(str(exc))}")

    def produce_big(self, target: Target) -> None:
        topic = fresh_name("bench-1k")
        create_topic(target.bootstrap, topic)
        cpu0 = target.cpu()
        result = produce_throughput(target.bootstrap, topic, self.plan.big_count, KIB)
        self.record_cpu(target, "cpu_s_per_gb_produce", cpu0, result.bytes)
        self.big_topic.setdefault(target.name, topic)  # the consume legs read the first
        self.bytes_through[target.name] += result.bytes
        self.sample(target, "produce_1k_mb_s", result.mb_per_s)
        self.sample(target, "produce_1k_msgs_s", result.msgs_per_s)

    def produce_small(self, target: Target) -> None:
        topic = fresh_name("bench-100b")
        create_topic(target.bootstrap, topic)
        result = produce_throughput(target.bootstrap, topic, self.plan.small_count, 100)
        self.bytes_through[target.name] += result.bytes
        self.sample(target, "produce_100b_msgs_s", result.msgs_per_s)
        self.sample(target, "produce_100b_mb_s", result.mb_per_s)

    def consume(self, target: Target) -> None:
        topic = self.big_topic.get(target.name)
        if topic is None:
            raise RuntimeError("nothing to consume: the 1 KiB produce leg failed")
        cpu0 = target.cpu()
        result = consume_all(target.bootstrap, topic, self.plan.big_count)
        self.record_cpu(target, "cpu_s_per_gb_consume", cpu0, result.bytes)
        self.bytes_through[target.name] += result.bytes
        self.sample(target, "consume_mb_s", result.mb_per_s)
        self.sample(target, "consume_assign_s", result.assign_s)

    def latency(self, target: Target) -> None:
        topic = fresh_name("bench-latency")
        create_topic(target.bootstrap, topic)
        result = produce_latency(target.bootstrap, topic, self.plan.latency_rate,
                                 self.plan.latency_seconds, KIB)
        self.bytes_through[target.name] += result.sent * KIB
        self.record(target, "latency_p50_ms", result.p50_ms)
        self.record(target, "latency_p99_ms", result.p99_ms)
        self.record(target, "latency_max_ms", result.max_ms)
        self.extra[target.name]["latency_samples"] = result.sent
        self.extra[target.name]["latency_achieved_rate"] = result.achieved_rate

    def assignment(self, target: Target) -> None:
        topic = self.big_topic.get(target.name)
        if topic is None:  # the 1 KiB leg failed; a group still needs a topic to join on
            topic = fresh_name("bench-assign")
            create_topic(target.bootstrap, topic)
        self.record(target, "first_assign_s", first_assignment(target.bootstrap, topic))

    def repeat_produce(self, target: Target) -> None:
        topic = fresh_name("bench-repeat")
        create_topic(target.bootstrap, topic)
        result = produce_throughput(target.bootstrap, topic, self.plan.big_count, KIB)
        self.bytes_through[target.name] += result.bytes
        self.extra[target.name].setdefault("repeat_produce_1k_mb_s", []).append(
            round(result.mb_per_s, 2))

    def record_cpu(self, target: Target, key: str, cpu_before: float | None,
                   nbytes: int) -> None:
        cpu_after = target.cpu()
        if cpu_before is None or cpu_after is None:
            return  # external broker: its CPU is not ours to read
        self.sample(target, key, (cpu_after - cpu_before) / (nbytes / 1e9))

    def snapshot_rss(self, key: str) -> None:
        for target in self.targets:
            self.record(target, key, target.rss_mb())

    def finish_memory(self) -> None:
        for target in self.targets:
            self.record(target, "peak_rss_mb", target.peak_rss_mb())
            before = self.figures[target.name].get("rss_after_round1_mb")
            after = self.figures[target.name].get("rss_after_repeat_mb")
            growth = (after - before) / before * 100 if before and after else None
            self.record(target, "rss_growth_pct", growth)
            moved = self.bytes_through[target.name]
            self.record(target, "mb_through", moved / 1e6 if moved else None)

    def run(self) -> None:
        self.console.rule("start-up")
        self.start_all()
        self.console.rule("round 1 (workloads alternate across targets)")
        self.sampled("produce 1 KiB", self.produce_big)
        self.sampled("produce 100 B", self.produce_small)
        self.sampled("consume 1 KiB", self.consume, produce_only_ok=False)
        self.each("produce latency", self.latency)
        self.each("first assignment", self.assignment, produce_only_ok=False)
        self.snapshot_rss("rss_after_round1_mb")
        self.console.rule(f"memory: {self.plan.produce_repeats} repeats of produce 1 KiB")
        for i in range(self.plan.produce_repeats):
            self.each(f"repeat produce #{i + 1}", self.repeat_produce)
        self.snapshot_rss("rss_after_repeat_mb")
        self.finish_memory()
        self.summarise_samples()


def build_targets(only: list[str], bootstrap: str | None, data_root: Path | None = None) -> list[Target]:
    factories = {
        "chronik": lambda: chronik_target(bootstrap, data_root),
        "kafka": kafka_target,
        "tansu": tansu_target,
        "sink": sink_target,
    }
    return [factories[name]() for name in ("chronik", "kafka", "tansu", "sink") if name in only]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 sizes (~2 min)")
    parser.add_argument("--only", default="chronik,kafka,tansu,sink",
                        help="comma-separated subset of chronik,kafka,tansu,sink (kafka needs java and mvn)")
    parser.add_argument("--bootstrap", default=None,
                        help="use an already running Chronik at HOST:PORT (no CPU/RSS figures)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where Chronik's temp data dir goes (default: the system temp dir); "
                        "/dev/shm puts it in RAM like Tansu's memory storage")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - {"chronik", "kafka", "tansu", "sink"}
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    return args


def results_document(bench: Bench, plan: Plan, started: float) -> dict[str, Any]:
    judged = verdicts(bench.figures)
    return {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": asdict(plan),
        "client": {"library": "confluent-kafka", "session_timeout_ms": SESSION_TIMEOUT_MS},
        "targets": {t.name: {"bootstrap": t.bootstrap, "external": t.external,
                             "command": t.command} for t in bench.targets},
        "figures": bench.figures,
        "extra": bench.extra,
        "errors": bench.errors,
        "goals": {row.key: {"target": row.target, "met": judged.get(row.key)}
                  for row in ROWS if row.target},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # librdkafka runs in this process: if it crashes, at least say in which leg.
    faulthandler.enable()
    plan = Plan.quick() if args.quick else Plan()
    # Piped output defaults to 80 columns, which folds the table into unreadable cells.
    console = Console() if sys.stdout.isatty() else Console(width=150)
    started = time.time()
    # A SIGTERM must still run the finally below, which stops every broker we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(build_targets(args.only, args.bootstrap, args.data_root), plan, console)
    try:
        bench.run()
    finally:
        for target in bench.targets:
            target.stop(keep_log_in=args.json.parent / "logs")
    render(bench.figures, bench.errors, console)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results_document(bench, plan, started), indent=2) + "\n")
    console.print(f"results written to {args.json} ({time.time() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
