"""The console's once-a-second samples of the broker's counters."""

from __future__ import annotations

from chronik.broker.stats import LATENCY_BUCKETS
from chronik.broker.stats import bucket_quantile as quantile  # what the samples' p50/p99 use
from chronik.console.sampler import HISTORY, lag_rows


def test_quantile_of_a_histogram_difference():
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    assert quantile(counts, 0.99) == 0.0
    counts[3] = 100  # all between 0.5 ms and 1 ms
    assert 0.0005 <= quantile(counts, 0.5) <= 0.001
    counts[-1] = 1000
    assert quantile(counts, 0.99) == LATENCY_BUCKETS[-1]


def test_points_are_rates_of_what_changed(env):
    core, console, _client = env
    s = console.sampler
    s.sample()
    assert list(s.points) == []  # the first sample only sets the baseline
    core.stats.total.bytes_in += 5000
    core.stats.total.messages_in += 50
    core.stats.total.bytes_out += 1000
    core.stats.request_done(0, 9, 0.0008)
    core.stats.request_done(1, 12, 0.3)
    s.sample()
    (p,) = s.points
    assert p["produce_bytes_per_s"] > 0 and p["produce_messages_per_s"] > 0 and p["fetch_bytes_per_s"] > 0
    assert p["produce_requests"] == 1 and p["fetch_requests"] == 1
    assert 0.5 <= p["produce_p99_ms"] <= 1.0 and p["fetch_p99_ms"] >= 250
    assert s.series(p["t"]) == [] and s.series(0) == [p] and s.latest() == p
    for _ in range(HISTORY + 10):
        s.sample()
    assert len(s.points) == HISTORY  # a ring: 15 minutes of seconds


def test_sampling_is_a_timer_of_the_scheduler(env):
    _core, console, _client = env
    sched = console.sampler.scheduler
    sched.timers.clear()
    console.start()
    assert [d for d, _ in sched.timers] == [0]
    sched.timers.pop()[1]()
    assert [d for d, _ in sched.timers] == [1.0]  # and again a second later
    console.close()
    sched.timers.pop()[1]()
    assert sched.timers == []


def test_lag_rows_count_uncommitted_partitions_of_committed_topics(env):
    core, _console, _client = env
    core.create_topic("t", 2)
    core.offsets.commit("g", {("t", 1): (0, None, -1)})
    assert lag_rows(core, "g") == [("t", 0, None, 0, 0), ("t", 1, 0, 0, 0)]
    core.offsets.commit("g", {("gone", 0): (5, None, -1)})
    assert ("gone", 0, 5, None, None) in lag_rows(core, "g")
