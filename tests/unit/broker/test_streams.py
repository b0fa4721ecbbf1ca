"""StreamConnections over a real socket pair: bounded sends per turn, order kept, close after the writes."""

from __future__ import annotations

import selectors
import socket

from chronik.broker.streams import SEND_PER_TURN, StreamConnections, StreamTransport


class Recorder:
    def __init__(self) -> None:
        self.data = b""
        self.transport: StreamTransport | None = None

    def connection_made(self, transport: StreamTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        pass

    def connection_lost(self) -> None:
        pass


def make() -> tuple[StreamConnections, StreamTransport, socket.socket]:
    sel = selectors.DefaultSelector()
    streams = StreamConnections(sel, lambda delay, cb: None)
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    t = StreamTransport(streams, a, "peer")
    streams.transports.add(t)
    sel.register(a, selectors.EVENT_READ, t)
    t.protocol = Recorder()
    return streams, t, b


def drain(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    got = b""
    try:
        while chunk := peer.recv(1 << 20):
            got += chunk
    except BlockingIOError:
        pass
    return got


def test_a_large_write_goes_out_a_bounded_piece_per_turn_in_order():
    streams, t, peer = make()
    chunks = [bytes([48 + i % 10]) * 100_000 for i in range(12)]  # 1.2 MB
    t.writelines(chunks)
    first = drain(peer)
    assert 0 < len(first) <= SEND_PER_TURN
    assert t.events & selectors.EVENT_WRITE  # the rest waits for the selector
    got = first
    for _ in range(100):
        if not t.out:
            break
        streams.ready(t, selectors.EVENT_WRITE)
        got += drain(peer)
    got += drain(peer)
    assert got == b"".join(chunks)
    assert not t.events & selectors.EVENT_WRITE
    t.sock.close()
    peer.close()


def test_small_writes_go_at_once_and_close_waits_for_them():
    streams, t, peer = make()
    t.write(b"hello ")
    t.writelines([b"wor", b"", b"ld"])
    t.close()
    assert drain(peer) == b"hello world"
    assert t.lingering
    streams.close(t)
    peer.close()


def test_drop_sent_takes_whole_buffers_then_cuts_the_head():
    from collections import deque

    from chronik.broker.streams import drop_sent

    out = deque([b"abc", b"de", b"fgh"])
    assert drop_sent(out, 5) is False and list(out) == [b"fgh"]
    assert drop_sent(out, 1) is True and list(out) == [b"gh"]
    assert drop_sent(out, 0) is False and list(out) == [b"gh"]
    assert drop_sent(out, 2) is False and not out
