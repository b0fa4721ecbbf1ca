"""/metrics: the broker's state and counters in the Prometheus text format, computed at scrape time.

(About 600 lines: one renderer for three dashboards' naming schemes, computed
from one snapshot of the core; split by scheme it would walk the core three times.)

Three groups of names, so existing dashboards work unchanged:

* kafka_exporter's (danielqsj/kafka_exporter, Strimzi's "Kafka Exporter"
  dashboard): kafka_brokers, kafka_topic_partition_*, kafka_consumergroup_*
  with its labels (topic, partition, consumergroup);
* what the JMX exporter rules of Strimzi's kafka-metrics.yaml make of
  Kafka's MBeans (Strimzi's "Kafka" dashboard): kafka_server_*,
  kafka_controller_*, kafka_cluster_partition_*, kafka_log_log_size,
  kafka_network_*; on one node the replication ones are constants
  (1 replica, in sync, leader 0, nothing offline);
* Chronik's own, chronik_*.

Nothing is counted on the hot path here: the core's `stats` (BrokerStats)
holds plain counters, and this module reads them and the partition logs
when Prometheus asks.

Why two writers. Fixed-size families (chronik_*, broker-wide gauges, the
process collector) go through prometheus_client's exposition. Families
that grow with topics, partitions and groups are written by `_Family`
below in the same text format (checked by prometheus_client's parser in
the tests) because prometheus_client needs ~7 µs a sample: 10,000
partitions make ~120,000 samples, over 0.75 s of loop time. Written here
they cost ~1 µs each, and the scrape runs as a generator the app drives in
slices of ~2 ms (like the log cleaner), so the loop keeps serving Kafka
clients while a large scrape is being built.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from chronik import __version__
from chronik.broker.stats import LATENCY_BUCKETS, LatencyHistogram
from chronik.wire.apis import ALL_APIS
from chronik.wire.errors import ErrorCode

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from chronik.broker.core import BrokerCore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SLICE_SECONDS = 0.0005
# Lines of a family joined at once when the body is assembled.
_JOIN_LINES = 2048
# Kafka's RequestMetrics histograms are exported as these quantiles.
KAFKA_QUANTILES = (0.5, 0.75, 0.95, 0.98, 0.99, 0.999)
LISTENER = "PLAINTEXT"


# kafka_exporter's help texts, and ours for the JMX names.
_HELP = {
    "kafka_topic_partitions": "Number of partitions for this Topic",
    "kafka_topic_partition_current_offset": "Current Offset of a Broker at Topic/Partition",
    "kafka_topic_partition_oldest_offset": "Oldest Offset of a Broker at Topic/Partition",
    "kafka_topic_partition_leader": "Leader Broker ID of this Topic/Partition",
    "kafka_topic_partition_replicas": "Number of Replicas for this Topic/Partition",
    "kafka_topic_partition_in_sync_replica": "Number of In-Sync Replicas for this Topic/Partition",
    "kafka_topic_partition_under_replicated_partition": "1 if Topic/Partition is under Replicated",
    "kafka_topic_partition_leader_is_preferred": "1 if Topic/Partition is using the Preferred Broker",
    "kafka_log_log_size": "Size of the partition's log on disk in bytes",
    "kafka_cluster_partition_atminisr": "1 if the partition's ISR size equals min.insync.replicas",
    "kafka_cluster_partition_underminisr": "1 if the partition's ISR size is below min.insync.replicas",
    "kafka_cluster_partition_replicascount": "Replicas of the partition",
    "kafka_consumergroup_current_offset": "Current Offset of a ConsumerGroup at Topic/Partition",
    "kafka_consumergroup_current_offset_sum": "Current Offset of a ConsumerGroup at Topic for all partitions",
    "kafka_consumergroup_lag": "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
    "kafka_consumergroup_lag_sum": "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
    "kafka_consumergroup_members": "Amount of members in a consumer group",
}


class LoopView(Protocol):
    """What the server tells the HTTP side about itself (read-only)."""

    accepted_total: int
    closed_total: int
    idle_seconds: float
    started: float

    @property
    def connections_open(self) -> int: ...

    @property
    def stream_connections(self) -> int: ...


def _esc(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


class _Family:
    """One metric family written straight into the text format."""

    __slots__ = ("name", "kind", "help", "lines")

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.lines: list[str] = []


def _min_isr(topic: Any) -> int:
    try:
        return int(topic.effective_config.get("min.insync.replicas", "1"))
    except ValueError:
        return 1


def _series_name(name: str, kind: str) -> str:
    return name + "_total" if kind == "counter" else name


class MetricsRenderer:
    def __init__(self, core: BrokerCore, loop: LoopView, address: str) -> None:
        self.core = core
        self.loop = loop
        self.address = address
        self._registry: CollectorRegistry | None = None
        self._static: tuple[tuple, dict[str, list[bytes]]] | None = None
        self._idle_marks: deque[tuple[float, float]] = deque(maxlen=32)

    # -- the scrape ---------------------------------------------------------------
    @property
    def registry(self) -> CollectorRegistry:
        """prometheus_client (with http.server, urllib, ...) is imported by the first scrape, not at start-up."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry, GCCollector

            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(_FixedCollector(self))
            self._registry.register(_ProcessCollector())
            GCCollector(registry=self._registry)
        return self._registry

    def render(self) -> bytes:
        """The whole scrape at once (tests, the bench); the app uses `steps`."""
        gen = self.steps()
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return b"".join(stop.value)

    def steps(self, slice_seconds: float = SLICE_SECONDS) -> Generator[None, None, list[bytes]]:
        """Build the scrape as chunks of the body; yields whenever a slice of loop time is used up."""
        core = self.core
        stats = core.stats
        fam = {}

        def family(name: str, kind: str, help_text: str) -> _Family:
            f = fam[name] = _Family(_series_name(name, kind), kind, help_text)
            return f

        def gauge(name: str) -> _Family:
            return family(name, "gauge", _HELP[name])

        topic_partitions = gauge("kafka_topic_partitions")
        current = gauge("kafka_topic_partition_current_offset")
        oldest = gauge("kafka_topic_partition_oldest_offset")
        leader = gauge("kafka_topic_partition_leader")
        replicas = gauge("kafka_topic_partition_replicas")
        isr = gauge("kafka_topic_partition_in_sync_replica")
        under = gauge("kafka_topic_partition_under_replicated_partition")
        preferred = gauge("kafka_topic_partition_leader_is_preferred")
        log_size = gauge("kafka_log_log_size")
        at_min = gauge("kafka_cluster_partition_atminisr")
        under_min = gauge("kafka_cluster_partition_underminisr")
        replicas_count = gauge("kafka_cluster_partition_replicascount")
        btm = {
            key: family(f"kafka_server_brokertopicmetrics_{key}", "counter", help_text)
            for key, help_text in (
                ("messagesin", "Records appended (MessagesInPerSec)"),
                ("bytesin", "Bytes appended (BytesInPerSec)"),
                ("bytesout", "Record bytes sent to fetchers (BytesOutPerSec)"),
                ("totalproducerequests", "Produce requests per topic (TotalProduceRequestsPerSec)"),
                ("failedproducerequests", "Failed produce requests per topic (FailedProduceRequestsPerSec)"),
                ("totalfetchrequests", "Fetch requests per topic (TotalFetchRequestsPerSec)"),
                ("failedfetchrequests", "Failed fetch requests per topic (FailedFetchRequestsPerSec)"),
            )
        }
        rolls = stats.rolls_of_deleted_topics
        producer_states = core.producers.partitions
        pids: set[int] = set()
        deadline = time.perf_counter() + slice_seconds
        n = 0
        partitions_total = 0
        # Log end offsets per topic, a list indexed by partition (None: closed). Not a dict keyed by
        # (topic, partition): 10,000 tuples living through the scrape are what made the garbage
        # collector run gen-1 passes of several ms inside slices and, every few scrapes, a full
        # collection of the whole heap (~0.1-0.3 s with 10,000 partitions) on the loop.
        hwm: dict[str, list[int | None]] = {}
        topics = list(core.topics.values())
        min_isrs = [_min_isr(t) for t in topics]
        # Families whose values only change with the set of partitions (replicas,
        # leader, ISR on one node) are rendered once and reused until that set changes.
        shape = tuple((t.name, id(t), len(t.partitions), m) for t, m in zip(topics, min_isrs, strict=True))
        reuse = self._static is not None and self._static[0] == shape
        static = (leader, replicas, isr, under, preferred, at_min, under_min, replicas_count)
        for topic, min_isr in zip(topics, min_isrs, strict=True):
            name = topic.name
            t_lab = f'topic="{_esc(name)}"'
            parts = topic.partitions
            ends: list[int | None] = [None] * len(parts)
            hwm[name] = ends
            topic_partitions.lines.append(f"kafka_topic_partitions{{{t_lab}}} {len(parts)}\n")
            at_v = 1 if min_isr == 1 else 0
            under_v = 1 if min_isr > 1 else 0
            for p, plog in enumerate(parts):
                if plog.closed:
                    continue
                lab = f'{{partition="{p}",{t_lab}}}'
                end = plog.log_end_offset
                ends[p] = end
                current.lines.append(f"kafka_topic_partition_current_offset{lab} {end}\n")
                oldest.lines.append(f"kafka_topic_partition_oldest_offset{lab} {plog.log_start_offset}\n")
                log_size.lines.append(f"kafka_log_log_size{lab} {plog.size_bytes()}\n")
                if not reuse:
                    leader.lines.append(f"kafka_topic_partition_leader{lab} 0\n")
                    replicas.lines.append(f"kafka_topic_partition_replicas{lab} 1\n")
                    isr.lines.append(f"kafka_topic_partition_in_sync_replica{lab} 1\n")
                    under.lines.append(f"kafka_topic_partition_under_replicated_partition{lab} 0\n")
                    preferred.lines.append(f"kafka_topic_partition_leader_is_preferred{lab} 1\n")
                    at_min.lines.append(f"kafka_cluster_partition_atminisr{lab} {at_v}\n")
                    under_min.lines.append(f"kafka_cluster_partition_underminisr{lab} {under_v}\n")
                    replicas_count.lines.append(f"kafka_cluster_partition_replicascount{lab} 1\n")
                rolls += plog.rolls
                partitions_total += 1
                producers = producer_states.get((name, p))
                if producers:
                    pids.update(producers)
                n += 1
                if not n & 31 and time.perf_counter() >= deadline:
                    yield
                    deadline = time.perf_counter() + slice_seconds
            c = stats.topics.get(name)
            if c is not None:
                for key, value in (
                    ("messagesin", c.messages_in), ("bytesin", c.bytes_in), ("bytesout", c.bytes_out),
                    ("totalproducerequests", c.produce_requests),
                    ("failedproducerequests", c.failed_produce_requests),
                    ("totalfetchrequests", c.fetch_requests),
                    ("failedfetchrequests", c.failed_fetch_requests),
                ):
                    f = btm[key]
                    f.lines.append(f"{f.name}{{{t_lab}}} {value}\n")
        total = stats.total
        for key, value in (
            ("messagesin", total.messages_in), ("bytesin", total.bytes_in), ("bytesout", total.bytes_out),
            ("totalproducerequests", total.produce_requests),
            ("failedproducerequests", total.failed_produce_requests),
            ("totalfetchrequests", total.fetch_requests),
            ("failedfetchrequests", total.failed_fetch_requests),
        ):
            f = btm[key]
            f.lines.append(f"{f.name} {value}\n")

        # Consumer groups (kafka_exporter): committed offsets and lag against the high watermark.
        g_current = gauge("kafka_consumergroup_current_offset")
        g_current_sum = gauge("kafka_consumergroup_current_offset_sum")
        g_lag = gauge("kafka_consumergroup_lag")
        g_lag_sum = gauge("kafka_consumergroup_lag_sum")
        g_members = gauge("kafka_consumergroup_members")
        offsets = core.offsets
        groups = core.groups.groups
        group_ids = set(offsets.groups())
        group_ids.update(gid for gid, g in groups.items() if g.state.value != "Dead")
        for gid in sorted(group_ids):
            g_lab = f'consumergroup="{_esc(gid)}"'
            g = groups.get(gid)
            g_members.lines.append(f"kafka_consumergroup_members{{{g_lab}}} {len(g.members) if g else 0}\n")
            sums: dict[str, list[int]] = {}
            for (tname, p), committed in offsets.group_offsets(gid).items():
                ends = hwm.get(tname)
                end = ends[p] if ends is not None and 0 <= p < len(ends) else None
                if end is None:
                    continue
                off = committed.offset
                lag = max(0, end - off) if off >= 0 else end
                lab = f'{{{g_lab},partition="{p}",topic="{_esc(tname)}"}}'
                g_current.lines.append(f"kafka_consumergroup_current_offset{lab} {off}\n")
                g_lag.lines.append(f"kafka_consumergroup_lag{lab} {lag}\n")
                s = sums.setdefault(tname, [0, 0])
                s[0] += off
                s[1] += lag
                n += 1
                if not n & 31 and time.perf_counter() >= deadline:
                    yield
                    deadline = time.perf_counter() + slice_seconds
            for tname, (off_sum, lag_sum) in sorted(sums.items()):
                lab = f'{{{g_lab},topic="{_esc(tname)}"}}'
                g_current_sum.lines.append(f"kafka_consumergroup_current_offset_sum{lab} {off_sum}\n")
                g_lag_sum.lines.append(f"kafka_consumergroup_lag_sum{lab} {lag_sum}\n")

        self._partitions = partitions_total
        self._rolls = rolls
        self._producer_ids = len(pids)
        yield
        deadline = time.perf_counter() + slice_seconds
        from prometheus_client.exposition import generate_latest

        out = [generate_latest(self.registry)]
        built: dict[str, list[bytes]] = {}
        for f in fam.values():
            if reuse and f in static:
                out.extend(self._static[1][f.name])
                continue
            start = len(out)
            out.append(f"# HELP {f.name} {f.help}\n# TYPE {f.name} {f.kind}\n".encode())
            lines = f.lines
            for i in range(0, len(lines), _JOIN_LINES):
                chunk = lines[i:i + _JOIN_LINES]
                out.append("".join(chunk).encode())
                del chunk
                if time.perf_counter() >= deadline:
                    yield
                    deadline = time.perf_counter() + slice_seconds
            if f in static:
                built[f.name] = out[start:]
            # Freeing 10,000 strings takes time too: here, not all at once when the scrape ends.
            lines.clear()
            if time.perf_counter() >= deadline:
                yield
                deadline = time.perf_counter() + slice_seconds
        if not reuse:
            self._static = (shape, built)
        hwm.clear()
        yield
        return out

    # -- helpers of the fixed families -------------------------------------------------
    def idle_fraction(self) -> float:
        """Share of the last second or more (back to the newest earlier scrape at least 1 s old)
        the loop spent waiting in select(); since start on the first scrape."""
        now = time.monotonic()
        idle = self.loop.idle_seconds
        ref = (self.loop.started, 0.0)
        for mark in reversed(self._idle_marks):
            if now - mark[0] >= 1.0:
                ref = mark
                break
        self._idle_marks.append((now, idle))
        span = now - ref[0]
        return max(0.0, min(1.0, (idle - ref[1]) / span)) if span > 0 else 1.0


