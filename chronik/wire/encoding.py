"""Kafka's primitive encodings shared by the hand-written codecs: unsigned varints, array counts and
strings, each in its classic (fixed-width) and flexible (compact, KIP-482) form."""

from __future__ import annotations

import struct

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


def uvarint_bytes(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def array_count(n: int, flexible: bool) -> bytes:
    return uvarint_bytes(n + 1) if flexible else _I32.pack(n)


def string_bytes(s: str | None, flexible: bool) -> bytes:
    if s is None:
        return b"\x00" if flexible else b"\xff\xff"
    raw = s.encode("utf-8")
    return (uvarint_bytes(len(raw) + 1) if flexible else _I16.pack(len(raw))) + raw
