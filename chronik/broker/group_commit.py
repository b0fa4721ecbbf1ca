"""Group commit: acks=all answers wait for an fsync, batched per loop turn (`--fsync always`).

Redpanda's default, and what makes an fsync per acknowledgement affordable:
the produce handler appends as usual (write() into the page cache, on the
loop) and, for acks=all, hands its answer here instead of returning it.
Every partition appended to in this turn of the loop joins the gathering
batch; just before the loop waits in select() the batch is sealed and a
worker thread fsyncs it (the segment files written since the last sync,
and the directories whose entries changed: a new segment, a new partition),
so the loop never blocks on the disk. When the worker is done it wakes the
loop, which releases the held answers. While one batch is being synced the
next one gathers, so the disk always has one fsync batch in flight and
every answer waits for at most two.

acks=0 and acks=1 are never held (they are acknowledged once written, as
before); their bytes become durable with the next batch that covers their
partition. An fsync that fails answers every held partition of its batch
with KAFKA_STORAGE_ERROR: the client retries, and nothing was acknowledged
that might not be on disk.

Thread boundary: the worker sees only paths (it opens, fsyncs and closes
them itself; fsync makes the file's data durable whichever descriptor
wrote it), so the loop's file handles are never shared with it. The one
exception is handed over for good: at a roll the loop dups the sealed
segment's descriptor and the worker trims and closes the dup.

After the batch's answers are released the worker also allocates each
active segment ahead of its end (storage.prealloc): measured on ext4, a
segment whose blocks were allocated one fsync at a time made the kernel
free and discard extent-tree blocks while holding the lock the loop's
next write() needs -- 50-180 ms stalls of the whole broker, the p99 of
`--fsync always` at 1,000 msgs/s (181 ms, now a few ms).

At shutdown `drain()` seals what is held and waits for the worker, so
every answer held for a group commit is sent (or, past its deadline, its
connection is closed unanswered: the client retries) before the broker exits.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from chronik.broker.purgatory import Deferred
from chronik.broker.worker_results import WorkerResults
from chronik.storage.atomic import fsync_path
from chronik.storage.log import SyncPlan
from chronik.storage.prealloc import Preallocator

log = logging.getLogger("chronik.fsync")


class _Held:
    """An answer waiting for the fsync of the partitions it appended to."""

    __slots__ = ("deferred", "response", "on_failure")

    def __init__(self, deferred: Deferred, response: Any, on_failure: Callable[[Any], Any]) -> None:
        self.deferred = deferred
        self.response = response
        self.on_failure = on_failure  # response -> the response telling the client the disk failed


class GroupCommit:
    """Batches fsyncs per loop turn; a worker thread does them. Owned by the loop (not thread-safe)."""

    def __init__(self, add_wakeup: Callable[[socket.socket, Callable[[], None]], None],
                 sync: Callable[[Path], None] = fsync_path, preallocator: Preallocator | None = None) -> None:
        self._sync = sync
        self.preallocator = preallocator if preallocator is not None else Preallocator()
        self._gathering: dict[int, Any] = {}  # id(log) -> log appended to in this batch
        self._held: list[_Held] = []
        self._in_flight: list[_Held] | None = None
        # Per log: the active segment's base offset at its last sync (sync_paths wants it back).
        self._synced: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self.fsyncs_total = 0  # files and directories fsynced
        self.batches_total = 0  # group commits
        self.failures_total = 0
        self._jobs: queue.SimpleQueue[tuple[list[Path], list[SyncPlan]] | None] = queue.SimpleQueue()
        self.sync_seconds_total = 0.0  # time the worker spent in fsync batches
        self.sync_seconds_max = 0.0
        # (files and directories synced, the error if one failed, seconds the batch took)
        self._results: WorkerResults[tuple[int, OSError | None, float]] = WorkerResults(add_wakeup, self._on_wakeup)
        self._worker = threading.Thread(target=self._work, name="fsync", daemon=True)
        self._worker.start()

    # -- the loop's side -------------------------------------------------------------------
    def hold(self, logs: Iterable[Any], response: Any, on_failure: Callable[[Any], Any],
             owner: Any = None) -> Deferred:
        """Answer `response` once everything appended so far to `logs` is on disk."""
        d = Deferred(lambda _expired: None, float("inf"), (), owner=owner)
        d.pipelined = True  # appended already: the connection's next requests need not wait
        for plog in logs:
            self._gathering[id(plog)] = plog
        self._held.append(_Held(d, response, on_failure))
        return d

    @property
    def waiting(self) -> int:
        """Answers held (gathering and in flight)."""
        return len(self._held) + len(self._in_flight or ())

    def turn_done(self) -> None:
        """Called by the loop before it waits: start the gathered batch unless one is in flight."""
        if self._in_flight is not None or not self._held:
            return
        paths: list[Path] = []
        plans: list[SyncPlan] = []
        for plog in self._gathering.values():
            if plog.closed:
                continue  # deleted with its topic: nothing to keep
            plan = plog.sync_plan(self._synced.get(plog))
            self._synced[plog] = plan.base
            paths.extend(plan.paths)
            plans.append(plan)
        self._gathering = {}
        self._in_flight, self._held = self._held, []
        self._jobs.put((paths, plans))

    def _on_wakeup(self) -> None:
        for synced, error, seconds in self._results.take():
            self.sync_seconds_total += seconds
            self.sync_seconds_max = max(self.sync_seconds_max, seconds)
            self._finish(synced, error)
        self.turn_done()  # what gathered meanwhile goes now

    def _finish(self, synced: int, error: OSError | None) -> None:
        held, self._in_flight = self._in_flight or [], None
        self.batches_total += 1
        self.fsyncs_total += synced
        if error is not None:
            self.failures_total += 1
            log.error("fsync failed (%d answers get KAFKA_STORAGE_ERROR): %s", len(held), error.strerror or error)
        for h in held:
            h.deferred.complete(h.response if error is None else h.on_failure(h.response))

    def drain(self, timeout: float = 5.0) -> int:
        """At shutdown, before the sockets close: release every held answer once its batch is
        synced -- sealing what gathered, waiting for the worker, again while releasing answers
        makes more (requests already read behind them) -- for at most `timeout` seconds.
        Returns how many answers are still held (their connections close unanswered)."""
        deadline = time.monotonic() + timeout
        while self.waiting:
            self.turn_done()
            remaining = deadline - time.monotonic()
            if self._in_flight is None or remaining <= 0:
                break
            ready, _, _ = select.select([self._results.rsock], [], [], remaining)
            if not ready:
                break
            self._on_wakeup()
        if self.waiting:
            log.warning("shutdown: %d answers held for an fsync that did not finish in %.0f s; "
                        "their connections close unanswered", self.waiting, timeout)
        return self.waiting

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(5)
        self._results.close()
        mean = self.sync_seconds_total / self.batches_total * 1000 if self.batches_total else 0.0
        pre = self.preallocator
        log.info("group commit: %d fsyncs in %d batches (%d failed); batch fsync time mean %.1f ms, max %.1f ms; "
                 "%d preallocations (%.1f MiB), %d sealed segments trimmed",
                 self.fsyncs_total, self.batches_total, self.failures_total, mean, self.sync_seconds_max * 1000,
                 pre.calls, pre.bytes / 2**20, pre.trimmed)

    # -- the worker's side -----------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            paths, plans = job
            done, error = 0, None
            started = time.perf_counter()
            # A segment not seen before is allocated ahead first, so that its early blocks
            # lie with the rest instead of wherever writeback would put them.
            self._allocate_new(plans)
            for p in paths:
                try:
                    self._sync(p)
                    done += 1
                except OSError as exc:
                    error = exc
                except Exception as exc:  # a bug must not leave answers held for ever
                    error = OSError(str(exc))
            self._results.put((done, error, time.perf_counter() - started))
            # The answers are on their way: now make the next appends cheap.
            self._prepare(plans)

    def _allocate_new(self, plans: list[SyncPlan]) -> None:
        pre = self.preallocator
        for plan in plans:
            if not pre.knows(plan.active):
                try:
                    pre.ensure(plan.active, plan.size, plan.limit)
                except Exception:  # an optimisation must never stop the worker
                    log.exception("%s: preallocation failed", plan.active)

    def _prepare(self, plans: list[SyncPlan]) -> None:
        pre = self.preallocator
        for plan in plans:
            try:
                for path, fd, size in plan.sealed:
                    pre.trim(path, fd, size)
                pre.ensure(plan.active, plan.size, plan.limit)
            except Exception:  # an optimisation must never stop the worker
                log.exception("%s: preallocation failed", plan.active)
