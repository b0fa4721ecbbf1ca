"""Produce 1 KiB records over PLAINTEXT vs SASL_SSL, and with the authorizer off vs on.

    python bench/bench_security.py [--mb 200] [--rounds 3] [--tls-path-only | --java-only]

Starts two brokers (listeners PLAINTEXT and SASL_SSL with SCRAM-SHA-512; the
second with --authorizer and ALLOW ACLs for the producing principals,
User:bench and User:ANONYMOUS, on the topics it writes), and produces --mb
MiB of 1 KiB records with confluent-kafka (acks=all, linger 5 ms) to each
listener of each broker, --rounds times, alternating which broker goes
first, after one unmeasured warm-up run each; every run's topic is deleted
after it. Per run: client-side MB/s, the broker's CPU seconds per GB
(utime+stime of its process from /proc), the client's (this process:
Python's produce loop and librdkafka's threads, which encrypt too) and the
Produce requests per GB (librdkafka's statistics); the medians are
compared. Two brokers running the same code differ by up to about 10 % in
CPU/GB from run to run, so the authorizer's end-to-end figure is printed
with what the in-process figure below predicts for it (its cost per
request times the requests per GB). The brokers are stopped by their PIDs.
Numbers, not asserts: see bench/README.md.

`--java-only` runs PLAINTEXT vs SASL_SSL with the Java client instead (Kafka's
ProducerPerformance from the jars of scripts/kafka-reference.sh), which writes
TLS records of up to 16 KiB where librdkafka writes one per buffer slice.

With two cores the client and the broker share the CPU, so the SASL_SSL /
PLAINTEXT MB/s ratio is bounded by their CPU per GB added together, not by
the broker's alone; both are printed.

Before that it measures the broker's TLS path alone, in process: 1 MiB
produce-sized frames arrive as TLS records over a socket pair and go through
the server loop's read, decrypt, frame and answer code (the client's
encryption is not counted). Records of 1,788 bytes are what librdkafka sends
(measured: it writes every buffer slice as its own record), 16 KiB the
largest. It is the load-robust figure for work on that path: CPU seconds of
the loop thread per GB, with no disk and no second process. Beside it, the
floor: the same ciphertext through a bare `SSLObject.read` loop into one
buffer (OpenSSL's decryption and record layer and one Python call per
record, nothing of the broker's).

The authorizer's own cost is measured in process too: a 16 KiB Produce
through the dispatcher of one core with the authorizer on and off in
alternating rounds (loop-thread CPU, medians), and `authz.check` alone.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.targets import cpu_seconds, free_port  # noqa: E402
from bench.workloads import produce_all  # noqa: E402
from chronik.cli.certs import make_certs  # noqa: E402

PASSWORD = "bench-pw"
# ProducerPerformance's last line: "N records sent, R records/sec (M MB/sec), ..."
JAVA_SUMMARY = re.compile(r"records sent, [\d.]+ records/sec \(([\d.]+) MB/sec\)")


def loop_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process's main thread (the broker's loop, where requests are handled) in ns
    precision (/proc/PID/stat counts 10 ms ticks: 5 % of a 1 GB PLAINTEXT run)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def start(tmp: Path, certs: Path, authorizer: bool) -> tuple[subprocess.Popen, dict[str, int]]:
    ports = {"PLAINTEXT": free_port(), "SASL_SSL": free_port()}
    args = [sys.executable, "-m", "chronik", "integrated", "-d", str(tmp / f"data-{authorizer}"), "--log-level",
            "warning", "--tls-cert", str(certs / "broker.pem"), "--tls-key", str(certs / "broker.key"),
            "--sasl-user", f"bench:{PASSWORD}"]
    for name, port in ports.items():
        args += ["--listener", f"{name}://127.0.0.1:{port}"]
    if authorizer:
        # Anyone may do what no ACL covers (so the ACLs below can be created without a login);
        # the bench topics are covered by the ALLOW ACLs allow_producers() creates.
        args += ["--authorizer", "--allow-everyone-if-no-acl-found"]
    log = open(tmp / f"broker-{authorizer}.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 20
    while "listening on" not in (tmp / f"broker-{authorizer}.log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError((tmp / f"broker-{authorizer}.log").read_text())
        time.sleep(0.05)
    return proc, ports


def allow_producers(port: int) -> None:
    """ALLOW ALL on the topics named bench-* for the two producing principals."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    acls = [AclBinding(ResourceType.TOPIC, "bench-", ResourcePatternType.PREFIXED, principal, "*", AclOperation.ALL,
                       AclPermissionType.ALLOW) for principal in ("User:bench", "User:ANONYMOUS")]
    for future in admin.create_acls(acls, request_timeout=10).values():
        future.result()


