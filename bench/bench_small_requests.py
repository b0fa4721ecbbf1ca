"""Small produce requests: broker CPU per request and requests/s (issue #18).

Four confluent-kafka producers (one process each) send 100 B records with
linger.ms=0 and batch.num.messages=1, so every ProduceRequest carries one
record; each producer waits for a record's ack before sending the next
(--pipelined: librdkafka keeps several requests in flight instead). Two
variants: acks=1, and acks=all with enable.idempotence=true.

Reported per target: requests/s (delivered records / seconds) and the
broker's CPU (utime+stime of its process tree) per request, which is the
load-robust figure on a shared machine.

Run: python bench/bench_small_requests.py [--targets chronik,tansu] [--seconds 8]
     [--chronik-path DIR]   (another checkout, for A/B: its package is imported)
     [--profile-out FILE]   (py-spy raw profile of the chronik broker)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.targets import Target, chronik_target, tansu_target  # noqa: E402
from bench.workloads import create_topic, fresh_name  # noqa: E402

VARIANTS = {
    "acks1": {"acks": "1", "enable.idempotence": False},
    "idempotent": {"acks": "all", "enable.idempotence": True},
}
PRODUCERS = 4
RECORD = b"x" * 100


def _producer(bootstrap: str, topic: str, variant: str, seconds: float, pipelined: bool, out: mp.Queue) -> None:
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1,
            "queue.buffering.max.messages": 2000, **VARIANTS[variant]}
    producer = Producer(conf)
    delivered = [0, 0]

    def on_delivery(err, _msg) -> None:
        delivered[1 if err else 0] += 1

    producer.produce(topic, RECORD, on_delivery=on_delivery)
    producer.flush(10)
    out.put("ready")
    deadline = time.time() + seconds
    delivered[0] = 0
    while time.time() < deadline:
        try:
            producer.produce(topic, RECORD, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.001)
            continue
        if pipelined:
            producer.poll(0)
        else:
            producer.flush(10)  # one request in flight: every record is its own round trip
    producer.flush(30)
    out.put((delivered[0], delivered[1]))


def run_variant(target: Target, variant: str, seconds: float, pipelined: bool, profile_out: str | None,
                producers: int = PRODUCERS, attach: str | None = None) -> dict:
    topic = fresh_name(f"small-{variant}")
    create_topic(target.bootstrap, topic)
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_producer, args=(target.bootstrap, topic, variant, seconds, pipelined, q))
             for _ in range(producers)]
    for p in procs:
        p.start()
    for _ in procs:
        assert q.get(timeout=60) == "ready"
    spy = None
    if profile_out and target.pid:
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(target.pid),
                                "--rate", "250", "--format", "raw", "--nonblocking", "-o", profile_out,
                                "-d", str(int(seconds))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if attach and target.pid:
        spy = subprocess.Popen(attach.format(pid=target.pid, variant=variant), shell=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu0, t0 = target.cpu(), time.perf_counter()
    results = [q.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.perf_counter() - t0
    cpu1 = target.cpu()
    for p in procs:
        p.join()
    if spy is not None:
        spy.wait()
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    out = {"target": target.name, "variant": variant, "pipelined": pipelined, "requests": ok, "failed": failed,
           "seconds": round(elapsed, 3), "requests_per_s": round(ok / elapsed)}
    if cpu0 is not None and cpu1 is not None:
        out["cpu_s"] = round(cpu1 - cpu0, 3)
        out["cpu_us_per_request"] = round((cpu1 - cpu0) / max(ok, 1) * 1e6, 1)
    return out


def make_target(name: str, chronik_path: str | None, fsync: str | None) -> Target:
    if name == "tansu":
        return tansu_target()
    target = chronik_target()
    if fsync:
        target.command += ["--fsync", fsync]
    if chronik_path:
        # -P: the bench's working directory (this checkout) must not shadow the other one.
        target.command = ["env", f"PYTHONPATH={chronik_path}", target.command[0], "-P", *target.command[1:]]
    return target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="chronik,tansu")
    ap.add_argument("--variants", default="acks1,idempotent")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--chronik-path", default=None)
    ap.add_argument("--fsync", default=None)
    ap.add_argument("--profile-out", default=None)
    ap.add_argument("--producers", type=int, default=PRODUCERS)
    ap.add_argument("--attach", default=None, help="a shell command run during the measurement ({pid}, {variant})")
    ap.add_argument("--pipelined", action="store_true",
                    help="keep several requests in flight per producer (default: one at a time)")
    args = ap.parse_args()
    for name in args.targets.split(","):
        target = make_target(name, args.chronik_path, args.fsync)
        target.start()
        try:
            for variant in args.variants.split(","):
                prof = f"{args.profile_out}.{variant}" if args.profile_out else None
                result = run_variant(target, variant, args.seconds, args.pipelined, prof, args.producers,
                                     args.attach)
                print(json.dumps(result), flush=True)
        finally:
            target.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
