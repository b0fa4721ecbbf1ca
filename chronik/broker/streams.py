"""Extra listeners of the selectors loop, for protocols other than Kafka (the admin HTTP port).

The server owns the sockets; a sans-IO protocol object (`StreamProtocol`,
e.g. chronik.http's connection) is told about bytes and answers through its
`StreamTransport`. Closing lingers (half-close, then drain) so an error
answer is not reset away by input the peer is still sending.
"""

from __future__ import annotations

import logging
import selectors
import socket
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("chronik.server")

# Bytes sent to one connection per turn of the loop: a 10 MB /metrics answer
# goes out over many turns (the socket says when it has room again) instead
# of holding the loop while the kernel copies all of it, so Kafka requests
# arriving meanwhile wait at most for one such piece.
SEND_PER_TURN = 256 * 1024
_MAX_IOV = 64



def drop_sent(out: deque, sent: int) -> bool:
    """Drop `sent` bytes from the head of an output queue of buffers (any bytes-like); True if the
    socket took only part of the head (its buffer is full), whose rest stays at the front, uncopied."""
    while sent:
        head = out[0]
        if sent >= len(head):
            sent -= len(head)
            out.popleft()
        else:
            out[0] = memoryview(head)[sent:]
            return True
    return False

class StreamProtocol(Protocol):
    """A connection's protocol on an extra listener: told about bytes, answers through its transport."""

    def connection_made(self, transport: StreamTransport) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> None: ...

    def connection_lost(self) -> None: ...


class StreamTransport:
    """What a StreamProtocol may do with its connection: write, close after the writes, pause reading."""

    __slots__ = ("streams", "sock", "peer", "protocol", "out", "closing", "closed", "reading", "events", "lingering")

    def __init__(self, streams: StreamConnections, sock: socket.socket, peer: Any) -> None:
        self.streams = streams
        self.sock = sock
        self.peer = peer
        self.protocol: StreamProtocol | None = None
        self.out: deque[memoryview] = deque()
        self.closing = False
        self.closed = False
        self.reading = True
        self.events = selectors.EVENT_READ
        self.lingering = False

    def write(self, data: bytes) -> None:
        if data and not self.closed:
            self.out.append(memoryview(data))
            self.streams.flush(self)

    def writelines(self, chunks: list[bytes]) -> None:
        """Queue several buffers (not joined, not copied); sent in order, over as many turns as it takes."""
        if not self.closed:
            self.out.extend(memoryview(c) for c in chunks if len(c))
            self.streams.flush(self)

    def close(self) -> None:
        """Close once what was written is sent."""
        self.closing = True
        self.streams.flush(self)

    def pause_reading(self) -> None:
        self.reading = False
        self.streams.events(self)

    def resume_reading(self) -> None:
        self.reading = True
        self.streams.events(self)


class StreamListener:
    __slots__ = ("sock", "factory")

    def __init__(self, sock: socket.socket, factory: Callable[[], StreamProtocol]) -> None:
        self.sock = sock
        self.factory = factory


class StreamConnections:
    """The extra listeners and their connections, on the loop's selector."""

    def __init__(self, sel: selectors.BaseSelector, call_later: Callable[[float, Callable[[], None]], Any]) -> None:
        self.sel = sel
        self.call_later = call_later
        self.listeners: list[StreamListener] = []
        self.transports: set[StreamTransport] = set()

    def listen(self, host: str, port: int, factory: Callable[[], StreamProtocol]) -> int:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(128)
        except OSError:
            s.close()
            raise
        s.setblocking(False)
        lst = StreamListener(s, factory)
        self.listeners.append(lst)
        self.sel.register(s, selectors.EVENT_READ, lst)
        return s.getsockname()[1]

    def close_all(self) -> None:
        for t in list(self.transports):
            self.close(t)
        for lst in self.listeners:
            self.sel.unregister(lst.sock)
            lst.sock.close()
        self.listeners.clear()

    def accept(self, lst: StreamListener) -> None:
        for _ in range(16):
            try:
                sock, peer = lst.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # Answers are small and request/response: never hold one back for an ACK.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = StreamTransport(self, sock, peer)
            self.transports.add(t)
            self.sel.register(sock, selectors.EVENT_READ, t)
            try:
                t.protocol = lst.factory()
                t.protocol.connection_made(t)
            except Exception:
                log.exception("stream protocol failed")
                self.close(t)

    def ready(self, t: StreamTransport, mask: int) -> None:
        if t.lingering:
            # Closing: discard what the peer still sends until it closes too (or the timer).
            try:
                if t.sock.recv(65536):
                    return
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                pass
            self.close(t)
            return
        if mask & selectors.EVENT_READ and t.reading and not t.closed:
            try:
                data = t.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self.close(t)
                return
            try:
                if data:
                    t.protocol.data_received(data)
                elif data == b"":
                    t.protocol.eof_received()
                    t.closing = True
            except Exception:
                log.exception("stream protocol failed")
                self.close(t)
                return
        if not t.closed:
            self.flush(t)

    def flush(self, t: StreamTransport) -> None:
        """Send what is queued, at most SEND_PER_TURN bytes; the rest when the selector says writable."""
        if t.closed:
            return
        out = t.out
        budget = SEND_PER_TURN
        while out and budget > 0:
            bufs = []
            size = 0
            for b in out:
                bufs.append(b)
                size += len(b)
                if size >= budget or len(bufs) == _MAX_IOV:
                    break
            if size > budget:
                bufs[-1] = bufs[-1][:len(bufs[-1]) - (size - budget)]
            try:
                sent = t.sock.sendmsg(bufs)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close(t)
                return
            budget -= sent
            partial = sent < min(size, budget + sent)
            drop_sent(out, sent)
            if partial:
                break  # the socket buffer is full
        if t.closing and not out:
            self.linger(t)
            return
        self.events(t)

    def linger(self, t: StreamTransport) -> None:
        """Half-close, then drain: closing with unread input would reset the answer away (RST)."""
        if t.lingering:
            return
        t.lingering = True
        try:
            t.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(t)
            return
        if not t.events:
            self.sel.register(t.sock, selectors.EVENT_READ, t)
        elif t.events != selectors.EVENT_READ:
            self.sel.modify(t.sock, selectors.EVENT_READ, t)
        t.events = selectors.EVENT_READ
        self.call_later(2.0, lambda: self.close(t))

    def events(self, t: StreamTransport) -> None:
        if t.closed:
            return
        want_read = t.reading and not t.closing
        want_write = bool(t.out)
        events = (selectors.EVENT_READ if want_read else 0) | (selectors.EVENT_WRITE if want_write else 0)
        if events == t.events:
            return
        if not events:
            self.sel.unregister(t.sock)  # selectors cannot hold an fd with no events
        elif not t.events:
            self.sel.register(t.sock, events, t)
        else:
            self.sel.modify(t.sock, events, t)
        t.events = events

    def close(self, t: StreamTransport) -> None:
        if t.closed:
            return
        t.closed = True
        self.transports.discard(t)
        if t.events:
            try:
                self.sel.unregister(t.sock)
            except (KeyError, ValueError):
                pass
        t.sock.close()
        t.out.clear()
        if t.protocol is not None:
            try:
                t.protocol.connection_lost()
            except Exception:
                log.exception("stream protocol failed")
