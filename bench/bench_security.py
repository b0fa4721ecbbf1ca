"""Produce 1 KiB records over PLAINTEXT vs SASL_SSL, and with the authorizer off vs on.

    python bench/bench_security.py [--mb 200] [--tls-path-only]

Starts one broker per configuration (listeners PLAINTEXT and SASL_SSL with
SCRAM-SHA-512; the second with --authorizer and an ALLOW ACL for the
producing user), produces --mb MiB of 1 KiB records with confluent-kafka
(acks=all, linger 5 ms), and reports client-side MB/s and the broker's CPU
seconds per GB (utime+stime of the broker process from /proc). The broker
is stopped by its PID. Numbers, not asserts: see bench/README.md.

Before that it measures the broker's TLS path alone, in process: 1 MiB
produce-sized frames arrive as TLS records over a socket pair and go through
the server loop's read, decrypt, frame and answer code (the client's
encryption is not counted). Records of 1,788 bytes are what librdkafka sends
(measured: it writes every buffer slice as its own record), 16 KiB the
largest. It is the load-robust figure for work on that path: CPU seconds of
the loop thread per GB, with no disk and no second process.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chronik.cli.certs import make_certs  # noqa: E402

PASSWORD = "bench-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(tmp: Path, certs: Path, authorizer: bool) -> tuple[subprocess.Popen, dict[str, int]]:
    ports = {"PLAINTEXT": free_port(), "SASL_SSL": free_port()}
    args = [sys.executable, "-m", "chronik", "integrated", "-d", str(tmp / f"data-{authorizer}"), "--log-level",
            "warning", "--tls-cert", str(certs / "broker.pem"), "--tls-key", str(certs / "broker.key"),
            "--sasl-user", f"bench:{PASSWORD}"]
    for name, port in ports.items():
        args += ["--listener", f"{name}://127.0.0.1:{port}"]
    if authorizer:
        args += ["--authorizer", "--allow-everyone-if-no-acl-found"]
    log = open(tmp / f"broker-{authorizer}.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 20
    while "listening on" not in (tmp / f"broker-{authorizer}.log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError((tmp / f"broker-{authorizer}.log").read_text())
        time.sleep(0.05)
    return proc, ports


def produce(conf: dict, mb: int) -> float:
    from confluent_kafka import Producer

    topic = f"bench-{time.time_ns()}"
    p = Producer({**conf, "acks": "all", "linger.ms": 5, "batch.size": 1 << 20, "queue.buffering.max.kbytes": 1 << 20,
                  "log_level": 0})
    value = b"x" * 1024
    p.produce(topic, value)  # topic creation and the login are not timed
    p.flush(30)
    n = mb * 1024
    t0 = time.perf_counter()
    for _ in range(n):
        while True:
            try:
                p.produce(topic, value)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(120)
    return n * 1024 / (time.perf_counter() - t0) / 1e6


def dispatch_cost(authorizer: bool, n: int = 20000) -> float:
    """CPU microseconds per 16 KiB Produce request through the dispatcher (in process, no sockets):
    the authorizer's cost measured apart from the noise of shared cores."""
    from kafka.protocol.producer.produce import ProduceRequest

    from chronik.broker.config import BrokerConfig
    from chronik.broker.core import BrokerCore
    from chronik.broker.dispatch import Dispatcher
    from chronik.broker.server import Server
    from chronik.security.scram import CredentialStore
    from chronik.security.session import new_session
    from tests.integration.raw import record_batch

    server = Server("127.0.0.1", 0, 1 << 27)
    core = BrokerCore(BrokerConfig(data_dir=Path(tempfile.mkdtemp()) / "data", authorizer=authorizer,
                                   allow_everyone_if_no_acl_found=True), server)
    core.create_topic("t", 1)
    dispatch = Dispatcher(core)

    class Conn:
        conn_id = 1
        peer = ("127.0.0.1", 1)
        sec = new_session("PLAINTEXT", "PLAINTEXT", "127.0.0.1", ("127.0.0.1", 9092), (), CredentialStore())

    P = ProduceRequest
    req = P(transactional_id=None, acks=1, timeout_ms=5000, topic_data=[P.TopicProduceData(
        name="t", partition_data=[P.TopicProduceData.PartitionProduceData(index=0, records=record_batch(1024, 16))])])
    req.API_VERSION = 9
    req.with_header(correlation_id=1, client_id="bench")
    frame = req.encode(header=True, framed=False)
    t0 = time.process_time()
    for _ in range(n):
        dispatch(Conn, bytearray(frame))
    cost = (time.process_time() - t0) / n * 1e6
    core.close()
    return cost


