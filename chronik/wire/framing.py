"""Request header parsing and response framing (no sockets here).

Requests arrive as frames (the 4-byte size prefix already removed). The
header is parsed by hand because it is tiny and on every request; the body
is decoded with kafka-python's classes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HDR = struct.Struct(">hhih")
_SIZE_CORR = struct.Struct(">ii")
_API_VERSIONS_KEY = 18


class MalformedFrame(Exception):
    """The frame cannot be parsed; the connection it came from is closed."""


@dataclass(slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int


def _skip_uvarint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise MalformedFrame("truncated varint in request header")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise MalformedFrame("varint too long in request header")


def parse_request_header(frame: memoryview, flexible_of) -> RequestHeader:
    """Parse a request header v1/v2. `flexible_of(key, version)` says which."""
    if len(frame) < _HDR.size:
        raise MalformedFrame("frame shorter than a request header")
    api_key, api_version, correlation_id, client_len = _HDR.unpack_from(frame, 0)
    pos = _HDR.size
    client_id = None
    if client_len >= 0:
        end = pos + client_len
        if end > len(frame):
            raise MalformedFrame("client id runs past the frame")
        client_id = bytes(frame[pos:end]).decode("utf-8", "replace")
        pos = end
    elif client_len != -1:
        raise MalformedFrame("negative client id length")
    if flexible_of(api_key, api_version):
        count, pos = _skip_uvarint(frame, pos)
        for _ in range(count):
            _tag, pos = _skip_uvarint(frame, pos)
            size, pos = _skip_uvarint(frame, pos)
            pos += size
            if pos > len(frame):
                raise MalformedFrame("tagged field runs past the frame")
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def peek_correlation_id(frame: memoryview) -> int | None:
    if len(frame) < 8:
        return None
    return struct.unpack_from(">i", frame, 4)[0]


def frame_response(api_key: int, correlation_id: int, flexible: bool, body) -> list:
    """Return the buffers of one response frame: size + header, then the body.

    `body` is the encoded response, or a list of buffers that make it up.

    The ApiVersions response header never carries tagged fields, whatever
    the version (clients parse it before they know our versions).
    """
    parts = body if isinstance(body, list) else [body]
    tagged = flexible and api_key != _API_VERSIONS_KEY
    size = sum(len(p) for p in parts) + 4 + (1 if tagged else 0)
    head = _SIZE_CORR.pack(size, correlation_id)
    if tagged:
        head += b"\x00"
    return [head, *parts]
