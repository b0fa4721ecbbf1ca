"""The selectors loop: accept, read frames, dispatch, write responses, timers.

(About 650 lines: one event loop whose reading, TLS, request queueing and
writing share per-connection state and its bounds; splitting it would
spread those invariants over several files.)

This is the only module that owns sockets. It knows nothing of what a
request means: it hands each complete frame to the dispatcher and sends
back whatever buffers come out, in request order per connection. A request
answered later (a long-poll fetch, a group join) holds back the requests
that follow it on that connection, as Kafka does, so answers never overtake
each other.

Listeners (Kafka's `listeners`): each has a name, a security protocol
(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) and the endpoint its clients
are told about. On SSL and SASL_SSL listeners every connection has a TLS
layer: an `ssl.SSLObject` over two memory BIOs, so the handshake and the
records run on this loop without ever blocking it (ciphertext in from the
socket, plaintext out to the frame decoder; answers encrypted into a
ciphertext buffer that is sent as the socket allows). A connection's
security state (`conn.sec`, made by the `new_session` hook) is what the
dispatcher consults; `sec.closing` asks for the connection to be closed
once the current answer is sent (a failed SASL login).

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
import ssl
import time
from collections.abc import Callable
from typing import Any

from chronik.broker.connection import Connection, Listener, Timer
from chronik.broker.purgatory import Deferred
from chronik.broker.streams import StreamConnections, StreamListener, StreamProtocol, StreamTransport, drop_sent
from chronik.broker.tls_stream import TlsLayer
from chronik.wire.framing import FrameDecoder, MalformedFrame

log = logging.getLogger("chronik.server")

_MAX_IOV = 512
# Resources a client can claim are bounded, per connection and in total:
# - answers not yet sent: past the bound its queued requests wait (and it is
#   not read), past the total every connection's do;
MAX_PENDING_OUT = 64 * 1024 * 1024
MAX_TOTAL_OUT = 256 * 1024 * 1024
# - requests read but not yet handled;
MAX_QUEUED_FRAMES = 256
MAX_QUEUED_BYTES = 64 * 1024 * 1024
# - frames larger than a read buffer, being collected: past the budget a new
#   one waits until another completes (one is always let through);
MAX_LARGE_FRAMES_BYTES = 128 * 1024 * 1024
# - requests handled, and answer bytes produced, per connection per turn of
#   the loop, so one busy pipeline cannot hold the loop while others wait.
FRAMES_PER_TURN = 32
BYTES_PER_TURN = 4 * 1024 * 1024
# - answers held behind a pipelined deferred one (a group commit): past it, requests wait.
MAX_HELD_ANSWERS = 64


# Ciphertext produced ahead of the socket per TLS connection before plaintext answers wait.
TLS_OUT_AHEAD = 1024 * 1024


class Server:
    def __init__(self, host: str, port: int, max_request_bytes: int, max_connections: int = 0,
                 max_connections_per_ip: int = 0, listeners: list[Listener] | None = None) -> None:
        self.listeners = listeners or [Listener("PLAINTEXT", "PLAINTEXT", host, port)]
        self.host = self.listeners[0].host
        self.port = self.listeners[0].port
        self.max_request_bytes = max_request_bytes
        # Kafka's max.connections / max.connections.per.ip (0: no limit).
        self.max_connections = max_connections
        self.max_connections_per_ip = max_connections_per_ip
        self._per_ip: dict[str, int] = {}
        self._accepting = True
        self._last_rejection_log = 0.0
        self.out_total = 0
        self.large_frames_bytes = 0
        self._waiting_admission: set[Connection] = set()
        self._blocked: set[Connection] = set()  # queued requests held back by output bounds
        self._ready: set[Connection] = set()  # queued requests left for the next turn
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
        # Called after each turn's work, before the loop waits (group commit seals its batch).
        self.before_wait: list[Callable[[], None]] = []
        # Called once the sockets are closed at shutdown.
        self.at_shutdown: list[Callable[[], None]] = []
        self.accepted_total = 0
        self.closed_total = 0
        # Seconds spent waiting in select(): the loop's idle time.
        self.idle_seconds = 0.0
        self.started = time.monotonic()
        # Extra listeners (the admin HTTP port), driven by sans-IO protocol objects.
        self.streams = StreamConnections(self.sel, self.call_later)
        # Set by the broker: (listener, connection) -> the connection's security session.
        self.new_session: Callable[[Listener, Connection], Any] | None = None
        self._tls_input: set[Connection] = set()  # decrypted bytes left to read

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
        for lst in self.listeners:
            family = socket.AF_INET6 if ":" in lst.host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((lst.host, lst.port))
                s.listen(512)
            except OSError:
                s.close()
                for other in self.listeners:
                    if other.sock is not None:
                        self.sel.unregister(other.sock)
                        other.sock.close()
                        other.sock = None
                raise
            s.setblocking(False)
            lst.port = s.getsockname()[1]
            lst.sock = s
            self.sel.register(s, selectors.EVENT_READ, lst)
        self.port = self.listeners[0].port
        self.listener = self.listeners[0].sock

    def stop(self) -> None:
        self._stopping = True

    def add_stream_listener(self, host: str, port: int, factory: Callable[[], StreamProtocol]) -> int:
        """Listen on host:port; each connection gets `factory()`. Returns the bound port (OSError if taken)."""
        return self.streams.listen(host, port, factory)

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
            if self._ready:
                ready, self._ready = self._ready, set()
                for conn in ready:
                    self._process(conn)
            timeout = None
            if next_timer is not None:
                timeout = max(0.0, next_timer - self.clock())
            if self._tls_input:
                for conn in [c for c in self._tls_input if c.reading and not c.closed]:
                    self._tls_input.discard(conn)
                    self._on_readable(conn)
            for hook in self.before_wait:
                hook()
            if self._dirty or self._ready or any(c.reading for c in self._tls_input):
                timeout = 0.0
            waited = time.perf_counter()
            events = self.sel.select(timeout)
            self.idle_seconds += time.perf_counter() - waited
            for key, mask in events:
                data = key.data
                if isinstance(data, Listener):
                    self._accept(data)
                elif isinstance(data, Connection):
                    if mask & selectors.EVENT_READ:
                        self._on_readable(data)
                    if mask & selectors.EVENT_WRITE and not data.closed:
                        self._dirty.add(data)
                elif isinstance(data, StreamTransport):
                    self.streams.ready(data, mask)
                elif isinstance(data, StreamListener):
                    self.streams.accept(data)
                else:
                    data()
            self._flush_dirty()

    def shutdown(self, drain_seconds: float = 2.0) -> None:
        """Send what is already answered, then close every socket."""
        deadline = self.clock() + drain_seconds
        self._flush_dirty()
        while any(c.out or (c.tls is not None and c.tls.raw_out) for c in self.conns.values()) \
                and self.clock() < deadline:
            for key, _mask in self.sel.select(0.05):
                if isinstance(key.data, Connection):
                    self._dirty.add(key.data)
            self._flush_dirty()
        for c in list(self.conns.values()):
            self.close(c)
        self.streams.close_all()
        for lst in self.listeners:
            if lst.sock is not None:
                try:
                    self.sel.unregister(lst.sock)
                except KeyError:
                    pass  # accepts were paused
                lst.sock.close()
        for hook in self.at_shutdown:
            try:
                hook()
            except Exception:
                log.exception("shutdown hook failed")
        self.sel.close()

    # -- connections ----------------------------------------------------------
    def _accept(self, listener: Listener) -> None:
        assert listener.sock is not None
        for _ in range(64):
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # Out of file descriptors, say: stop accepting for a moment
                # instead of spinning on a listener that stays readable.
                log.warning("accept failed: %s; pausing accepts for 0.5 s", exc)
                self._pause_accepting()
                self.call_later(0.5, self._resume_accepting)
                return
            ip = peer[0] if isinstance(peer, tuple) else str(peer)
            if self.max_connections_per_ip and self._per_ip.get(ip, 0) >= self.max_connections_per_ip:
                # As Kafka does: the connection is closed at once.
                self._log_rejection(f"rejected a connection from {ip}: it already has "
                                    f"max.connections.per.ip={self.max_connections_per_ip}")
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            decoder = FrameDecoder(self.max_request_bytes, admit=self._admit, release=self._release)
            conn = Connection(sock, peer, next(self._ids), decoder, listener)
            if listener.ssl_context is not None:
                conn.tls = TlsLayer(listener.ssl_context)
            if self.new_session is not None:
                conn.sec = self.new_session(listener, conn)
            self.accepted_total += 1
            self.conns[conn.fd] = conn
            self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
            self.sel.register(sock, selectors.EVENT_READ, conn)
            if self.max_connections and len(self.conns) >= self.max_connections:
                # As Kafka does: accepts wait until a connection closes.
                self._log_rejection(f"{len(self.conns)} connections open (max.connections); "
                                    "new ones wait until one closes")
                self._pause_accepting()
                return

    def _log_rejection(self, message: str) -> None:
        now = self.clock()
        if now - self._last_rejection_log >= 10.0:
            self._last_rejection_log = now
            log.warning(message)

    def _pause_accepting(self) -> None:
        if self._accepting:
            for lst in self.listeners:
                if lst.sock is not None:
                    self.sel.unregister(lst.sock)
            self._accepting = False

    def _resume_accepting(self) -> None:
        if not self._stopping and not self._accepting:
            if self.max_connections and len(self.conns) >= self.max_connections:
                return
            for lst in self.listeners:
                if lst.sock is not None:
                    self.sel.register(lst.sock, selectors.EVENT_READ, lst)
            self._accepting = True

    # -- the large-frame budget ----------------------------------------------------
    def _admit(self, size: int) -> bool:
        if self.large_frames_bytes and self.large_frames_bytes + size > MAX_LARGE_FRAMES_BYTES:
            return False
        self.large_frames_bytes += size
        return True

    def _release(self, size: int) -> None:
        self.large_frames_bytes -= size
        if self._waiting_admission:
            self.call_later(0, self._retry_admissions)

    def _retry_admissions(self) -> None:
        for conn in list(self._waiting_admission):
            if conn.closed:
                self._waiting_admission.discard(conn)
                continue
            try:
                frames = conn.decoder.retry()
            except MalformedFrame:
                continue  # cannot happen: the header was checked when it arrived
            if conn.decoder.waiting:
                continue
            self._waiting_admission.discard(conn)
            self._enqueue(conn, frames)
            if conn.tls is not None and conn.tls.has_input():
                self._tls_input.add(conn)
            self._process(conn)

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
        if self.conns.pop(conn.fd, None) is not None:
            left = self._per_ip.get(conn.ip, 1) - 1
            if left > 0:
                self._per_ip[conn.ip] = left
            else:
                self._per_ip.pop(conn.ip, None)
        conn.sock.close()
        self.out_total -= conn.out_bytes
        conn.out_bytes = 0
        conn.out.clear()
        conn.frames.clear()
        conn.held.clear()
        conn.queued_bytes = 0
        conn.decoder.close()
        for pending in (self._waiting_admission, self._blocked, self._ready, self._tls_input):
            pending.discard(conn)
        if not self._accepting and not self._stopping:
            self._resume_accepting()
        self._unblock()

    def _set_events(self, conn: Connection) -> None:
        if conn.closed:
            return
        want_read = (conn.out_bytes < MAX_PENDING_OUT and len(conn.frames) < MAX_QUEUED_FRAMES
                     and conn.queued_bytes < MAX_QUEUED_BYTES and not conn.decoder.waiting)
        if conn.tls is None:
            # Output not yet tried is sent at the end of this turn (_flush_dirty): watching
            # for write readiness before the socket refused bytes would cost two epoll_ctl
            # calls per answer.
            want_write = conn.send_blocked and bool(conn.out)
        else:
            want_write = bool(conn.out) or bool(conn.tls.raw_out)
        if want_read and conn.tls is not None and not conn.reading and conn.tls.has_input():
            self._tls_input.add(conn)  # decrypted bytes are waiting: no socket event will say so
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
            got = self._read_frames(conn) if conn.tls is None else self._read_tls(conn)
        except ssl.SSLError as exc:
            log.info("closing connection from %s: TLS: %s", conn.peer, exc.reason or exc)
            self.close(conn)
            return
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
            if not buf:
                self._waiting_admission.add(conn)  # a large frame waits for the budget
                return True
            try:
                n = recv_into(buf)
            except (BlockingIOError, InterruptedError):
                return True
            if n == 0:
                return False
            if self._decode(conn, n) or n < len(buf):
                return True
        return True

    def _decode(self, conn: Connection, n: int) -> bool:
        """Hand `n` bytes just received to the decoder and queue its frames; True when reading must stop
        for now (the connection's queue is full, or a large frame waits for the memory budget)."""
        decoder = conn.decoder
        frames = decoder.received(n)
        if frames:
            self._enqueue(conn, frames)
            if conn.queued_bytes >= MAX_QUEUED_BYTES or len(conn.frames) >= MAX_QUEUED_FRAMES:
                return True
        if decoder.waiting:
            self._waiting_admission.add(conn)
            return True
        return False

    def _read_tls(self, conn: Connection) -> bool:
        """Ciphertext from the socket into the TLS layer, plaintext from it into the decoder. False on EOF."""
        tls = conn.tls
        assert tls is not None
        eof = not tls.receive(conn.sock)
        if not tls.established:
            try:
                tls.obj.do_handshake()
            except ssl.SSLWantReadError:
                self._push_tls(conn)
                return not eof
            tls.established = True
            if conn.sec is not None:
                conn.sec.tls_established(tls.obj.getpeercert())
            self._push_tls(conn)
        decoder = conn.decoder
        while True:
            buf = decoder.recv_buffer()
            if not buf:
                self._waiting_admission.add(conn)
                return True
            n = tls.read_into(buf)
            if n < 0:
                return False
            if n == 0:
                break
            if self._decode(conn, n):
                if conn.queued_bytes >= MAX_QUEUED_BYTES or len(conn.frames) >= MAX_QUEUED_FRAMES:
                    self._tls_input.add(conn)  # plaintext may be left in the TLS layer: read it later
                return True
            if n < len(buf):
                break  # no whole record left
        self._push_tls(conn)  # TLS 1.3 may answer (session tickets, key updates)
        return not eof

    def _push_tls(self, conn: Connection) -> None:
        tls = conn.tls
        assert tls is not None
        if tls.collect():
            self._dirty.add(conn)

    @staticmethod
    def _enqueue(conn: Connection, frames: list[bytearray]) -> None:
        if len(frames) == 1:
            conn.frames.append(frames[0])
            conn.queued_bytes += len(frames[0])
            return
        conn.frames.extend(frames)
        conn.queued_bytes += sum(len(f) for f in frames)

    def _process(self, conn: Connection) -> None:
        budget = FRAMES_PER_TURN
        out_limit = conn.out_bytes + BYTES_PER_TURN
        while conn.frames and not conn.busy and not conn.closed:
            if conn.out_bytes >= MAX_PENDING_OUT or self.out_total >= MAX_TOTAL_OUT:
                # Answers pile up unsent: handle no more until they drain.
                self._blocked.add(conn)
                break
            if budget == 0 or conn.out_bytes >= out_limit:
                self._ready.add(conn)
                break
            budget -= 1
            frame = conn.frames.popleft()
            conn.queued_bytes -= len(frame)
            try:
                result = self.dispatch(conn, frame)
            except MalformedFrame as exc:
                log.info("closing connection from %s: %s", conn.peer, exc)
                self.close(conn)
                return
            if conn.sec is not None and conn.sec.closing:
                # Answer this one (a failed login), then close: nothing after it is read.
                if isinstance(result, list):
                    self._answer(conn, result)
                conn.closing = True
                conn.frames.clear()
                conn.queued_bytes = 0
                self._dirty.add(conn)
                return
            if result is None:
                continue
            if isinstance(result, Deferred):
                if result.done:
                    if result.result:
                        self._answer(conn, result.result)
                    continue
                if result.pipelined and len(conn.held) < MAX_HELD_ANSWERS:
                    # Its effects are applied: later requests go on, their answers wait behind it.
                    entry: list = [None]
                    conn.held.append(entry)
                    result.on_done = lambda bufs, c=conn, e=entry: self._held_done(c, e, bufs)
                    continue
                conn.busy = True
                result.on_done = lambda bufs, c=conn: self._deferred_done(c, bufs)
                continue
            self._answer(conn, result)
        self._set_events(conn)

    def _answer(self, conn: Connection, bufs: list) -> None:
        """Queue an answer for sending, behind any still held for an earlier request."""
        if conn.held:
            conn.held.append([bufs])
        else:
            self._queue(conn, bufs)

    def _held_done(self, conn: Connection, entry: list, bufs: list | None) -> None:
        entry[0] = bufs or []
        if conn.closed:
            return
        held = conn.held
        while held and held[0][0] is not None:
            ready = held.popleft()[0]
            if ready:
                self._queue(conn, ready)
        if not conn.busy:
            self._process(conn)  # a full `held` may have stopped it

    def _deferred_done(self, conn: Connection, bufs: list | None) -> None:
        conn.busy = False
        if conn.closed:
            return
        if bufs:
            self._answer(conn, bufs)
        self._process(conn)

    def _queue(self, conn: Connection, bufs: list) -> None:
        for b in bufs:
            if len(b):
                mv = b if isinstance(b, memoryview) else memoryview(b)
                conn.out.append(mv)
                conn.out_bytes += len(mv)
                self.out_total += len(mv)
        self._dirty.add(conn)

    def _flush_dirty(self) -> None:
        while self._dirty:
            conn = self._dirty.pop()
            self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        if conn.closed:
            return
        if conn.tls is not None:
            self._flush_tls(conn)
            return
        out = conn.out
        while out:
            try:
                if len(out) == 1:
                    total = conn.out_bytes  # what is queued is all in `out`
                    sent = conn.sock.send(out[0])
                elif len(out) <= _MAX_IOV:
                    total = conn.out_bytes
                    sent = conn.sock.sendmsg(out)
                else:
                    bufs = list(itertools.islice(out, _MAX_IOV))
                    total = sum(len(b) for b in bufs)
                    sent = conn.sock.sendmsg(bufs)
            except (BlockingIOError, InterruptedError):
                conn.send_blocked = True
                break
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                    log.debug("send to %s failed: %s", conn.peer, exc)
                self.close(conn)
                return
            conn.out_bytes -= sent
            self.out_total -= sent
            partial = sent < total
            drop_sent(out, sent)
            if partial:
                # The socket buffer is full; the selector says when to go on.
                conn.send_blocked = True
                break
        else:
            conn.send_blocked = False
        if conn.closing and not out:
            self.close(conn)
            return
        self._set_events(conn)
        if conn.frames and not conn.busy:
            self._process(conn)
        self._unblock()

    def _flush_tls(self, conn: Connection) -> None:
        tls = conn.tls
        assert tls is not None
        out = conn.out
        while True:
            if tls.established and out:
                taken = tls.encrypt(out, TLS_OUT_AHEAD)
                conn.out_bytes -= taken
                self.out_total -= taken
            tls.collect()
            if not tls.raw_out:
                break
            try:
                if not tls.send(conn.sock):
                    break
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                    log.debug("send to %s failed: %s", conn.peer, exc)
                self.close(conn)
                return
            if not out:
                break
        if conn.closing and not out and not tls.raw_out:
            self.close(conn)
            return
        self._set_events(conn)
        if conn.frames and not conn.busy:
            self._process(conn)
        self._unblock()

    def _unblock(self) -> None:
        """Go on with connections held back by the output bounds, once those allow it."""
        if not self._blocked or self.out_total >= MAX_TOTAL_OUT:
            return
        for conn in [c for c in self._blocked if c.out_bytes < MAX_PENDING_OUT]:
            self._blocked.discard(conn)
            self._ready.add(conn)

    @property
    def connections_open(self) -> int:
        return len(self.conns)

    @property
    def stream_connections(self) -> int:
        return len(self.streams.transports)
