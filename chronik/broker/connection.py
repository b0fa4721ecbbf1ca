"""What the loop keeps per listener and per connection (and its timers); the loop is in server.py."""

from __future__ import annotations

import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

from chronik.broker.tls_stream import TlsLayer
from chronik.wire.framing import FrameDecoder


class Listener:
    """One of Kafka's listeners: NAME=PROTOCOL://HOST:PORT, and what its clients are told."""

    __slots__ = ("name", "protocol", "host", "port", "ssl_context", "sock", "advertised_host", "advertised_port")

    def __init__(self, name: str, protocol: str, host: str, port: int,
                 ssl_context: ssl.SSLContext | None = None, advertised: tuple[str, int] | None = None) -> None:
        self.name = name
        self.protocol = protocol
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.sock: socket.socket | None = None
        self.advertised_host, self.advertised_port = advertised or (None, 0)

    @property
    def endpoint(self) -> tuple[str, int]:
        host = self.advertised_host or (self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1")
        return host, self.advertised_port or self.port


class Connection:
    __slots__ = (
        "sock", "peer", "fd", "decoder", "frames", "queued_bytes", "out", "out_bytes", "busy", "closed",
        "reading", "writing", "conn_id", "ip", "listener", "sec", "tls", "closing", "send_blocked", "held",
    )

    def __init__(self, sock: socket.socket, peer: Any, conn_id: int, decoder: FrameDecoder,
                 listener: Listener | None = None) -> None:
        self.sock = sock
        self.peer = peer
        self.ip = peer[0] if isinstance(peer, tuple) else str(peer)
        self.fd = sock.fileno()
        self.decoder = decoder
        self.frames: deque[bytearray] = deque()
        self.queued_bytes = 0
        self.out: deque[memoryview] = deque()
        self.out_bytes = 0
        self.busy = False  # a deferred answer is outstanding
        # Answers in request order behind a pipelined deferred one: [buffers], or [None] while pending.
        self.held: deque[list] = deque()
        self.closed = False
        self.reading = True
        self.writing = False
        # The socket refused bytes (EAGAIN or a partial send): only then is write
        # readiness worth watching; answers are otherwise sent straight away.
        self.send_blocked = False
        self.conn_id = conn_id
        self.listener = listener
        self.sec: Any = None  # the security session (chronik.security.session.Session)
        self.tls: TlsLayer | None = None
        self.closing = False  # close once what is queued is sent


class Timer:
    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
