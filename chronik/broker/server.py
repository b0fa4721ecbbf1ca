"""The selectors loop: accept, read frames, dispatch, write responses, timers.

This is the only module that owns sockets. It knows nothing of what a
request means: it hands each complete frame to the dispatcher and sends
back whatever buffers come out, in request order per connection. A request
answered later (a long-poll fetch, a group join) holds back the requests
that follow it on that connection, as Kafka does, so answers never overtake
each other.

Besides the Kafka listener the loop can own extra listening sockets whose
connections are driven by a sans-IO protocol object (`StreamProtocol`:
bytes in, bytes out through a `StreamTransport`); the admin HTTP port is
one. Such protocols never see a socket.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from chronik.broker.purgatory import Deferred
from chronik.wire.framing import FrameDecoder, MalformedFrame

log = logging.getLogger("chronik.server")

_MAX_IOV = 512
# Stop reading from a connection whose answers pile up unread.
_MAX_PENDING_OUT = 64 * 1024 * 1024
_MAX_QUEUED_FRAMES = 256


class Connection:
    __slots__ = (
        "sock", "peer", "fd", "decoder", "frames", "out", "out_bytes", "busy", "closed",
        "reading", "writing", "conn_id",
    )

    def __init__(self, sock: socket.socket, peer: Any, conn_id: int, max_frame: int) -> None:
        self.sock = sock
        self.peer = peer
        self.fd = sock.fileno()
        self.decoder = FrameDecoder(max_frame)
        self.frames: deque[bytearray] = deque()
        self.out: deque[memoryview] = deque()
        self.out_bytes = 0
        self.busy = False  # a deferred answer is outstanding
        self.closed = False
        self.reading = True
        self.writing = False
        self.conn_id = conn_id


class StreamProtocol(Protocol):
    """A connection's protocol on an extra listener: told about bytes, answers through its transport."""

    def connection_made(self, transport: StreamTransport) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> None: ...

    def connection_lost(self) -> None: ...


class StreamTransport:
    """What a StreamProtocol may do with its connection: write, close after the writes, pause reading."""

    __slots__ = ("server", "sock", "peer", "protocol", "out", "closing", "closed", "reading", "events", "lingering")

    def __init__(self, server: Server, sock: socket.socket, peer: Any) -> None:
        self.server = server
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
            self.server._stream_flush(self)

    def close(self) -> None:
        """Close once what was written is sent."""
        self.closing = True
        self.server._stream_flush(self)

    def pause_reading(self) -> None:
        self.reading = False
        self.server._stream_events(self)

    def resume_reading(self) -> None:
        self.reading = True
        self.server._stream_events(self)


class _StreamListener:
    __slots__ = ("sock", "factory")

    def __init__(self, sock: socket.socket, factory: Callable[[], StreamProtocol]) -> None:
        self.sock = sock
        self.factory = factory


