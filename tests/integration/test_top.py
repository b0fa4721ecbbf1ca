"""`chronik top` against a broker with traffic: in tmux (the live screen) and --once -o json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration

TOPIC, GROUP = "toptraffic", "top-group"


@pytest.fixture
def busy_broker(broker_factory):
    http = free_port()
    b = broker_factory("--http-port", str(http))
    b.http = f"http://127.0.0.1:{http}"
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, linger_ms=5)
    for _ in range(50):
        producer.send(TOPIC, value=b"x" * 100)
    producer.flush()
    consumer = KafkaConsumer(TOPIC, bootstrap_servers=b.bootstrap, group_id=GROUP,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    got = 0
    while got < 20:
        for recs in consumer.poll(1000, max_records=20 - got).values():
            got += len(recs)
    consumer.commit()
    consumer.close()
    stop = threading.Event()

    def flow() -> None:
        while not stop.is_set():
            for _ in range(10):
                producer.send(TOPIC, value=b"y" * 100)
            producer.flush()
            time.sleep(0.05)

    t = threading.Thread(target=flow, daemon=True)
    t.start()
    yield b
    stop.set()
    t.join(10)
    producer.close()


def chronik(*args: str) -> list[str]:
    return [sys.executable, "-m", "chronik", *args]


def test_top_once_json(busy_broker):
    out = subprocess.run(
        chronik("-b", busy_broker.bootstrap, "top", "--url", busy_broker.http, "--once", "-o", "json"),
        capture_output=True, text=True, timeout=60, cwd=REPO, check=True,
    ).stdout
    doc = json.loads(out)
    assert doc["broker"]["source"] == "metrics"
    topic = next(t for t in doc["topics"] if t["topic"] == TOPIC)
    assert topic["in_msgs_per_s"] > 0
    group = next(g for g in doc["groups"] if g["group"] == GROUP)
    assert group["lag"] > 0 and group["topics"] == [TOPIC]


def test_top_once_json_over_the_kafka_protocol(busy_broker):
    out = subprocess.run(
        chronik("-b", busy_broker.bootstrap, "top", "--source", "kafka", "--once", "-o", "json"),
        capture_output=True, text=True, timeout=60, cwd=REPO, check=True,
    ).stdout
    doc = json.loads(out)
    assert doc["broker"]["source"] == "kafka"
    topic = next(t for t in doc["topics"] if t["topic"] == TOPIC)
    assert topic["in_msgs_per_s"] > 0
    assert next(g for g in doc["groups"] if g["group"] == GROUP)["lag"] > 0


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_top_live_in_tmux_80x24(busy_broker, tmp_path):
    sock = str(tmp_path / "tmux.sock")
    cmd = " ".join(chronik("-b", busy_broker.bootstrap, "top", "--url", busy_broker.http))
    env = dict(os.environ, TERM="xterm-256color")
    subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-x", "80", "-y", "24", "-s", "top",
                    f"cd {REPO} && {cmd}"], check=True, env=env)
    try:
        pane = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.5)
            pane = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p", "-t", "top"],
                                  capture_output=True, text=True).stdout
            row = next((ln for ln in pane.splitlines() if ln.startswith(TOPIC)), "")
            grow = next((ln for ln in pane.splitlines() if ln.startswith(GROUP)), "")
            rate = re.findall(r"\d[\d,]*\.\d", row)
            if rate and float(rate[0].replace(",", "")) > 0 and grow:
                break
        else:
            pytest.fail(f"top never showed {TOPIC} with a rate and {GROUP}:\n{pane}")
        assert all(len(ln) <= 80 for ln in pane.splitlines())
        cols = grow.split()
        assert int(cols[2].replace(",", "")) > 0  # GROUP MEMBERS LAG ...
        # keys: filter to nothing, then quit
        subprocess.run(["tmux", "-S", sock, "send-keys", "-t", "top", "f", "z", "z", "Enter"], check=True)
        time.sleep(1.5)
        pane = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p", "-t", "top"],
                              capture_output=True, text=True).stdout
        assert "filter:zz" in pane and not any(ln.startswith(TOPIC) for ln in pane.splitlines())
        subprocess.run(["tmux", "-S", sock, "send-keys", "-t", "top", "q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["tmux", "-S", sock, "has-session", "-t", "top"],
                              capture_output=True).returncode != 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("q did not quit top")
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
