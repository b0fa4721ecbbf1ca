"""Many partitions: create N topics x P partitions, restart, and what the broker holds.

Usage:
    python bench/bench_partitions.py [--topics 1000] [--partitions 10] [--batch 100]
        [--ulimit 256] [--target chronik|tansu|kafka] [--json out.json]

For each target (started by bench/targets.py on a free port, stopped by PID):

1. CreateTopics: ``topics`` topics of ``partitions`` partitions each, sent by
   confluent-kafka's AdminClient in requests of ``batch`` topics (one request
   at a time, each waited for); topics/s and broker CPU seconds.
2. One record produced to every partition (so recovery has a real active
   segment to check), then RSS and open file descriptors.
3. Restart (targets whose data survives one: not Tansu's memory:// store):
   SIGTERM by PID, start again on the same data dir; seconds from spawn to the
   first accepted TCP connection, then to every end offset answered by
   ListOffsets (checked: each partition's end offset must be 1); RSS and fds
   after that.

With ``--ulimit N`` the broker runs under RLIMIT_NOFILE N (``prlimit``), as a
laptop with macOS's default of 256 would.

Called from bench/run.py as::

    from bench_partitions import measure
    figures = measure(target, topics=1000, partitions=10)

``measure(target, topics, partitions, *, batch=100, restart=True)`` takes a
*started* ``targets.Target`` and returns a dict of plain numbers:
``create_s``, ``create_topics_per_s``, ``create_cpu_s``, ``produce_s``,
``produce_cpu_s``, ``rss_mb``, ``fds``, ``stop_s``, ``restart_accept_s``,
``restart_accept_cpu_s``, ``restart_serving_s`` (to the first answered
ApiVersions: a listening socket accepts before the loop serves),
``restart_serving_cpu_s`` (broker CPU seconds by then: the load-robust
start-up figure), ``restart_all_offsets_s``,
``restart_cpu_s`` (broker CPU seconds once every end offset was answered), ``rss_after_restart_mb``, ``peak_rss_mb``,
``fds_after_restart``, ``offsets_ok`` (bool), ``errors`` (list of strings);
figures a target cannot give are None. The target is left running (restarted)
for the caller to stop.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # noqa: E402
from targets import (  # noqa: E402
    Target,
    can_connect,
    chronik_target,
    cpu_seconds,
    kafka_target,
    status_kib,
    tansu_target,
)

# ListOffsets asks for this many partitions per request.
_OFFSETS_CHUNK = 2000


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def with_ulimit(target: Target, nofile: int) -> Target:
    """Run the target's command under RLIMIT_NOFILE ``nofile`` (prlimit execs it: same PID)."""
    target.command = ["prlimit", f"--nofile={nofile}:{nofile}", "--", *target.command]
    return target


def _admin(target: Target):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": target.bootstrap, "socket.timeout.ms": 120000})


def create_topics(target: Target, names: list[str], partitions: int, batch: int) -> list[str]:
    from confluent_kafka.admin import NewTopic

    admin = _admin(target)
    errors = []
    for i in range(0, len(names), batch):
        new = [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names[i:i + batch]]
        futures = admin.create_topics(new, request_timeout=300, operation_timeout=300)
        for name, fut in futures.items():
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - report, keep measuring
                errors.append(f"create {name}: {exc}")
    return errors


def produce_one_each(target: Target, names: list[str], partitions: int) -> list[str]:
    from confluent_kafka import Producer

    errors: list[str] = []

    def done(err, msg) -> None:
        if err is not None:
            errors.append(f"produce {msg.topic()}-{msg.partition()}: {err}")

    # Idempotent: a retry after a timeout on a loaded machine must not add a
    # second copy, since the restart leg checks every end offset exactly.
    p = Producer({"bootstrap.servers": target.bootstrap, "linger.ms": 20, "acks": "all",
                  "enable.idempotence": True,
                  "queue.buffering.max.messages": 1_000_000, "message.timeout.ms": 1_800_000,
                  # First writes to tens of thousands of new partitions create a
                  # directory and a file each: one request can take minutes on a busy disk.
                  "request.timeout.ms": 900_000})
    for n in names:
        for part in range(partitions):
            while True:
                try:
                    p.produce(n, value=f"{n}/{part}".encode(), key=b"k", partition=part, on_delivery=done)
                    break
                except BufferError:
                    p.poll(0.05)
        p.poll(0)
    left = p.flush(1200)
    if left:
        errors.append(f"{left} records not delivered")
    return errors


def end_offsets(target: Target, names: list[str], partitions: int) -> dict[tuple[str, int], int]:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    admin = _admin(target)
    tps = [(n, p) for n in names for p in range(partitions)]
    out: dict[tuple[str, int], int] = {}
    for i in range(0, len(tps), _OFFSETS_CHUNK):
        req = {TopicPartition(n, p): OffsetSpec.latest() for n, p in tps[i:i + _OFFSETS_CHUNK]}
        for tp, fut in admin.list_offsets(req, request_timeout=300).items():
            out[(tp.topic, tp.partition)] = fut.result().offset
    return out


def api_versions_answered(port: int, timeout: float = 120.0) -> bool:
    """Send ApiVersions v0 on a fresh connection; True once the broker answers it.

    A listening socket accepts TCP connections before the broker serves them
    (the kernel completes the handshake), so "accepting" alone can flatter a
    broker still busy recovering: this is the figure that counts.
    """
    request = struct.pack(">hhih", 18, 0, 1, -1)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            if not chunk:
                return False
            head += chunk
        return struct.unpack(">i", head)[0] > 0


