"""TlsLayer over a real socket pair: handshake, decrypting into a caller's buffer, joined small answers, EOF."""

from __future__ import annotations

import socket
import ssl
from collections import deque
from pathlib import Path

import pytest

from chronik.broker.tls_stream import TLS_READ, TlsLayer
from chronik.cli.certs import make_certs


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    d: Path = tmp_path_factory.mktemp("certs")
    make_certs(d, [])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(d / "broker.pem"), str(d / "broker.key"))
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(str(d / "ca.pem"))
    return server, client


class Client:
    """The peer, also sans-IO, so the test controls every byte."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.inbio, self.outbio = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inbio, self.outbio, server_hostname="localhost")


def pump(tls: TlsLayer, client: Client, sock: socket.socket, peer: socket.socket) -> None:
    """Move ciphertext both ways until both sides are quiet."""
    for _ in range(20):
        if client.outbio.pending:
            peer.sendall(client.outbio.read())
        assert tls.receive(sock)
        if not tls.established:
            try:
                tls.obj.do_handshake()
                tls.established = True
            except ssl.SSLWantReadError:
                pass
        tls.collect()
        tls.send(sock)
        peer.setblocking(False)
        try:
            while data := peer.recv(1 << 20):
                client.inbio.write(data)
        except BlockingIOError:
            pass
        peer.setblocking(True)
        try:
            client.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        if tls.established and not client.outbio.pending and not tls.raw_out:
            return


@pytest.fixture()
def pair(contexts: tuple[ssl.SSLContext, ssl.SSLContext]):
    server_ctx, client_ctx = contexts
    sock, peer = socket.socketpair()
    sock.setblocking(False)
    tls, client = TlsLayer(server_ctx), Client(client_ctx)
    pump(tls, client, sock, peer)
    yield tls, client, sock, peer
    sock.close()
    peer.close()


def test_handshake_completes(pair) -> None:
    tls, client, _sock, _peer = pair
    assert tls.established
    assert client.obj.version() == tls.obj.version()


def test_records_are_decrypted_into_the_callers_buffer(pair) -> None:
    tls, client, sock, peer = pair
    payload = bytes(range(256)) * 400  # 100 KiB: seven TLS records
    client.obj.write(payload)
    peer.sendall(client.outbio.read())
    assert tls.receive(sock)
    buf = bytearray(len(payload) + 10)
    n = tls.read_into(memoryview(buf))
    assert n == len(payload)
    assert bytes(buf[:n]) == payload
    assert tls.read_into(memoryview(buf)) == 0  # nothing left: not EOF


def test_a_small_buffer_takes_part_of_a_record_and_the_rest_stays(pair) -> None:
    tls, client, sock, peer = pair
    client.obj.write(b"abcdefghij")
    peer.sendall(client.outbio.read())
    tls.receive(sock)
    buf = bytearray(4)
    assert tls.read_into(memoryview(buf)) == 4
    assert bytes(buf) == b"abcd"
    assert tls.has_input()
    rest = bytearray(16)
    assert tls.read_into(memoryview(rest)) == 6
    assert bytes(rest[:6]) == b"efghij"


def test_more_ciphertext_than_one_read_is_received_over_rounds(pair) -> None:
    tls, client, sock, peer = pair
    payload = b"z" * (3 * TLS_READ)
    client.obj.write(payload)
    peer.setblocking(False)
    ciphertext = client.outbio.read()
    sent = peer.send(ciphertext)
    assert tls.receive(sock)
    got = bytearray()
    buf = bytearray(1 << 20)
    while True:
        n = tls.read_into(memoryview(buf))
        got += buf[:max(n, 0)]
        if sent < len(ciphertext):
            sent += peer.send(ciphertext[sent:])
            tls.receive(sock)
        elif n == 0:
            break
    assert bytes(got) == payload


def test_small_answers_are_joined_and_large_ones_written_whole(pair) -> None:
    tls, client, sock, peer = pair
    out = deque(memoryview(b) for b in (b"\x00\x00\x00\x05", b"hello", b"y" * 40000, b"\x00\x00\x00\x01", b"!"))
    taken = tls.encrypt(out, 1 << 20)
    assert taken == 4 + 5 + 40000 + 4 + 1
    assert not out
    assert tls.send(sock)
    assert tls.raw_bytes == 0
    peer.setblocking(False)
    plain = bytearray()
    while True:
        try:
            client.inbio.write(peer.recv(1 << 20))
        except BlockingIOError:
            break
    try:
        while chunk := client.obj.read(1 << 20):
            plain += chunk
    except ssl.SSLWantReadError:
        pass
    assert bytes(plain) == b"\x00\x00\x00\x05hello" + b"y" * 40000 + b"\x00\x00\x00\x01!"


def test_encrypting_stops_at_the_limit(pair) -> None:
    tls, _client, _sock, _peer = pair
    out = deque(memoryview(b"q" * 50000) for _ in range(4))
    taken = tls.encrypt(out, 60000)
    assert taken == 100000  # the second answer passed the limit, the third waits
    assert len(out) == 2
    assert tls.raw_bytes >= 100000


def test_close_notify_is_eof(pair) -> None:
    tls, client, sock, peer = pair
    client.obj.write(b"last")
    try:
        client.obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    peer.sendall(client.outbio.read())
    tls.receive(sock)
    buf = bytearray(64)
    assert tls.read_into(memoryview(buf)) == 4
    assert tls.read_into(memoryview(buf)) == -1


def test_socket_eof_is_reported(pair) -> None:
    tls, _client, sock, peer = pair
    peer.shutdown(socket.SHUT_WR)
    assert tls.receive(sock) is False
