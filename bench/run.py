"""Chronik benchmark: Chronik vs Apache Kafka vs Tansu vs a do-nothing sink, measured in one run.

Usage: python bench/run.py [--quick] [--only chronik,kafka,tansu,sink] [--legs LEG,...]
                           [--partitions] [--bootstrap HOST:PORT] [--json out.json]

Workloads alternate across targets (workload A on every target, then B, ...) so
that drift on this shared machine hits every target alike. See bench/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
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

import goclient
from legs_idle import IdleConnections, raise_nofile
from legs_small import VARIANTS, run_small
from report import Figures, goals, markdown, ratios, render
from rich.console import Console
from rich.markup import escape
from targets import Target, chronik_supports, chronik_target, kafka_target, sink_target, tansu_target
from workloads import (
    FETCH_QUEUE_BACKOFF_MS,
    SESSION_TIMEOUT_MS,
    WorkloadError,
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
GO_LEG = "produce 100 B, franz-go"
TARGETS = ("chronik", "kafka", "tansu", "sink")
# In run order. "memory" is the produce repeats that show RSS growth; "partitions"
# (bench/bench_partitions.py, minutes per target) only runs when asked for.
LEGS = ("startup", "produce", "consume", "latency", "assign", "memory", "small", "idle", "fsync",
        "partitions")
DEFAULT_LEGS = tuple(leg for leg in LEGS if leg != "partitions")


@dataclass(frozen=True)
class Plan:
    big_count: int = 200_000  # 1 KiB records
    small_count: int = 500_000  # 100 B records
    go_count: int = 2_000_000  # 100 B records sent by the franz-go producer (bench/goclient.py)
    latency_rate: int = 1_000
    latency_seconds: float = 5.0
    # Repeats of the 1 KiB produce leg after round 1: pushes ~1 GB through the
    # broker in total and shows whether RSS keeps growing.
    produce_repeats: int = 2
    # Throughput and CPU legs run this many times (alternating) and report the
    # median: on 2 shared cores a single sample swings by tens of percent.
    samples: int = 5
    # Start-up: fresh start and restart on an empty data dir, this many times per target,
    # with no other target running.
    startup_runs: int = 5
    # Small requests: producers (separate processes: more broker load than threads in one
    # process, see legs_small), seconds per sample, samples per variant.
    small_producers: int = 4
    small_seconds: float = 4.0
    small_samples: int = 3
    small_mode: str = "processes"
    # Idle connections: pairs of (without, with) produce+consume samples.
    idle_connections: int = 1_000
    idle_samples: int = 3
    idle_cpu_seconds: float = 5.0  # window for the broker's CPU while nothing is sent
    # Many partitions (bench_partitions.measure).
    partition_topics: int = 1_000
    partitions_per_topic: int = 10

    @staticmethod
    def quick() -> Plan:
        return Plan(big_count=20_000, small_count=50_000, go_count=200_000, latency_seconds=2.0,
                    produce_repeats=1, samples=2, startup_runs=3, small_seconds=2.0,
                    small_samples=1, idle_samples=1, idle_cpu_seconds=2.0, partition_topics=100)


class Bench:
    def __init__(self, targets: list[Target], plan: Plan, console: Console,
                 legs: tuple[str, ...] = DEFAULT_LEGS,
                 factories: dict[str, Callable[[], Target]] | None = None) -> None:
        self.targets = targets
        self.plan = plan
        self.console = console
        self.legs = legs
        # Fresh, unstarted targets for legs that need their own broker (start-up, partitions).
        self.factories = factories or {}
        self.notes: list[str] = []
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
                self.extra[name][f"{key}_samples"] = [round(v, 4) for v in values]

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.console.print(f"  [dim]{escape(text)}[/]")

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

    def each(self, leg: str, fn: Callable[[Target], None], produce_only_ok: bool = True,
             consume_ok: bool = False) -> None:
        """`consume_ok`: a produce-only target that serves the consume leg (the sink) takes part."""
        for target in self.targets:
            if target.produce_only and not produce_only_ok and not (consume_ok and target.serves_consume):
                continue
            self.attempt(target, leg, lambda t=target: fn(t))

    def sampled(self, leg: str, fn: Callable[[Target], None],
                produce_only_ok: bool = True, consume_ok: bool = False) -> None:
        for i in range(self.plan.samples):
            self.each(f"{leg} #{i + 1}", fn, produce_only_ok, consume_ok)

    # -- legs --------------------------------------------------------------------

    def start_all(self) -> None:
        # One at a time, so start-up times are not inflated by each other.
        for target in self.targets:
            try:
                target.start()
                if "startup" in self.legs and not target.external:
                    # Other targets already run here: the start-up leg's figures are cleaner
                    # (and the sink's start-up is no broker's).
                    self.extra[target.name]["startup_in_run_s"] = target.startup_s
                else:
                    self.record(target, "startup_s", target.startup_s)
                self.console.print(f"  started {target.name} on {target.bootstrap}")
            except Exception as exc:  # noqa: BLE001
                self.errors[target.name]["start"] = str(exc)
                self.console.print(f"  [red]{target.name} failed to start[/]: {escape(str(exc))}")

    def legs_with_own_brokers(self) -> None:
        if "partitions" in self.legs:
            self.console.rule(f"many partitions: {self.plan.partition_topics:,} topics × "
                              f"{self.plan.partitions_per_topic} (bench_partitions)")
            self.partitions()
        self.summarise_samples()

    def startup_runs(self) -> None:
        """Spawn → first ApiVersions answer on an empty data dir, then a restart on it.

        Targets alternate, and only one runs at a time. A restart of Kafka skips
        formatting its log dir, so it is the JVM broker's own start-up.
        """
        names = [t.name for t in self.targets if not t.external and not t.produce_only
                 and t.name in self.factories]
        for i in range(self.plan.startup_runs):
            for name in names:
                self.console.print(f"  start-up #{i + 1:<13} {name:<8}", end="")
                target = self.factories[name]()
                try:
                    target.start()
                    fresh, fresh_cpu = target.startup_s, target.cpu()
                    target.terminate()
                    target.start()
                    self.samples[name].setdefault("startup_s", []).append(fresh)
                    self.samples[name].setdefault("startup_restart_s", []).append(target.startup_s)
                    # CPU spent until serving: what the wall clock would be on an idle machine
                    # (for Kafka without the format step, whose JVM has exited by then).
                    if fresh_cpu is not None:
                        self.samples[name].setdefault("startup_cpu_s", []).append(fresh_cpu)
                    self.console.print(f" {fresh:.3f} s, restart {target.startup_s:.3f} s")
                except Exception as exc:  # noqa: BLE001
                    self.errors[name][f"start-up #{i + 1}"] = f"{type(exc).__name__}: {exc}"
                    self.console.print(f" [red]failed[/]: {escape(str(exc))}")
                finally:
                    target.stop()

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

    def produce_small_go(self, target: Target) -> None:
        if any(leg.startswith(GO_LEG) for leg in self.errors[target.name]):
            # Tansu closes franz-go's connections at ApiVersions: each try waits ~20 s for that.
            raise WorkloadError("skipped: the franz-go producer failed on this target before")
        topic = fresh_name("bench-100b-go")
        create_topic(target.bootstrap, topic)
        cpu0 = target.cpu()
        result, client_cpu_s = goclient.produce_throughput_go(target.bootstrap, topic, self.plan.go_count, 100)
        self.record_cpu(target, "cpu_s_per_gb_produce_100b_go", cpu0, result.bytes)
        self.bytes_through[target.name] += result.bytes
        self.sample(target, "produce_100b_go_msgs_s", result.msgs_per_s)
        self.sample(target, "produce_100b_go_client_cpu_s_per_gb", client_cpu_s / (result.bytes / 1e9))

    def produce_small(self, target: Target) -> None:
        topic = fresh_name("bench-100b")
        create_topic(target.bootstrap, topic)
        result = produce_throughput(target.bootstrap, topic, self.plan.small_count, 100)
        self.bytes_through[target.name] += result.bytes
        self.sample(target, "produce_100b_msgs_s", result.msgs_per_s)
        self.sample(target, "produce_100b_mb_s", result.mb_per_s)

    def consume(self, target: Target) -> None:
        topic = self.big_topic.get(target.name)
        if topic is None and "produce" not in self.legs:
            topic = fresh_name("bench-1k")  # consume chosen alone: fill a topic, unmeasured
            create_topic(target.bootstrap, topic)
            produce_throughput(target.bootstrap, topic, self.plan.big_count, KIB)
            self.big_topic[target.name] = topic
        if topic is None:
            raise RuntimeError("nothing to consume: the 1 KiB produce leg failed")
        cpu0, client0 = target.cpu(), time.process_time()
        result = consume_all(target.bootstrap, topic, self.plan.big_count)
        self.record_cpu(target, "cpu_s_per_gb_consume", cpu0, result.bytes)
        # This process's CPU (librdkafka's threads and the Python loop): where the sink shows the
        # ceiling to be, this is the cost that sets it.
        self.sample(target, "client_cpu_s_per_gb_consume",
                    (time.process_time() - client0) / (result.bytes / 1e9))
        self.bytes_through[target.name] += result.bytes
        self.sample(target, "consume_mb_s", result.mb_per_s)
        self.sample(target, "consume_stream_mb_s", result.stream_mb_per_s)
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

    def small(self, target: Target, variant: str) -> None:
        plan = self.plan
        topics = [fresh_name(f"bench-small-{variant}") for _ in range(plan.small_producers)]
        for topic in topics:
            create_topic(target.bootstrap, topic)
        result = run_small(target.bootstrap, topics, variant, plan.small_seconds, target.cpu,
                           plan.small_mode)
        self.sample(target, f"small_{variant}_req_s", result.requests_per_s)
        self.sample(target, f"small_{variant}_us_per_req", result.broker_us_per_request)
        self.sample(target, f"small_{variant}_client_us_per_req", result.client_us_per_request)
        self.extra[target.name].setdefault(f"small_{variant}_runs", []).append({
            "requests": result.requests, "seconds": round(result.seconds, 3),
            "broker_cpu_s": result.broker_cpu_s, "client_cpu_s": round(result.client_cpu_s, 3)})

    def produce_consume(self, target: Target) -> tuple[float, float | None, float]:
        """Produce 1 KiB × big_count to a fresh topic, then read it: (MB/s, CPU s/GB, MB/s)."""
        topic = fresh_name("bench-idle")
        create_topic(target.bootstrap, topic)
        cpu0 = target.cpu()
        produced = produce_throughput(target.bootstrap, topic, self.plan.big_count, KIB)
        cpu1 = target.cpu()
        consumed = consume_all(target.bootstrap, topic, self.plan.big_count)
        self.bytes_through[target.name] += produced.bytes + consumed.bytes
        cpu_per_gb = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / (produced.bytes / 1e9)
        return produced.mb_per_s, cpu_per_gb, consumed.mb_per_s

    def idle_cpu(self, target: Target) -> None:
        """Broker CPU per second of doing nothing, without and then with the idle connections.

        Load-robust where MB/s is not: an event loop should not spend a thing on
        connections that send nothing, whatever else the machine is doing.
        """
        window = self.plan.idle_cpu_seconds
        port = int(target.bootstrap.rsplit(":", 1)[1])

        def cpu_ms_per_s() -> float | None:
            before = target.cpu()
            time.sleep(window)
            after = target.cpu()
            return None if before is None or after is None else (after - before) / window * 1000

        self.record(target, "idle_cpu_ms_s_base", cpu_ms_per_s())
        with IdleConnections(port, self.plan.idle_connections):
            time.sleep(0.5)  # let the broker finish registering them
            self.record(target, "idle_cpu_ms_s", cpu_ms_per_s())

    def idle_pair(self, target: Target, first_with: bool) -> None:
        """One sample without and one with the idle connections open, in alternating order."""
        port = int(target.bootstrap.rsplit(":", 1)[1])
        figures: dict[bool, tuple[float, float | None, float]] = {}
        for with_idle in (first_with, not first_with):
            if not with_idle:
                figures[False] = self.produce_consume(target)
                continue
            with IdleConnections(port, self.plan.idle_connections) as idle:
                rss = target.rss_mb()
                figures[True] = self.produce_consume(target)
                still_open = idle.still_open()
            if rss is not None:
                self.record(target, "idle_rss_mb", max(rss, self.figures[target.name].get("idle_rss_mb") or 0))
            self.extra[target.name].setdefault("idle_still_open", []).append(still_open)
            self.extra[target.name]["idle_api_versions_errors"] = idle.error_codes
        (p0, c0, r0), (p1, c1, r1) = figures[False], figures[True]
        self.sample(target, "idle_base_produce_mb_s", p0)
        self.sample(target, "idle_produce_mb_s", p1)
        self.sample(target, "idle_base_consume_mb_s", r0)
        self.sample(target, "idle_consume_mb_s", r1)
        self.sample(target, "idle_produce_ratio", p1 / p0)
        self.sample(target, "idle_consume_ratio", r1 / r0)
        if c0 and c1:
            self.sample(target, "idle_cpu_ratio", c1 / c0)

    def fsync(self) -> None:
        """Each broker against itself made durable per write: Chronik `--fsync always`, and
        Kafka with `log.flush.interval.messages=1` (a flush after every append)."""
        started = {t.name: t for t in self.targets
                   if not t.external and "start" not in self.errors[t.name]}
        if "chronik" not in started:
            self.note("fsync: n/a for chronik (needs a Chronik started by the bench)")
        elif not chronik_supports("--fsync"):
            self.note("fsync: n/a for chronik (unsupported: `chronik integrated --help` has no --fsync)")
        else:
            # Always on disk (the system temp dir): in /dev/shm an fsync costs nothing.
            self.fsync_pair(started["chronik"], lambda: chronik_target(
                extra_args=("--fsync", "always"), name="chronik-fsync"), self.plan.samples)
        if "kafka" in started:
            self.fsync_pair(started["kafka"], lambda: kafka_target(
                {"log.flush.interval.messages": "1"}, name="kafka-fsync"), min(self.plan.samples, 3))

    def fsync_pair(self, normal: Target, make_synced: Callable[[], Target], samples: int) -> None:
        """Paired 1 KiB produce samples (order alternating), then latency on the synced broker."""
        synced = make_synced()
        self.extra[normal.name]["fsync_command"] = synced.command
        try:
            synced.start()
            self.extra[normal.name]["fsync_startup_s"] = synced.startup_s
            for i in range(samples):
                self.console.print(f"  fsync pair #{i + 1:<11} {normal.name:<8}", end="")
                order = (normal, synced) if i % 2 == 0 else (synced, normal)
                mb_s: dict[str, float] = {}
                for target in order:
                    topic = fresh_name("bench-fsync")
                    create_topic(target.bootstrap, topic)
                    mb_s[target.name] = produce_throughput(target.bootstrap, topic, self.plan.big_count,
                                                           KIB).mb_per_s
                self.bytes_through[normal.name] += self.plan.big_count * KIB
                base, durable = mb_s[normal.name], mb_s[synced.name]
                self.sample(normal, "fsync_base_produce_mb_s", base)
                self.sample(normal, "fsync_produce_mb_s", durable)
                self.sample(normal, "fsync_ratio", durable / base)
                self.console.print(f" {durable:.1f} synced vs {base:.1f} MB/s")
            # The pairs above leave GBs of dirty pages: let writeback finish first, or the latency leg
            # measures how long each fsync queues behind it (and whoever ran more pairs loses).
            os.sync()
            topic = fresh_name("bench-fsync-latency")
            create_topic(synced.bootstrap, topic)
            latency = produce_latency(synced.bootstrap, topic, self.plan.latency_rate,
                                      self.plan.latency_seconds, KIB)
            self.record(normal, "fsync_latency_p50_ms", latency.p50_ms)
            self.record(normal, "fsync_latency_p99_ms", latency.p99_ms)
            self.extra[normal.name]["fsync_latency_max_ms"] = latency.max_ms
        except Exception as exc:  # noqa: BLE001
            self.errors[normal.name]["fsync"] = f"{type(exc).__name__}: {exc} {synced.log_tail(3)}"
            self.console.print(f" [red]failed[/]: {escape(str(exc))}")
        finally:
            synced.stop()

    def partitions(self) -> None:
        """bench/bench_partitions.py's measure() on a fresh broker per target."""
        try:
            from bench_partitions import measure
        except ImportError:
            self.note("partitions: n/a (bench/bench_partitions.py is not in this checkout)")
            return
        plan = self.plan
        for target in self.targets:
            if target.produce_only or target.external or target.name not in self.factories:
                continue
            self.console.print(f"  partitions {plan.partition_topics}×{plan.partitions_per_topic} "
                               f"{target.name:<8}", end="")
            fresh = self.factories[target.name]()
            t0 = time.perf_counter()
            try:
                fresh.start()
                result = measure(fresh, plan.partition_topics, plan.partitions_per_topic)
                self.extra[target.name]["partitions"] = result
                self.record_partitions(target, result)
                self.console.print(f" ok ({time.perf_counter() - t0:.0f}s)")
            except Exception as exc:  # noqa: BLE001
                self.errors[target.name]["partitions"] = f"{type(exc).__name__}: {exc}"
                self.console.print(f" [red]failed[/]: {escape(str(exc))}")
            finally:
                fresh.stop()

    def record_partitions(self, target: Target, result: dict[str, Any]) -> None:
        for key in ("create_topics_per_s", "restart_accept_s", "restart_all_offsets_s", "fds",
                    "fds_after_restart"):
            value = result.get(key)
            self.record(target, f"partitions_{key}", None if value is None else float(value))
        rss = [v for v in (result.get("rss_mb"), result.get("rss_after_restart_mb")) if v is not None]
        self.record(target, "partitions_rss_mb", max(rss) if rss else None)
        for i, message in enumerate(result.get("errors") or []):
            self.errors[target.name][f"partitions error {i + 1}"] = message
            if i >= 4:
                break

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
        plan, legs = self.plan, self.legs
        if "startup" in legs:
            self.console.rule(f"start-up: {plan.startup_runs} runs per target, one target at a time")
            self.startup_runs()
        if not set(legs) - {"startup", "partitions"}:
            # Those legs start brokers of their own: the shared ones would only add load.
            self.legs_with_own_brokers()
            return
        self.console.rule("start")
        self.start_all()
        self.console.rule("round 1 (workloads alternate across targets)")
        if "produce" in legs:
            self.sampled("produce 1 KiB", self.produce_big)
            self.sampled("produce 100 B", self.produce_small)
            if goclient.available():
                self.sampled(GO_LEG, self.produce_small_go)
            else:
                self.console.print("[yellow]no go: the franz-go 100 B leg is skipped[/]")
        if "consume" in legs:
            # The sink reads back what it kept: the most this client can consume here.
            self.sampled("consume 1 KiB", self.consume, produce_only_ok=False, consume_ok=True)
        if "latency" in legs:
            self.each("produce latency", self.latency)
        if "assign" in legs:
            self.each("first assignment", self.assignment, produce_only_ok=False)
        self.snapshot_rss("rss_after_round1_mb")
        if "memory" in legs:
            self.console.rule(f"memory: {plan.produce_repeats} repeats of produce 1 KiB")
            for i in range(plan.produce_repeats):
                self.each(f"repeat produce #{i + 1}", self.repeat_produce)
            self.snapshot_rss("rss_after_repeat_mb")
        # Peak RSS before the legs below: 1,000 idle connections are a figure of their own.
        self.finish_memory()
        if "small" in legs:
            self.console.rule(f"small requests: {plan.small_producers} producers ({plan.small_mode}), "
                              "one 100 B record per request")
            for i in range(plan.small_samples):
                for variant in VARIANTS:
                    self.each(f"small {variant} #{i + 1}", lambda t, v=variant: self.small(t, v))
        if "idle" in legs:
            self.console.rule(f"{plan.idle_connections:,} idle connections: produce + consume "
                              "without / with, paired")
            self.each("idle broker CPU", self.idle_cpu, produce_only_ok=False)
            for i in range(plan.idle_samples):
                self.each(f"idle pair #{i + 1}", lambda t, w=i % 2 == 1: self.idle_pair(t, w),
                          produce_only_ok=False)
        if "fsync" in legs:
            self.console.rule("durable writes vs normal: chronik --fsync always, "
                              "kafka log.flush.interval.messages=1")
            self.fsync()
        self.legs_with_own_brokers()


