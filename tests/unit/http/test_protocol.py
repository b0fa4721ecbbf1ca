"""HttpConnection without sockets: bytes in, bytes out through a fake transport."""

from __future__ import annotations

import json

from chronik.http.app import Router
from chronik.http.protocol import HttpConnection, Response, json_response


class FakeTransport:
    def __init__(self) -> None:
        self.out = b""
        self.closed = False
        self.reading = True
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.out += data
        self.writes.append(data)

    def writelines(self, chunks: list[bytes]) -> None:
        for c in chunks:
            self.write(c)

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def make(max_body: int = 1024, later: list | None = None):
    router = Router()
    router.route("/hello")(lambda req, respond: respond(json_response(200, {"path": req.path, "q": req.query})))
    router.route("/echo", methods=("POST",))(lambda req, respond: respond(Response(200, req.body, "text/plain")))
    if later is not None:
        router.route("/later")(lambda req, respond: later.append(respond))
    conn = HttpConnection(router, max_body_bytes=max_body)
    t = FakeTransport()
    conn.connection_made(t)
    return conn, t


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def test_get_and_keep_alive_pipelined():
    conn, t = make()
    conn.data_received(b"GET /hello?a=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    assert t.out.count(b"HTTP/1.1 200 OK") == 2
    assert not t.closed
    first = t.out.split(b"HTTP/1.1 200 OK")[1]
    assert b'"q":{"a":["1"]}' in first


def test_a_response_is_one_write():
    # Head and body written apart meet Nagle and delayed ACK: 40 ms per keep-alive call.
    conn, t = make()
    conn.data_received(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert len(t.writes) == 1
    assert t.writes[0].startswith(b"HTTP/1.1 200 OK") and t.writes[0].endswith(b"hello")


def test_unknown_path_404_json_and_wrong_method_405():
    conn, t = make()
    conn.data_received(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(t.out) == 404
    assert json.loads(body_of(t.out))["error"]["status"] == 404
    t.out = b""
    conn.data_received(b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(t.out) == 405
    assert b"allow: GET, HEAD" in t.out


def test_malformed_request_400_json_then_close():
    conn, t = make()
    conn.data_received(b"this is not http\r\n\r\n")
    assert status_of(t.out) == 400
    assert json.loads(body_of(t.out))["error"]["status"] == 400
    assert t.closed


def test_body_over_limit_413_by_content_length():
    conn, t = make(max_body=10)
    conn.data_received(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
    assert status_of(t.out) == 413
    assert t.closed


def test_chunked_body_over_limit_413():
    conn, t = make(max_body=10)
    conn.data_received(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    conn.data_received(b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
    assert status_of(t.out) == 413
    assert t.closed


def test_head_too_large_431():
    conn, t = make()
    conn.data_received(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000)
    assert status_of(t.out) == 431
    assert t.closed


def test_post_body_echoed():
    conn, t = make()
    conn.data_received(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert status_of(t.out) == 200 and body_of(t.out) == b"hello"


def test_late_answer_pauses_reading_then_serves_the_next_request():
    later: list = []
    conn, t = make(later=later)
    conn.data_received(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    assert t.out == b"" and not t.reading
    later[0](Response(200, b"done", "text/plain"))
    assert t.reading
    assert t.out.count(b"HTTP/1.1 200 OK") == 2
    assert t.out.index(b"done") < t.out.rindex(b"HTTP/1.1 200 OK")


def test_connection_close_header_closes_after_answer():
    conn, t = make()
    conn.data_received(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(t.out) == 200
    assert t.closed


def test_route_bug_answers_500_and_keeps_the_connection():
    router = Router()

    def boom(req, respond):
        raise RuntimeError("bug")

    router.route("/boom")(boom)
    conn = HttpConnection(router)
    t = FakeTransport()
    conn.connection_made(t)
    conn.data_received(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(t.out) == 500
    assert not t.closed


def test_a_large_answer_is_handed_over_in_its_own_chunks_uncopied():
    chunks = [bytes([65 + i]) * 40_000 for i in range(5)]
    router = Router()
    router.route("/big")(lambda req, respond: respond(Response(200, list(chunks), "text/plain")))
    conn = HttpConnection(router)
    t = FakeTransport()
    conn.connection_made(t)
    conn.data_received(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(t.out) == 200
    assert body_of(t.out) == b"".join(chunks)
    assert b"content-length: 200000" in t.out.lower()
    assert all(any(w is c for w in t.writes) for c in chunks)  # the same objects: not joined, not copied
