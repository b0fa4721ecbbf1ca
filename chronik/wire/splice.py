"""Responses whose record sets go out as the buffers they were read into.

kafka-python's encoder copies every `records` field into its output
buffer, and the result is copied once more. For Fetch, that is every byte
the broker serves, twice. Instead the handler puts a 16-byte marker where
each record set goes, the response is encoded as usual (small), and the
encoding is cut at the markers: the frame goes out as the encoded pieces
with the record sets between them, each behind its real length prefix.
"""

from __future__ import annotations

import itertools
import os
import struct
from typing import Any

_PREFIX = os.urandom(12)  # per process: no client can guess it into a topic name
_counter = itertools.count()
MARKER_SIZE = 16
_OLD_PREFIX_FLEX = bytes([MARKER_SIZE + 1])  # compact bytes: uvarint(len + 1)
_OLD_PREFIX_INT32 = struct.pack(">i", MARKER_SIZE)


def new_marker() -> bytes:
    return _PREFIX + struct.pack(">I", next(_counter) & 0xFFFFFFFF)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class SplicedResponse:
    """Wraps a response object; `pieces` are (marker, record bytes) in encoding order."""

    def __init__(self, response: Any, pieces: list[tuple[bytes, Any]]) -> None:
        self.response = response
        self.pieces = pieces

    def encode(self, version: int) -> list:
        enc = bytes(self.response.encode(version=version))
        if not self.pieces:
            return [enc]
        flexible = self.response.flexible_version_q(version)
        old = _OLD_PREFIX_FLEX if flexible else _OLD_PREFIX_INT32
        view = memoryview(enc)
        out: list = []
        pos = 0
        for marker, data in self.pieces:
            at = enc.find(marker, pos)
            start = at - len(old)
            if at < 0 or start < pos or enc[start:at] != old:
                raise ValueError("record set marker not found in the encoded response")
            out.append(view[pos:start])
            out.append(_uvarint(len(data) + 1) if flexible else struct.pack(">i", len(data)))
            out.append(data)
            pos = at + MARKER_SIZE
        out.append(view[pos:])
        return out
