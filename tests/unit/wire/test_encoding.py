"""Kafka's primitive encodings, byte for byte (KIP-482 for the compact forms)."""

from __future__ import annotations

from chronik.wire.encoding import array_count, string_bytes, uvarint_bytes


def test_uvarint() -> None:
    assert uvarint_bytes(0) == b"\x00"
    assert uvarint_bytes(127) == b"\x7f"
    assert uvarint_bytes(128) == b"\x80\x01"
    assert uvarint_bytes(300) == b"\xac\x02"
    assert uvarint_bytes(2**31 - 1) == b"\xff\xff\xff\xff\x07"


def test_array_count_classic_and_compact() -> None:
    assert array_count(3, False) == b"\x00\x00\x00\x03"
    assert array_count(-1, False) == b"\xff\xff\xff\xff"
    assert array_count(3, True) == b"\x04"  # N + 1


def test_strings_classic_compact_and_null() -> None:
    assert string_bytes("héllo", False) == b"\x00\x06h\xc3\xa9llo"
    assert string_bytes("héllo", True) == b"\x07h\xc3\xa9llo"
    assert string_bytes(None, False) == b"\xff\xff"
    assert string_bytes(None, True) == b"\x00"
