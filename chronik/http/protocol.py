"""HTTP/1.1 on one connection, sans-IO, with h11: bytes in, bytes out.

`HttpConnection` is a `StreamProtocol` of the server's extra listeners: the
loop hands it the bytes it reads and sends what it writes to its transport;
it never sees a socket. h11 keeps the protocol state (keep-alive,
pipelining, chunked bodies); this class adds the limits and the errors:

* request head larger than `max_head_bytes` -> 431 (h11's verdict), a body
  larger than `max_body_bytes` -> 413 (from Content-Length before reading
  it, or while it streams in), then the connection is closed;
* anything h11 cannot parse -> 400 with a JSON body, then close;
* one request at a time: while an answer is pending (a /metrics scrape runs
  in slices on the loop) reading is paused, so pipelined requests wait in
  the kernel, not in memory.

Their fault (bad input) answers 4xx; our bug in a route answers 500 with a
JSON body and the connection goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import h11

log = logging.getLogger("chronik.http")

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
SERVER_HEADER = b"chronik"
JOIN_LIMIT = 64 * 1024


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    body: bytes = b""
    client_host: str = ""  # the peer's address, for ACL host matching of requests made on its behalf

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None


def _peer_host(peer: Any) -> str:
    if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
        return peer[0]
    return ""


@dataclass
class Response:
    status: int
    body: bytes | list[bytes] = b""  # a list is sent chunk by chunk (no join of a large body)
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, obj: Any) -> Response:
    return Response(status, (json.dumps(obj, indent=None, separators=(",", ":")) + "\n").encode())


def error_response(status: int, message: str) -> Response:
    return json_response(status, {"error": {"status": status, "message": message}})


# An app answers a request by calling `respond` once, now or later (on the loop).
App = Callable[[Request, Callable[[Response], None]], None]


def import_h11() -> None:
    """h11 compiles its parsers' regexes when imported (10-15 ms): not at start-up, but by the
    app's warm-up after it or by the first HTTP connection, whichever comes first."""
    global h11
    if "h11" not in globals():
        import h11


class HttpConnection:
    def __init__(self, app: App, max_head_bytes: int = MAX_HEAD_BYTES,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        if "h11" not in globals():
            import_h11()
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.transport: Any = None
        self._request: Request | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._waiting = False  # an answer is pending
        self._closed = False

    # -- StreamProtocol ------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.h11.receive_data(data)
        self._advance()

    def eof_received(self) -> None:
        self.h11.receive_data(b"")
        self._advance()

    def connection_lost(self) -> None:
        self._closed = True

    # -- the state machine ------------------------------------------------------------
    def _advance(self) -> None:
        while not self._waiting and not self._closed:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                self._fail(status, str(exc) or "malformed request")
                return
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED:
                # The previous exchange is over (keep-alive): start the next one.
                if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
                    self.h11.start_next_cycle()
                    continue
                return
            if isinstance(event, h11.Request):
                self._start(event)
            elif isinstance(event, h11.Data):
                self._body_size += len(event.data)
                if self._body_size > self.max_body_bytes:
                    self._fail(413, f"request body larger than {self.max_body_bytes} bytes")
                    return
                self._body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._dispatch()
            elif isinstance(event, h11.ConnectionClosed):
                self._close()
                return

    def _start(self, event: h11.Request) -> None:
        target = event.target.decode("latin-1")
        parts = urlsplit(target)
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers]
        self._request = Request(
            method=event.method.decode("ascii", "replace"),
            target=target,
            path=parts.path or "/",
            query=parse_qs(parts.query),
            headers=headers,
            client_host=_peer_host(getattr(self.transport, "peer", None)),
        )
        self._body = []
        self._body_size = 0
        length = self._request.header("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            self._fail(413, f"request body of {length} bytes is larger than {self.max_body_bytes}")

    def _dispatch(self) -> None:
        req = self._request
        assert req is not None
        req.body = b"".join(self._body)
        self._body = []
        self._waiting = True
        self.transport.pause_reading()
        answered = False

        def respond(resp: Response) -> None:
            nonlocal answered
            if answered:
                return
            answered = True
            self._waiting = False
            if self._closed:
                return
            self._send(resp, head_only=req.method == "HEAD")
            if not self._closed:
                self.transport.resume_reading()
                self._advance()

        try:
            self.app(req, respond)
        except Exception:
            log.exception("HTTP %s %s failed", req.method, req.path)
            respond(error_response(500, "internal error (logged by the broker)"))

    def _send(self, resp: Response, head_only: bool = False, close: bool = False) -> None:
        chunks = resp.body if isinstance(resp.body, list) else [resp.body]
        headers = [
            ("content-type", resp.content_type),
            ("content-length", str(sum(len(c) for c in chunks))),
            ("server", SERVER_HEADER.decode()),
            *resp.headers,
        ]
        if close:
            headers.append(("connection", "close"))
        try:
            try:
                reason = HTTPStatus(resp.status).phrase.encode()
            except ValueError:
                reason = b""
            out = [self.h11.send(h11.Response(status_code=resp.status, headers=headers, reason=reason))]
            if not head_only:
                # The chunks themselves, not copies (h11.send would join each into new bytes).
                for c in chunks:
                    if c:
                        out += self.h11.send_with_data_passthrough(h11.Data(data=c))
            out.append(self.h11.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            log.debug("cannot answer %d in state %s", resp.status, self.h11.our_state)
            self._close()
            return
        # A small answer goes in one write (head and body sent apart meet Nagle and
        # delayed ACK: 40 ms); a large one (a /metrics scrape) is handed over as it is
        # and the transport sends it over several turns of the loop.
        if sum(map(len, out)) <= JOIN_LIMIT:
            self.transport.write(b"".join(out))
        else:
            self.transport.writelines(out)
        if self.h11.our_state is h11.MUST_CLOSE:
            self._close()

    def _fail(self, status: int, message: str) -> None:
        """Their fault: answer if the protocol still allows an answer, then close."""
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self._send(error_response(status, message), close=True)
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self.transport.close()
