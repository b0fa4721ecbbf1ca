"""bench/run.py's pure parts: legs and targets chosen on the command line, and the JSON it writes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import legs_small  # noqa: E402
import run  # noqa: E402
from rich.console import Console  # noqa: E402
from targets import Target  # noqa: E402


def test_default_legs_are_all_but_partitions_in_run_order() -> None:
    args = run.parse_args([])
    assert args.legs == run.DEFAULT_LEGS
    assert "partitions" not in args.legs and "small" in args.legs and "fsync" in args.legs


def test_legs_are_chosen_and_put_in_run_order() -> None:
    args = run.parse_args(["--legs", "fsync, startup", "--partitions"])
    assert args.legs == ("startup", "fsync", "partitions")


@pytest.mark.parametrize("argv", [["--legs", "produce,warp"], ["--only", "chronik,redpanda"]])
def test_unknown_legs_and_targets_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run.parse_args(argv)
    assert exc.value.code == 2
    assert "unknown" in capsys.readouterr().err


def test_quick_plan_is_smaller_everywhere() -> None:
    full, quick = run.Plan(), run.Plan.quick()
    assert quick.big_count < full.big_count and quick.small_seconds < full.small_seconds
    assert quick.startup_runs < full.startup_runs and quick.partition_topics < full.partition_topics
    assert full.idle_connections == 1_000 and full.small_producers == 4


def test_results_document_holds_figures_every_sample_ratios_and_goals() -> None:
    targets = [Target(name="chronik", bootstrap="127.0.0.1:1", external=True),
               Target(name="tansu", bootstrap="127.0.0.1:2", external=True)]
    bench = run.Bench(targets, run.Plan.quick(), Console(quiet=True), ("small", "fsync"))
    for value in (40.0, 60.0, 50.0):
        bench.sample(targets[0], "small_acks1_us_per_req", value)
    for value in (10_000.0, 12_000.0):
        bench.sample(targets[0], "small_acks1_req_s", value)
        bench.sample(targets[1], "small_acks1_req_s", value / 2)
    bench.note("fsync: n/a (unsupported)")
    bench.errors["tansu"]["small idem #1"] = "boom"
    bench.summarise_samples()
    doc = json.loads(json.dumps(run.results_document(bench, bench.plan, time.time())))
    assert doc["figures"]["chronik"]["small_acks1_us_per_req"] == 50.0  # the median
    assert doc["samples"]["chronik"]["small_acks1_us_per_req"] == [40.0, 60.0, 50.0]
    assert doc["extra"]["chronik"]["small_acks1_req_s_samples"] == [10_000.0, 12_000.0]
    assert doc["ratios"]["small_acks1_req_s"] == {"tansu": 2.0}
    assert doc["goals"]["small_acks1_req_s"] == {"target": "≥1.5× tansu", "met": True}
    assert doc["goals"]["small_acks1_us_per_req"]["met"] is True
    assert doc["goals"]["fsync_ratio"]["met"] is None
    assert doc["notes"] == ["fsync: n/a (unsupported)"]
    assert doc["errors"]["tansu"] == {"small idem #1": "boom"}
    assert doc["legs"] == ["small", "fsync"]
    assert doc["plan"]["small_producers"] == 4
    assert set(doc["machine"]) >= {"nproc", "python", "loadavg_end"}


def test_partition_figures_take_the_larger_rss_and_report_errors() -> None:
    target = Target(name="chronik", bootstrap="127.0.0.1:1", external=True)
    bench = run.Bench([target], run.Plan.quick(), Console(quiet=True))
    bench.record_partitions(target, {"create_topics_per_s": 43.2, "restart_accept_s": 5.2, "fds": 10_004,
                                     "fds_after_restart": None, "rss_mb": 90.0, "rss_after_restart_mb": 120.5,
                                     "errors": ["create bp-00001: timed out"]})
    figures = bench.figures["chronik"]
    assert figures["partitions_create_topics_per_s"] == 43.2
    assert figures["partitions_fds"] == 10_004.0
    assert figures["partitions_fds_after_restart"] is None
    assert figures["partitions_rss_mb"] == 120.5
    assert bench.errors["chronik"] == {"partitions error 1": "create bp-00001: timed out"}


def test_small_request_producers_send_one_record_per_request() -> None:
    for variant in legs_small.VARIANTS:
        config = legs_small.producer_config("127.0.0.1:9", variant)
        assert config["batch.num.messages"] == 1 and config["linger.ms"] == 0
    assert legs_small.producer_config("h:1", "acks1")["acks"] == 1
    idem = legs_small.producer_config("h:1", "idem")
    assert idem["acks"] == "all" and idem["enable.idempotence"] is True
    # the workload waits for each ack; the pipelined variants keep librdkafka's default
    assert idem["max.in.flight.requests.per.connection"] == 1
    assert "max.in.flight.requests.per.connection" not in legs_small.producer_config("h:1", "acks1_pipe")


def test_small_result_per_request_figures() -> None:
    result = legs_small.SmallResult(requests=10_000, seconds=2.0, broker_cpu_s=0.5, client_cpu_s=0.1)
    assert result.requests_per_s == 5_000
    assert result.broker_us_per_request == pytest.approx(50.0)
    assert result.client_us_per_request == pytest.approx(10.0)
    assert legs_small.SmallResult(1, 1.0, None, 0.0).broker_us_per_request is None


class NeverStarted(Target):
    """A target that records whether the shared start-up happened."""

    def start(self) -> None:
        raise AssertionError("legs with brokers of their own must not start the shared ones")


def test_start_up_and_partition_legs_alone_start_no_shared_broker() -> None:
    target = NeverStarted(name="sink", produce_only=True)  # excluded from both legs
    bench = run.Bench([target], run.Plan.quick(), Console(quiet=True), ("startup", "partitions"),
                      {"sink": lambda: NeverStarted(name="sink", produce_only=True)})
    bench.run()
    assert bench.errors["sink"] == {}
    assert "startup_s" not in bench.figures["sink"]