def target_factories(only: list[str], bootstrap: str | None,
                     data_root: Path | None = None) -> dict[str, Callable[[], Target]]:
    factories: dict[str, Callable[[], Target]] = {
        "chronik": lambda: chronik_target(bootstrap, data_root),
        "kafka": kafka_target,
        "tansu": tansu_target,
        "sink": sink_target,
    }
    return {name: factories[name] for name in TARGETS if name in only}


def build_targets(only: list[str], bootstrap: str | None, data_root: Path | None = None) -> list[Target]:
    return [factory() for factory in target_factories(only, bootstrap, data_root).values()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 sizes (< 2 min for chronik alone)")
    parser.add_argument("--only", default="chronik,kafka,tansu,sink",
                        help="comma-separated subset of chronik,kafka,tansu,sink (kafka needs java and mvn)")
    parser.add_argument("--legs", default=",".join(DEFAULT_LEGS),
                        help=f"comma-separated subset of {','.join(LEGS)} (default: all but partitions)")
    parser.add_argument("--partitions", action="store_true",
                        help="add the many-partitions leg (bench/bench_partitions.py; minutes per target)")
    parser.add_argument("--small-mode", choices=("processes", "threads"), default="processes",
                        help="run the small-request producers as processes (default) or threads")
    parser.add_argument("--bootstrap", default=None,
                        help="use an already running Chronik at HOST:PORT (no CPU/RSS figures)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where Chronik's temp data dir goes (default: the system temp dir); "
                        "/dev/shm puts it in RAM like Tansu's memory storage")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    legs = {leg.strip() for leg in args.legs.split(",") if leg.strip()}
    if args.partitions:
        legs.add("partitions")
    unknown = legs - set(LEGS)
    if unknown:
        parser.error(f"unknown leg(s): {', '.join(sorted(unknown))} (choose from {', '.join(LEGS)})")
    args.legs = tuple(leg for leg in LEGS if leg in legs)
    return args


def results_document(bench: Bench, plan: Plan, started: float) -> dict[str, Any]:
    return {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_start": bench.extra.get("_machine", {}).get("loadavg_start"),
            "loadavg_end": _loadavg(),
        },
        "plan": asdict(plan),
        "legs": list(bench.legs),
        "client": {"library": "confluent-kafka", "session_timeout_ms": SESSION_TIMEOUT_MS,
                   "fetch_queue_backoff_ms": FETCH_QUEUE_BACKOFF_MS},
        "targets": {t.name: {"bootstrap": t.bootstrap, "external": t.external,
                             "command": t.command} for t in bench.targets},
        "figures": bench.figures,
        "samples": {name: {key: [round(v, 4) for v in values] for key, values in by_key.items()}
                    for name, by_key in bench.samples.items()},
        "ratios": ratios(bench.figures),
        "extra": {name: extra for name, extra in bench.extra.items() if not name.startswith("_")},
        "errors": bench.errors,
        "notes": bench.notes,
        "goals": goals(bench.figures),
    }


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # librdkafka runs in this process: if it crashes, at least say in which leg.
    faulthandler.enable()
    plan = Plan.quick() if args.quick else Plan()
    plan = dataclasses.replace(plan, small_mode=args.small_mode)
    # Piped output defaults to 80 columns, which folds the table into unreadable cells.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    # Chronik's bytecode, as `pip install` compiles it: with PYTHONDONTWRITEBYTECODE set (as in some
    # shells) every start would otherwise compile the modules changed since the last cache write.
    compileall.compile_dir(str(BENCH_DIR.parent / "chronik"), quiet=1)
    # Idle connections and many partitions need fds; brokers started below inherit the limit.
    raise_nofile(plan.idle_connections * 4 + 4096)
    started = time.time()
    # A SIGTERM must still run the finally below, which stops every broker we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    factories = target_factories(args.only, args.bootstrap, args.data_root)
    bench = Bench([factory() for factory in factories.values()], plan, console, args.legs, factories)
    bench.extra["_machine"] = {"loadavg_start": _loadavg()}
    console.print(f"load average at start: {_loadavg()} on {os.cpu_count()} cores; legs: {', '.join(args.legs)}")
    try:
        bench.run()
    finally:
        for target in bench.targets:
            target.stop(keep_log_in=args.json.parent / "logs")
    render(bench.figures, bench.errors, console, bench.notes)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results_document(bench, plan, started), indent=2) + "\n")
    # The same table in Markdown, for issue notes and the README.
    args.json.with_suffix(".md").write_text(markdown(bench.figures, bench.errors, bench.notes))
    console.print(f"load average at end: {_loadavg()}")
    console.print(f"results written to {args.json} ({time.time() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
