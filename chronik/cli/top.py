"""`chronik top`: a live view of topics, consumer groups and the broker, refreshed every second.

Two sources, picked with `--source` (default `auto`):

* `metrics`: Chronik's admin port (`/metrics`, found at `--url` or at the
  first broker's host on port 9644). Rates come from the broker's counters
  (messages and bytes in/out per topic, requests, latency histograms).
* `kafka`: any Kafka cluster, over the Kafka protocol with kafka-python's
  admin client: end offsets per partition and committed offsets per group,
  so in-rates come from offset deltas and lag is end minus committed (no
  bytes, sizes or latencies).

Keys (on a terminal): `s` next sort key, `S` reverse, `f` or `/` filter by
name (Enter applies, Esc clears), `p` or space pause, `q` quit. Not on a
terminal, or with `--once`, it takes two samples `--interval` apart and
prints one table (or JSON with `-o json`).

The sampling and the rates are plain functions of two `Snapshot`s, tested
without a terminal; the screen is one rich renderable sized to the
terminal, so it fits 80x24 over SSH.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.client import bootstrap_servers, close_quietly, kafka_errors, make_admin
from chronik.cli.render import human_bytes
from chronik.cli.state import CliError, state

SORT_KEYS = ("name", "in", "out", "lag", "size")
DEFAULT_HTTP_PORT = 9644


@dataclass
class TopicSample:
    partitions: int = 0
    end_offset: int = 0  # sum over partitions
    messages_in: float | None = None  # counters (metrics source only)
    bytes_in: float | None = None
    bytes_out: float | None = None
    size: float | None = None


@dataclass
class GroupSample:
    members: int = 0
    committed: int = 0
    lag: int = 0
    topics: set[str] = field(default_factory=set)


@dataclass
class Snapshot:
    at: float
    source: str
    topics: dict[str, TopicSample] = field(default_factory=dict)
    # (group, topic) -> committed / lag sums
    group_topics: dict[tuple[str, str], GroupSample] = field(default_factory=dict)
    groups: dict[str, GroupSample] = field(default_factory=dict)
    requests: float | None = None
    # cumulative latency buckets over all APIs: [(le, count)]
    latency: list[tuple[float, float]] | None = None
    connections: float | None = None
    version: str | None = None


# -- sources -----------------------------------------------------------------------------
def parse_metrics(text: str, at: float) -> Snapshot:
    from prometheus_client.parser import text_string_to_metric_families

    snap = Snapshot(at, "metrics")
    buckets: dict[float, float] = {}
    requests = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            name, labels, v = s.name, s.labels, s.value
            topic = labels.get("topic")
            if name == "kafka_topic_partitions" and topic:
                snap.topics.setdefault(topic, TopicSample()).partitions = int(v)
            elif name == "kafka_topic_partition_current_offset" and topic:
                snap.topics.setdefault(topic, TopicSample()).end_offset += int(v)
            elif name == "kafka_log_log_size" and topic:
                t = snap.topics.setdefault(topic, TopicSample())
                t.size = (t.size or 0) + v
            elif name.startswith("kafka_server_brokertopicmetrics_") and topic:
                t = snap.topics.setdefault(topic, TopicSample())
                if name.endswith("messagesin_total"):
                    t.messages_in = v
                elif name.endswith("bytesin_total"):
                    t.bytes_in = v
                elif name.endswith("bytesout_total"):
                    t.bytes_out = v
            elif name == "kafka_consumergroup_members":
                snap.groups.setdefault(labels["consumergroup"], GroupSample()).members = int(v)
            elif name in ("kafka_consumergroup_current_offset_sum", "kafka_consumergroup_lag_sum"):
                key = (labels["consumergroup"], labels["topic"])
                gt = snap.group_topics.setdefault(key, GroupSample())
                g = snap.groups.setdefault(key[0], GroupSample())
                g.topics.add(key[1])
                if name.endswith("offset_sum"):
                    gt.committed = int(v)
                    g.committed += int(v)
                else:
                    gt.lag = int(v)
                    g.lag += int(v)
            elif name == "chronik_request_latency_seconds_bucket":
                le = float(labels["le"])
                buckets[le] = buckets.get(le, 0.0) + v
            elif name == "chronik_request_latency_seconds_count":
                requests += v
            elif name == "chronik_connections" and labels.get("listener") == "kafka":
                snap.connections = v
            elif name == "chronik_build_info":
                snap.version = labels.get("version")
    if buckets:
        snap.latency = sorted(buckets.items())
        snap.requests = requests
    return snap


def fetch_metrics(url: str, timeout: float = 3.0) -> str:
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=timeout) as r:
        return r.read().decode()


class KafkaSource:
    """Offsets over the Kafka protocol (any cluster)."""

    def __init__(self) -> None:
        self.admin = make_admin()

    def sample(self) -> Snapshot:
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec

        admin = self.admin
        snap = Snapshot(time.monotonic(), "kafka")
        with kafka_errors():
            names = [t for t in admin.list_topics() if not t.startswith("__")]
            meta = admin.describe_topics(names) if names else []
            tps = []
            for t in meta:
                name = t.get("name") or t.get("topic")
                parts = t.get("partitions") or []
                snap.topics[name] = TopicSample(partitions=len(parts))
                tps += [TopicPartition(name, p.get("partition_index", p.get("partition"))) for p in parts]
            ends = {}
            if tps:
                ends = {tp: v.offset for tp, v in admin.list_partition_offsets(
                    {tp: OffsetSpec.LATEST for tp in tps}).items()}
            for tp, off in ends.items():
                snap.topics[tp.topic].end_offset += max(0, off)
            group_ids = [_group_id(g) for g in admin.list_groups()]
            described = admin.describe_groups(group_ids) if group_ids else {}
            for gid in group_ids:
                g = snap.groups.setdefault(gid, GroupSample())
                desc = described.get(gid) if isinstance(described, dict) else None
                g.members = len((desc or {}).get("members", []))
                for tp, om in admin.list_group_offsets(gid).get(gid, {}).items():
                    end = ends.get(tp)
                    if end is None or om.offset < 0:
                        continue
                    gt = snap.group_topics.setdefault((gid, tp.topic), GroupSample())
                    gt.committed += om.offset
                    gt.lag += max(0, end - om.offset)
                    g.committed += om.offset
                    g.lag += max(0, end - om.offset)
                    g.topics.add(tp.topic)
        return snap

    def close(self) -> None:
        close_quietly(self.admin)


def _group_id(g: Any) -> str:
    if isinstance(g, dict):
        return g["group_id"]
    if isinstance(g, tuple):
        return g[0]
    return getattr(g, "group_id", g)


class MetricsSource:
    def __init__(self, url: str) -> None:
        self.url = url

    def sample(self) -> Snapshot:
        try:
            return parse_metrics(fetch_metrics(self.url), time.monotonic())
        except (OSError, urllib.error.URLError) as exc:
            raise CliError(f"cannot read {self.url}/metrics: {exc}") from None

    def close(self) -> None:
        pass


def admin_url_for(brokers: str) -> str:
    host = bootstrap_servers(brokers)[0].rpartition(":")[0]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{DEFAULT_HTTP_PORT}"


def choose_source(source: str, url: str | None) -> MetricsSource | KafkaSource:
    if source == "kafka":
        return KafkaSource()
    target = url or admin_url_for(state.brokers)
    if source == "metrics" or url:
        return MetricsSource(target)
    try:
        if "chronik_build_info" in fetch_metrics(target, timeout=1.0):
            return MetricsSource(target)
    except (OSError, urllib.error.URLError, ValueError):
        pass
    return KafkaSource()


# -- rates: a pure function of two snapshots -------------------------------------------
def _rate(new: float | None, old: float | None, dt: float) -> float | None:
    if new is None or old is None or dt <= 0:
        return None
    return max(0.0, (new - old) / dt)


def _p99(new: list[tuple[float, float]] | None, old: list[tuple[float, float]] | None) -> float | None:
    """p99 of the requests between two cumulative bucket lists (PromQL's histogram_quantile)."""
    if not new:
        return None
    olds = dict(old or [])
    cum = [(le, c - olds.get(le, 0.0)) for le, c in new]
    total = cum[-1][1]
    if total <= 0:
        return None
    rank = 0.99 * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in cum:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9)
        prev_le, prev_c = le, c
    return prev_le


