"""Consumer-group benchmarks: OffsetCommit throughput and time to first assignment.

    python bench/bench_groups.py                  # starts its own broker in a temp dir
    python bench/bench_groups.py -b host:port     # against a running broker (Chronik or not)

1. Commit throughput: several client processes each keep a window of
   OffsetCommit requests in flight on one connection (pre-encoded frames,
   simple commits, generation -1) and count the answers. Target: >= 10,000
   requests/s.
2. Time to first assignment: a confluent-kafka consumer with default
   settings subscribes to a topic in a fresh group; we time from creating
   the consumer to its on_assign callback. Target: < 500 ms.
3. The same with group.protocol=consumer (KIP-848: the assignment comes
   with the first ConsumerGroupHeartbeat answer). Target: < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOPIC = "bench-groups"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "chronik", "integrated", "-p", str(port), "-d", str(data_dir),
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, f"127.0.0.1:{port}"
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("broker did not start")


def _commit_frame(group: str, offset: int) -> bytes:
    from kafka.protocol.consumer.group import OffsetCommitRequest

    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    req = OffsetCommitRequest(
        group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
        topics=[T(name=TOPIC, partitions=[P(partition_index=0, committed_offset=offset,
                                              committed_leader_epoch=-1, committed_metadata="bench")])],
    )
    req.API_VERSION = 8
    req.with_header(correlation_id=1, client_id="bench")
    return bytes(req.encode(header=True, framed=True))


def _committer(bootstrap: str, idx: int, seconds: float, window: int, out: mp.Queue) -> None:
    from kafka.protocol.consumer.group import OffsetCommitResponse

    host, port = bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    frame = _commit_frame(f"bench-{idx}", 42 + idx)
    # Send a few frames per syscall: the point is the broker's rate, not ours.
    batch = 16
    s.sendall(frame * window)
    buf = bytearray()
    done = 0
    end = time.monotonic() + seconds
    first_checked = False
    while time.monotonic() < end:
        chunk = s.recv(1 << 16)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
        got = 0
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = struct.unpack_from(">i", buf, pos)
            if len(buf) - pos - 4 < size:
                break
            if not first_checked:
                # v8 answers with a flexible header: correlation id, then an empty tag section.
                resp = OffsetCommitResponse.decode(bytes(buf[pos + 9 : pos + 4 + size]), version=8)
                code = resp.topics[0].partitions[0].error_code
                if code != 0:
                    raise RuntimeError(f"OffsetCommit failed with error {code}")
                first_checked = True
            pos += 4 + size
            got += 1
        del buf[:pos]
        done += got
        pending = got
        while pending:
            n = min(pending, batch)
            s.sendall(frame * n)
            pending -= n
    s.close()
    out.put(done)


def commit_throughput(bootstrap: str, clients: int, seconds: float, window: int) -> float:
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_committer, args=(bootstrap, i, seconds, window, q)) for i in range(clients)]
    for p in procs:
        p.start()
    total = sum(q.get(timeout=seconds + 30) for _ in procs)
    for p in procs:
        p.join(10)
    return total / seconds


def check_commits(bootstrap: str, clients: int) -> None:
    # kafka-python shows metadata as stored (librdkafka's committed() assumes a trailing NUL).
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    for i in range(clients):
        (om,) = admin.list_group_offsets(f"bench-{i}")[f"bench-{i}"].values()
        assert om.offset == 42 + i and om.metadata == "bench", om
    admin.close()


def first_assignment_ms(bootstrap: str, protocol: str = "classic") -> float:
    from confluent_kafka import Consumer

    assigned: list[float] = []
    t0 = time.monotonic()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"tfa-{uuid.uuid4().hex[:8]}",
                  "group.protocol": protocol})
    c.subscribe([TOPIC], on_assign=lambda _c, _p: assigned.append(time.monotonic()))
    while not assigned and time.monotonic() - t0 < 60:
        c.poll(0.01)
    c.close()
    if not assigned:
        raise RuntimeError("no assignment within 60 s")
    return (assigned[0] - t0) * 1000


def ensure_topic(bootstrap: str) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(TOPIC, b"x")
    p.flush(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-b", "--bootstrap", help="use a running broker instead of starting one")
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--window", type=int, default=64, help="requests in flight per client")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--assign-runs", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    proc = None
    tmp = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-groups-"))
        proc, bootstrap = start_broker(tmp / "data")
    try:
        ensure_topic(bootstrap)
        rate = commit_throughput(bootstrap, args.clients, args.seconds, args.window)
        check_commits(bootstrap, args.clients)
        log_bytes = None
        if tmp is not None:
            log_path = tmp / "data" / "__consumer_offsets" / "offsets.log"
            log_bytes = log_path.stat().st_size if log_path.exists() else None
        times = [first_assignment_ms(bootstrap) for _ in range(args.assign_runs)]
        times848 = [first_assignment_ms(bootstrap, "consumer") for _ in range(args.assign_runs)]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "commit_requests_per_s": round(rate),
        "commit_clients": args.clients,
        "commit_window": args.window,
        "offsets_log_bytes_after": log_bytes,
        "first_assignment_ms": [round(t, 1) for t in times],
        "first_assignment_ms_median": round(statistics.median(times), 1),
        "first_assignment_kip848_ms": [round(t, 1) for t in times848],
        "first_assignment_kip848_ms_median": round(statistics.median(times848), 1),
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"OffsetCommit throughput : {result['commit_requests_per_s']:,} requests/s "
              f"({args.clients} clients x {args.window} in flight, {args.seconds:.0f} s)   target >= 10,000")
        print(f"time to first assignment: median {result['first_assignment_ms_median']} ms "
              f"(runs: {result['first_assignment_ms']})   target < 500 ms")
        print(f"  ... group.protocol=consumer: median {result['first_assignment_kip848_ms_median']} ms "
              f"(runs: {result['first_assignment_kip848_ms']})   target < 300 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
