"""A real Chronik broker for tests: `with chronik.testing.broker() as b: b.bootstrap_servers`.

Starts `python -m chronik integrated` as a subprocess on a free port (the
broker picks it: -p 0) with a fresh temporary data directory, waits until it
accepts connections (about 0.3 s), and on exit stops it by its PID (SIGTERM,
then SIGKILL after a timeout) and removes the data directory. No Docker, no
JVM: `pip install chronik` is all a project needs.

    import chronik.testing
    from kafka import KafkaProducer

    with chronik.testing.broker(partitions=3) as b:
        KafkaProducer(bootstrap_servers=b.bootstrap_servers).send("t", b"x").get()

The pytest plugin (chronik.testing.pytest_plugin, loaded automatically through
the `pytest11` entry point) provides the `chronik_broker` fixture on top.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Broker", "BrokerStartError", "broker"]

READY = "chronik listening on "


class BrokerStartError(RuntimeError):
    """The broker exited or did not listen in time; the message carries its output."""


@dataclass
class Broker:
    """A running broker process. Use `bootstrap_servers` in any Kafka client."""

    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    args: list[str] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not stop in `timeout` seconds. Returns the exit status."""
        proc = self.process
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return proc.returncode


def _start(args: list[str], data_dir: Path, log_path: Path, timeout: float) -> Broker:
    cmd = [sys.executable, "-m", "chronik", "integrated", "-p", "0", "--host", "127.0.0.1",
           "-d", str(data_dir), *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("CHRONIK_BROKERS", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while True:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        for line in text.splitlines():
            if READY in line:
                addr = line.split(READY, 1)[1].split()[0]
                host, _, port = addr.rpartition(":")
                return Broker(host, int(port), data_dir, proc, log_path, list(args))
        if proc.poll() is not None:
            raise BrokerStartError(f"chronik exited with {proc.returncode} before listening:\n{text}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait(10)
            raise BrokerStartError(f"chronik did not listen within {timeout:g}s:\n{text}")
        time.sleep(0.01)


@contextmanager
def broker(*, partitions: int = 1, auto_create: bool = True, data_dir: str | os.PathLike | None = None,
           extra_args: list[str] | tuple[str, ...] = (), startup_timeout: float = 30.0) -> Iterator[Broker]:
    """Run a broker for the duration of the block.

    partitions     partitions of auto-created topics
    auto_create    create topics on first use (Kafka's default)
    data_dir       keep data here instead of a temporary directory (not removed)
    extra_args     more `chronik integrated` options, e.g. ["--log-level", "debug"]
    """
    own_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="chronik-test-"))
    data = root / "data" if own_dir else Path(data_dir)
    args = ["--partitions", str(partitions), *([] if auto_create else ["--no-auto-create"]), *extra_args]
    b = _start(args, data, root / "broker.log", startup_timeout)
    try:
        yield b
    finally:
        b.stop()
        shutil.rmtree(root, ignore_errors=True)
