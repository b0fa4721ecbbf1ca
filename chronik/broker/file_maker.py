"""A partition's first files, made by a worker thread instead of the loop (issue 18).

Partition logs are lazy: a topic's partitions have nothing on disk until
their first append, which then created the directory and the first segment
on the loop -- a mkdir and a file creation, 0.2 ms on a quiet disk and 1-5 ms
on a busy one, during which no connection was served. Now the produce
handler, seeing a partition that still needs its files, hands its request
here: the worker creates them (storage.log.make_partition_files, paths only),
wakes the loop, and the loop runs the request again, appending to files that
exist. The answer comes after the append as before: a produce that returns
success has written its data, and a creation that failed is retried by the
append itself on the loop, which answers KAFKA_STORAGE_ERROR if it fails too.

Several requests waiting for the same partition share one creation and run
in the order they came; a connection's later requests wait behind its
deferred one as for any deferred answer.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from chronik.broker.purgatory import Deferred
from chronik.broker.worker_results import WorkerResults
from chronik.storage.log import make_partition_files

log = logging.getLogger("chronik.files")


class _Waiter:
    __slots__ = ("deferred", "rerun", "remaining")

    def __init__(self, deferred: Deferred, rerun: Callable[[], Any], remaining: set[int]) -> None:
        self.deferred = deferred
        self.rerun = rerun
        self.remaining = remaining


class FileMaker:
    """Creates partition files on a worker thread. Owned by the loop (not thread-safe)."""

    def __init__(self, add_wakeup: Callable[[socket.socket, Callable[[], None]], None],
                 make: Callable[[Path, Path], None] = make_partition_files) -> None:
        self._make = make
        self._pending: dict[int, tuple[Any, list[_Waiter]]] = {}  # id(log) -> (log, waiters)
        self._jobs: queue.SimpleQueue[tuple[int, Path, Path] | None] = queue.SimpleQueue()
        self.made_total = 0
        self.failed_total = 0
        self._results: WorkerResults[tuple[int, OSError | None]] = WorkerResults(add_wakeup, self._on_wakeup)
        self._worker = threading.Thread(target=self._work, name="file-maker", daemon=True)
        self._worker.start()

    # -- the loop's side -------------------------------------------------------------------
    def defer(self, logs: Iterable[Any], rerun: Callable[[], Any], owner: Any = None) -> Deferred:
        """A Deferred answered with `rerun()` once every log in `logs` has its files."""
        d = Deferred(lambda _expired: None, float("inf"), (), owner=owner)
        keys = {id(plog) for plog in logs}
        waiter = _Waiter(d, rerun, set(keys))
        for plog in logs:
            key = id(plog)
            entry = self._pending.get(key)
            if entry is None:
                entry = self._pending[key] = (plog, [])
                self._jobs.put((key, *plog.files_to_make()))
            if waiter not in entry[1]:
                entry[1].append(waiter)
        return d

    @property
    def waiting(self) -> int:
        """Partitions whose files are being made."""
        return len(self._pending)

    def _on_wakeup(self) -> None:
        for key, error in self._results.take():
            plog, waiters = self._pending.pop(key)
            if error is None:
                self.made_total += 1
                plog.files_made()
            else:
                self.failed_total += 1
                log.warning("cannot create %s: %s (the append will try again)", plog.directory,
                            error.strerror or error)
            for w in waiters:
                w.remaining.discard(key)
                if not w.remaining:
                    _answer(w)

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(5)
        self._results.close()
        log.info("file maker: made the files of %d partitions off the loop (%d failed)",
                 self.made_total, self.failed_total)

    # -- the worker's side -----------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            key, directory, segment = job
            error = None
            try:
                self._make(directory, segment)
            except OSError as exc:
                error = exc
            except Exception as exc:  # a bug must not leave requests waiting for ever
                error = OSError(str(exc))
            self._results.put((key, error))


def _answer(w: _Waiter) -> None:
    """Run the request again now that its partitions have files, and pass its answer on."""
    d = w.deferred
    try:
        result = w.rerun()
    except Exception:
        log.exception("produce failed after its partitions' files were made")
        d.complete(d.failure() if d.failure is not None else None)
        return
    if result is None:  # acks=0: nothing to send
        d.encode = None
        d.complete(None)
    elif isinstance(result, Deferred):  # held for a group commit: pass its answer on when it comes
        if result.done:
            d.complete(result.result)
        else:
            result.on_done = d.complete
    else:
        d.complete(result)
