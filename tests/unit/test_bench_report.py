"""The bench report: Chronik ÷ peer ratios, targets met / missed / n/a, and the table's rows."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import report  # noqa: E402
from rich.console import Console  # noqa: E402


def test_peer_ratio_divides_chronik_by_the_peer() -> None:
    figures = {"chronik": {"produce_1k_mb_s": 150.0}, "kafka": {"produce_1k_mb_s": 100.0}}
    assert report.peer_ratio(figures, "produce_1k_mb_s", "kafka") == pytest.approx(1.5)
    assert report.ratio(figures, "produce_1k_mb_s", "kafka") == "1.50×"


@pytest.mark.parametrize("figures", [
    {"chronik": {"startup_s": 0.2}},                                # peer missing
    {"chronik": {"startup_s": None}, "kafka": {"startup_s": 2.0}},  # ours missing
    {"chronik": {"startup_s": 0.2}, "kafka": {"startup_s": 0.0}},   # nothing to divide by
])
def test_peer_ratio_is_none_without_both_figures(figures: report.Figures) -> None:
    assert report.peer_ratio(figures, "startup_s", "kafka") is None
    assert report.ratio(figures, "startup_s", "kafka") == "—"


def test_higher_is_better_ratio_targets() -> None:
    check = report.vs("kafka", "consume_mb_s", 1.3)
    assert check({"chronik": {"consume_mb_s": 130.0}, "kafka": {"consume_mb_s": 100.0}}) is True
    assert check({"chronik": {"consume_mb_s": 129.0}, "kafka": {"consume_mb_s": 100.0}}) is False
    assert check({"chronik": {"consume_mb_s": 129.0}}) is None


def test_cost_ratio_targets_want_the_smaller_figure() -> None:
    check = report.vs("tansu", "cpu_s_per_gb_produce", 0.35, higher_is_better=False)
    assert check({"chronik": {"cpu_s_per_gb_produce": 0.7}, "tansu": {"cpu_s_per_gb_produce": 2.0}}) is True
    assert check({"chronik": {"cpu_s_per_gb_produce": 0.8}, "tansu": {"cpu_s_per_gb_produce": 2.0}}) is False


def test_all_of_missed_beats_unknown_and_unknown_beats_met() -> None:
    met, missed, unknown = (lambda f: True), (lambda f: False), (lambda f: None)
    assert report.all_of(met, met)({}) is True
    assert report.all_of(met, unknown)({}) is None
    assert report.all_of(unknown, missed, met)({}) is False


def full_figures() -> report.Figures:
    """Every figure the issue's targets name, with Chronik meeting all of them."""
    return {
        "chronik": {"produce_1k_mb_s": 200.0, "produce_100b_msgs_s": 1_000_000.0, "consume_mb_s": 300.0,
                    "produce_100b_go_msgs_s": 3_000_000.0,
                    "latency_p99_ms": 2.0, "cpu_s_per_gb_produce": 1.0, "cpu_s_per_gb_consume": 0.5,
                    "small_acks1_req_s": 20_000.0, "small_acks1_us_per_req": 50.0,
                    "small_idem_req_s": 6_000.0, "small_idem_us_per_req": 70.0,
                    "small_acks1_pipe_req_s": 30_000.0, "small_acks1_pipe_us_per_req": 40.0,
                    "small_idem_pipe_req_s": 9_000.0, "small_idem_pipe_us_per_req": 60.0,
                    "idle_produce_ratio": 0.97, "idle_consume_ratio": 1.01, "idle_cpu_ratio": 1.02,
                    "fsync_ratio": 0.6, "peak_rss_mb": 70.0, "rss_growth_pct": 1.0, "startup_s": 0.2,
                    "startup_restart_s": 0.2, "first_assign_s": 0.2,
                    "partitions_create_topics_per_s": 600.0, "partitions_restart_accept_s": 0.9,
                    "partitions_rss_mb": 120.0},
        "kafka": {"produce_1k_mb_s": 100.0, "produce_100b_msgs_s": 500_000.0, "consume_mb_s": 200.0,
                  "produce_100b_go_msgs_s": 1_500_000.0,
                  "cpu_s_per_gb_produce": 3.0, "cpu_s_per_gb_consume": 2.0, "peak_rss_mb": 600.0,
                  "startup_s": 4.0, "startup_restart_s": 3.0},
        "tansu": {"produce_1k_mb_s": 100.0, "produce_100b_msgs_s": 500_000.0, "consume_mb_s": 150.0,
                  "cpu_s_per_gb_produce": 3.0, "cpu_s_per_gb_consume": 2.0,
                  "small_acks1_req_s": 10_000.0, "small_idem_req_s": 3_000.0,
                  "small_acks1_pipe_req_s": 20_000.0, "small_idem_pipe_req_s": 6_000.0},
        "sink": {"produce_1k_mb_s": 205.0, "produce_100b_msgs_s": 1_020_000.0},
    }