def compute(new: Snapshot, old: Snapshot | None, lag_history: dict[str, list[int]] | None = None) -> dict[str, Any]:
    dt = new.at - old.at if old else 0.0
    out_msgs: dict[str, float] = {}
    for (gid, topic), gt in new.group_topics.items():
        prev = old.group_topics.get((gid, topic)) if old else None
        r = _rate(gt.committed, prev.committed if prev else None, dt)
        if r is not None:
            out_msgs[topic] = out_msgs.get(topic, 0.0) + r
    topics = []
    for name, t in sorted(new.topics.items()):
        p = old.topics.get(name) if old else None
        in_msgs = _rate(t.messages_in, p.messages_in if p else None, dt)
        if in_msgs is None:
            in_msgs = _rate(t.end_offset, p.end_offset if p else None, dt)
        in_bytes = _rate(t.bytes_in, p.bytes_in if p else None, dt)
        out_bytes = _rate(t.bytes_out, p.bytes_out if p else None, dt)
        topics.append({
            "topic": name,
            "partitions": t.partitions,
            "end_offset": t.end_offset,
            "in_msgs_per_s": in_msgs,
            "in_bytes_per_s": in_bytes,
            "out_msgs_per_s": out_msgs.get(name),
            "out_bytes_per_s": out_bytes,
            "size_bytes": t.size,
        })
    groups = []
    for gid, g in sorted(new.groups.items()):
        p = old.groups.get(gid) if old else None
        trend = None
        if lag_history is not None:
            hist = lag_history.setdefault(gid, [])
            hist.append(g.lag)
            del hist[:-10]
            if len(hist) >= 2 and dt > 0:
                trend = (hist[-1] - hist[0]) / (dt * (len(hist) - 1))
        elif p is not None and dt > 0:
            trend = (g.lag - p.lag) / dt
        groups.append({
            "group": gid,
            "members": g.members,
            "topics": sorted(g.topics),
            "lag": g.lag,
            "lag_trend_per_s": trend,
            "consume_msgs_per_s": _rate(g.committed, p.committed if p else None, dt),
        })
    broker = {
        "source": new.source,
        "version": new.version,
        "requests_per_s": _rate(new.requests, old.requests if old else None, dt),
        "p99_ms": None if (ms := _p99(new.latency, old.latency if old else None)) is None else ms * 1000,
        "connections": new.connections,
    }
    return {"broker": broker, "topics": topics, "groups": groups}


