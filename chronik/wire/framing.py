"""Kafka framing, sans-IO: bytes in -> whole request frames; responses -> buffers.

A Kafka connection carries frames: a 4-byte big-endian size, then that many
bytes. `FrameDecoder` is fed bytes (or lends its buffer to `recv_into`) and
hands back whole frames; it never touches a socket, so the server only moves
bytes and the rules live here with their unit tests. A frame larger than the
limit or with a negative size is a verdict (`FrameTooLarge`,
`MalformedFrame`): the connection cannot be resynchronised and is closed.

The request header is parsed by hand because it is tiny and on every
request; bodies are decoded with kafka-python's classes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from chronik.wire.encoding import skip_tagged_fields

_HDR = struct.Struct(">hhih")
_SIZE = struct.Struct(">i")
_SIZE_CORR = struct.Struct(">ii")
# Response bodies up to this size are joined with their frame header.
_JOIN_BELOW = 16 * 1024
API_VERSIONS_KEY = 18

# Buffers start small (an idle connection costs little) and grow while a
# connection's reads fill them, up to the size that takes most pipelined
# requests in one recv. A frame larger than that is collected on its own, as
# its bytes arrive: a claimed size is never allocated up front.
INITIAL_BUFFER_SIZE = 8 * 1024
READ_BUFFER_SIZE = 256 * 1024
# A large frame's buffer starts at most this big and doubles as its bytes
# arrive (bytes are received straight into it: no copy for frames up to here).
LARGE_FRAME_START = 1024 * 1024


class MalformedFrame(Exception):
    """The bytes cannot be parsed as Kafka framing; the connection is closed."""


class FrameTooLarge(MalformedFrame):
    """A frame claims more bytes than the broker accepts."""


def _always(_size: int) -> bool:
    return True


class FrameDecoder:
    """Split a byte stream into frames (the size prefix removed).

    Two ways in: `feed(data)` for anything, or the zero-copy pair
    `recv_buffer()` (a view to `recv_into`) and `received(n)`. Both return
    the frames completed by those bytes, oldest first.

    `admit(size)` is asked before a frame larger than the read buffer is
    collected (a budget shared by every connection); while it says no, the
    decoder is `waiting` and takes no more bytes, and `retry()` asks again.
    `release(size)` is told when such a frame is complete or dropped.
    """

    __slots__ = ("max_frame", "_buf", "_start", "_end", "_big", "_big_pos", "_big_size", "admit", "release",
                 "waiting", "_max_buffer")

    def __init__(self, max_frame: int, buffer_size: int = INITIAL_BUFFER_SIZE,
                 max_buffer: int = READ_BUFFER_SIZE, admit: Callable[[int], bool] = _always,
                 release: Callable[[int], None] | None = None) -> None:
        self.max_frame = max_frame
        self._buf = bytearray(buffer_size)
        self._max_buffer = max(max_buffer, buffer_size)
        self._start = 0
        self._end = 0
        self._big: bytearray | None = None  # a frame larger than the buffer, being collected
        self._big_pos = 0  # bytes of it received
        self._big_size = 0  # its claimed size
        self.admit = admit
        self.release = release
        self.waiting = False  # a large frame waits for admission

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return (self._big_pos if self._big is not None else 0) + self._end - self._start

    @property
    def capacity(self) -> int:
        """Memory held by the buffers."""
        return len(self._buf) + (len(self._big) if self._big is not None else 0)

    def recv_buffer(self) -> memoryview:
        """Where the next bytes should be received into (never empty unless `waiting`)."""
        if self.waiting:
            return memoryview(self._buf)[:0]
        if self._big is not None:
            if self._big_pos == len(self._big):
                # Full but not complete: double it (the claimed size was not allocated up front).
                grown = bytearray(min(self._big_size, 2 * len(self._big)))
                grown[:self._big_pos] = self._big
                self._big = grown
            return memoryview(self._big)[self._big_pos:]
        if self._end == len(self._buf):
            if self._start:
                # Full of the start of a frame: move it to the front.
                rest = self._buf[self._start:self._end]
                self._buf[: len(rest)] = rest
                self._start, self._end = 0, len(rest)
            else:
                self._grow()
        return memoryview(self._buf)[self._end:]

    def _grow(self) -> None:
        # A new buffer, not an in-place resize: the caller may still hold a view of the old one.
        size = len(self._buf)
        if size < self._max_buffer:
            grown = bytearray(min(2 * size, self._max_buffer))
            grown[:self._end] = self._buf[:self._end]
            self._buf = grown

    def received(self, n: int) -> list[bytearray]:
        """`n` bytes were written into the last `recv_buffer()`."""
        if self._big is not None:
            self._big_pos += n
            if self._big_pos < self._big_size:
                return []
            frame, self._big = self._big, None
            if self.release is not None:
                self.release(self._big_size)
            return [frame]
        if self._end + n == len(self._buf):
            self._end += n
            frames = self._split()
            if not frames or self._end - self._start:
                self._grow()  # reads fill the buffer: this connection is busy
            return frames
        self._end += n
        return self._split()

    def retry(self) -> list[bytearray]:
        """Ask for admission of a waiting large frame again."""
        return self._split() if self.waiting else []

    def close(self) -> None:
        """The connection is gone: give back a large frame's admission."""
        if self._big is not None and self.release is not None:
            self.release(self._big_size)
        self._big = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytearray]:
        frames: list[bytearray] = []
        view = memoryview(data)
        while view:
            buf = self.recv_buffer()
            if not buf:
                break  # waiting for admission: the rest stays with the caller
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            view = view[n:]
            frames.extend(self.received(n))
        return frames

    def _split(self) -> list[bytearray]:
        frames: list[bytearray] = []
        buf = self._buf
        start, end = self._start, self._end
        self.waiting = False
        while end - start >= 4:
            (size,) = _SIZE.unpack_from(buf, start)
            if size < 0:
                raise MalformedFrame(f"negative frame size {size}")
            if size > self.max_frame:
                raise FrameTooLarge(f"frame of {size} bytes exceeds the limit of {self.max_frame}")
            if end - start - 4 >= size:
                frames.append(buf[start + 4:start + 4 + size])
                start += 4 + size
                continue
            if size + 4 > len(buf) and end - start >= 4:
                if not self.admit(size):
                    self.waiting = True
                    break
                # Too big for the read buffer: collected on its own as it arrives.
                have = end - start - 4
                self._big = bytearray(max(have, min(size, LARGE_FRAME_START)))
                self._big[:have] = buf[start + 4:end]
                self._big_pos = have
                self._big_size = size
                start = end = 0
            break
        if start == end:
            start = end = 0
        self._start, self._end = start, end
        return frames


