"""The real `chronik` command against a started broker (Chronik; Tansu on request)."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime

import pytest
from clihelp import Cli, new_topic


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_produce_file_then_consume_in_each_format(cli: Cli, tmp_path) -> None:
    topic = new_topic()
    src = tmp_path / "in.txt"
    src.write_text("one\ntwo\nthree\n")
    res = cli.run("produce", topic, str(src), "--create")
    assert "produced 3 records" in res.stderr.decode()

    assert cli.out("consume", topic, "-e") == "one\ntwo\nthree\n"
    assert cli.out("consume", topic, "-e", "-f", r"%t:%p:%o:%v\n") == (
        f"{topic}:0:0:one\n{topic}:0:1:two\n{topic}:0:2:three\n"
    )
    recs = jsonl(cli.out("-o", "json", "consume", topic, "-e", "-f", "json"))
    assert [r["value"] for r in recs] == ["one", "two", "three"]
    assert [r["offset"] for r in recs] == [0, 1, 2]
    assert all(r["topic"] == topic and r["key"] is None and r["headers"] == [] for r in recs)
    now = time.time() * 1000
    assert all(abs(r["timestamp"] - now) < 120_000 for r in recs)
    dated = cli.out("consume", topic, "-e", "-n", "1", "-f", r"%T %d\n").split()
    assert datetime.fromisoformat(dated[1]).timestamp() * 1000 == pytest.approx(int(dated[0]))


def test_keys_by_delimiter_headers_and_filters(cli: Cli) -> None:
    topic = new_topic()
    lines = "user-1:login ok\nadmin:login failed\nuser-2:logout\nnodelimiter\n"
    cli.run("produce", topic, "--create", "-K", ":", "--missing-key=null", "-H", "src=web", "-H", "v=1",
            input=lines)
    recs = jsonl(cli.out("-o", "json", "consume", topic, "-e", "-f", "json"))
    assert [(r["key"], r["value"]) for r in recs] == [
        ("user-1", "login ok"), ("admin", "login failed"), ("user-2", "logout"),
        (None, "nodelimiter"),
    ]
    assert recs[0]["headers"] == [{"key": "src", "value": "web"}, {"key": "v", "value": "1"}]
    assert cli.out("consume", topic, "-e", "-f", r"%k=%v %h\n", "--key", "^user") == (
        "user-1=login ok src=web,v=1\nuser-2=logout src=web,v=1\n"
    )
    assert cli.out("consume", topic, "-e", "--grep", "fail") == "login failed\n"
    assert cli.out("consume", topic, "-e", "--header", "src=^web$", "-n", "1") == "login ok\n"
    assert cli.out("consume", topic, "-e", "--header", "src=^app$") == ""


def test_input_format_and_verbose_offsets(cli: Cli) -> None:
    topic = new_topic()
    out = cli.out("produce", topic, "--create", "-v", "-f", r"%k\t%h\t%v",
                  input="a\tx=1\tfirst\nb\t\tsecond\n")
    assert out.splitlines() == [f"{topic}/0@0", f"{topic}/0@1"]
    recs = jsonl(cli.out("-o", "json", "consume", topic, "-e", "-f", "json"))
    assert [(r["key"], r["value"], r["headers"]) for r in recs] == [
        ("a", "first", [{"key": "x", "value": "1"}]), ("b", "second", []),
    ]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_compression(cli: Cli, codec: str) -> None:
    topic = new_topic()
    values = [f"{codec}-record-{i} " + "x" * 50 for i in range(20)]
    cli.run("produce", topic, "--create", "-z", codec, input="\n".join(values) + "\n")
    assert cli.out("consume", topic, "-e").splitlines() == values


def test_time_travel_offsets(cli: Cli) -> None:
    if cli.kind == "tansu":
        pytest.skip("Tansu's ListOffsets answers per batch, not per record")
    topic = new_topic()
    now = int(time.time() * 1000)
    hour = 3_600_000
    stamps = [now - 48 * hour, now - 3 * hour, now - 2 * hour, now - hour, now - 60_000]
    lines = "".join(f"{ts} r{i}\n" for i, ts in enumerate(stamps))
    cli.run("produce", topic, "--create", "-f", "%T %v", input=lines)

    def first(spec: str) -> list[str]:
        return cli.out("consume", topic, "-e", "-o", spec).split()

    assert first("@-90m") == ["r3", "r4"]
    assert first("@-150m") == ["r2", "r3", "r4"]
    assert first(f"@{now - 2 * hour}") == ["r2", "r3", "r4"]
    iso = datetime.fromtimestamp((now - 150 * 60_000) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first(f"@{iso}") == ["r2", "r3", "r4"]
    assert first("@2000-01-01") == ["r0", "r1", "r2", "r3", "r4"]
    assert first("@2999-01-01") == []
    # A finished range stops by itself, without -e.
    ranged = cli.out("consume", topic, "-o", "@-150m:-30m", timeout=30).split()
    assert ranged == ["r2", "r3"]


def test_count_exit_and_relative_offsets(cli: Cli) -> None:
    if cli.kind == "tansu":
        pytest.skip("Tansu's ListOffsets answers per batch, not per record")
    topic = new_topic()
    cli.run("produce", topic, "--create", input="".join(f"m{i}\n" for i in range(6)))
    assert cli.out("consume", topic, "-n", "2").split() == ["m0", "m1"]
    assert cli.out("consume", topic, "-e", "-o", "-2").split() == ["m4", "m5"]
    assert cli.out("consume", topic, "-e", "-o", "+4").split() == ["m4", "m5"]
    assert cli.out("consume", topic, "-e", "-o", "3", "-n", "1").split() == ["m3"]
    assert cli.out("consume", topic, "-e", "-o", "end") == ""
    res = cli.run("consume", topic, "-e", "-o", "start")
    assert "consumed 6 records" in res.stderr.decode()


def test_group_consume_commits_resumes_and_group_commands(cli: Cli) -> None:
    if cli.kind == "tansu":
        pytest.skip("Tansu takes ~20 s per group join and cannot decode DescribeGroups")
    topic, group = new_topic(), f"g-{new_topic()}"
    cli.run("produce", topic, "--create", input="".join(f"m{i}\n" for i in range(6)))
    assert cli.out("consume", topic, "-g", group, "-n", "4").split() == ["m0", "m1", "m2", "m3"]
    assert cli.out("consume", topic, "-g", group, "-e").split() == ["m4", "m5"]

    groups = jsonl(cli.out("-o", "json", "groups", "list"))
    assert group in [g["group"] for g in groups]
    desc = jsonl(cli.out("-o", "json", "groups", "describe", group))[0]
    assert desc["group"] == group and desc["members"] == []
    assert [(o["topic"], o["partition"], o["committed"], o["end"], o["lag"])
            for o in desc["offsets"]] == [(topic, 0, 6, 6, 0)]
    table = cli.out("-o", "table", "groups", "describe", group)
    assert topic in table and "LAG" in table

    seek = jsonl(cli.out("-o", "json", "groups", "seek", group, "--to", "start"))
    assert [(s["partition"], s["offset"], s["result"]) for s in seek] == [(0, 0, "OK")]
    assert jsonl(cli.out("-o", "json", "groups", "describe", group))[0]["total_lag"] == 6
    cli.run("groups", "seek", group, "--to", "4")
    assert cli.out("consume", topic, "-g", group, "-e").split() == ["m4", "m5"]
    cli.run("groups", "seek", group, "--to", "@2000-01-01")
    assert jsonl(cli.out("-o", "json", "groups", "describe", group))[0]["offsets"][0]["committed"] == 0

    cli.run("groups", "delete", group)
    assert group not in [g["group"] for g in jsonl(cli.out("-o", "json", "groups", "list"))]


def test_groups_seek_refused_while_members_are_active(cli: Cli) -> None:
    if cli.kind == "tansu":
        pytest.skip("Tansu group joins are too slow for a quick test")
    import subprocess
    import sys

    topic, group = new_topic(), f"g-{new_topic()}"
    cli.run("produce", topic, "--create", input="a\n")
    follower = subprocess.Popen(
        [sys.executable, "-m", "chronik", "-b", cli.bootstrap, "consume", topic, "-g", group],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert follower.stdout.readline() == b"a\n"  # it has joined and is consuming
        res = cli.run("groups", "seek", group, "--to", "start", check=False)
        assert res.returncode != 0
        assert "active member" in res.stderr.decode()
        desc = jsonl(cli.out("-o", "json", "groups", "describe", group))[0]
        assert len(desc["members"]) == 1
        assert desc["offsets"][0]["member"] == desc["members"][0]["member_id"]
    finally:
        follower.terminate()
        follower.wait(10)


def test_topics_commands_table_and_json(cli: Cli) -> None:
    topic = new_topic()
    created = jsonl(cli.out("-o", "json", "topics", "create", topic, "-p", "3", "-c", "retention.ms=3600000"))
    assert created == [{"topic": topic, "result": "OK"}]
    listed = {t["name"]: t for t in jsonl(cli.out("-o", "json", "topics", "list"))}
    assert listed[topic]["partitions"] == 3
    assert topic in cli.out("-o", "table", "topics", "list")
    assert topic in cli.out("-o", "text", "topics", "list").split()

    cli.run("produce", topic, "-p", "1", input="a\nb\n")
    desc = jsonl(cli.out("-o", "json", "topics", "describe", topic))[0]
    parts = {p["partition"]: p for p in desc["partitions"]}
    assert sorted(parts) == [0, 1, 2]
    assert parts[0]["end"] == 0
    if cli.kind == "chronik":  # Tansu's ListOffsets answers per batch, not per record
        assert (parts[1]["start"], parts[1]["end"], parts[1]["records"]) == (0, 2, 2)
        assert desc["size"] > 0 and parts[1]["size"] > 0
        assert desc["configs"]["retention.ms"]["value"] == "3600000"
        assert desc["configs"]["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    text = cli.out("topics", "describe", topic)  # piped: tab-separated, no header
    assert text.splitlines()[1].split("\t")[:5] == ["1", "0", "0", "2", "2"]

    cli.run("topics", "alter-config", topic, "--set", "retention.ms=7200000")
    desc = jsonl(cli.out("-o", "json", "topics", "describe", topic))[0]
    if cli.kind == "chronik":
        assert desc["configs"]["retention.ms"]["value"] == "7200000"
    if cli.kind == "tansu":  # no CreatePartitions: the error must say so on one line
        res = cli.run("topics", "add-partitions", topic, "-n", "2", check=False)
        assert "does not support" in _one_line_error(res)
    else:
        cli.run("topics", "add-partitions", topic, "-n", "2")
        assert len(jsonl(cli.out("-o", "json", "topics", "describe", topic))[0]["partitions"]) == 5

    assert jsonl(cli.out("-o", "json", "topics", "delete", topic)) == [{"topic": topic, "result": "OK"}]
    assert topic not in {t["name"] for t in jsonl(cli.out("-o", "json", "topics", "list"))}


def _one_line_error(res) -> str:
    err = res.stderr.decode().strip()
    assert res.returncode != 0
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_errors_are_one_line(cli: Cli) -> None:
    missing = new_topic()
    assert "unknown topic" in _one_line_error(cli.run("consume", missing, "-e", check=False))
    assert "unknown topic" in _one_line_error(
        cli.run("produce", missing, input="x\n", check=False)
    )
    assert "unknown topic" in _one_line_error(
        cli.run("topics", "describe", missing, check=False)
    )
    topic = new_topic()
    cli.run("topics", "create", topic)
    assert "bad offset" in _one_line_error(cli.run("consume", topic, "-o", "soon", check=False))
    assert "bad timestamp" in _one_line_error(
        cli.run("consume", topic, "-o", "@yesterday", check=False)
    )
    assert "format" in _one_line_error(cli.run("consume", topic, "-f", "%z", check=False))
    assert "compression" in _one_line_error(
        cli.run("produce", topic, "-z", "brotli", input="x\n", check=False)
    )
    assert "output" in _one_line_error(cli.run("-o", "xml", "topics", "list", check=False))


def test_unreachable_broker_fails_fast(cli: Cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    for args in (["topics", "list"], ["consume", "x", "-e"], ["produce", "x"]):
        start = time.monotonic()
        res = cli.run(*args, brokers=dead, input="x\n", check=False)
        assert time.monotonic() - start < 10
        assert "cannot reach a broker" in _one_line_error(res)


def test_version() -> None:
    import subprocess
    import sys

    from chronik import __version__

    out = subprocess.run([sys.executable, "-m", "chronik", "--version"], capture_output=True,
                         check=True).stdout.decode()
    assert out.strip() == f"chronik {__version__}"


def test_follow_mode_stops_cleanly_on_ctrl_c(cli: Cli) -> None:
    import signal
    import subprocess
    import sys

    topic = new_topic()
    cli.run("produce", topic, "--create", input="a\nb\n")
    follower = subprocess.Popen(
        [sys.executable, "-m", "chronik", "-b", cli.bootstrap, "consume", topic],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert follower.stdout.readline() == b"a\n"
        assert follower.stdout.readline() == b"b\n"
        cli.run("produce", topic, input="c\n")
        assert follower.stdout.readline() == b"c\n"  # it follows new records
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=10)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(5)
    assert follower.returncode == 0
    assert err.decode().strip() == "consumed 3 records"


def test_group_consume_with_the_consumer_protocol(cli: Cli) -> None:
    if cli.kind == "tansu":
        pytest.skip("Tansu does not serve ConsumerGroupHeartbeat")
    topic, group = new_topic(), f"g-{new_topic()}"
    cli.run("produce", topic, "--create", input="".join(f"m{i}\n" for i in range(6)))
    args = ("-g", group, "--group-protocol", "consumer")
    assert cli.out("consume", topic, *args, "-n", "4").split() == ["m0", "m1", "m2", "m3"]
    assert cli.out("consume", topic, *args, "-e").split() == ["m4", "m5"]
    desc = jsonl(cli.out("groups", "describe", group, "-o", "json"))[0]
    assert desc["type"] == "consumer" and desc["state"] == "Empty" and desc["group_epoch"] >= 2
    assert [(o["partition"], o["committed"], o["lag"]) for o in desc["offsets"]] == [(0, 6, 0)]
    assert group in [g["group"] for g in jsonl(cli.out("groups", "list", "-o", "json"))]
    cli.run("groups", "delete", group)