def test_every_target_met_when_every_figure_meets_it() -> None:
    judged = report.verdicts(full_figures())
    assert {key for key, verdict in judged.items() if verdict is not True} == set()
    # every row with a target text is judged
    assert set(judged) == {row.key for row in report.ROWS if row.target}


@pytest.mark.parametrize(("target", "key", "value", "row"), [
    ("sink", "produce_1k_mb_s", 220.0, "produce_1k_mb_s"),            # under 95 % of the sink
    ("kafka", "consume_mb_s", 240.0, "consume_mb_s"),                 # under 1.3× Kafka
    ("tansu", "cpu_s_per_gb_consume", 1.0, "cpu_s_per_gb_consume"),   # over 0.35× Tansu
    ("kafka", "peak_rss_mb", 300.0, "peak_rss_mb"),                   # over 0.2× Kafka
    ("kafka", "startup_s", 1.5, "startup_s"),                         # over 0.1× Kafka
    ("chronik", "small_acks1_us_per_req", 81.0, "small_acks1_us_per_req"),
    ("tansu", "small_idem_req_s", 4_500.0, "small_idem_req_s"),       # under 1.5× Tansu
    ("chronik", "small_acks1_pipe_us_per_req", 95.0, "small_acks1_pipe_us_per_req"),
    ("chronik", "idle_produce_ratio", 0.94, "idle_produce_ratio"),
    ("chronik", "idle_cpu_ratio", 1.06, "idle_cpu_ratio"),
    ("chronik", "fsync_ratio", 0.49, "fsync_ratio"),
    ("chronik", "produce_100b_go_msgs_s", 1_900_000.0, "produce_100b_go_msgs_s"),  # 1.27x kafka's
    ("chronik", "partitions_create_topics_per_s", 43.0, "partitions_create_topics_per_s"),
])
def test_one_figure_off_target_misses_its_row_only(target: str, key: str, value: float, row: str) -> None:
    figures = full_figures()
    figures[target][key] = value
    judged = report.verdicts(figures)
    assert judged[row] is False
    assert [k for k, v in judged.items() if v is not True] == [row]


def test_a_missing_figure_is_not_applicable() -> None:
    figures = full_figures()
    del figures["chronik"]["fsync_ratio"]  # e.g. `--fsync` unsupported
    figures.pop("kafka")
    judged = report.verdicts(figures)
    assert judged["fsync_ratio"] is None
    assert judged["startup_s"] is None  # ≤0.25 s met, but the Kafka half cannot be judged
    assert judged["produce_1k_mb_s"] is None


def test_ratios_for_json_cover_every_peer_but_not_within_target_ratios() -> None:
    out = report.ratios(full_figures())
    assert out["produce_1k_mb_s"] == {"kafka": 2.0, "tansu": 2.0, "sink": pytest.approx(0.9756, abs=1e-4)}
    assert out["startup_s"] == {"kafka": 0.05}
    assert "idle_produce_ratio" not in out  # already with ÷ without on one target
    assert "small_acks1_us_per_req" not in out  # no peer has it in these figures


def test_goals_name_the_target_and_verdict() -> None:
    goals = report.goals(full_figures())
    assert goals["small_idem_us_per_req"] == {"target": "≤80 µs", "met": True}
    assert all(set(goal) == {"target", "met"} for goal in goals.values())


def test_render_prints_every_judged_row_notes_and_errors() -> None:
    out = io.StringIO()
    console = Console(file=out, width=250, color_system=None)
    figures = full_figures()
    figures["chronik"]["small_acks1_us_per_req"] = 195.0
    report.render(figures, {"tansu": {"small idem #1": "KafkaException: boom"}}, console,
                  ["fsync: n/a (unsupported)"])
    text = out.getvalue()
    line = next(row for row in text.splitlines() if "broker CPU per request" in row and "195" in row)
    assert "missed" in line and "≤80 µs" in line
    assert "fsync: n/a (unsupported)" in text
    assert "tansu / small idem #1: KafkaException: boom" in text
    assert "÷kafka" in text and "÷sink" in text


def test_rows_without_figures_or_targets_are_hidden() -> None:
    visible = {row.key for row in report.visible_rows({"chronik": {"startup_s": 0.3}})}
    assert "startup_s" in visible and "fsync_ratio" in visible  # has a target: shown as n/a
    assert "produce_1k_msgs_s" not in visible  # informational and empty


def test_markdown_table_has_one_line_per_visible_row_and_bold_misses() -> None:
    figures = full_figures()
    figures["chronik"]["startup_s"] = 0.5
    text = report.markdown(figures, {"kafka": {"fsync": "boom"}}, ["fsync: n/a for chronik"])
    lines = text.splitlines()
    assert lines[0].startswith("| metric | chronik | kafka | tansu | sink | ÷kafka | ÷tansu | ÷sink |")
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(report.visible_rows(figures))
    startup = next(line for line in table if line.startswith("| start-up, empty data dir"))
    assert startup.endswith("| ≤0.25 s, ≤0.1× kafka | **missed** |")
    assert "| ↳ restart, empty data dir (s) |" in text
    assert "- fsync: n/a for chronik" in lines and "- kafka / fsync: boom" in lines
