"""Produce input forms, consume output forms, ranges, regex topics, completion, detach — through the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from clihelp import REPO, Cli, new_topic


def jsonl(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_kcat_escapes_and_missing_key(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic)
    res = cli.run("produce", topic, "-K", r"\t", input="k1\tv1\nk2\tv\t2\nnokey\n", check=False)
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "line 3 has no key delimiter" in err and "--missing-key=null" in err
    assert cli.out("consume", topic, "-e") == ""  # nothing of the failed input was sent
    cli.run("produce", topic, "-K", r"\t", "--missing-key=null", input="k1\tv1\nk2\tv\t2\nnokey\n")
    cli.run("produce", topic, "-K", r"\x01", input="k3\x01v3\n")
    cli.run("produce", topic, "-D", r";", "-K", ":", input="k4:a;k5:b")
    got = [(r["key"], r["value"]) for r in jsonl(cli.out("consume", topic, "-e", "-f", "json"))]
    assert got == [("k1", "v1"), ("k2", "v\t2"), (None, "nokey"), ("k3", "v3"), ("k4", "a"), ("k5", "b")]


def test_rpk_input_formats_and_json_lines(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic, "-p", "3")
    cli.run("produce", topic, "-f", r"%k %v\n", input="a hello world\nb bye\n")
    cli.run("produce", topic, "-f", r"%p|%T|%h|%k|%v", input="2|1700000000000|src=x,n=1|c|tail\n")
    out = jsonl(cli.out("consume", topic, "-e", "-p", "2", "-f", "json"))
    assert [(r["key"], r["value"], r["timestamp"], r["headers"]) for r in out if r["key"] == "c"] == [
        ("c", "tail", 1700000000000, [{"key": "src", "value": "x"}, {"key": "n", "value": "1"}])]
    got = sorted((r["key"], r["value"]) for r in jsonl(cli.out("consume", topic, "-e", "-f", "json")))
    assert ("a", "hello world") in got and ("b", "bye") in got
    res = cli.run("produce", topic, "-f", "%k:%v", input="ok:1\nbroken\n", check=False)
    assert res.returncode == 1 and "line 2" in res.stderr.decode()

    docs = new_topic()
    cli.run("topics", "create", docs)
    cli.run("produce", docs, "--json", "--key-field", "id",
            input='{"id": 7, "user": {"name": "ann"}}\n{"id": "x8", "n": [1, 2]}\n')
    recs = jsonl(cli.out("consume", docs, "-e", "-f", "json"))
    assert [r["key"] for r in recs] == ["7", "x8"]
    assert recs[0]["value"] == {"id": 7, "user": {"name": "ann"}}  # embedded: jq .value.user.name
    raw = jsonl(cli.out("consume", docs, "-e", "-f", "json", "--raw-values"))
    assert json.loads(raw[1]["value"]) == {"id": "x8", "n": [1, 2]} and isinstance(raw[1]["value"], str)
    jq = subprocess.run(["bash", "-c", f"{sys.executable} -m chronik -b {cli.bootstrap} consume {docs} -e "
                         "-f json | python3 -c 'import json,sys; print([json.loads(l)[\"value\"][\"id\"] "
                         "for l in sys.stdin])'"], capture_output=True, cwd=REPO, timeout=60)
    assert jq.stdout.decode().strip() == "[7, 'x8']"
    res = cli.run("produce", docs, "--json", input="{not json}\n", check=False)
    assert res.returncode == 1 and "line 1 is not JSON" in res.stderr.decode()


def test_offset_ranges_partition_lists_and_regex(cli: Cli) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic, "-p", "3")
    for p in range(3):
        cli.run("produce", topic, "-p", str(p), input="".join(f"p{p}-{i}\n" for i in range(10)))
    assert cli.out("consume", topic, "-p", "1", "-o", "3:6") == "p1-3\np1-4\np1-5\n"
    assert cli.out("consume", topic, "-p", "0,2", "-o", "start:+2", "-f", r"%p:%o\n").split() == [
        "0:0", "0:1", "2:0", "2:1"]
    assert len(cli.out("consume", topic, "-o", ":end").split()) == 30
    assert cli.out("consume", topic, "-p", "2", "-o", "-2:end") == "p2-8\np2-9\n"
    assert cli.out("consume", topic, "-p", "0", "--since", "-1h", "--until", "+1s", "-n", "1") == "p0-0\n"
    other = f"{topic}-other"
    cli.run("produce", other, "--create", input="x\n")
    got = cli.out("consume", "-r", f"{topic}.*", "-e", "-f", r"%t\n").split()
    assert set(got) == {topic, other} and len(got) == 31
    res = cli.run("consume", "-r", "nomatch-.*", "-e", check=False)
    assert res.returncode == 1 and "no topic matches" in res.stderr.decode()
    res = cli.run("consume", topic, "-o", "5:x", check=False)
    assert res.returncode == 2 and "the end must be" in res.stderr.decode()


def test_both_clients_agree(cli: Cli) -> None:
    """The lean wire path and kafka-python (CHRONIK_CLI_CLIENT=kafka-python) read the same records."""
    topic = new_topic()
    cli.run("topics", "create", topic, "-p", "2")
    cli.run("produce", topic, "-K", ":", "-z", "zstd", input="".join(f"k{i}:v{i}\n" for i in range(50)))
    fast = cli.out("consume", topic, "-e", "-f", r"%p %o %k %v %h\n", "-o", "2:7")
    env = dict(os.environ, CHRONIK_CLI_CLIENT="kafka-python", CHRONIK_TIMEOUT_MS="3000")
    slow = subprocess.run([sys.executable, "-m", "chronik", "-b", cli.bootstrap, "consume", topic, "-e",
                           "-f", r"%p %o %k %v %h\n", "-o", "2:7"], capture_output=True, env=env,
                          cwd=REPO, timeout=60).stdout.decode()
    assert sorted(fast.splitlines()) == sorted(slow.splitlines()) and len(fast.splitlines()) == 10
    # Keys land where Java/kafka-python's murmur2 partitioner puts them.
    from kafka.partitioner.default import murmur2

    for line in cli.out("consume", topic, "-e", "-f", r"%p %k\n").splitlines():
        p, k = line.split()
        assert int(p) == (murmur2(k.encode()) & 0x7FFFFFFF) % 2


def _complete(words: str, cword: int, env_extra: dict | None = None) -> tuple[list[str], float]:
    import time

    env = dict(os.environ, _CHRONIK_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword),
               **(env_extra or {}))
    start = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "chronik"], capture_output=True, env=env, timeout=30, cwd=REPO)
    assert res.returncode == 0 and res.stderr == b""
    return res.stdout.decode().split(), time.monotonic() - start


def test_completion_with_broker_up_and_down(cli: Cli, tmp_path) -> None:
    topic = new_topic()
    cli.run("topics", "create", topic)
    cache = {"XDG_CACHE_HOME": str(tmp_path)}
    got, _ = _complete(f"chronik topics describe -b {cli.bootstrap} t-", 5, cache)
    assert topic in got
    got, _ = _complete(f"chronik consume -b {cli.bootstrap} {topic[:4]}", 4, cache)
    assert topic in got
    got, _ = _complete("chronik topics alter-config x -s retention.m", 5, cache)
    assert got == ["retention.ms="]  # no -b: the built-in list
    got, _ = _complete(f"chronik topics alter-config {topic} -b {cli.bootstrap} -s ", 7, cache)
    assert "retention.ms=" in got and "preallocate=" in got  # the broker's own names
    # Broker down: nothing (or the cache), quickly, and no error output.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    got, took = _complete(f"chronik topics describe -b {dead} ", 5, {"XDG_CACHE_HOME": str(tmp_path / "x")})
    assert got == [] and took < 5
    got, _ = _complete("chronik topics de", 2, cache)
    assert got == ["delete", "delete-records", "describe"]


def test_detach_stop_and_ephemeral(tmp_path) -> None:
    from tests.conftest import free_port

    data = tmp_path / "data"
    port = free_port()
    run = [sys.executable, "-m", "chronik"]
    started = subprocess.run([*run, "integrated", "--detach", "-p", str(port), "-d", str(data)],
                             capture_output=True, timeout=60, cwd=REPO)
    try:
        out = started.stdout.decode()
        assert started.returncode == 0, started.stderr
        assert f"chronik listening on 127.0.0.1:{port}" in out
        assert f"bootstrap.servers=127.0.0.1:{port}" in out and f"chronik stop -d {data}" in out
        pid = int((data / ".lock").read_text())
        again = subprocess.run([*run, "integrated", "--detach", "-p", str(free_port()), "-d", str(data)],
                               capture_output=True, timeout=60, cwd=REPO)
        assert again.returncode == 1 and "in use" in again.stderr.decode()
        assert subprocess.run([*run, "-b", f"127.0.0.1:{port}", "topics", "list"], timeout=60,
                              capture_output=True).returncode == 0
    finally:
        stopped = subprocess.run([*run, "stop", "-d", str(data)], capture_output=True, timeout=60)
    assert stopped.returncode == 0 and f"stopped broker pid {pid}" in stopped.stdout.decode()
    again = subprocess.run([*run, "stop", "-d", str(data)], capture_output=True, timeout=60)
    assert again.returncode == 1 and "no broker is running" in again.stderr.decode()

    proc = subprocess.Popen([*run, "integrated", "--ephemeral", "-p", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        line = proc.stdout.readline().decode()
        assert "listening on" in line
        data_dir = line.split("data ")[1].split(",")[0]
        assert os.path.isdir(data_dir)
        assert proc.stdout.readline().decode().startswith("connect with:")
    finally:
        proc.terminate()
        proc.wait(20)
    assert not os.path.exists(data_dir)


def test_large_batches_are_read_back_by_other_clients(cli: Cli) -> None:
    """Batches written by the lean producer (deltas and lengths past one- and two-byte varints)."""
    import shutil

    topic = new_topic()
    lines = [f"{i:06d}-" + "x" * (i % 9000) for i in range(0, 20000, 7)] + [f"r{i}" for i in range(20000)]
    cli.run("produce", topic, "--create", input="\n".join(lines) + "\n")
    env = dict(os.environ, CHRONIK_CLI_CLIENT="kafka-python", CHRONIK_TIMEOUT_MS="3000")
    slow = subprocess.run([sys.executable, "-m", "chronik", "-b", cli.bootstrap, "consume", topic, "-e"],
                          capture_output=True, env=env, cwd=REPO, timeout=120).stdout.decode()
    assert slow.splitlines() == lines
    assert cli.out("consume", topic, "-e").splitlines() == lines
    if shutil.which("kcat"):
        kc = subprocess.run(["kcat", "-b", cli.bootstrap, "-C", "-t", topic, "-e", "-q"], capture_output=True,
                            timeout=120).stdout.decode()
        assert kc.splitlines() == lines
