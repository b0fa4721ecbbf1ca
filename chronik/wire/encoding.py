"""Kafka's primitive encodings shared by the hand-written codecs: unsigned varints, array counts and
strings, each in its classic (fixed-width) and flexible (compact, KIP-482) form, and the reading of
varints and tagged-field sections.

The readers raise IndexError when the bytes end early and ValueError for bytes that cannot be one;
callers say which message they were reading."""

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


def read_uvarint(buf, pos: int) -> tuple[int, int]:
    """(value, position after it) of the unsigned varint at `pos`."""
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    value, shift = b & 0x7F, 7
    while True:
        pos += 1
        b = buf[pos]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos + 1
        shift += 7
        if shift > 28:
            raise ValueError("varint too long")


def skip_tagged_fields(buf, pos: int) -> int:
    """The position after the tagged-field section at `pos` (KIP-482); none of them is read."""
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise IndexError("tagged field runs past the end")
    return pos
