"""The broker's counters: plain integers bumped on the loop, read by the metrics scrape.

Nothing here formats or exports: `chronik.http.metrics` turns these into
Prometheus samples at scrape time. Every update is O(1) per batch, per
partition read or per request, never per record:

* `on_append` (an AppendListener of the core) adds a batch's record count
  (`BatchInfo.record_count`, from its header) and size to its topic;
* the Produce and Fetch handlers count requests per topic, failures and the
  bytes a fetch answer carries (Kafka's BrokerTopicMetrics);
* the dispatcher times every request into a fixed-bucket histogram per API
  key and version (one bisect and two additions) and counts error codes;
* the log manager counts retention deletions and cleaner rounds; segment
  rolls are counted by each PartitionLog (`rolls`) and folded in here when
  a topic is deleted so the total never goes back.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from chronik.storage.batch import BatchInfo
from chronik.storage.log import AppendResult

# Request latency buckets in seconds: 0.1 ms .. 10 s, and long-polls (up to 60 s).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)


@dataclass(slots=True)
class TopicCounters:
    messages_in: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    produce_requests: int = 0
    failed_produce_requests: int = 0
    fetch_requests: int = 0
    failed_fetch_requests: int = 0


def bucket_quantile(counts: list[int], q: float, total: int | None = None) -> float:
    """Quantile q of per-bucket counts over LATENCY_BUCKETS (+Inf last), as PromQL's histogram_quantile
    estimates it: linear within the bucket holding rank q; 0 if empty. Also serves a difference of
    two histograms' counts."""
    if total is None:
        total = sum(counts)
    if not total:
        return 0.0
    rank = q * total
    run = 0
    for i, c in enumerate(counts):
        if c and run + c >= rank:
            if i >= len(LATENCY_BUCKETS):
                return LATENCY_BUCKETS[-1]
            lo = LATENCY_BUCKETS[i - 1] if i else 0.0
            return lo + (LATENCY_BUCKETS[i] - lo) * (rank - run) / c
        run += c
    return LATENCY_BUCKETS[-1]


class LatencyHistogram:
    """Cumulative-at-read histogram: per-bucket counts (not cumulative), the sum and the count."""

    __slots__ = ("counts", "sum", "count")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def cumulative(self) -> list[int]:
        out, run = [], 0
        for c in self.counts:
            run += c
            out.append(run)
        return out

    def quantile(self, q: float) -> float:
        """Estimated like PromQL's histogram_quantile: linear within the bucket holding rank q; 0 if empty."""
        return bucket_quantile(self.counts, q, self.count)


@dataclass
class BrokerStats:
    topics: dict[str, TopicCounters] = field(default_factory=dict)
    # Totals over all topics (Kafka's BrokerTopicMetrics without a topic tag);
    # they survive topic deletion.
    total: TopicCounters = field(default_factory=TopicCounters)
    # (api key, version) -> latency histogram
    requests: dict[tuple[int, int], LatencyHistogram] = field(default_factory=dict)
    # (api key, error code) -> count; top-level codes and per-partition codes of Produce/Fetch
    errors: dict[tuple[int, int], int] = field(default_factory=dict)
    retention_segments_deleted: int = 0
    retention_bytes_deleted: int = 0
    cleaner_runs: int = 0
    cleaner_bytes_read: int = 0
    cleaner_bytes_written: int = 0
    rolls_of_deleted_topics: int = 0

    def topic(self, name: str) -> TopicCounters:
        c = self.topics.get(name)
        if c is None:
            c = self.topics[name] = TopicCounters()
        return c

    # -- AppendListener --------------------------------------------------------------
    def on_append(self, topic: str, partition: int, batches: list[BatchInfo], result: AppendResult) -> None:
        c = self.topic(topic)
        total = self.total
        for b in batches:
            c.messages_in += b.record_count
            c.bytes_in += b.size
            total.messages_in += b.record_count
            total.bytes_in += b.size

    # -- handlers -------------------------------------------------------------------------
    # A request for a topic that does not exist only counts in the totals
    # (no series for names nobody created).
    def produce_request(self, topic: str | None, failed: bool) -> None:
        for c in (self.total, self.topic(topic) if topic is not None else None):
            if c is not None:
                c.produce_requests += 1
                c.failed_produce_requests += failed

    def fetch_request(self, topic: str | None, failed: bool, nbytes: int) -> None:
        for c in (self.total, self.topic(topic) if topic is not None else None):
            if c is not None:
                c.fetch_requests += 1
                c.failed_fetch_requests += failed
                c.bytes_out += nbytes

    def error(self, api_key: int, code: int) -> None:
        key = (api_key, code)
        self.errors[key] = self.errors.get(key, 0) + 1

    # -- dispatcher --------------------------------------------------------------------------
    def request_done(self, api_key: int, version: int, seconds: float) -> None:
        h = self.requests.get((api_key, version))
        if h is None:
            h = self.requests[(api_key, version)] = LatencyHistogram()
        h.observe(seconds)

    # -- TopicListener ---------------------------------------------------------------------
    def on_topic_deleted(self, topic: str) -> None:
        self.topics.pop(topic, None)
