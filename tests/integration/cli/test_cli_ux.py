"""The CLI as people type it: options anywhere, piped output, `| head`, errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from clihelp import REPO, Cli, new_topic


def one_line_error(res: subprocess.CompletedProcess, code: int = 1) -> str:
    err = res.stderr.decode().strip()
    assert res.returncode == code, (res.returncode, err)
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


def chronik(*args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m chronik ARGS` with no -b added in front (the test puts it where it likes)."""
    return subprocess.run([sys.executable, "-m", "chronik", *args], input=input, capture_output=True,
                          timeout=timeout, cwd=REPO, env={"PATH": "/usr/bin:/bin",
                                                          "CHRONIK_TIMEOUT_MS": "3000"})


def test_global_options_after_the_subcommand_in_every_command(broker, tmp_path) -> None:
    b = broker.bootstrap
    topic = new_topic()
    res = chronik("topics", "create", topic, "-p", "2", "-b", b, "-o", "json")
    assert json.loads(res.stdout) == {"topic": topic, "result": "OK"}, res.stderr
    assert chronik("produce", topic, "-p", "1", "--brokers", b, "-X", "client.id=ux",
                   input=b"a\nb\n").returncode == 0
    assert chronik("produce", topic, "-p", "0", f"--brokers={b}", "--debug", input=b"c\n").returncode == 0
    assert chronik("consume", topic, "-e", "-p", "1", "-b", b).stdout == b"a\nb\n"
    # In consume, -o is the offset; --output json gives JSON records.
    out = chronik("consume", topic, "-p", "1", "-o", "1", "-e", "-b", b, "--output", "json").stdout
    assert [(r["offset"], r["value"]) for r in map(json.loads, out.splitlines())] == [(1, "b")]
    listed = [json.loads(x) for x in chronik("topics", "list", "-b", b, "-o", "json").stdout.splitlines()]
    assert {"name": topic, "partitions": 2} in [{k: t[k] for k in ("name", "partitions")} for t in listed]
    assert chronik("-b", b, "topics", "-o", "json", "list").stdout == chronik(
        "topics", "list", f"-b{b}", "--output=json").stdout
    desc = json.loads(chronik("topics", "describe", topic, "-b", b, "--output", "json").stdout)
    assert [p["records"] for p in desc["partitions"]] == [1, 2]
    assert chronik("groups", "list", "-b", b, "-o", "json").returncode == 0
    assert chronik("topics", "alter-config", topic, "-s", "retention.ms=60000", "-b", b).returncode == 0
    seg = chronik("segments", "list", "-d", str(tmp_path / "nope"), "-o", "json")
    assert "is not a directory" in one_line_error(seg)


def test_piped_output_is_tab_separated_text(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic, "-p", "3")
    lines = cli.out("topics", "list").splitlines()
    assert f"{topic}\t3\t1" in lines
    assert not any(line.startswith("{") or "NAME" in line for line in lines)
    assert json.loads(cli.out("topics", "list", "-o", "json").splitlines()[0])["name"]
    assert cli.out("topics", "create", new_topic(), "-o", "text").endswith("\tOK\n")


def test_consume_into_head_ends_quietly(cli: Cli) -> None:
    topic = new_topic()
    cli.run("produce", topic, "--create", input="".join(f"r{i}\n" for i in range(30000)))
    for args in ("consume {t} -e", "consume {t} -e -f json", "topics list"):
        cmd = (f"{sys.executable} -m chronik -b {cli.bootstrap} {args.format(t=topic)} | head -1; "
               "echo status=${PIPESTATUS[0]}")
        res = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=60, cwd=REPO)
        out = res.stdout.decode().splitlines()
        assert out[-1] == "status=0", res.stderr
        assert len(out) == 2
        assert "Error" not in res.stderr.decode() and "Traceback" not in res.stderr.decode()


def test_alter_config_errors_fail_and_change_nothing(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic, "-c", "retention.ms=3600000")
    err = one_line_error(cli.run("topics", "alter-config", topic, "-s", "retention.ms=abc", check=False))
    assert "INVALID_CONFIG" in err and "retention.ms" in err and "hint:" in err
    err = one_line_error(cli.run("topics", "alter-config", topic, "-s", "no.such.key=1", check=False))
    assert "INVALID_CONFIG" in err and "no.such.key" in err
    desc = json.loads(cli.out("topics", "describe", topic, "-o", "json"))
    assert desc["configs"]["retention.ms"]["value"] == "3600000"
    err = one_line_error(cli.run("topics", "alter-config", new_topic(), "-s", "retention.ms=1",
                                 check=False))
    assert "UNKNOWN_TOPIC_OR_PARTITION" in err


def test_create_if_not_exists_and_errors_once(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic)
    res = cli.run("topics", "create", topic, check=False)
    err = one_line_error(res)
    assert "TOPIC_ALREADY_EXISTS" in err and "--if-not-exists" in err
    assert res.stdout == b""  # reported once, on stderr
    assert cli.out("topics", "create", topic, "--if-not-exists") == f"{topic}\texists\n"
    err = one_line_error(cli.run("topics", "create", "bad name!", check=False))
    assert "INVALID_TOPIC" in err


