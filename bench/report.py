"""Turn the figures into a table with Chronik's targets marked met / missed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

Figures = dict[str, dict[str, float | None]]  # target name -> metric -> value
Verdict = bool | None  # None: cannot be judged (a figure is missing)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    fmt: str
    target: str = ""
    check: Callable[[Figures], Verdict] | None = None


def get(figures: Figures, target: str, key: str) -> float | None:
    return figures.get(target, {}).get(key)


def vs_tansu(key: str, factor: float, higher_is_better: bool) -> Callable[[Figures], Verdict]:
    def check(figures: Figures) -> Verdict:
        mine, peer = get(figures, "chronik", key), get(figures, "tansu", key)
        if mine is None or peer is None:
            return None
        return mine >= factor * peer if higher_is_better else mine <= factor * peer
    return check


def absolute(key: str, limit: float) -> Callable[[Figures], Verdict]:
    """Chronik's own figure must stay at or under `limit` (strictly under for time)."""
    def check(figures: Figures) -> Verdict:
        mine = get(figures, "chronik", key)
        return None if mine is None else mine <= limit
    return check


def all_of(*checks: Callable[[Figures], Verdict]) -> Callable[[Figures], Verdict]:
    def check(figures: Figures) -> Verdict:
        verdicts = [c(figures) for c in checks]
        if any(v is False for v in verdicts):
            return False
        return None if any(v is None for v in verdicts) else True
    return check


def vs_sink(key: str, share: float) -> Callable[[Figures], Verdict]:
    def check(figures: Figures) -> Verdict:
        mine, sink = get(figures, "chronik", key), get(figures, "sink", key)
        return None if mine is None or sink is None else mine >= share * sink
    return check


def under(key: str, limit: float) -> Callable[[Figures], Verdict]:
    def check(figures: Figures) -> Verdict:
        mine = get(figures, "chronik", key)
        return None if mine is None else mine < limit
    return check


ROWS: list[Row] = [
    Row("produce_1k_mb_s", "produce 1 KiB (MB/s)", "{:.1f}", "≥1.5× tansu, ≥85% sink",
        all_of(vs_tansu("produce_1k_mb_s", 1.5, True), vs_sink("produce_1k_mb_s", 0.85))),
    Row("produce_1k_msgs_s", "produce 1 KiB (msgs/s)", "{:,.0f}"),
    Row("produce_100b_msgs_s", "produce 100 B (msgs/s)", "{:,.0f}", "≥1.2× tansu",
        vs_tansu("produce_100b_msgs_s", 1.2, True)),
    Row("consume_mb_s", "consume 1 KiB, group (MB/s)", "{:.1f}", "≥1.5× tansu",
        vs_tansu("consume_mb_s", 1.5, True)),
    Row("latency_p50_ms", "produce latency p50 @1k/s (ms)", "{:.2f}"),
    Row("latency_p99_ms", "produce latency p99 @1k/s (ms)", "{:.2f}", "≤5 ms",
        absolute("latency_p99_ms", 5.0)),
    Row("cpu_s_per_gb_produce", "broker CPU s/GB, produce", "{:.2f}", "≤0.5× tansu",
        vs_tansu("cpu_s_per_gb_produce", 0.5, False)),
    Row("cpu_s_per_gb_consume", "broker CPU s/GB, consume", "{:.2f}", "≤0.5× tansu",
        vs_tansu("cpu_s_per_gb_consume", 0.5, False)),
    Row("peak_rss_mb", "peak RSS, VmHWM (MB)", "{:.1f}", "≤100 MB",
        absolute("peak_rss_mb", 100.0)),
    Row("rss_after_round1_mb", "RSS after round 1 (MB)", "{:.1f}"),
    Row("rss_after_repeat_mb", "RSS after produce repeats (MB)", "{:.1f}"),
    Row("rss_growth_pct", "RSS growth over repeats (%)", "{:+.1f}", "flat (≤10%)",
        absolute("rss_growth_pct", 10.0)),
    Row("mb_through", "data through broker (MB)", "{:,.0f}"),
    Row("startup_s", "start-up to accept (s)", "{:.3f}", "<0.5 s", under("startup_s", 0.5)),
    Row("first_assign_s", "first group assignment (s)", "{:.3f}", "<0.5 s",
        under("first_assign_s", 0.5)),
    Row("consume_assign_s", "assignment in consume leg (s)", "{:.3f}"),
]

TARGET_NAMES = ("chronik", "kafka", "tansu", "sink")


def cell(row: Row, value: float | None) -> str:
    return "—" if value is None else row.fmt.format(value)


def ratio(figures: Figures, key: str, peer_name: str = "tansu") -> str:
    mine, peer = get(figures, "chronik", key), get(figures, peer_name, key)
    if mine is None or peer is None or peer == 0:
        return "—"
    return f"{mine / peer:.2f}×"


def verdict_text(verdict: Verdict) -> str:
    return {True: "[green]met[/]", False: "[red]missed[/]", None: "[dim]n/a[/]"}[verdict]


def verdicts(figures: Figures) -> dict[str, Verdict]:
    return {row.key: row.check(figures) for row in ROWS if row.check is not None}


def render(figures: Figures, errors: dict[str, dict[str, str]], console: Console) -> None:
    table = Table(title="Chronik benchmark (sink = do-nothing ceiling, not a broker)")
    for column in ("metric", *TARGET_NAMES, "chronik/kafka", "chronik/tansu", "target", "status"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    judged = verdicts(figures)
    for row in ROWS:
        values = [cell(row, get(figures, name, row.key)) for name in TARGET_NAMES]
        status = verdict_text(judged[row.key]) if row.key in judged else ""
        table.add_row(row.label, *values, ratio(figures, row.key, "kafka"), ratio(figures, row.key), row.target,
                      status)
    console.print(table)
    for name, legs in errors.items():
        for leg, message in legs.items():
            console.print(f"[yellow]{name} / {leg}:[/] {escape(message)}")
