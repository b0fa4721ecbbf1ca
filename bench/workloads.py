"""The client side of each workload, with confluent-kafka (librdkafka)."""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass
from functools import partial

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

THROUGHPUT_PRODUCER = {"linger.ms": 5, "batch.size": 1_000_000, "acks": "all"}
LATENCY_PRODUCER = {"linger.ms": 0, "acks": "all"}
# The default 45 s session timeout lets a group join take ~22 s on brokers that wait
# session.timeout/2 for members; 10 s keeps that wait bounded but still visible.
SESSION_TIMEOUT_MS = 10_000
# Generous: a slow broker should yield a slow figure, not a failure.
FLUSH_TIMEOUT_S = 300.0
ASSIGN_TIMEOUT_S = 30.0
CONSUME_TIMEOUT_S = 300.0


class WorkloadError(RuntimeError):
    pass


@dataclass
class ProduceResult:
    messages: int
    bytes: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    # log_level 4: hide librdkafka's info chatter ("Purging ... background queue") on close.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(timeout=30)


def fresh_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class DeliveryCounter:
    """Counts delivery reports; keeps the first error so failures are explained."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.first_error: KafkaError | None = None

    def __call__(self, err: KafkaError | None, _msg: object) -> None:
        if err is None:
            self.ok += 1
            return
        self.failed += 1
        self.first_error = self.first_error or err


def produce_all(producer: Producer, topic: str, value: bytes, count: int, **kwargs: object) -> None:
    """Queue `count` copies of `value` as fast as the client takes them (no flush)."""
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, value, **kwargs)
                break
            except BufferError:  # local queue full: let librdkafka drain it
                producer.poll(0.005)


def produce_throughput(bootstrap: str, topic: str, count: int, size: int) -> ProduceResult:
    """Produce `count` records of `size` bytes as fast as the client can; wait for all acks."""
    producer = Producer({"bootstrap.servers": bootstrap, **THROUGHPUT_PRODUCER})
    counter, value = DeliveryCounter(), b"x" * size
    start = time.perf_counter()
    produce_all(producer, topic, value, count, on_delivery=counter)
    remaining = producer.flush(FLUSH_TIMEOUT_S)
    elapsed = time.perf_counter() - start
    if remaining or counter.failed or counter.ok != count:
        raise WorkloadError(
            f"delivered {counter.ok}/{count}, failed {counter.failed} "
            f"({counter.first_error}), {remaining} still queued"
        )
    return ProduceResult(count, count * size, elapsed)


# librdkafka stops fetching once 64 MiB (queued.max.messages.kbytes) wait in its queue
# for the application, and then sleeps fetch.queue.backoff.ms (default 1,000 ms) before it
# looks again, however soon the queue drains. A broker that serves faster than this Python
# loop reads gets that far ahead within the 200 MB topic now and then ("is not fetchable:
# queued.max.messages.kbytes exceeded" in debug=fetch), and the sample takes 1.4-1.9 s
# instead of 0.3 s: the figure then measures that sleep, not the broker. 10 ms lets the
# fetcher resume as soon as the application has caught up. Same setting on every target.
FETCH_QUEUE_BACKOFF_MS = 10


def consumer_config(bootstrap: str, group: str) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
    }


@dataclass
class ConsumeResult:
    messages: int
    bytes: int
    seconds: float  # from first assignment to the last record
    assign_s: float  # from subscribe() to the on_assign callback
    # From the first consume() call that returned records to the last record, and the bytes
    # that came after that call: the rate once data flows. The window above also holds the
    # client's own start (OffsetFetch, then ListOffsets ~100 ms later on every target).
    stream_bytes: int = 0
    stream_seconds: float = 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6

    @property
    def stream_mb_per_s(self) -> float | None:
        return self.stream_bytes / self.stream_seconds / 1e6 if self.stream_seconds > 0 else None


class AssignWatch:
    """on_assign callback that remembers when the first assignment arrived."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, _consumer: Consumer, _partitions: list) -> None:
        if self.at is None:
            self.at = time.perf_counter()