class _ProcessCollector:
    """prometheus_client's process_* names without its cost: its ProcessCollector lists
    /proc/self/fd on every scrape (6 ms with 10,000 partitions' files open). Here the
    open-fd count is refreshed by a worker thread at most every FD_MAX_AGE seconds."""

    FD_MAX_AGE = 5.0

    def __init__(self) -> None:
        self.start_time = time.time() - (time.monotonic() - _MONOTONIC_AT_IMPORT)
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.fds: int | None = None
        self._fds_at = 0.0
        self._counting = False

    def _count_fds(self) -> None:
        try:
            self.fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            self.fds = None
        self._fds_at = time.monotonic()
        self._counting = False

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        t = os.times()
        yield CounterMetricFamily("process_cpu_seconds", "Total user and system CPU time spent in seconds.",
                                  value=t.user + t.system)
        yield GaugeMetricFamily("process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.", value=self.start_time)
        try:
            with open("/proc/self/statm", "rb") as f:
                size, resident = f.read().split()[:2]
            yield GaugeMetricFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                    value=int(size) * self.page)
            yield GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                                    value=int(resident) * self.page)
        except (OSError, ValueError):
            pass
        try:
            import resource

            yield GaugeMetricFamily("process_max_fds", "Maximum number of open file descriptors.",
                                    value=resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        except (ImportError, OSError):
            pass
        if os.path.isdir("/proc/self/fd"):
            if not self._counting and time.monotonic() - self._fds_at > self.FD_MAX_AGE:
                self._counting = True
                threading.Thread(target=self._count_fds, name="count-fds", daemon=True).start()
            if self.fds is not None:
                yield GaugeMetricFamily("process_open_fds", "Number of open file descriptors.", value=self.fds)


_MONOTONIC_AT_IMPORT = time.monotonic()


def _disk_io() -> tuple[int, int] | None:
    """(read_bytes, write_bytes) of this process from /proc/self/io (Linux)."""
    try:
        with open("/proc/self/io", "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    values = {}
    for line in data.splitlines():
        k, _, v = line.partition(":")
        values[k.strip()] = int(v.strip() or 0)
    return values.get("read_bytes", 0), values.get("write_bytes", 0)


def _api_name(key: int) -> str:
    spec = ALL_APIS.get(key)
    return spec.name if spec else str(key)


def _error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return str(code)


class _FixedCollector:
    """Families whose size does not grow with topics or partitions."""

    def __init__(self, renderer: MetricsRenderer) -> None:
        self.r = renderer

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        r = self.r
        core = r.core
        loop = r.loop
        stats = core.stats
        partitions = getattr(r, "_partitions", 0)

        def gauge(name: str, help_text: str, value: float, labels: dict[str, str] | None = None):
            g = GaugeMetricFamily(name, help_text, labels=list(labels) if labels else None)
            if labels:
                g.add_metric(list(labels.values()), value)
            else:
                g.add_metric([], value)
            return g

        def counter(name: str, help_text: str, value: float, labels: dict[str, str] | None = None):
            c = CounterMetricFamily(name, help_text, labels=list(labels) if labels else None)
            c.add_metric(list(labels.values()) if labels else [], value)
            return c

        # -- kafka_exporter, broker level
        yield gauge("kafka_brokers", "Number of Brokers in the Kafka Cluster.", 1)
        yield gauge("kafka_broker_info", "Information about the Kafka Broker.", 1,
                    {"address": r.address, "id": str(core.config.node_id)})

        # -- Strimzi / JMX exporter names, broker level
        yield gauge("kafka_server_replicamanager_leadercount", "Partitions this broker leads", partitions)
        yield gauge("kafka_server_replicamanager_partitioncount", "Partitions on this broker", partitions)
        yield gauge("kafka_server_replicamanager_underreplicatedpartitions", "Under-replicated partitions", 0)
        yield gauge("kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller", 1)
        yield gauge("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a leader", 0)
        yield counter("kafka_controller_controllerstats_uncleanleaderelections",
                      "Unclean leader elections (UncleanLeaderElectionsPerSec)", 0)
        idle = r.idle_fraction()
        yield gauge("kafka_network_socketserver_networkprocessoravgidle_percent",
                    "Share of time the network loop is idle (one loop does all the work)", idle)
        yield gauge("kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
                    "Share of time the request handler (the same loop) is idle", idle)
        io = _disk_io()
        if io is not None:
            yield gauge("kafka_server_kafkaserver_linux_disk_read_bytes",
                        "Bytes this process read from disk (/proc/self/io)", io[0])
            yield gauge("kafka_server_kafkaserver_linux_disk_write_bytes",
                        "Bytes this process wrote to disk (/proc/self/io)", io[1])
        listener = {"listener": LISTENER, "networkProcessor": "0"}
        yield gauge("kafka_server_socket_server_metrics_connection_count", "Open Kafka connections",
                    loop.connections_open, listener)
        yield counter("kafka_server_socket_server_metrics_connection_creation",
                      "Kafka connections accepted", loop.accepted_total, listener)
        yield counter("kafka_server_socket_server_metrics_connection_close",
                      "Kafka connections closed", loop.closed_total, listener)

        requests = CounterMetricFamily("kafka_network_requestmetrics_requests",
                                       "Requests by type and version (RequestsPerSec)",
                                       labels=["request", "version"])
        total_time = GaugeMetricFamily("kafka_network_requestmetrics_totaltimems",
                                       "Request total time in ms, quantiles since start (estimated from "
                                       "chronik_request_latency_seconds buckets)", labels=["request", "quantile"])
        total_time_count = CounterMetricFamily("kafka_network_requestmetrics_totaltimems",
                                               "Requests timed (TotalTimeMs count)", labels=["request"])
        latency = HistogramMetricFamily("chronik_request_latency_seconds",
                                        "Time from a request's dispatch to its encoded answer "
                                        "(long-poll waits included)", labels=["api", "version"])
        by_api: dict[int, list] = {}
        for (key, version), h in sorted(stats.requests.items()):
            api = _api_name(key)
            requests.add_metric([api, str(version)], h.count)
            cum = h.cumulative()
            buckets = [(_le(b), cum[i]) for i, b in enumerate(LATENCY_BUCKETS)]
            buckets.append(("+Inf", cum[-1]))
            latency.add_metric([api, str(version)], buckets, h.sum)
            by_api.setdefault(key, []).append(h)
        for key, hs in sorted(by_api.items()):
            api = _api_name(key)
            merged = _merge(hs)
            for q in KAFKA_QUANTILES:
                total_time.add_metric([api, str(q)], merged.quantile(q) * 1000.0)
        # the _count of TotalTimeMs shares its family name with the gauge: written as its own counter
        for key, hs in sorted(by_api.items()):
            total_time_count.add_metric([_api_name(key)], sum(h.count for h in hs))
        yield requests
        yield total_time
        yield _renamed(total_time_count, "kafka_network_requestmetrics_totaltimems_count")
        yield latency

        errors = CounterMetricFamily("chronik_request_errors", "Error codes answered, by API",
                                     labels=["api", "error"])
        for (key, code), count in sorted(stats.errors.items()):
            errors.add_metric([_api_name(key), _error_name(code)], count)
        yield errors

        # -- Chronik's own
        yield gauge("chronik_build_info", "Chronik version", 1, {"version": __version__})
        yield gauge("chronik_up_seconds", "Seconds since the broker started", time.monotonic() - loop.started)
        yield gauge("chronik_ready", "1 once recovery is done and Kafka clients are served", 1 if core.ready else 0)
        yield counter("chronik_storage_errors", "Writes that failed for the disk (full, quota, I/O)",
                      core.storage.failures)
        yield gauge("chronik_storage_failing", "1 while some kind of write fails for the disk",
                    0 if core.storage.healthy else 1)
        conns = GaugeMetricFamily("chronik_connections", "Open connections by listener", labels=["listener"])
        conns.add_metric(["kafka"], loop.connections_open)
        conns.add_metric(["http"], loop.stream_connections)
        yield conns
        yield counter("chronik_connections_accepted", "Kafka connections accepted", loop.accepted_total)
        yield counter("chronik_connections_closed", "Kafka connections closed", loop.closed_total)
        yield counter("chronik_loop_idle_seconds", "Seconds the loop waited in select()", loop.idle_seconds)
        commit = core.group_commit  # set only with --fsync always
        if commit is not None:
            yield counter("chronik_fsyncs", "Files and directories fsynced by group commit (--fsync always)",
                          commit.fsyncs_total)
            yield counter("chronik_group_commits", "Group-commit batches fsynced", commit.batches_total)
            yield counter("chronik_group_commit_failures", "Group-commit batches whose fsync failed",
                          commit.failures_total)
            yield counter("chronik_fsync_seconds", "Seconds the fsync worker spent in batches",
                          commit.sync_seconds_total)
            yield gauge("chronik_fsync_waiting", "acks=all answers held for an fsync", commit.waiting)
        yield gauge("chronik_long_poll_waiters", "Requests parked in the purgatory (long-poll fetches)",
                    core.purgatory.pending())
        total = stats.total
        yield counter("chronik_messages_in", "Records appended", total.messages_in)
        yield counter("chronik_bytes_in", "Record bytes appended", total.bytes_in)
        yield counter("chronik_bytes_out", "Record bytes sent to fetchers", total.bytes_out)
        yield counter("chronik_segment_rolls", "Segments rolled", getattr(r, "_rolls", 0))
        yield counter("chronik_retention_deleted_segments", "Segments deleted by retention",
                      stats.retention_segments_deleted)
        yield counter("chronik_retention_deleted_bytes", "Bytes deleted by retention", stats.retention_bytes_deleted)
        yield counter("chronik_cleaner_runs", "Compaction rounds finished", stats.cleaner_runs)
        yield counter("chronik_cleaner_read_bytes", "Bytes read by compaction", stats.cleaner_bytes_read)
        yield counter("chronik_cleaner_written_bytes", "Bytes written by compaction", stats.cleaner_bytes_written)
        yield gauge("chronik_producer_ids", "Producer ids with state on this broker", getattr(r, "_producer_ids", 0))
        txn_states: dict[str, int] = {}
        for meta in core.transactions.txns.values():
            txn_states[meta.state.value] = txn_states.get(meta.state.value, 0) + 1
        txns = GaugeMetricFamily("chronik_transactions", "Transactional ids by state", labels=["state"])
        for state in ("Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort",
                      "PrepareEpochFence", "Dead"):
            txns.add_metric([state], txn_states.get(state, 0))
        yield txns
        open_txns = sum(v for k, v in txn_states.items() if k in ("Ongoing", "PrepareCommit", "PrepareAbort"))
        yield gauge("chronik_open_transactions", "Transactions begun and not yet completed", open_txns)
        group_states: dict[str, int] = {}
        members = 0
        for g in core.groups.groups.values():
            group_states[g.state.value] = group_states.get(g.state.value, 0) + 1
            members += len(g.members)
        groups = GaugeMetricFamily("chronik_groups", "Consumer groups by state", labels=["state"])
        for state in ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"):
            groups.add_metric([state], group_states.get(state, 0))
        yield groups
        yield gauge("chronik_group_members", "Members of all consumer groups", members)
        yield gauge("chronik_topics", "Topics", len(core.topics))
        yield gauge("chronik_partitions", "Partitions", partitions)
        try:
            st = os.statvfs(core.data_dir)
            yield gauge("chronik_data_dir_available_bytes", "Free bytes on the data directory's file system",
                        st.f_bavail * st.f_frsize)
        except OSError:
            pass


def _le(b: float) -> str:
    return repr(float(b))


def _merge(hs: list[LatencyHistogram]) -> LatencyHistogram:
    out = LatencyHistogram()
    out.counts = [sum(c) for c in zip(*(h.counts for h in hs), strict=True)]
    out.count = sum(h.count for h in hs)
    out.sum = sum(h.sum for h in hs)
    return out


def _renamed(family: CounterMetricFamily, name: str) -> GaugeMetricFamily:
    """A counter whose exposed name must not get `_total` (JMX's `..._count` series): typed untyped."""
    from prometheus_client.metrics_core import Metric

    m = Metric(name, family.documentation, "unknown")
    for s in family.samples:
        m.add_sample(name, s.labels, s.value)
    return m
