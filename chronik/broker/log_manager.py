"""The log manager: segment rolls by age, retention and the cleaner, on the loop's timers.

Kafka's log manager, reduced to a single-node broker on one event loop:

* ``segment.ms``: appends roll an old active segment; a timer also rolls an
  idle one, so its data becomes eligible for retention and compaction.
* ``cleanup.policy`` containing ``delete``: every
  ``log.retention.check.interval.ms`` storage.retention deletes the segments
  that are past ``retention.ms``/``retention.bytes``.
* ``cleanup.policy`` containing ``compact``: a partition whose dirty ratio
  reaches ``min.cleanable.dirty.ratio`` (or that holds a tombstone whose
  ``delete.retention.ms`` has passed, or dirty data older than
  ``max.compaction.lag.ms``) is cleaned by storage.compaction.clean_log.

* Start-up: partition logs are lazy (chronik.broker.topics), so the broker
  accepts connections before recovering them; a timer then opens (recovers)
  the rest in slices of at most ``OPEN_SLICE_SECONDS``, and any request for a
  partition opens it at once.

The loop must never block, so a cleaning round is a generator driven from a
timer in slices of at most ``SLICE_SECONDS``; between slices the loop serves
requests, and the round's fsyncs run in one worker thread. Only one
partition is cleaned at a time (Kafka's default of one cleaner thread).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from chronik.broker.scheduler import Scheduler
from chronik.clock import monotonic, wall_ms
from chronik.storage.compaction import Blocking, CleanerConfig, CleanStats, clean_log, cleaning_due
from chronik.storage.log import PartitionLog
from chronik.storage.retention import apply_retention

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore

log = logging.getLogger("chronik.log_manager")

# Longest a cleaner slice may hold the loop; one step past it is allowed.
SLICE_SECONDS = 0.002
# Longest a slice of opening lazy partition logs after start-up may hold the loop.
OPEN_SLICE_SECONDS = 0.005
# Kafka's log.cleaner.backoff.ms: how often compacted partitions are looked at.
CLEANER_BACKOFF_SECONDS = 15.0


class LogManager:
    """Timers for rolling, retention and the cleaner of one broker."""

    def __init__(self, core: BrokerCore, scheduler: Scheduler) -> None:
        self.core = core
        self.server = scheduler
        self.retention_interval = max(0.01, core.config.log_retention_check_interval_ms / 1000)
        self.check_interval = min(self.retention_interval, CLEANER_BACKOFF_SECONDS)
        self._last_retention = monotonic()
        self._queue: deque[tuple[str, int, PartitionLog]] = deque()
        self._queued: set[int] = set()
        self._current: (
            tuple[str, int, PartitionLog, Generator[Blocking | None, None, CleanStats]] | None
        ) = None
        # Slow I/O of the cleaner (fsync) runs here; the round waits for it.
        self._pool: ThreadPoolExecutor | None = None
        self._waiting: Future | None = None
        # id(plog) -> wall time when a kept tombstone may go (forces a round)
        self._tombstone_due: dict[int, int] = {}
        self._stopped = False
        self.worst_slice = 0.0
        self._unopened: Iterator[PartitionLog] | None = None
        # Set once every partition log listed at start-up is open; then these run.
        self.all_open = False
        self.on_all_open: list[Callable[[], None]] = []

    # -- timers -------------------------------------------------------------------

    def start(self) -> None:
        self._unopened = self.core.topics.unopened()
        self.server.call_later(0, self._open_slice)
        self.server.call_later(self.check_interval, self._tick)

    def _open_slice(self) -> None:
        """Open lazy partition logs for one slice; again next loop turn until none is left."""
        if self._stopped or self._unopened is None:
            return
        deadline = monotonic() + OPEN_SLICE_SECONDS
        for plog in self._unopened:
            try:
                plog.open()
            except Exception as exc:
                # Tried again by whoever uses it next; the broker keeps serving the rest.
                log.error("cannot open %s: %s", plog.directory, exc)
            if monotonic() >= deadline:
                self.server.call_later(0, self._open_slice)
                return
        self._unopened = None
        self.all_open = True
        log.info("all partition logs open")
        for call in self.on_all_open:
            call()

    def stop(self) -> None:
        self._stopped = True
        if self._waiting is not None:
            self._waiting.result()  # never close a file under a running fsync
            self._waiting = None
        if self._current is not None:
            self._current[3].close()  # removes its .cleaned file
            self._current = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _tick(self) -> None:
        if self._stopped:
            return
        try:
            self.check(monotonic() - self._last_retention >= self.retention_interval - 1e-3)
        finally:
            self.server.call_later(self.check_interval, self._tick)

    def check(self, retention: bool) -> None:
        now = wall_ms()
        if retention:
            self._last_retention = monotonic()
        for topic in list(self.core.topics.values()):
            config = topic.config
            retention_config, cleaner_config = config.retention_config(), config.cleaner_config()
            for p, plog in enumerate(topic.partitions):
                if plog.closed or not plog.opened:
                    # Not opened yet: nothing to roll, delete or clean (and opening
                    # 50,000 of them here held the loop for minutes).
                    continue
                plog.roll_if_due()
                if retention:
                    res = apply_retention(plog, retention_config, now)
                    if res.segments_deleted:
                        stats = self.core.stats
                        stats.retention_segments_deleted += res.segments_deleted
                        stats.retention_bytes_deleted += res.bytes_deleted
                        log.info(
                            "%s-%d: deleted %d segment(s), %d bytes (%s); log start now %d",
                            topic.name, p, res.segments_deleted, res.bytes_deleted,
                            res.reason, res.log_start_offset,
                        )
                if config.compact and id(plog) not in self._queued and self._needs_cleaning(
                    topic.name, p, plog, cleaner_config, now
                ):
                    self._queue.append((topic.name, p, plog))
                    self._queued.add(id(plog))
        if self._queue and self._current is None:
            self.server.call_later(0, self._clean_slice)

    def _stable_offset(self, topic: str, partition: int, plog: PartitionLog) -> int:
        return self.core.last_stable_offset(topic, partition)

    def _needs_cleaning(
        self, topic: str, partition: int, plog: PartitionLog, cfg: CleanerConfig, now: int
    ) -> bool:
        due = self._tombstone_due.get(id(plog))
        if due is not None and now >= due:
            return True
        return cleaning_due(plog, cfg, now, self._stable_offset(topic, partition, plog))

    # -- the cleaner ----------------------------------------------------------------

    def _clean_slice(self) -> None:
        if self._stopped:
            return
        if self._waiting is not None:
            if not self._waiting.done():
                self.server.call_later(0.002, self._clean_slice)
                return
            failed = self._waiting.exception()
            self._waiting = None
            if failed is not None and self._current is not None:
                log.error("compaction of %s-%d failed: %s", self._current[0], self._current[1], failed)
                self._current[3].close()
                self._finish(self._current[0], self._current[1], self._current[2], None)
        started = monotonic()
        deadline = started + SLICE_SECONDS
        try:
            while monotonic() < deadline:
                if self._current is None:
                    if not self._queue:
                        return
                    self._begin(*self._queue.popleft())
                    continue
                name, p, plog, gen = self._current
                try:
                    step = next(gen)
                    if step is not None:
                        if self._pool is None:
                            self._pool = ThreadPoolExecutor(1, thread_name_prefix="cleaner-io")
                        self._waiting = self._pool.submit(step.work)
                        self.server.call_later(0.002, self._clean_slice)
                        return
                except StopIteration as stop:
                    self._finish(name, p, plog, stop.value)
                except Exception:
                    log.exception("compaction of %s-%d failed", name, p)
                    self._finish(name, p, plog, None)
        finally:
            self.worst_slice = max(self.worst_slice, monotonic() - started)
        self.server.call_later(0, self._clean_slice)

    def _begin(self, name: str, partition: int, plog: PartitionLog) -> None:
        topic = self.core.topics.get(name)
        if plog.closed or topic is None:
            self._queued.discard(id(plog))
            return
        # The cleaner reads the aborted-transaction index file: one missing since
        # a restart is rebuilt on first use, so use it now.
        self.core.transactions.aborted_transactions(name, partition, 0, 0)
        now = wall_ms()
        due = self._tombstone_due.pop(id(plog), None)
        gen = clean_log(
            plog,
            topic.config.cleaner_config(),
            now,
            stable_offset=self._stable_offset(name, partition, plog),
            force=due is not None and now >= due,
            alive=lambda: not plog.closed and not self._stopped,
        )
        self._current = (name, partition, plog, gen)

    def _finish(self, name: str, partition: int, plog: PartitionLog, stats: CleanStats | None) -> None:
        self._current = None
        self._queued.discard(id(plog))
        if stats is None:
            return
        if stats.skipped is None:
            counters = self.core.stats
            counters.cleaner_runs += 1
            counters.cleaner_bytes_read += stats.bytes_read
            counters.cleaner_bytes_written += stats.bytes_written
        if stats.tombstone_expiry_ms is not None:
            self._tombstone_due[id(plog)] = stats.tombstone_expiry_ms
        if stats.skipped is None:
            log.info(
                "compacted %s-%d: %d -> %d segment(s), %d -> %d bytes, %d of %d records kept "
                "(%d tombstones, %d aborted dropped) in %.2f s",
                name, partition, stats.segments_before, stats.segments_after, stats.bytes_read,
                stats.bytes_written, stats.records_kept, stats.records_read,
                stats.tombstones_dropped, stats.aborted_dropped, stats.seconds,
            )