class Timer:
    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Server:
    def __init__(self, host: str, port: int, max_request_bytes: int) -> None:
        self.host = host
        self.port = port
        self.max_request_bytes = max_request_bytes
        self.sel = selectors.DefaultSelector()
        self.listener: socket.socket | None = None
        self.conns: dict[int, Connection] = {}
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._dirty: set[Connection] = set()
        self._stopping = False
        self._ids = itertools.count(1)
        # Set by the broker: frame -> buffers | Deferred | None
        self.dispatch: Callable[[Connection, bytearray], Any] = lambda c, f: None
        # Objects with next_deadline() -> float | None and expire(): the purgatory.
        self.deadline_sources: list[Any] = []
        self.on_close: list[Callable[[Connection], None]] = []
        self.accepted_total = 0
        self.closed_total = 0
        # Seconds spent waiting in select(): the loop's idle time.
        self.idle_seconds = 0.0
        self.started = time.monotonic()
        self._stream_listeners: list[_StreamListener] = []
        self._streams: set[StreamTransport] = set()

    # -- timers -------------------------------------------------------------
    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        t = Timer(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), t))
        return t

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self.clock() + delay, callback)

    def _run_timers(self) -> float | None:
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, t = heapq.heappop(self._timers)
            if not t.cancelled:
                try:
                    t.callback()
                except Exception:
                    log.exception("timer callback failed")
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    # -- lifecycle ----------------------------------------------------------
    def listen(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(512)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self.listener = s
        self.sel.register(s, selectors.EVENT_READ, None)

    def stop(self) -> None:
        self._stopping = True

    def add_stream_listener(self, host: str, port: int, factory: Callable[[], StreamProtocol]) -> int:
        """Listen on host:port; each connection gets `factory()`. Returns the bound port (OSError if taken)."""
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
        lst = _StreamListener(s, factory)
        self._stream_listeners.append(lst)
        self.sel.register(s, selectors.EVENT_READ, lst)
        return s.getsockname()[1]

    def add_wakeup(self, sock: socket.socket, callback: Callable[[], None]) -> None:
        self.sel.register(sock, selectors.EVENT_READ, callback)

    def run(self) -> None:
        while not self._stopping:
            next_timer = self._run_timers()
            for src in self.deadline_sources:
                src.expire()
                d = src.next_deadline()
                if d is not None and (next_timer is None or d < next_timer):
                    next_timer = d
            self._flush_dirty()
            timeout = None
            if next_timer is not None:
                timeout = max(0.0, next_timer - self.clock())
            if self._dirty:
                timeout = 0.0
            waited = time.perf_counter()
            events = self.sel.select(timeout)
            self.idle_seconds += time.perf_counter() - waited
            for key, mask in events:
                data = key.data
                if data is None:
                    self._accept()
                elif isinstance(data, Connection):
                    if mask & selectors.EVENT_READ:
                        self._on_readable(data)
                    if mask & selectors.EVENT_WRITE and not data.closed:
                        self._dirty.add(data)
                elif isinstance(data, StreamTransport):
                    self._stream_ready(data, mask)
                elif isinstance(data, _StreamListener):
                    self._stream_accept(data)
                else:
                    data()
            self._flush_dirty()

    def shutdown(self, drain_seconds: float = 2.0) -> None:
        """Send what is already answered, then close every socket."""
        deadline = self.clock() + drain_seconds
        self._flush_dirty()
        while any(c.out for c in self.conns.values()) and self.clock() < deadline:
            for key, _mask in self.sel.select(0.05):
                if isinstance(key.data, Connection):
                    self._dirty.add(key.data)
            self._flush_dirty()
        for c in list(self.conns.values()):
            self.close(c)
        for t in list(self._streams):
            self._stream_close(t)
        for lst in self._stream_listeners:
            self.sel.unregister(lst.sock)
            lst.sock.close()
        if self.listener is not None:
            try:
                self.sel.unregister(self.listener)
            except KeyError:
                pass  # accepts were paused
            self.listener.close()
        self.sel.close()

    # -- connections ----------------------------------------------------------
    def _accept(self) -> None:
        assert self.listener is not None
        for _ in range(64):
            try:
                sock, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # Out of file descriptors, say: stop accepting for a moment
                # instead of spinning on a listener that stays readable.
                log.warning("accept failed: %s; pausing accepts for 0.5 s", exc)
                self.sel.unregister(self.listener)
                self.call_later(0.5, self._resume_accepting)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, peer, next(self._ids), self.max_request_bytes)
            self.accepted_total += 1
            self.conns[conn.fd] = conn
            self.sel.register(sock, selectors.EVENT_READ, conn)

    def _resume_accepting(self) -> None:
        if self.listener is not None and not self._stopping:
            self.sel.register(self.listener, selectors.EVENT_READ, None)

    def close(self, conn: Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.closed_total += 1
        self._dirty.discard(conn)
        for cb in self.on_close:
            try:
                cb(conn)
            except Exception:
                log.exception("close callback failed")
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        self.conns.pop(conn.fd, None)
        conn.sock.close()
        conn.out.clear()
        conn.frames.clear()

    def _set_events(self, conn: Connection) -> None:
        if conn.closed:
            return
        want_read = conn.out_bytes < _MAX_PENDING_OUT and len(conn.frames) < _MAX_QUEUED_FRAMES
        want_write = bool(conn.out)
        if want_read == conn.reading and want_write == conn.writing:
            return
        conn.reading, conn.writing = want_read, want_write
        events = (selectors.EVENT_READ if want_read else 0) | (
            selectors.EVENT_WRITE if want_write else 0
        )
        if events:
            self.sel.modify(conn.sock, events, conn)
        else:
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
            conn.reading = True  # selectors cannot hold an fd with no events

    def _on_readable(self, conn: Connection) -> None:
        try:
            got = self._read_frames(conn)
        except MalformedFrame as exc:
            log.info("closing connection from %s: %s", conn.peer, exc)
            self.close(conn)
            return
        except (ConnectionError, OSError):
            self.close(conn)
            return
        if got is False:
            # Peer closed: still answer what it already sent if it wants to read.
            self._process(conn)
            self._flush(conn)
            self.close(conn)
            return
        self._process(conn)

    def _read_frames(self, conn: Connection) -> bool:
        """Read what is available; queue complete frames. False on EOF."""
        recv_into = conn.sock.recv_into
        decoder = conn.decoder
        for _ in range(16):
            buf = decoder.recv_buffer()
            try:
                n = recv_into(buf)
            except (BlockingIOError, InterruptedError):
                return True
            if n == 0:
                return False
            frames = decoder.received(n)
            if frames:
                conn.frames.extend(frames)
            if n < len(buf):
                return True
        return True

    def _process(self, conn: Connection) -> None:
        while conn.frames and not conn.busy and not conn.closed:
            frame = conn.frames.popleft()
            try:
                result = self.dispatch(conn, frame)
            except MalformedFrame as exc:
                log.info("closing connection from %s: %s", conn.peer, exc)
                self.close(conn)
                return
            if result is None:
                continue
            if isinstance(result, Deferred):
                if result.done:
                    if result.result:
                        self._queue(conn, result.result)
                    continue
                conn.busy = True
                result.on_done = lambda bufs, c=conn: self._deferred_done(c, bufs)
                continue
            self._queue(conn, result)
        self._set_events(conn)

    def _deferred_done(self, conn: Connection, bufs: list | None) -> None:
        conn.busy = False
        if conn.closed:
            return
        if bufs:
            self._queue(conn, bufs)
        self._process(conn)

    def _queue(self, conn: Connection, bufs: list) -> None:
        for b in bufs:
            if len(b):
                mv = b if isinstance(b, memoryview) else memoryview(b)
                conn.out.append(mv)
                conn.out_bytes += len(mv)
        self._dirty.add(conn)

    def _flush_dirty(self) -> None:
        while self._dirty:
            conn = self._dirty.pop()
            self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        if conn.closed:
            return
        out = conn.out
        while out:
            bufs = list(itertools.islice(out, _MAX_IOV))
            total = sum(len(b) for b in bufs)
            try:
                sent = conn.sock.sendmsg(bufs)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                    log.debug("send to %s failed: %s", conn.peer, exc)
                self.close(conn)
                return
            conn.out_bytes -= sent
            partial = sent < total
            while sent:
                head = out[0]
                if sent >= len(head):
                    sent -= len(head)
                    out.popleft()
                else:
                    out[0] = head[sent:]
                    sent = 0
            if partial:
                # The socket buffer is full; the selector says when to go on.
                break
        self._set_events(conn)
        if conn.frames and not conn.busy:
            self._process(conn)

    # -- connections of extra listeners (StreamProtocol) -------------------------
    def _stream_accept(self, lst: _StreamListener) -> None:
        for _ in range(16):
            try:
                sock, peer = lst.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            t = StreamTransport(self, sock, peer)
            self._streams.add(t)
            self.sel.register(sock, selectors.EVENT_READ, t)
            try:
                t.protocol = lst.factory()
                t.protocol.connection_made(t)
            except Exception:
                log.exception("stream protocol failed")
                self._stream_close(t)

    def _stream_ready(self, t: StreamTransport, mask: int) -> None:
        if t.lingering:
            # Closing: discard what the peer still sends until it closes too (or the timer).
            try:
                if t.sock.recv(65536):
                    return
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                pass
            self._stream_close(t)
            return
        if mask & selectors.EVENT_READ and t.reading and not t.closed:
            try:
                data = t.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self._stream_close(t)
                return
            try:
                if data:
                    t.protocol.data_received(data)
                elif data == b"":
                    t.protocol.eof_received()
                    t.closing = True
            except Exception:
                log.exception("stream protocol failed")
                self._stream_close(t)
                return
        if not t.closed:
            self._stream_flush(t)

    def _stream_flush(self, t: StreamTransport) -> None:
        if t.closed:
            return
        while t.out:
            try:
                sent = t.sock.send(t.out[0])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._stream_close(t)
                return
            head = t.out[0]
            if sent < len(head):
                t.out[0] = head[sent:]
                break
            t.out.popleft()
        if t.closing and not t.out:
            self._stream_linger(t)
            return
        self._stream_events(t)

    def _stream_linger(self, t: StreamTransport) -> None:
        """Half-close, then drain: closing with unread input would reset the answer away (RST)."""
        if t.lingering:
            return
        t.lingering = True
        try:
            t.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._stream_close(t)
            return
        if not t.events:
            self.sel.register(t.sock, selectors.EVENT_READ, t)
        elif t.events != selectors.EVENT_READ:
            self.sel.modify(t.sock, selectors.EVENT_READ, t)
        t.events = selectors.EVENT_READ
        self.call_later(2.0, lambda: self._stream_close(t))

    def _stream_events(self, t: StreamTransport) -> None:
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

    def _stream_close(self, t: StreamTransport) -> None:
        if t.closed:
            return
        t.closed = True
        self._streams.discard(t)
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

    @property
    def connections_open(self) -> int:
        return len(self.conns)

    @property
    def stream_connections(self) -> int:
        return len(self._streams)
