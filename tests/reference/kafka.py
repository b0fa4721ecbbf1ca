"""The reference Apache Kafka, and the JVM/Go tools the tests run against Chronik.

- `libs()`: the jars of Apache Kafka 4.x (broker, tools, streams, clients),
  assembled from Maven Central by `scripts/kafka-reference.sh assemble` into
  `$CHRONIK_REF_CACHE` (default `~/.cache/chronik-ref`), never into the repo.
- `KafkaReference`: a KRaft single-node combined broker+controller on free
  127.0.0.1 ports with a temp log dir and a bounded heap; started, waited
  for (it must answer ApiVersions and list itself in Metadata), stopped by PID.
- `run_tool()`: one of Kafka's own tools (`kafka-topics` is
  `org.apache.kafka.tools.TopicCommand`, ...) as a JVM with a small heap.
- `require()`: a missing tool is a loud skip in a local run, a failure in CI
  (`CI=true`), where `.ci/run` installs everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "scripts" / "kafka-reference.sh"
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.1.0")
CLIENTS_3_VERSION = os.environ.get("KAFKA_CLIENTS_3_VERSION", "3.9.1")
CLIENT_JVM = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
              f"-Dlog4j2.configurationFile={REPO / 'tests' / 'reference' / 'java' / 'log4j2.properties'}"]


def cache_dir() -> Path:
    return Path(os.environ.get("CHRONIK_REF_CACHE", Path.home() / ".cache" / "chronik-ref"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(*tools: str) -> None:
    """Skip loudly (fail in CI) when a tool the test needs is not on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        msg = f"NOT RUN: {', '.join(missing)} missing (bash .ci/run installs it)"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


_libs: Path | None = None


def libs() -> Path:
    """The Kafka jars directory (assembled once; quick when the cache is warm)."""
    global _libs
    if _libs is None:
        require("java", "mvn")
        out = subprocess.run(["bash", str(SCRIPT), "assemble"], check=True, capture_output=True,
                             text=True, timeout=900)
        _libs = Path(out.stdout.strip().splitlines()[-1])
    return _libs


def classpath() -> str:
    return f"{libs()}/*"


def clients3_classpath() -> str:
    """kafka-clients 3.9 with the compression/logging jars of the 4.x assembly."""
    libs()
    deps = [str(j) for j in libs().glob("*.jar")
            if j.name.startswith(("lz4-java", "snappy-java", "zstd-jni", "slf4j-api"))]
    return ":".join([str(cache_dir() / f"clients-{CLIENTS_3_VERSION}" / f"kafka-clients-{CLIENTS_3_VERSION}.jar"),
                     *deps])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tool(cls: str, *args: str, timeout: float = 120, input: str | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run one of Kafka's tools by class name; stdout/stderr captured as text."""
    cmd = ["java", *CLIENT_JVM, "-cp", classpath(), cls, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cls} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={logs}
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
"""

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


@dataclass
class KafkaReference:
    """A single-node Apache Kafka (KRaft combined mode) in `workdir`; stopped by PID."""

    workdir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    heap: str = "512m"
    proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def start(self, timeout: float = 90.0) -> KafkaReference:
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "server.properties"
        props.write_text(SERVER_PROPERTIES.format(port=self.port, cport=self.controller_port, logs=self.log_dir))
        (self.workdir / "log4j2.properties").write_text(LOG4J2)
        if not (self.log_dir / "meta.properties").exists():
            cluster_id = run_tool("kafka.tools.StorageTool", "random-uuid").stdout.strip()
            run_tool("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props))
        log = open(self.workdir / "kafka.log", "ab")
        self.proc = subprocess.Popen(
            ["java", f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseSerialGC",
             f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
             "-cp", classpath(), "kafka.Kafka", str(props)],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kafka exited early:\n{self.output()}")
            if self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kafka did not start in {timeout}s:\n{self.output()}")

    def _ready(self) -> bool:
        from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

        from tests.integration.raw import RawConn

        try:
            conn = RawConn(self.port)
        except OSError:
            return False
        try:
            resp = conn.call(MetadataRequest(topics=[], allow_auto_topic_creation=False), MetadataResponse, 1)
            return bool(resp.brokers)
        except (OSError, AssertionError):
            return False
        finally:
            conn.close()

    def output(self) -> str:
        path = self.workdir / "kafka.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


JAVA_SOURCES = REPO / "tests" / "reference" / "java"


def compile_java(name: str, cp: str, tag: str) -> Path:
    """javac tests/reference/java/NAME.java against `cp` once (cached by content) into the cache."""
    import hashlib

    src = JAVA_SOURCES / f"{name}.java"
    digest = hashlib.sha1(src.read_bytes() + cp.encode()).hexdigest()[:12]
    out = cache_dir() / "classes" / f"{name}-{tag}-{digest}"
    if not (out / ".complete").exists():
        require("javac")
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(["javac", "-J-Xmx256m", "-nowarn", "-d", str(out), "-cp", cp, str(src)],
                       check=True, capture_output=True, text=True, timeout=300)
        (out / ".complete").touch()
    return out


def run_java(name: str, *args: str, clients: str = "4", timeout: float = 180) -> list[list[str]]:
    """Run tests/reference/java/NAME.java's main; its stdout as tab-split lines (fails on exit != 0)."""
    cp = classpath() if clients == "4" else clients3_classpath()
    classes = compile_java(name, cp, f"clients{clients}")
    cmd = ["java", *CLIENT_JVM, "-cp", f"{classes}:{cp}", name, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return [line.split("\t") for line in proc.stdout.splitlines() if line]