def restart(target: Target) -> dict[str, float]:
    """Stop by PID (SIGTERM), start on the same data.

    Returns seconds from SIGTERM to exit (``stop_s``), from spawn to the first
    accepted TCP connection (``restart_accept_s``) and to the first answered
    request (``restart_serving_s``), with the broker's CPU seconds at those
    two points (``*_cpu_s``: they hold on a loaded machine).
    """
    assert target.proc is not None
    t0 = time.perf_counter()
    target.proc.terminate()
    target.proc.wait(timeout=300)
    out = {"stop_s": time.perf_counter() - t0}
    old = targets.STARTUP_TIMEOUT_S
    targets.STARTUP_TIMEOUT_S = 120.0
    spawned = time.perf_counter()
    try:
        target.start()
    finally:
        targets.STARTUP_TIMEOUT_S = old
    assert target.startup_s is not None and target.pid is not None
    out["restart_accept_s"] = target.startup_s
    out["restart_accept_cpu_s"] = cpu_seconds(target.pid)
    api_versions_answered(target.port)
    out["restart_serving_s"] = time.perf_counter() - spawned
    out["restart_serving_cpu_s"] = cpu_seconds(target.pid)
    return out


def measure(target: Target, topics: int, partitions: int, *, batch: int = 100,
            restart_too: bool = True, prefix: str = "bp") -> dict[str, Any]:
    """Create, fill, restart; see the module docstring for the figures returned."""
    res: dict[str, Any] = {"target": target.name, "topics": topics, "partitions": partitions,
                           "batch": batch, "errors": []}
    names = [f"{prefix}-{i:05d}" for i in range(topics)]
    pid = target.pid
    cpu0 = cpu_seconds(pid) if pid else None
    t0 = time.perf_counter()
    res["errors"] += create_topics(target, names, partitions, batch)
    res["create_s"] = time.perf_counter() - t0
    res["create_topics_per_s"] = topics / res["create_s"]
    res["create_cpu_s"] = cpu_seconds(pid) - cpu0 if pid and cpu0 is not None else None
    t0 = time.perf_counter()
    cpu0 = cpu_seconds(pid) if pid else None
    res["errors"] += produce_one_each(target, names, partitions)
    res["produce_s"] = time.perf_counter() - t0
    res["produce_cpu_s"] = cpu_seconds(pid) - cpu0 if pid and cpu0 is not None else None
    res["rss_mb"] = status_kib(pid, "VmRSS") / 1024 if pid else None
    res["fds"] = open_fds(pid) if pid else None
    for key in ("stop_s", "restart_accept_s", "restart_accept_cpu_s", "restart_serving_s",
                "restart_serving_cpu_s", "restart_all_offsets_s", "restart_cpu_s",
                "rss_after_restart_mb", "peak_rss_mb", "fds_after_restart"):
        res[key] = None
    res["offsets_ok"] = None
    if restart_too and not target.external and target.name != "tansu":
        res.update(restart(target))
        pid = target.pid
        t0 = time.perf_counter()
        ends = end_offsets(target, names, partitions)
        res["restart_all_offsets_s"] = res["restart_serving_s"] + time.perf_counter() - t0
        res["restart_cpu_s"] = cpu_seconds(pid)
        bad = [f"{n}-{p}={o}" for (n, p), o in ends.items() if o != 1]
        missing = topics * partitions - len(ends)
        res["offsets_ok"] = not bad and not missing
        if bad or missing:
            res["errors"].append(f"end offsets wrong after restart: {missing} missing, {bad[:5]}")
        res["rss_after_restart_mb"] = status_kib(pid, "VmRSS") / 1024
        res["peak_rss_mb"] = status_kib(pid, "VmHWM") / 1024
        res["fds_after_restart"] = open_fds(pid)
    return res


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    keys = ["target", "topics", "partitions", "batch", "create_topics_per_s", "create_cpu_s",
            "produce_s", "produce_cpu_s", "rss_mb", "fds", "stop_s", "restart_accept_s",
            "restart_accept_cpu_s", "restart_serving_s", "restart_serving_cpu_s",
            "restart_all_offsets_s", "restart_cpu_s",
            "rss_after_restart_mb", "peak_rss_mb", "fds_after_restart", "offsets_ok"]
    for k in keys:
        print(f"{k:>24} " + " ".join(f"{_fmt(r.get(k)):>12}" for r in rows))
    for r in rows:
        for e in r["errors"][:10]:
            print(f"{r['target']}: {e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--batch", type=int, default=100, help="topics per CreateTopics request")
    ap.add_argument("--ulimit", type=int, default=None, help="RLIMIT_NOFILE of the broker")
    ap.add_argument("--target", default="chronik", help="comma-separated: chronik,tansu,kafka")
    ap.add_argument("--data-root", type=Path, default=None, help="where the data dir goes (default /tmp)")
    ap.add_argument("--no-restart", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    makers = {"chronik": lambda: chronik_target(data_root=args.data_root), "tansu": tansu_target,
              "kafka": kafka_target}
    rows = []
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    for name in args.target.split(","):
        target = makers[name]()
        if args.ulimit:
            with_ulimit(target, args.ulimit)
        try:
            target.start()
            row = measure(target, args.topics, args.partitions, batch=args.batch,
                          restart_too=not args.no_restart)
            row["start_s"] = target.startup_s
            row["ulimit"] = args.ulimit
            row["alive_at_end"] = target.alive() and can_connect(target.port)
        except Exception as exc:  # noqa: BLE001 - one failed target does not hide the others
            tail = target.log_tail() if target.workdir else ""
            row = {"target": name, "errors": [f"{type(exc).__name__}: {exc}", tail]}
        finally:
            target.stop()
        rows.append(row)
    print(f"uptime: {uptime}")
    print_table(rows)
    out = {"uptime": uptime, "results": rows}
    print(json.dumps(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0 if all(not r["errors"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
