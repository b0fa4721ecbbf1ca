"""The loop's write path: answers are sent at once, and a full socket waits for write readiness."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from chronik.broker.server import Server


@pytest.fixture
def echo_server():
    """A loop whose dispatcher answers each frame with `size` bytes of the frame's first byte."""
    server = Server("127.0.0.1", 0, 1 << 20)
    server.listen()

    def dispatch(conn, frame):
        size = struct.unpack_from(">i", frame, 1)[0]
        return [struct.pack(">i", size), bytes(frame[:1]) * size]

    server.dispatch = dispatch

    def tick():  # select() wakes up now and then so stop() is noticed
        server.call_later(0.05, tick)

    tick()
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    yield server
    server.stop()
    loop.join(5)
    server.shutdown()


def _request(tag: int, size: int) -> bytes:
    body = bytes([tag]) + struct.pack(">i", size)
    return struct.pack(">i", len(body)) + body


def _read_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "connection closed early"
        out += chunk
    return bytes(out)


def test_small_answers_are_sent_without_watching_for_write_readiness(echo_server):
    with socket.create_connection(("127.0.0.1", echo_server.port)) as s:
        for tag in range(1, 20):
            s.sendall(_request(tag, 100))
            (size,) = struct.unpack(">i", _read_exact(s, 4))
            assert _read_exact(s, size) == bytes([tag]) * 100
        conn = next(iter(echo_server.conns.values()))
        assert not conn.writing and not conn.send_blocked


def test_answers_larger_than_the_socket_buffer_arrive_whole_and_in_order(echo_server):
    count, size = 24, 1 << 20
    with socket.create_connection(("127.0.0.1", echo_server.port)) as s:
        s.sendall(b"".join(_request(tag, size) for tag in range(1, count + 1)))
        # Nothing is read until all requests are sent: the loop's sends hit a full socket.
        for tag in range(1, count + 1):
            (got,) = struct.unpack(">i", _read_exact(s, 4))
            assert got == size
            assert _read_exact(s, got) == bytes([tag]) * size
        s.sendall(_request(99, 10))
        assert _read_exact(s, 14)[4:] == bytes([99]) * 10
