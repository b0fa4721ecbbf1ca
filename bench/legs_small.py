"""Small requests: several confluent-kafka producers, one 100 B record per Produce request.

`batch.num.messages=1` with `linger.ms=0` makes every ProduceRequest carry one
record; each producer writes its own single-partition topic (four applications,
no contention on one partition's log; the sink serves one partition a topic).
The variants send with one request in flight per producer, or pipelined (up to
`queue.buffering.max.messages` records queued) so the broker, not the client's
round trips, sets the pace. The producers run in
separate processes by default (`mode="processes"`); `mode="threads"` runs them
in this process, for comparing which loads the broker more.

The broker's cost is its CPU (utime+stime of its process tree) over the window
from "go" to the last producer's final ack, divided by the requests acked.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RECORD_BYTES = 100
QUEUED_PER_PRODUCER = 500  # bounds the drain after the window closes

# One request in flight per producer (each waits for its ack, as a synchronous send
# does: the workload issue 18 measured), and pipelined (up to QUEUED_PER_PRODUCER
# queued; librdkafka caps idempotent producers at 5 in flight): the broker's cost
# per request with and without several requests to amortise one loop turn over.
VARIANTS: dict[str, dict[str, Any]] = {
    "acks1": {"acks": 1, "enable.idempotence": False, "max.in.flight.requests.per.connection": 1},
    "idem": {"acks": "all", "enable.idempotence": True, "max.in.flight.requests.per.connection": 1},
    "acks1_pipe": {"acks": 1, "enable.idempotence": False},
    "idem_pipe": {"acks": "all", "enable.idempotence": True},
}


def producer_config(bootstrap: str, variant: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": 0,
        "batch.num.messages": 1,
        "queue.buffering.max.messages": QUEUED_PER_PRODUCER,
        "log_level": 3,  # errors only: retried warnings would break the progress lines
        **VARIANTS[variant],
    }


@dataclass
class WorkerResult:
    delivered: int
    failed: int
    first_error: str | None
    finished_at: float  # time.monotonic(): one clock for every process on the machine
    client_cpu_s: float


def produce_for(config: dict[str, Any], topic: str, seconds: float,
                ready: Callable[[], None], wait_go: Callable[[], None],
                cpu_now: Callable[[], float]) -> WorkerResult:
    """One producer: warm up, say ready, wait for go, send for `seconds`, drain."""
    from confluent_kafka import Producer

    producer = Producer(config)
    # Connection, ApiVersions, metadata and (idempotent) producer id before the window opens.
    producer.produce(topic, b"warmup", partition=0)
    if producer.flush(30):
        raise RuntimeError("warm-up record not acknowledged in 30 s")
    delivered = failed = 0
    first_error: str | None = None

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal delivered, failed, first_error
        if err is None:
            delivered += 1
        else:
            failed += 1
            first_error = first_error or str(err)

    value = b"x" * RECORD_BYTES
    ready()
    wait_go()
    cpu0 = cpu_now()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            producer.produce(topic, value, partition=0, on_delivery=on_delivery)
        except BufferError:  # QUEUED_PER_PRODUCER in flight: sleep until an ack arrives
            producer.poll(0.05)  # returns at the first delivery report, so no spinning
            continue
        producer.poll(0)
    remaining = producer.flush(60)
    finished = time.monotonic()
    if remaining:
        failed += remaining
        first_error = first_error or f"{remaining} records still queued after 60 s"
    return WorkerResult(delivered, failed, first_error, finished, cpu_now() - cpu0)


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _no_cpu() -> float:
    return 0.0  # threads mode: the whole process's CPU is read around the window instead


def _process_main(config: dict[str, Any], topic: str, seconds: float,
                  barrier: Any, go: Any, out: Any) -> None:
    try:
        result = produce_for(config, topic, seconds, barrier.wait, go.wait, _process_cpu)
        out.put(result)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the leg
        out.put(WorkerResult(0, 1, f"{type(exc).__name__}: {exc}", time.monotonic(), 0.0))
        barrier.abort()  # after the put: the parent reads the queue once the barrier breaks


@dataclass
class SmallResult:
    requests: int
    seconds: float
    broker_cpu_s: float | None
    client_cpu_s: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def broker_us_per_request(self) -> float | None:
        return None if self.broker_cpu_s is None else self.broker_cpu_s / self.requests * 1e6

    @property
    def client_us_per_request(self) -> float:
        return self.client_cpu_s / self.requests * 1e6


def run_small(bootstrap: str, topics: list[str], variant: str, seconds: float,
              broker_cpu: Callable[[], float | None], mode: str = "processes") -> SmallResult:
    """One producer per topic (partition 0) for `seconds`."""
    config = producer_config(bootstrap, variant)
    if mode == "processes":
        results, go_at, cpu0 = _run_processes(config, topics, seconds, broker_cpu)
        client_cpu = sum(r.client_cpu_s for r in results)
    elif mode == "threads":
        own0 = _process_cpu()
        results, go_at, cpu0 = _run_threads(config, topics, seconds, broker_cpu)
        client_cpu = _process_cpu() - own0  # includes warm-up: an upper bound
    else:
        raise ValueError(f"mode must be processes or threads, not {mode!r}")
    cpu1 = broker_cpu()
    bad = [r for r in results if r.failed]
    if bad:
        raise RuntimeError(f"{sum(r.failed for r in bad)} records failed: {bad[0].first_error}")
    elapsed = max(r.finished_at for r in results) - go_at
    return SmallResult(
        requests=sum(r.delivered for r in results), seconds=elapsed,
        broker_cpu_s=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        client_cpu_s=client_cpu,
    )


def _run_processes(config: dict[str, Any], topics: list[str], seconds: float,
                   broker_cpu: Callable[[], float | None]) -> tuple[list[WorkerResult], float, float | None]:
    # spawn, not fork: this process already runs librdkafka threads, which fork does not copy.
    ctx = multiprocessing.get_context("spawn")
    barrier, go, out = ctx.Barrier(len(topics) + 1), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(config, topic, seconds, barrier, go, out),
                         daemon=True) for topic in topics]
    for proc in procs:
        proc.start()
    try:
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            first = out.get(timeout=5).first_error if not out.empty() else "timed out"
            raise RuntimeError(f"a producer failed to warm up: {first}") from None
        cpu0 = broker_cpu()
        go_at = time.monotonic()
        go.set()
        results = [out.get(timeout=seconds + 120) for _ in procs]
        return results, go_at, cpu0
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _run_threads(config: dict[str, Any], topics: list[str], seconds: float,
                 broker_cpu: Callable[[], float | None]) -> tuple[list[WorkerResult], float, float | None]:
    barrier, go = threading.Barrier(len(topics) + 1), threading.Event()
    results: list[WorkerResult] = []
    lock = threading.Lock()

    def body(topic: str) -> None:
        try:
            result = produce_for(config, topic, seconds, barrier.wait, go.wait, _no_cpu)
        except Exception as exc:  # noqa: BLE001
            barrier.abort()
            result = WorkerResult(0, 1, f"{type(exc).__name__}: {exc}", time.monotonic(), 0.0)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=body, args=(topic,), daemon=True) for topic in topics]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(timeout=60)
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join(timeout=30)
        raise RuntimeError(f"a producer failed to warm up: {[r.first_error for r in results][:1]}") from None
    cpu0 = broker_cpu()
    go_at = time.monotonic()
    go.set()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return results, go_at, cpu0