# -- request headers -----------------------------------------------------------------


@dataclass(slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int


def parse_request_header(frame: memoryview, flexible_of: Callable[[int, int], bool]) -> RequestHeader:
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
        try:
            pos = skip_tagged_fields(frame, pos)
        except IndexError:
            raise MalformedFrame("request header's tagged fields run past the frame") from None
        except ValueError as exc:
            raise MalformedFrame(f"request header's tagged fields: {exc}") from None
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def frame_response(api_key: int, correlation_id: int, flexible: bool, body) -> list:
    """Return the buffers of one response frame: size + header, then the body.

    `body` is the encoded response, or a list of buffers that make it up.

    The ApiVersions response header never carries tagged fields, whatever
    the version (clients parse it before they know our versions).
    """
    tagged = flexible and api_key != API_VERSIONS_KEY
    if not isinstance(body, list):
        size = len(body) + (5 if tagged else 4)
        if size <= _JOIN_BELOW:
            # One small buffer: cheaper to copy than to carry as a second iovec.
            return [b"".join((_SIZE_CORR.pack(size, correlation_id), b"\x00" if tagged else b"", body))]
        parts = [body]
    else:
        parts = body
        size = sum(len(p) for p in parts) + (5 if tagged else 4)
    head = _SIZE_CORR.pack(size, correlation_id)
    if tagged:
        head += b"\x00"
    return [head, *parts]