def sort_rows(view: dict[str, Any], key: str, reverse: bool, pattern: str) -> tuple[list, list]:
    pat = pattern.lower()
    topics = [t for t in view["topics"] if pat in t["topic"].lower()]
    groups = [g for g in view["groups"] if pat in g["group"].lower() or any(pat in t.lower() for t in g["topics"])]
    tkey = {
        "name": lambda t: t["topic"],
        "in": lambda t: t["in_msgs_per_s"] or 0.0,
        "out": lambda t: t["out_msgs_per_s"] or 0.0,
        "lag": lambda t: -sum(g["lag"] for g in groups if t["topic"] in g["topics"]),
        "size": lambda t: t["size_bytes"] or 0.0,
    }[key]
    desc = key != "name"
    topics.sort(key=tkey, reverse=desc != reverse)
    gkey = (lambda g: g["group"]) if key == "name" else (lambda g: g["lag"])
    groups.sort(key=gkey, reverse=desc != reverse)
    return topics, groups


# -- rendering ------------------------------------------------------------------------------
def _num(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}" if v < 1000 or digits == 0 else f"{v:,.0f}"


def _mbs(v: float | None) -> str:
    return "-" if v is None else f"{v / 1e6:.2f}"


def _trend(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) < 0.05:
        return "= 0"
    return f"{'↑' if v > 0 else '↓'} {abs(v):,.1f}/s"


