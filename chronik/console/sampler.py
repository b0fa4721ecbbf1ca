"""The console's time series: the broker's counters sampled once a second into ring buffers.

Nothing is counted for the console on the hot path: the produce and fetch
paths already bump `core.stats` (O(1) per batch), and a timer of the
broker's scheduler reads those totals once a second, O(API versions), and
keeps the differences for 15 minutes (900 points). Per-topic message rates
come from two snapshots of the per-topic counters taken every
`TOPIC_RATE_S` seconds, and group lag every `LAG_EVERY_S` seconds (both
O(topics)/O(committed offsets), off any request). A page polling the
series pays for a JSON answer of what changed since its last poll.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chronik.broker.stats import LATENCY_BUCKETS, bucket_quantile

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore
    from chronik.broker.scheduler import Scheduler

INTERVAL_S = 1.0
HISTORY = 900  # 15 minutes of seconds
TOPIC_RATE_S = 5.0
LAG_EVERY_S = 5.0
LAG_HISTORY = 180  # 15 minutes of 5 s
MAX_LAG_GROUPS = 500
PRODUCE, FETCH = 0, 1


def lag_rows(core: BrokerCore, group_id: str,
             assigned: set[tuple[str, int]] = frozenset()) -> list[tuple[str, int, int | None, int | None, int | None]]:
    """(topic, partition, committed, end offset, lag) for every partition of the topics the group
    committed to or is assigned: a partition without a commit lags by every record it holds."""
    committed = core.offsets.group_offsets(group_id)
    topics = {t for t, _ in committed} | {t for t, _ in assigned}
    rows = []
    for tname in sorted(topics):
        t = core.topics.get(tname)
        if t is None:
            for (ct, p), co in sorted(committed.items()):
                if ct == tname:
                    rows.append((tname, p, co.offset, None, None))
            continue
        for p, plog in enumerate(t.partitions):
            co = committed.get((tname, p))
            end = plog.log_end_offset
            if co is not None and co.offset >= 0:
                rows.append((tname, p, co.offset, end, max(0, end - co.offset)))
            else:
                rows.append((tname, p, None, end, max(0, end - plog.log_start_offset)))
    return rows


def group_lag(core: BrokerCore, group_id: str) -> int:
    return sum(r[4] or 0 for r in lag_rows(core, group_id))


class Sampler:
    def __init__(self, core: BrokerCore, scheduler: Scheduler, wall: Callable[[], float] = time.time) -> None:
        self.core = core
        self.scheduler = scheduler
        self.wall = wall
        self.points: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self.lag: dict[str, deque[tuple[int, int]]] = {}
        self.topic_rates: dict[str, float] = {}
        self._prev: tuple[float, int, int, int, int, list[int], list[int]] | None = None
        self._topic_prev: tuple[float, dict[str, int]] | None = None
        self._last_topics = 0.0
        self._last_lag = 0.0
        self._stopped = False

    def start(self) -> None:
        self.scheduler.call_later(0, self._tick)

    def stop(self) -> None:
        self._stopped = True

    def _tick(self) -> None:
        if self._stopped:
            return
        try:
            self.sample()
        finally:
            self.scheduler.call_later(INTERVAL_S, self._tick)

    # -- the samples ---------------------------------------------------------------------
    def _totals(self) -> tuple[float, int, int, int, int, list[int], list[int]]:
        st = self.core.stats
        produce = [0] * (len(LATENCY_BUCKETS) + 1)
        fetch = [0] * (len(LATENCY_BUCKETS) + 1)
        requests = 0
        for (key, _v), h in list(st.requests.items()):
            requests += h.count
            if key == PRODUCE:
                produce = [a + b for a, b in zip(produce, h.counts, strict=True)]
            elif key == FETCH:
                fetch = [a + b for a, b in zip(fetch, h.counts, strict=True)]
        t = st.total
        return time.monotonic(), t.bytes_in, t.messages_in, t.bytes_out, requests, produce, fetch

    def sample(self) -> None:
        now = self._totals()
        prev, self._prev = self._prev, now
        mono = now[0]
        if prev is not None:
            dt = max(1e-3, mono - prev[0])
            dp = [a - b for a, b in zip(now[5], prev[5], strict=True)]
            df = [a - b for a, b in zip(now[6], prev[6], strict=True)]
            self.points.append({
                "t": int(self.wall() * 1000),
                "produce_bytes_per_s": round((now[1] - prev[1]) / dt, 1),
                "produce_messages_per_s": round((now[2] - prev[2]) / dt, 1),
                "fetch_bytes_per_s": round((now[3] - prev[3]) / dt, 1),
                "requests_per_s": round((now[4] - prev[4]) / dt, 1),
                "produce_requests": sum(dp),
                "fetch_requests": sum(df),
                "produce_p50_ms": round(bucket_quantile(dp, 0.5) * 1000, 3),
                "produce_p99_ms": round(bucket_quantile(dp, 0.99) * 1000, 3),
                "fetch_p50_ms": round(bucket_quantile(df, 0.5) * 1000, 3),
                "fetch_p99_ms": round(bucket_quantile(df, 0.99) * 1000, 3),
            })
        if mono - self._last_topics >= TOPIC_RATE_S:
            self._last_topics = mono
            self._sample_topics(mono)
        if mono - self._last_lag >= LAG_EVERY_S:
            self._last_lag = mono
            self._sample_lag()

    def _sample_topics(self, mono: float) -> None:
        counts = {name: c.messages_in for name, c in self.core.stats.topics.items()}
        prev, self._topic_prev = self._topic_prev, (mono, counts)
        if prev is None:
            return
        dt = max(1e-3, mono - prev[0])
        self.topic_rates = {n: round((c - prev[1].get(n, c)) / dt, 1) for n, c in counts.items()}

    def _sample_lag(self) -> None:
        core = self.core
        t = int(self.wall() * 1000)
        ids = list(core.offsets.groups())[:MAX_LAG_GROUPS]
        for gid in ids:
            series = self.lag.get(gid)
            if series is None:
                series = self.lag[gid] = deque(maxlen=LAG_HISTORY)
            series.append((t, group_lag(core, gid)))
        for gone in set(self.lag) - set(ids):
            del self.lag[gone]

    # -- reads ------------------------------------------------------------------------------
    def series(self, since_ms: int = 0) -> list[dict[str, Any]]:
        return [p for p in self.points if p["t"] > since_ms]

    def latest(self) -> dict[str, Any]:
        return self.points[-1] if self.points else {}

    def lag_history(self, group_id: str) -> list[dict[str, int]]:
        return [{"t": t, "lag": lag} for t, lag in self.lag.get(group_id, ())]