def consume_all(bootstrap: str, topic: str, expected: int) -> ConsumeResult:
    """Read `expected` records from the earliest offset in a fresh consumer group."""
    consumer = Consumer(consumer_config(bootstrap, fresh_name("bench-consume")))
    watch = AssignWatch()
    try:
        subscribed = time.perf_counter()
        consumer.subscribe([topic], on_assign=watch)
        count, nbytes = 0, 0
        first_at, first_bytes = None, 0
        while count < expected:
            if time.perf_counter() - subscribed > ASSIGN_TIMEOUT_S + CONSUME_TIMEOUT_S:
                raise WorkloadError(f"timed out after {count}/{expected} records")
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                count += 1
                nbytes += len(msg.value() or b"")
            if first_at is None and count:
                first_at, first_bytes = time.perf_counter(), nbytes
        done = time.perf_counter()
    finally:
        consumer.close()
    if watch.at is None or first_at is None:
        raise WorkloadError("records arrived without an on_assign callback")
    return ConsumeResult(count, nbytes, done - watch.at, watch.at - subscribed,
                         nbytes - first_bytes, done - first_at)


def first_assignment(bootstrap: str, topic: str) -> float:
    """Seconds from subscribe() to the first on_assign callback, fresh group id."""
    consumer = Consumer(consumer_config(bootstrap, fresh_name("bench-assign")))
    watch = AssignWatch()
    try:
        subscribed = time.perf_counter()
        consumer.subscribe([topic], on_assign=watch)
        last_error: KafkaError | None = None
        while watch.at is None:
            if time.perf_counter() - subscribed > ASSIGN_TIMEOUT_S:
                raise WorkloadError(
                    f"no assignment within {ASSIGN_TIMEOUT_S:.0f}s (last error: {last_error})")
            # poll() serves the rebalance callback; a short timeout keeps the stamp tight
            msg = consumer.poll(0.01)
            if msg is not None and msg.error():
                last_error = msg.error()
                if hopeless(last_error):
                    raise KafkaException(last_error)
        return watch.at - subscribed
    finally:
        consumer.close()


def hopeless(err: KafkaError) -> bool:
    """Errors that waiting will not cure; anything else may be a broker still warming up."""
    return err.fatal() or err.code() == KafkaError._UNSUPPORTED_FEATURE


@dataclass
class LatencyResult:
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    achieved_rate: float


def produce_latency(bootstrap: str, topic: str, rate: int, seconds: float,
                    size: int) -> LatencyResult:
    """Send at a fixed rate; latency = delivery callback time - produce() time."""
    producer = Producer({"bootstrap.servers": bootstrap, **LATENCY_PRODUCER})
    # Warm the connection and metadata so the first samples are not a cold start.
    producer.produce(topic, b"warmup")
    producer.flush(10)
    latencies: list[float] = []
    failures: list[KafkaError] = []

    def delivered(sent_at: float, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            failures.append(err)
        else:
            latencies.append(time.perf_counter() - sent_at)

    value, total = b"x" * size, int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        # Block in poll() until the next send is due so callbacks are stamped promptly.
        while (wait := due - time.perf_counter()) > 0:
            producer.poll(wait)
        producer.produce(topic, value, on_delivery=partial(delivered, time.perf_counter()))
        producer.poll(0)
    producer.flush(FLUSH_TIMEOUT_S)
    elapsed = time.perf_counter() - start
    if failures or len(latencies) != total:
        raise WorkloadError(f"{len(latencies)}/{total} delivered; first error {failures[:1]}")
    return summarise_latency(latencies, total / elapsed)


def summarise_latency(samples: list[float], rate: float) -> LatencyResult:
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return LatencyResult(len(ms), cuts[49], cuts[98], ms[-1], rate)
