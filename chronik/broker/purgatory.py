"""Delayed operations: requests whose answer waits for data, a timer or others.

A handler that cannot answer yet returns a `Deferred`. The purgatory keeps
it under one or more watch keys (a topic-partition, a group id...) and a
deadline. Whoever changes the state behind a key calls `notify(key)`; the
deferred is then asked again whether it can complete. At the deadline it is
asked once more with `expired=True` and must answer.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

TryComplete = Callable[[bool], Any]  # (expired) -> response or None

log = logging.getLogger("chronik.purgatory")


class Deferred:
    __slots__ = ("try_complete", "deadline", "keys", "owner", "done", "on_done", "encode", "failure",
                 "result", "_seq", "pipelined")

    def __init__(self, try_complete: TryComplete, deadline: float, keys: Iterable[Hashable],
                 owner: Hashable = None):
        self.try_complete = try_complete
        self.deadline = deadline
        self.keys = tuple(keys)
        # The connection that waits for the answer: when it closes, nobody does.
        self.owner = owner
        self.done = False
        self.on_done: Callable[[Any], None] | None = None
        # Set by the dispatcher: turns the response object into wire buffers.
        self.encode: Callable[[Any], Any] | None = None
        # Set by the dispatcher: the UNKNOWN_SERVER_ERROR answer if try_complete raises.
        self.failure: Callable[[], Any] | None = None
        self.result: Any = None
        self._seq = 0
        # The request's effects are applied and only its answer waits (a group commit): the
        # connection's later requests may go on meanwhile, their answers queued behind it.
        self.pipelined = False

    def complete(self, response: Any) -> None:
        """Finish with `response` now (used by state machines that answer directly)."""
        if self.done:
            return
        self.done = True
        payload = self.encode(response) if self.encode is not None else response
        if self.on_done is not None:
            self.on_done(payload)
        else:
            # Completed before the server took it: the server picks `result` up.
            self.result = payload


class Purgatory:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._watchers: dict[Hashable, list[Deferred]] = {}
        self._deadlines: list[tuple[float, int, Deferred]] = []
        self._seq = itertools.count()
        self._owned: dict[Hashable, list[Deferred]] = {}

    def __len__(self) -> int:
        """Operations still waiting."""
        return sum(1 for _, _, d in self._deadlines if not d.done)

    def add(self, d: Deferred) -> None:
        d._seq = next(self._seq)
        if d.owner is not None:
            owned = self._owned.setdefault(d.owner, [])
            owned[:] = [o for o in owned if not o.done]
            owned.append(d)
        for k in d.keys:
            self._watchers.setdefault(k, []).append(d)
        heapq.heappush(self._deadlines, (d.deadline, d._seq, d))

    def notify(self, key: Hashable) -> None:
        waiters = self._watchers.pop(key, None)
        if not waiters:
            return
        keep = []
        for d in waiters:
            if d.done:
                continue
            resp = _ask(d, False)
            if resp is not None:
                d.complete(resp)
            else:
                keep.append(d)
        if keep:
            self._watchers.setdefault(key, []).extend(keep)

    def pending(self) -> int:
        """Requests parked and not answered yet."""
        return sum(1 for _, _, d in self._deadlines if not d.done)

    def next_deadline(self) -> float | None:
        while self._deadlines and self._deadlines[0][2].done:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def expire(self) -> None:
        now = self.clock()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, d = heapq.heappop(self._deadlines)
            if not d.done:
                d.complete(_ask(d, True))
        # Drop completed waiters so keys that never see traffic do not grow.
        if len(self._watchers) > 64:
            for k in [k for k, ws in self._watchers.items() if all(w.done for w in ws)]:
                del self._watchers[k]

    def cancel_owner(self, owner: Hashable) -> int:
        """Drop the operations of a closed connection: nobody will read their answers."""
        cancelled = 0
        for d in self._owned.pop(owner, ()):
            if not d.done:
                d.done = True
                cancelled += 1
        if cancelled:
            # Their heap entries and watcher slots go at the next expire().
            self._deadlines = [e for e in self._deadlines if not e[2].done]
            heapq.heapify(self._deadlines)
        return cancelled

    def cancel_all(self) -> None:
        for _, _, d in self._deadlines:
            d.done = True
        self._deadlines.clear()
        self._watchers.clear()
        self._owned.clear()


def _ask(d: Deferred, expired: bool) -> Any:
    """The deferred's answer; a bug in it answers with its failure response instead."""
    try:
        return d.try_complete(expired)
    except Exception:
        log.exception("a delayed operation failed; answering UNKNOWN_SERVER_ERROR")
        return d.failure() if d.failure is not None else None
