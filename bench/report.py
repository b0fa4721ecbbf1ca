"""Turn the figures into a table with Chronik's targets marked met / missed, and ratios vs each peer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

Figures = dict[str, dict[str, float | None]]  # target name -> metric -> value
Verdict = bool | None  # None: cannot be judged (a figure is missing)
Check = Callable[[Figures], Verdict]

TARGET_NAMES = ("chronik", "kafka", "tansu", "sink")
PEERS = ("kafka", "tansu", "sink")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    fmt: str
    target: str = ""
    check: Check | None = None
    # False for figures that are already a ratio within one target (with/without):
    # dividing Chronik's by Kafka's would mean nothing.
    peer_ratios: bool = True


def get(figures: Figures, target: str, key: str) -> float | None:
    return figures.get(target, {}).get(key)


def peer_ratio(figures: Figures, key: str, peer: str) -> float | None:
    """Chronik's figure divided by the peer's; None when either is missing (or the peer's is 0)."""
    mine, theirs = get(figures, "chronik", key), get(figures, peer, key)
    if mine is None or theirs is None or theirs == 0:
        return None
    return mine / theirs


def vs(peer: str, key: str, factor: float, higher_is_better: bool = True) -> Check:
    """Chronik ≥ factor × peer (or ≤ factor × peer for costs such as CPU, RSS, time)."""
    def check(figures: Figures) -> Verdict:
        mine, theirs = get(figures, "chronik", key), get(figures, peer, key)
        if mine is None or theirs is None:
            return None
        return mine >= factor * theirs if higher_is_better else mine <= factor * theirs
    return check


def vs_tansu(key: str, factor: float, higher_is_better: bool) -> Check:
    return vs("tansu", key, factor, higher_is_better)


def vs_sink(key: str, share: float) -> Check:
    return vs("sink", key, share, True)


def absolute(key: str, limit: float) -> Check:
    """Chronik's own figure must stay at or under `limit`."""
    def check(figures: Figures) -> Verdict:
        mine = get(figures, "chronik", key)
        return None if mine is None else mine <= limit
    return check


def at_least(key: str, limit: float) -> Check:
    def check(figures: Figures) -> Verdict:
        mine = get(figures, "chronik", key)
        return None if mine is None else mine >= limit
    return check


def under(key: str, limit: float) -> Check:
    def check(figures: Figures) -> Verdict:
        mine = get(figures, "chronik", key)
        return None if mine is None else mine < limit
    return check


def all_of(*checks: Check) -> Check:
    """Missed if any part is missed; met only when every part is met; else n/a."""
    def check(figures: Figures) -> Verdict:
        results = [c(figures) for c in checks]
        if any(v is False for v in results):
            return False
        return None if any(v is None for v in results) else True
    return check


ROWS: list[Row] = [
    # -- throughput (issue 18: ≥95 % of the sink, ≥1.3× Kafka; earlier: ≥1.5× / 1.2× Tansu) --
    Row("produce_1k_mb_s", "produce 1 KiB (MB/s)", "{:.1f}", "≥1.3× kafka, ≥1.5× tansu, ≥95% sink",
        all_of(vs("kafka", "produce_1k_mb_s", 1.3), vs_tansu("produce_1k_mb_s", 1.5, True),
               vs_sink("produce_1k_mb_s", 0.95))),
    Row("produce_1k_msgs_s", "produce 1 KiB (msgs/s)", "{:,.0f}"),
    Row("produce_100b_msgs_s", "produce 100 B (msgs/s)", "{:,.0f}", "≥1.3× kafka, ≥1.2× tansu, ≥95% sink",
        all_of(vs("kafka", "produce_100b_msgs_s", 1.3), vs_tansu("produce_100b_msgs_s", 1.2, True),
               vs_sink("produce_100b_msgs_s", 0.95))),
    # The same with franz-go (bench/goclient.py): the Python client's ceiling is ~1M records/s.
    Row("produce_100b_go_msgs_s", "  produce 100 B, franz-go (msgs/s)", "{:,.0f}", "≥1.3× kafka",
        vs("kafka", "produce_100b_go_msgs_s", 1.3)),
    Row("cpu_s_per_gb_produce_100b_go", "    broker CPU s/GB", "{:.2f}"),
    Row("produce_100b_go_client_cpu_s_per_gb", "    client CPU s/GB", "{:.2f}"),
    Row("consume_mb_s", "consume 1 KiB, group (MB/s)", "{:.1f}", "≥1.3× kafka, ≥1.5× tansu",
        all_of(vs("kafka", "consume_mb_s", 1.3), vs_tansu("consume_mb_s", 1.5, True))),
    # The same reads from the first records on: without the client's fixed start (~0.1 s
    # between OffsetFetch and ListOffsets on every target, the sink too).
    Row("consume_stream_mb_s", "  consume, from the first records (MB/s)", "{:.1f}"),
    Row("latency_p50_ms", "produce latency p50 @1k/s (ms)", "{:.2f}"),
    Row("latency_p99_ms", "produce latency p99 @1k/s (ms)", "{:.2f}", "≤5 ms",
        absolute("latency_p99_ms", 5.0)),
    Row("cpu_s_per_gb_produce", "broker CPU s/GB, produce", "{:.2f}", "≤0.5× kafka, ≤0.35× tansu",
        all_of(vs("kafka", "cpu_s_per_gb_produce", 0.5, False),
               vs_tansu("cpu_s_per_gb_produce", 0.35, False))),
    Row("cpu_s_per_gb_consume", "broker CPU s/GB, consume", "{:.2f}", "≤0.5× kafka, ≤0.35× tansu",
        all_of(vs("kafka", "cpu_s_per_gb_consume", 0.5, False),
               vs_tansu("cpu_s_per_gb_consume", 0.35, False))),
    Row("client_cpu_s_per_gb_consume", "  client CPU s/GB, consume", "{:.2f}"),
    # -- small requests: one 100 B record per request, four producers; one in flight each, or pipelined
    Row("small_acks1_req_s", "small requests acks=1 (req/s)", "{:,.0f}", "≥1.5× tansu",
        vs_tansu("small_acks1_req_s", 1.5, True)),
    Row("small_acks1_us_per_req", "  broker CPU per request (µs)", "{:.0f}", "≤80 µs",
        absolute("small_acks1_us_per_req", 80.0)),
    Row("small_acks1_client_us_per_req", "  client CPU per request (µs)", "{:.0f}"),
    Row("small_idem_req_s", "small requests acks=all+idem (req/s)", "{:,.0f}", "≥1.5× tansu",
        vs_tansu("small_idem_req_s", 1.5, True)),
    Row("small_idem_us_per_req", "  broker CPU per request (µs)", "{:.0f}", "≤80 µs",
        absolute("small_idem_us_per_req", 80.0)),
    Row("small_idem_client_us_per_req", "  client CPU per request (µs)", "{:.0f}"),
    Row("small_acks1_pipe_req_s", "small requests acks=1, pipelined (req/s)", "{:,.0f}", "≥1.5× tansu",
        vs_tansu("small_acks1_pipe_req_s", 1.5, True)),
    Row("small_acks1_pipe_us_per_req", "  broker CPU per request (µs)", "{:.0f}", "≤80 µs",
        absolute("small_acks1_pipe_us_per_req", 80.0)),
    Row("small_acks1_pipe_client_us_per_req", "  client CPU per request (µs)", "{:.0f}"),
    # No target: librdkafka's idempotent producer spends ~300 µs of its own CPU per request
    # when pipelining single-record batches, so the client, not the broker, sets this pace.
    Row("small_idem_pipe_req_s", "small requests acks=all+idem, pipelined (req/s)", "{:,.0f}"),
    Row("small_idem_pipe_us_per_req", "  broker CPU per request (µs)", "{:.0f}"),
    Row("small_idem_pipe_client_us_per_req", "  client CPU per request (µs)", "{:.0f}"),
    # -- 1,000 idle connections: paired samples without / with ---------------------------------
    Row("idle_produce_ratio", "1,000 idle conns: produce MB/s with/without", "{:.3f}", "≥0.95",
        at_least("idle_produce_ratio", 0.95), peer_ratios=False),
    Row("idle_consume_ratio", "1,000 idle conns: consume MB/s with/without", "{:.3f}", "≥0.95",
        at_least("idle_consume_ratio", 0.95), peer_ratios=False),
    Row("idle_cpu_ratio", "1,000 idle conns: produce CPU/GB with/without", "{:.3f}", "≤1.05",
        absolute("idle_cpu_ratio", 1.05), peer_ratios=False),
    Row("idle_rss_mb", "RSS with 1,000 idle conns (MB)", "{:.1f}"),
    Row("idle_cpu_ms_s_base", "broker CPU doing nothing (ms/s)", "{:.1f}"),
    Row("idle_cpu_ms_s", "  same, 1,000 idle conns open (ms/s)", "{:.1f}"),
    # -- durable writes: chronik --fsync always (group commit), kafka log.flush.interval.messages=1
    Row("fsync_produce_mb_s", "produce 1 KiB, durable writes (MB/s)", "{:.1f}"),
    Row("fsync_ratio", "  durable / normal MB/s (paired)", "{:.2f}", "≥0.5",
        at_least("fsync_ratio", 0.5), peer_ratios=False),
    Row("fsync_latency_p50_ms", "  p50 @1k/s, durable writes (ms)", "{:.2f}"),
    Row("fsync_latency_p99_ms", "  p99 @1k/s, durable writes (ms)", "{:.2f}"),
    # -- memory -----------------------------------------------------------------------------------
    Row("peak_rss_mb", "peak RSS, VmHWM (MB)", "{:.1f}", "≤100 MB, ≤0.2× kafka",
        all_of(absolute("peak_rss_mb", 100.0), vs("kafka", "peak_rss_mb", 0.2, False))),
    Row("rss_after_round1_mb", "RSS after round 1 (MB)", "{:.1f}"),
    Row("rss_after_repeat_mb", "RSS after produce repeats (MB)", "{:.1f}"),
    Row("rss_growth_pct", "RSS growth over repeats (%)", "{:+.1f}", "flat (≤10%)",
        absolute("rss_growth_pct", 10.0), peer_ratios=False),
    Row("mb_through", "data through broker (MB)", "{:,.0f}"),
    # -- start-up and groups ----------------------------------------------------------------------
    Row("startup_s", "start-up, empty data dir (s)", "{:.3f}", "≤0.25 s, ≤0.1× kafka",
        all_of(absolute("startup_s", 0.25), vs("kafka", "startup_s", 0.1, False))),
    Row("startup_restart_s", "  restart, empty data dir (s)", "{:.3f}", "≤0.1× kafka",
        vs("kafka", "startup_restart_s", 0.1, False)),
    Row("startup_cpu_s", "  broker CPU until serving (s)", "{:.3f}"),
    Row("first_assign_s", "first group assignment (s)", "{:.3f}", "<0.5 s",
        under("first_assign_s", 0.5)),
    Row("consume_assign_s", "assignment in consume leg (s)", "{:.3f}"),
    # -- many partitions (bench/bench_partitions.py, --partitions) --------------------------------
    Row("partitions_create_topics_per_s", "many partitions: CreateTopics (topics/s)", "{:,.0f}", "≥500",
        at_least("partitions_create_topics_per_s", 500.0)),
    Row("partitions_restart_accept_s", "  restart to accepting (s)", "{:.2f}", "≤1.0 s",
        absolute("partitions_restart_accept_s", 1.0)),
    Row("partitions_restart_all_offsets_s", "  restart to every end offset (s)", "{:.2f}"),
    Row("partitions_rss_mb", "  RSS, max of created / restarted (MB)", "{:.1f}", "≤150 MB",
        absolute("partitions_rss_mb", 150.0)),
    Row("partitions_fds", "  open files after creating", "{:,.0f}"),
    Row("partitions_fds_after_restart", "  open files after restart", "{:,.0f}"),
]


def cell(row: Row, value: float | None) -> str:
    return "—" if value is None else row.fmt.format(value)


def ratio(figures: Figures, key: str, peer_name: str = "tansu") -> str:
    value = peer_ratio(figures, key, peer_name)
    return "—" if value is None else f"{value:.2f}×"


def verdict_text(verdict: Verdict) -> str:
    return {True: "[green]met[/]", False: "[red]missed[/]", None: "[dim]n/a[/]"}[verdict]


def verdicts(figures: Figures) -> dict[str, Verdict]:
    return {row.key: row.check(figures) for row in ROWS if row.check is not None}


def ratios(figures: Figures) -> dict[str, dict[str, float]]:
    """Every row's Chronik ÷ peer ratio that can be computed, for the JSON."""
    out: dict[str, dict[str, float]] = {}
    for row in ROWS:
        if not row.peer_ratios:
            continue
        by_peer = {peer: round(r, 4) for peer in PEERS
                   if (r := peer_ratio(figures, row.key, peer)) is not None}
        if by_peer:
            out[row.key] = by_peer
    return out


def goals(figures: Figures) -> dict[str, dict[str, str | Verdict]]:
    judged = verdicts(figures)
    return {row.key: {"target": row.target, "met": judged.get(row.key)} for row in ROWS if row.target}


def visible_rows(figures: Figures) -> list[Row]:
    """Rows with a figure for some target, or with a target (a missing figure is then n/a)."""
    return [row for row in ROWS
            if row.target or any(get(figures, name, row.key) is not None for name in TARGET_NAMES)]


def render(figures: Figures, errors: dict[str, dict[str, str]], console: Console,
           notes: list[str] | None = None) -> None:
    table = Table(title="Chronik benchmark (sink = do-nothing ceiling, not a broker)")
    columns = ("metric", *TARGET_NAMES, *(f"÷{peer}" for peer in PEERS), "target", "status")
    for column in columns:
        table.add_column(column, justify="left" if column in ("metric", "target") else "right")
    judged = verdicts(figures)
    for row in visible_rows(figures):
        values = [cell(row, get(figures, name, row.key)) for name in TARGET_NAMES]
        peers = [ratio(figures, row.key, peer) if row.peer_ratios else "" for peer in PEERS]
        status = verdict_text(judged[row.key]) if row.key in judged else ""
        table.add_row(row.label, *values, *peers, row.target, status)
    console.print(table)
    for note in notes or []:
        console.print(f"[dim]{escape(note)}[/]")
    for name, legs in errors.items():
        for leg, message in legs.items():
            console.print(f"[yellow]{name} / {leg}:[/] {escape(message)}")


def markdown(figures: Figures, errors: dict[str, dict[str, str]], notes: list[str] | None = None) -> str:
    """The table as GitHub Markdown (missed targets in bold), then notes and errors."""
    judged = verdicts(figures)
    lines = ["| metric | " + " | ".join(TARGET_NAMES) + " | " + " | ".join(f"÷{p}" for p in PEERS)
             + " | target | status |",
             "|---|" + "---:|" * (len(TARGET_NAMES) + len(PEERS)) + "---|---|"]
    for row in visible_rows(figures):
        values = [cell(row, get(figures, name, row.key)) for name in TARGET_NAMES]
        peers = [ratio(figures, row.key, peer) if row.peer_ratios else "" for peer in PEERS]
        status = {True: "met", False: "**missed**", None: "n/a"}[judged[row.key]] if row.key in judged else ""
        label = row.label.strip() if not row.label.startswith(" ") else "↳ " + row.label.strip()
        lines.append("| " + " | ".join([label, *values, *peers, row.target, status]) + " |")
    lines += [""] + [f"- {note}" for note in notes or []]
    lines += [f"- {name} / {leg}: {message}" for name, legs in errors.items() for leg, message in legs.items()]
    return "\n".join(lines).rstrip() + "\n"