def delete_topic(port: int, topic: str) -> None:
    """Drop a run's topic, so that runs do not pile up dirty pages for the next ones to pay for."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    for future in admin.delete_topics([topic], request_timeout=30).values():
        future.result()


def produce(conf: dict, mb: int, topic: str) -> tuple[float, int]:
    """MB/s of producing `mb` MiB of 1 KiB records, and the Produce requests librdkafka sent for them."""
    import json

    from confluent_kafka import Producer

    stats: list[str] = []
    p = Producer({**conf, "acks": "all", "linger.ms": 5, "batch.size": 1 << 20, "queue.buffering.max.kbytes": 1 << 20,
                  "log_level": 0, "statistics.interval.ms": 200, "stats_cb": stats.append})

    def requests_sent() -> int:
        stats.clear()
        while not stats:
            p.poll(0.05)
        return sum(b["req"].get("Produce", 0) for b in json.loads(stats[-1])["brokers"].values())

    value = b"x" * 1024
    p.produce(topic, value)  # topic creation and the login are not timed
    p.flush(30)
    before = requests_sent()
    n = mb * 1024
    t0 = time.perf_counter()
    produce_all(p, topic, value, n)
    p.flush(120)
    mbs = n * 1024 / (time.perf_counter() - t0) / 1e6
    return mbs, requests_sent() - before


def java_produce(bootstrap: str, proto: str, certs: Path, tmp: Path, mb: int, topic: str) -> tuple[float, float]:
    """MB/s of Kafka's ProducerPerformance (the Java client) producing `mb` MiB of 1 KiB records, and its
    CPU seconds. The Java client writes up to 16 KiB per TLS record, librdkafka one record per buffer slice."""
    import resource

    libs = subprocess.run(["bash", str(REPO / "scripts" / "kafka-reference.sh"), "assemble"], check=True,
                          capture_output=True, text=True).stdout.strip()
    props = tmp / f"java-{proto}.properties"
    lines = [f"bootstrap.servers={bootstrap}", "acks=all", "linger.ms=5", "batch.size=1048576",
             "buffer.memory=67108864", f"security.protocol={proto}"]
    if proto == "SASL_SSL":
        lines += ["sasl.mechanism=SCRAM-SHA-512",
                  "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                  f'username="bench" password="{PASSWORD}";',
                  "ssl.truststore.type=PEM", f"ssl.truststore.location={certs / 'ca.pem'}"]
    props.write_text("\n".join(lines) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["java", "-Xmx512m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
         "--num-records", str(mb * 1024), "--record-size", "1024", "--throughput", "-1",
         "--producer.config", str(props)], capture_output=True, text=True, timeout=900)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = JAVA_SUMMARY.search(out.stdout)
    if m is None:
        raise RuntimeError(f"ProducerPerformance gave no summary:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return float(m.group(1)), cpu


def dispatch_cost(rounds: int = 20, per_round: int = 250) -> tuple[float, float, float]:
    """CPU microseconds per 16 KiB Produce through the dispatcher, authorizer off and on, and of the check alone.

    One core (one disk, one log) serves both: its authorizer is switched on and
    off between rounds, in alternating order, so the storage's ups and downs
    (page cache, writeback) fall on both sides; medians of the loop thread's CPU.
    """
    from kafka.protocol.producer.produce import ProduceRequest

    from chronik.broker import authz
    from chronik.broker.config import BrokerConfig
    from chronik.broker.context import RequestContext
    from chronik.broker.core import BrokerCore
    from chronik.broker.dispatch import Dispatcher
    from chronik.broker.server import Server
    from chronik.security.acl import AclBinding, Operation, PatternType, Permission, ResourceType
    from chronik.security.principal import ANONYMOUS
    from chronik.security.scram import CredentialStore
    from chronik.security.session import new_session
    from chronik.wire import produce_codec
    from chronik.wire.framing import parse_request_header
    from tests.integration.raw import record_batch

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
    samples: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as d:
        core = BrokerCore(BrokerConfig(data_dir=Path(d) / "data", authorizer=True), Server("127.0.0.1", 0, 1 << 27))
        try:
            authorizer = core.authorizer
            assert authorizer is not None
            authorizer.create([AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, ANONYMOUS, "*", Operation.WRITE,
                                          Permission.ALLOW)])
            core.create_topic("t", 1)
            dispatch = Dispatcher(core)
            for i in range(rounds):
                for on in (False, True) if i % 2 == 0 else (True, False):
                    core.authorizer = authorizer if on else None
                    t0 = time.thread_time()
                    for _ in range(per_round):
                        dispatch(Conn, bytearray(frame))
                    samples[on].append((time.thread_time() - t0) / per_round * 1e6)
            core.authorizer = authorizer
            header = parse_request_header(memoryview(frame), lambda key, version: version >= 9)
            request = produce_codec.decode_request(memoryview(frame)[header.body_offset:], 9)
            ctx = RequestContext(core, 0, 9, 1, "bench", 1, Conn.peer, Conn.sec)
            assert authz.check(ctx, 0, request) is None
            n = 100_000
            t0 = time.thread_time()
            for _ in range(n):
                authz.check(ctx, 0, request)
            check = (time.thread_time() - t0) / n * 1e6
        finally:
            core.close()
    return statistics.median(samples[False]), statistics.median(samples[True]), check


def tls_floor(certs: Path, record: int, mb: int = 100) -> float:
    """CPU s/GB of a bare SSLObject.read loop over `record`-byte TLS records: the cost below any broker code."""
    import ssl

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(certs / "broker.pem"), str(certs / "broker.key"))
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(str(certs / "ca.pem"))
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    for _ in range(10):
        for end in (client, server):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        if c_out.pending:
            s_in.write(c_out.read())
        if s_out.pending:
            c_in.write(s_out.read())
    payload = b"x" * record
    chunks = []
    total = 0
    while total < mb << 20:
        for _ in range(max(1, (256 << 10) // record)):
            client.write(payload)
            total += record
        chunks.append(c_out.read())
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    read = getattr(getattr(server, "_sslobj", None), "read", None) or server.read
    t0 = time.thread_time()
    for chunk in chunks:
        s_in.write(chunk)
        got = 0
        try:
            while True:
                got += read(len(buf) - got, view[got:])
                if got > len(buf) - (16 << 10):
                    got = 0
        except ssl.SSLWantReadError:
            pass
    return (time.thread_time() - t0) / (total / 1e9)


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


def java_leg(mb: int, rounds: int) -> None:
    """PLAINTEXT vs SASL_SSL (SCRAM-SHA-512) with the Java client, on one broker without the authorizer."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        certs = tmp / "certs"
        make_certs(certs, [])
        proc, ports = start(tmp, certs, False)
        runs: dict[str, list[tuple[float, float, float]]] = {}
        gb = mb * 1024 * 1024 / 1e9
        try:
            for i in range(-1, rounds):  # round -1 warms up the broker and the JVM's disk cache
                for proto in ("PLAINTEXT", "SASL_SSL") if i % 2 == 0 else ("SASL_SSL", "PLAINTEXT"):
                    topic = f"bench-{time.time_ns()}"
                    cpu0 = cpu_seconds(proc.pid)
                    mbs, client = java_produce(f"127.0.0.1:{ports[proto]}", proto, certs, tmp,
                                               min(mb, 100) if i < 0 else mb, topic)
                    cpu = cpu_seconds(proc.pid) - cpu0
                    delete_topic(ports["PLAINTEXT"], topic)
                    if i >= 0:
                        runs.setdefault(proto, []).append((mbs, cpu / gb, client / gb))
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"Java client (ProducerPerformance, acks=all, linger 5 ms, batch 1 MiB), {mb} MiB of 1 KiB records, "
          f"medians of {rounds}:")
    print(f"{'listener':<10} {'MB/s':>8} {'broker CPU s/GB':>16} {'client CPU s/GB':>16}  (MB/s per run)")
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in runs.items()}
    for proto, (mbs, cpu_gb, client_gb) in med.items():
        each = " ".join(f"{r[0]:.1f}" for r in runs[proto])
        print(f"{proto:<10} {mbs:>8.1f} {cpu_gb:>16.2f} {client_gb:>16.2f}  ({each})")
    plain, tls = med["PLAINTEXT"], med["SASL_SSL"]
    print(f"SASL_SSL / PLAINTEXT MB/s, Java client: {tls[0] / plain[0]:.0%}; broker CPU s/GB {tls[1]:.2f} vs "
          f"{plain[1]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="MiB produced per run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per listener and broker (alternating)")
    ap.add_argument("--tls-path-only", action="store_true", help="only the in-process TLS path figures")
    ap.add_argument("--java-only", action="store_true",
                    help="only PLAINTEXT vs SASL_SSL with the Java client (Kafka's ProducerPerformance)")
    args = ap.parse_args()
    if args.java_only:
        java_leg(args.mb, args.rounds)
        return
    with tempfile.TemporaryDirectory() as d:
        make_certs(Path(d), [])
        for record in (1788, 16384):
            print(f"TLS path in process, {record} B records: {tls_path_cost(Path(d), record):.2f} CPU s/GB "
                  f"(bare SSLObject.read loop: {tls_floor(Path(d), record):.2f})")
    if args.tls_path_only:
        return
    off, on, check = dispatch_cost()
    print(f"dispatch of a 16 KiB Produce, CPU per request (medians of alternating rounds): authorizer off "
          f"{off:.1f} us, on {on:.1f} us ({on / off - 1:+.1%}); authz.check alone {check:.2f} us")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        certs = tmp / "certs"
        make_certs(certs, [])
        brokers = {}
        runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        try:
            for authorizer in (False, True):
                brokers[authorizer] = start(tmp, certs, authorizer)
            allow_producers(brokers[True][1]["PLAINTEXT"])
            gb = args.mb * 1024 * 1024 / 1e9
            # Round -1 only warms up (a broker's first run pays its lazy imports and first files).
            for i in range(-1, args.rounds):
                for proto in ("PLAINTEXT", "SASL_SSL"):
                    for authorizer in (False, True) if i % 2 == 0 else (True, False):
                        proc, ports = brokers[authorizer]
                        conf = {"bootstrap.servers": f"127.0.0.1:{ports[proto]}", "security.protocol": proto}
                        if proto == "SASL_SSL":
                            conf.update({"ssl.ca.location": str(certs / "ca.pem"), "sasl.mechanism": "SCRAM-SHA-512",
                                         "sasl.username": "bench", "sasl.password": PASSWORD})
                        topic = f"bench-{time.time_ns()}"
                        if i < 0:
                            produce(conf, min(args.mb, 50), topic)
                            delete_topic(ports["PLAINTEXT"], topic)
                            continue
                        cpu0, loop0, own0 = cpu_seconds(proc.pid), loop_cpu_seconds(proc.pid), os.times()
                        mbs, requests = produce(conf, args.mb, topic)
                        cpu, loop = cpu_seconds(proc.pid) - cpu0, loop_cpu_seconds(proc.pid) - loop0
                        own = os.times()
                        delete_topic(ports["PLAINTEXT"], topic)
                        client = own.user + own.system - own0.user - own0.system
                        runs.setdefault((proto, "on" if authorizer else "off"), []).append(
                            (mbs, cpu / gb, client / gb, requests / gb, loop / gb))
        finally:
            for proc, _ in brokers.values():
                proc.terminate()
                proc.wait(20)
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(5)) for k, v in runs.items()}
    print(f"{'listener':<10} {'authorizer':<10} {'MB/s':>8} {'broker CPU s/GB':>16} {'client CPU s/GB':>16} "
          f"{'Produce req/GB':>15}  (medians of {args.rounds}; broker CPU s/GB per run)")
    for (proto, authz), (mbs, cpu_gb, client_gb, req_gb, _) in med.items():
        each = " ".join(f"{r[1]:.2f}" for r in runs[(proto, authz)])
        print(f"{proto:<10} {authz:<10} {mbs:>8.1f} {cpu_gb:>16.2f} {client_gb:>16.2f} {req_gb:>15,.0f}  ({each})")
    for authz in ("off", "on"):
        plain, tls = med[("PLAINTEXT", authz)], med[("SASL_SSL", authz)]
        print(f"SASL_SSL / PLAINTEXT MB/s (authorizer {authz}): {tls[0] / plain[0]:.0%}; "
              f"broker+client CPU s/GB {tls[1] + tls[2]:.2f} vs {plain[1] + plain[2]:.2f} "
              f"(the ratio two saturated cores would allow: {(plain[1] + plain[2]) / (tls[1] + tls[2]):.0%})")
    for proto in ("PLAINTEXT", "SASL_SSL"):
        for name, i in (("broker CPU/GB", 1), ("its loop thread's CPU/GB", 4)):
            pairs = zip(runs[(proto, "off")], runs[(proto, "on")], strict=True)
            diffs = " ".join(f"{b[i] / a[i] - 1:+.1%}" for a, b in pairs)
            print(f"authorizer on vs off over {proto}, {name}: "
                  f"{med[(proto, 'on')][i] / med[(proto, 'off')][i] - 1:+.1%} (medians; per round {diffs})")
        # The load-robust estimate: the in-process cost per request times the requests per GB.
        _, cpu_gb, _, req_gb, _ = med[(proto, "off")]
        print(f"  expected from the dispatch figure: {(on - off) * req_gb / 1e6:.3f} CPU s/GB, "
              f"{(on - off) * req_gb / 1e6 / cpu_gb:+.1%}")


if __name__ == "__main__":
    main()