def render(view: dict[str, Any], key: str, reverse: bool, pattern: str, paused: bool,
           height: int, status: str = "") -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    b = view["broker"]
    topics, groups = sort_rows(view, key, reverse, pattern)
    head = Text.assemble(
        ("chronik top", "bold"),
        f"  {b['source']}",
        f"  req/s {_num(b['requests_per_s'])}",
        f"  p99 {_num(b['p99_ms'], 2)} ms",
        f"  conns {_num(b['connections'], 0)}",
        ("  PAUSED" if paused else "", "bold red"),
    )
    keys = Text(f"sort:{key}{'↑' if reverse else ''} filter:{pattern or '-'}  "
                "[s]ort [S]rev [f]ilter [p]ause [q]uit" + (f"  {status}" if status else ""), style="dim")
    # Rows that fit: 24 lines = 2 header lines + 2 table heads (+ rules) + rows.
    room = max(4, height - 9)
    g_rows = min(len(groups), max(1, room // 3)) if groups else 0
    t_rows = max(1, room - g_rows)
    tt = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    for col, just in (("TOPIC", "left"), ("P", "right"), ("IN msg/s", "right"), ("IN MB/s", "right"),
                      ("OUT msg/s", "right"), ("OUT MB/s", "right"), ("SIZE", "right")):
        tt.add_column(col, justify=just, no_wrap=True, overflow="ellipsis")
    for t in topics[:t_rows]:
        tt.add_row(t["topic"], str(t["partitions"]), _num(t["in_msgs_per_s"]), _mbs(t["in_bytes_per_s"]),
                   _num(t["out_msgs_per_s"]), _mbs(t["out_bytes_per_s"]),
                   human_bytes(int(t["size_bytes"])) if t["size_bytes"] is not None else "-")
    if len(topics) > t_rows:
        tt.add_row(f"… {len(topics) - t_rows} more", "", "", "", "", "", "")
    gt = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    for col, just in (("GROUP", "left"), ("MEMBERS", "right"), ("LAG", "right"), ("TREND", "right"),
                      ("CONSUME msg/s", "right"), ("TOPICS", "left")):
        gt.add_column(col, justify=just, no_wrap=True, overflow="ellipsis")
    for g in groups[:g_rows]:
        gt.add_row(g["group"], str(g["members"]), f"{g['lag']:,}", _trend(g["lag_trend_per_s"]),
                   _num(g["consume_msgs_per_s"]), ",".join(g["topics"]))
    if len(groups) > g_rows:
        gt.add_row(f"… {len(groups) - g_rows} more", "", "", "", "", "")
    return Group(head, keys, tt, Text(""), gt)


# -- keys -----------------------------------------------------------------------------------
class Keys:
    """Single keys from a terminal in cbreak mode, without blocking."""

    def __init__(self) -> None:
        import termios
        import tty

        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def read(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        return os.read(self.fd, 1).decode(errors="replace")

    def close(self) -> None:
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def _live(src: Any, interval: float, key: str, pattern: str) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console()
    keys = Keys()
    reverse = paused = False
    typing: str | None = None
    history: dict[str, list[int]] = {}
    old = src.sample()
    view = compute(old, None, history)
    status = ""
    try:
        with Live(console=console, auto_refresh=False, screen=True, transient=True) as live:
            next_at = time.monotonic() + interval
            while True:
                prompt = f"filter: {typing}_" if typing is not None else status
                live.update(render(view, key, reverse, pattern, paused, console.size.height, prompt),
                            refresh=True)
                ch = keys.read(next_at - time.monotonic())
                if ch is not None:
                    if typing is not None:
                        if ch in ("\r", "\n"):
                            pattern, typing = typing, None
                        elif ch == "\x1b":
                            pattern, typing = "", None
                        elif ch in ("\x7f", "\b"):
                            typing = typing[:-1]
                        elif ch.isprintable():
                            typing += ch
                    elif ch in ("q", "Q", "\x03"):
                        return
                    elif ch == "s":
                        key = SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)]
                    elif ch == "S":
                        reverse = not reverse
                    elif ch in ("f", "/"):
                        typing = ""
                    elif ch in ("p", " "):
                        paused = not paused
                    continue
                next_at = time.monotonic() + interval
                if paused:
                    continue
                try:
                    new = src.sample()
                    status = ""
                except CliError as exc:
                    status = f"! {exc}"
                    continue
                view = compute(new, old, history)
                old = new
    finally:
        keys.close()


def _plain(view: dict[str, Any], key: str, pattern: str) -> None:
    from chronik.cli.render import Table as RTable
    from chronik.cli.render import render_text

    topics, groups = sort_rows(view, key, False, pattern)
    b = view["broker"]
    print(f"source {b['source']}  req/s {_num(b['requests_per_s'])}  p99 {_num(b['p99_ms'], 2)} ms  "
          f"conns {_num(b['connections'], 0)}")
    tcols = ["topic", "p", "in_msg/s", "in_mb/s", "out_msg/s", "out_mb/s", "size"]
    t = RTable(tcols, [dict(zip(tcols, (
        x["topic"], x["partitions"], _num(x["in_msgs_per_s"]), _mbs(x["in_bytes_per_s"]),
        _num(x["out_msgs_per_s"]), _mbs(x["out_bytes_per_s"]),
        human_bytes(int(x["size_bytes"])) if x["size_bytes"] is not None else "-"), strict=True)) for x in topics])
    gcols = ["group", "members", "lag", "trend", "consume_msg/s"]
    g = RTable(gcols, [dict(zip(gcols, (
        x["group"], x["members"], x["lag"], _trend(x["lag_trend_per_s"]), _num(x["consume_msgs_per_s"])),
        strict=True)) for x in groups])
    print(render_text([t, g]))


@app.command()
def top(
    url: Annotated[
        str | None,
        typer.Option("--url", help="Chronik's admin URL (default: the first broker's host, port 9644)."),
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="auto|metrics|kafka (kafka works against any cluster).")
    ] = "auto",
    interval: Annotated[float, typer.Option("--interval", min=0.2, help="Seconds between samples.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Two samples, one table (or -o json), exit.")] = False,
    sort: Annotated[str, typer.Option("--sort", help="name|in|out|lag|size")] = "in",
    filter_: Annotated[str, typer.Option("--filter", help="Show topics and groups whose name has this.")] = "",
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="With --once: json|text|table (default json when piped).")
    ] = None,
) -> None:
    """Live view of topics, groups and the broker: rates, lag, latency."""
    if source not in ("auto", "metrics", "kafka"):
        raise CliError(f"--source must be auto, metrics or kafka, not {source!r}")
    if sort not in SORT_KEYS:
        raise CliError(f"--sort must be one of {', '.join(SORT_KEYS)}, not {sort!r}")
    src = choose_source(source, url)
    try:
        if once or not (sys.stdin.isatty() and sys.stdout.isatty()):
            old = src.sample()
            time.sleep(interval)
            new = src.sample()
            view = compute(new, old)
            mode = output or state.output or ("table" if sys.stdout.isatty() else "json")
            if mode not in ("json", "text", "table", "wide", "yaml"):
                raise CliError(f"-o must be json or text, not {mode!r}")
            if mode == "json":
                topics, groups = sort_rows(view, sort, False, filter_)
                print(json.dumps({"broker": view["broker"], "topics": topics, "groups": groups}, indent=2))
            else:
                _plain(view, sort, filter_)
            return
        _live(src, interval, sort, filter_)
    finally:
        src.close()
