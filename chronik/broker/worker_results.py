"""What a worker thread hands back to the loop: a queue, plus a socketpair whose read end the
loop's selector watches, so that a result wakes the loop (the group commit's fsyncs, the file
maker's partition files)."""

from __future__ import annotations

import queue
import socket
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkerResults(Generic[T]):
    def __init__(self, add_wakeup: Callable[[socket.socket, Callable[[], None]], None],
                 on_ready: Callable[[], None]) -> None:
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        self.rsock, self._wsock = socket.socketpair()
        self.rsock.setblocking(False)
        self._wsock.setblocking(False)
        add_wakeup(self.rsock, on_ready)

    def put(self, item: T) -> None:
        """The worker's side: queue `item` and wake the loop."""
        self._queue.put(item)
        try:
            self._wsock.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wakeup is pending already (or the loop is gone)

    def take(self) -> list[T]:
        """The loop's side: clear the wakeups and return everything queued so far."""
        try:
            while self.rsock.recv(512):
                pass
        except BlockingIOError:
            pass
        out: list[T] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.rsock.close()
        self._wsock.close()