def test_delete_records(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic, "-p", "2")
    cli.run("produce", topic, "-p", "0", input="".join(f"a{i}\n" for i in range(10)))
    cli.run("produce", topic, "-p", "1", input="".join(f"b{i}\n" for i in range(4)))
    out = cli.out("topics", "delete-records", topic, "--before", "-3", "-o", "json")
    rows = [json.loads(x) for x in out.splitlines()]
    assert [(r["partition"], r["start"], r["result"]) for r in rows] == [(0, 7, "OK"), (1, 1, "OK")]
    assert cli.out("consume", topic, "-e", "-p", "0") == "a7\na8\na9\n"
    cli.run("topics", "delete-records", topic, "--before", "end", "-p", "1")
    assert cli.out("consume", topic, "-e", "-p", "1") == ""
    err = one_line_error(cli.run("topics", "delete-records", topic, "--before", "1", "-p", "7",
                                 check=False))
    assert "UNKNOWN_TOPIC_OR_PARTITION" in err


def test_errors_name_the_kafka_error_and_never_leak_python(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic)
    err = one_line_error(cli.run("produce", topic, "-p", "5", input="x\n", check=False))
    assert "UNKNOWN_TOPIC_OR_PARTITION" in err and "no partition 5" in err
    err = one_line_error(cli.run("consume", topic, "-p", "5", "-e", check=False))
    assert "no partition 5" in err
    closed = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m chronik -b {cli.bootstrap} produce {topic} <&-"],
        capture_output=True, timeout=60, cwd=REPO)
    assert "stdin is closed" in one_line_error(closed, 2)
    err = one_line_error(cli.run("consume", topic, "-o", "json", check=False), 2)
    assert "-o is the start offset" in err and "--output json" in err
    err = one_line_error(cli.run("topics", "list", "-X", "no.such.setting=1", check=False), 2)
    assert "no_such_setting" in err
    err = one_line_error(cli.run("consume", new_topic(), "-e", check=False))
    assert "UNKNOWN_TOPIC_OR_PARTITION" in err


@pytest.mark.parametrize("args", [["topics", "lis"], ["consume"], ["consume", "t", "--nope"],
                                  ["consume", "t", "-o", "soon"], ["topics", "create", "t", "-c", "x"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    res = chronik(*args, "-b", "127.0.0.1:1")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr.decode()


def test_version_and_help_need_no_broker() -> None:
    from chronik import __version__

    assert chronik("--version").stdout.decode() == f"chronik {__version__}\n"
    helped = chronik("--help").stdout.decode()
    for cmd in ("produce", "consume", "topics", "groups", "segments", "integrated", "stop"):
        assert cmd in helped


def test_every_command_takes_global_options_after_it(broker) -> None:
    b = broker.bootstrap
    topic, group = new_topic(), f"g-{new_topic()}"
    assert chronik("produce", topic, "--create", "-b", b, input=b"a\nb\n").returncode == 0
    assert chronik("consume", topic, "-g", group, "-e", "-b", b).stdout == b"a\nb\n"
    commands = [
        ["topics", "list"], ["topics", "describe", topic], ["topics", "create", f"{topic}-2"],
        ["topics", "alter-config", topic, "-s", "retention.ms=100000"],
        ["topics", "add-partitions", topic, "-n", "1"],
        ["topics", "delete-records", topic, "--before", "1", "-p", "0"],
        ["groups", "list"], ["groups", "describe", group], ["groups", "seek", group, "--to", "start"],
        ["groups", "delete", group], ["topics", "delete", f"{topic}-2"],
    ]
    for cmd in commands:
        res = chronik(*cmd, "-b", b, "--output", "json", "-X", "client.id=positions")
        assert res.returncode == 0, (cmd, res.stderr)
        docs = [json.loads(line) for line in res.stdout.splitlines()]
        assert docs, cmd
    assert chronik("consume", topic, "-e", "-o", "1", "-p", "0", "-b", b).stdout == b"b\n"


def test_segments_dump_into_head(broker_factory) -> None:
    b = broker_factory()
    topic = new_topic()
    assert chronik("produce", topic, "--create", "-b", b.bootstrap,
                   input=b"".join(b"r%d\n" % i for i in range(2000))).returncode == 0
    b.stop()
    cmd = (f"{sys.executable} -m chronik segments dump -d {b.data_dir} {topic} --records | head -2; "
           "echo status=${PIPESTATUS[0]}")
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=60, cwd=REPO)
    out = res.stdout.decode().splitlines()
    assert out[0].startswith("Dumping ") and out[1].startswith("baseOffset: 0 ")  # text, not JSON
    assert out[-1] == "status=0" and res.stderr == b""
