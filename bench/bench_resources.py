"""What a hostile or careless client can make the broker hold (issue 11).

Three scenarios against one broker, each while another client produces one small
record every 5 ms and the worst produce round trip is recorded (the loop's stall):
  idle      2,000 idle connections
  pipeline  one client pipelines 2,000 Fetch requests (1 MB each) and never reads
  frames    8 clients each send 18 bytes of a frame claiming 99 MB
Prints RSS (peak while the scenario holds, and after it is released) and the stall.

    python bench/bench_resources.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import BrokerProcess, free_port  # noqa: E402
from tests.integration.raw import RawConn, create_topics, fetch_frame, produce, record_batch  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _probe(port: int, worst, running) -> None:
    conn = RawConn(port)
    record = record_batch(100)
    while running.value:
        t = time.perf_counter()
        produce(conn, "probe", record, acks=1)
        took = time.perf_counter() - t
        with worst.get_lock():
            worst.value = max(worst.value, took)
        time.sleep(0.005)


class Prober:
    """Another process produces one small record every 5 ms; the worst round trip is kept."""

    def __init__(self, port: int) -> None:
        self.worst = multiprocessing.Value("d", 0.0)
        self.running = multiprocessing.Value("b", 1)
        self.proc = multiprocessing.Process(target=_probe, args=(port, self.worst, self.running), daemon=True)

    def start(self) -> None:
        self.proc.start()

    def stop(self) -> None:
        self.running.value = 0
        self.proc.join(5)

    def reset(self) -> float:
        with self.worst.get_lock():
            worst, self.worst.value = self.worst.value, 0.0
        return worst


def scenario(name: str, broker: BrokerProcess, prober: Prober, hold, hold_seconds: float = 3.0) -> dict:
    pid = broker.proc.pid
    before = rss_mb(pid)
    prober.reset()
    resources = hold()
    peak = before
    end = time.monotonic() + hold_seconds
    while time.monotonic() < end:
        peak = max(peak, rss_mb(pid))
        time.sleep(0.05)
    stall_ms = prober.reset() * 1000
    for s in resources:
        s.close()
    time.sleep(1.0)
    return {"scenario": name, "rss_before_mb": round(before, 1), "rss_peak_mb": round(peak, 1),
            "rss_after_mb": round(rss_mb(pid), 1), "max_stall_ms": round(stall_ms, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = BrokerProcess(data_dir=Path(tmp) / "data", port=free_port())
        broker.start()
        try:
            setup = RawConn(broker.port)
            create_topics(setup, "data", "probe")
            for _ in range(16):  # 8 MB to fetch
                assert produce(setup, "data", record_batch(512 * 1024)).error_code == 0
            prober = Prober(broker.port)
            prober.start()
            time.sleep(0.5)

            def idle():
                return [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(2000)]

            def pipeline():
                s = socket.create_connection(("127.0.0.1", broker.port))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.setblocking(False)
                frames = b"".join(fetch_frame("data", i) for i in range(2000))
                sent = 0
                deadline = time.monotonic() + 2
                while sent < len(frames) and time.monotonic() < deadline:
                    try:
                        sent += s.send(frames[sent:])
                    except BlockingIOError:
                        time.sleep(0.01)
                return [s]

            def frames():
                out = []
                for _ in range(8):
                    s = socket.create_connection(("127.0.0.1", broker.port))
                    s.sendall(struct.pack(">i", 99 * 1024 * 1024) + b"\x00\x01" * 7)
                    out.append(s)
                return out

            rows = [scenario("idle", broker, prober, idle), scenario("pipeline", broker, prober, pipeline),
                    scenario("frames", broker, prober, frames)]
            prober.stop()
        finally:
            broker.stop()
    print(f"{'scenario':10} {'RSS before':>10} {'RSS peak':>9} {'RSS after':>10} {'max stall':>10}")
    for r in rows:
        print(f"{r['scenario']:10} {r['rss_before_mb']:>8} MB {r['rss_peak_mb']:>6} MB {r['rss_after_mb']:>7} MB "
              f"{r['max_stall_ms']:>7} ms")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