def tls_path_cost(certs: Path, record: int, mb: int = 100, frame: int = 1 << 20) -> float:
    """Loop-thread CPU seconds per GB through Server's TLS read/answer path (in process, client cost excluded)."""
    import selectors
    import ssl
    import struct

    from chronik.broker.connection import Connection, Listener
    from chronik.broker.server import Server
    from chronik.broker.tls_stream import TlsLayer
    from chronik.wire.framing import FrameDecoder

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(certs / "broker.pem"), str(certs / "broker.key"))
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(str(certs / "ca.pem"))
    server = Server("127.0.0.1", 0, 1 << 27)
    answered = []
    server.dispatch = lambda conn, f: answered.append(len(f)) or [struct.pack(">i", 40), b"r" * 40]
    sock, peer = socket.socketpair()
    sock.setblocking(False)
    peer.setblocking(False)
    conn = Connection(sock, ("127.0.0.1", 1), 1, FrameDecoder(1 << 27, admit=server._admit, release=server._release),
                      Listener("SSL", "SSL", "127.0.0.1", 0, server_ctx))
    conn.tls = TlsLayer(server_ctx)
    server.conns[conn.fd] = conn
    server.sel.register(sock, selectors.EVENT_READ, conn)
    c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")

    def turn() -> float:
        t0 = time.thread_time()
        server._on_readable(conn)
        server._flush_dirty()
        spent = time.thread_time() - t0
        try:
            while data := peer.recv(1 << 20):
                c_in.write(data)
        except BlockingIOError:
            pass
        try:
            while client.read(1 << 20):
                pass
        except ssl.SSLWantReadError:
            pass
        return spent

    for _ in range(20):
        try:
            client.do_handshake()
            shaken = True
        except ssl.SSLWantReadError:
            shaken = False
        if c_out.pending:
            peer.sendall(c_out.read())
        turn()
        if shaken and conn.tls.established:
            break
    framed = struct.pack(">i", frame) + b"x" * frame
    frames = mb * (1 << 20) // frame
    cpu = 0.0
    view = memoryview(b"")
    sent = 0
    while sent < frames or view:
        if not view:
            for i in range(0, len(framed), record):
                client.write(framed[i:i + record])
            view = memoryview(c_out.read())
            sent += 1
        try:
            view = view[peer.send(view):]
        except BlockingIOError:
            pass
        cpu += turn()
    for _ in range(5):
        cpu += turn()
    server.close(conn)
    peer.close()
    assert answered == [frame] * frames, "not every frame was answered"
    return cpu / (frames * frame / 1e9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--tls-path-only", action="store_true", help="only the in-process TLS path figures")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        make_certs(Path(d), [])
        for record in (1788, 16384):
            print(f"TLS path in process, {record} B records: {tls_path_cost(Path(d), record):.2f} CPU s/GB")
    if args.tls_path_only:
        return
    off, on = dispatch_cost(False), dispatch_cost(True)
    print(f"dispatch of a 16 KiB Produce, CPU per request: authorizer off {off:.1f} us, on {on:.1f} us "
          f"({on / off - 1:+.1%})")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        certs = tmp / "certs"
        make_certs(certs, [])
        rows = []
        for authorizer in (False, True):
            proc, ports = start(tmp, certs, authorizer)
            try:
                for proto in ("PLAINTEXT", "SASL_SSL"):
                    conf = {"bootstrap.servers": f"127.0.0.1:{ports[proto]}", "security.protocol": proto}
                    if proto == "SASL_SSL":
                        conf.update({"ssl.ca.location": str(certs / "ca.pem"), "sasl.mechanism": "SCRAM-SHA-512",
                                     "sasl.username": "bench", "sasl.password": PASSWORD})
                    cpu0 = cpu_seconds(proc.pid)
                    mbs = produce(conf, args.mb)
                    cpu = cpu_seconds(proc.pid) - cpu0
                    rows.append((proto, "on" if authorizer else "off", mbs, cpu / (args.mb * 1024 * 1024 / 1e9)))
            finally:
                proc.terminate()
                proc.wait(20)
    print(f"{'listener':<10} {'authorizer':<10} {'MB/s':>8} {'broker CPU s/GB':>16}")
    for proto, authz, mbs, cpu_gb in rows:
        print(f"{proto:<10} {authz:<10} {mbs:>8.1f} {cpu_gb:>16.2f}")
    base = {a: m for p, a, m, _ in rows if p == "PLAINTEXT"}
    for p, a, m, _ in rows:
        if p == "SASL_SSL":
            print(f"SASL_SSL / PLAINTEXT MB/s (authorizer {a}): {m / base[a]:.0%}")
    cpu = {(p, a): c for p, a, _, c in rows}
    print(f"authorizer on vs off, broker CPU/GB over PLAINTEXT: "
          f"{cpu[('PLAINTEXT', 'on')] / cpu[('PLAINTEXT', 'off')] - 1:+.1%}")


if __name__ == "__main__":
    main()
