"""formats.py: output/input format strings and JSON lines, no broker."""

from __future__ import annotations

import json

import pytest

from chronik.cli.formats import (
    InputRecord,
    Record,
    Token,
    make_formatter,
    make_line_parser,
    parse_format,
    parse_header,
    record_to_json,
    unescape,
)
from chronik.cli.state import CliError

REC = Record("t", 2, 41, 1_700_000_000_123, b"k1", b"v1", [("h", b"x"), ("g", b"")])


def test_unescape() -> None:
    assert unescape(r"%k\t%v\n") == "%k\t%v\n"
    assert unescape(r"a\\n") == "a\\n"
    assert unescape(r"\q") == r"\q"


def test_parse_format_tokens() -> None:
    assert parse_format("%k=%v%%", frozenset("kv")) == [
        Token(field="k"), Token(literal="="), Token(field="v"), Token(literal="%"),
    ]


@pytest.mark.parametrize("bad", ["%x", "abc%", "", "%q%v"])
def test_parse_format_rejects(bad: str) -> None:
    with pytest.raises(CliError, match="format"):
        parse_format(bad, frozenset("kv"))


def test_output_all_fields() -> None:
    f = make_formatter(r"%t|%p|%o|%k|%v|%h|%T|%d\n")
    assert f(REC) == b"t|2|41|k1|v1|h=x,g=|1700000000123|2023-11-14T22:13:20.123+00:00\n"


def test_output_default_fast_path_and_nulls() -> None:
    f = make_formatter(r"%v\n")
    assert f(REC) == b"v1\n"
    assert f(Record("t", 0, 0, 0, None, None)) == b"\n"
    assert make_formatter("%k:%v")(Record("t", 0, 0, 0, None, b"\xff")) == b":\xff"


def test_json_output() -> None:
    doc = json.loads(make_formatter("json")(REC))
    assert doc == {
        "topic": "t", "partition": 2, "offset": 41, "timestamp": 1_700_000_000_123,
        "key": "k1", "value": "v1",
        "headers": [{"key": "h", "value": "x"}, {"key": "g", "value": ""}],
    }


def test_json_binary_is_base64_and_round_trips() -> None:
    rec = Record("t", 0, 0, 5, None, b"\xff\x00")
    doc = record_to_json(rec)
    assert doc["value_encoding"] == "base64" and doc["key"] is None
    back = make_line_parser("json")(json.dumps(doc).encode())
    assert back.value == b"\xff\x00" and back.key is None and back.timestamp == 5


def test_input_key_value() -> None:
    parse = make_line_parser("%k:%v")
    assert parse(b"a:b:c") == InputRecord(value=b"b:c", key=b"a")


def test_input_all_fields() -> None:
    parse = make_line_parser(r"%p\t%T\t%h\t%k\t%v")
    rec = parse(b"3\t1700000000000\ta=1,b=2\tkey\tval ue")
    assert rec.partition == 3 and rec.timestamp == 1_700_000_000_000
    assert rec.headers == [("a", b"1"), ("b", b"2")]
    assert rec.key == b"key" and rec.value == b"val ue"


def test_input_leading_literal_and_mismatch() -> None:
    parse = make_line_parser("key=%k value=%v")
    assert parse(b"key=a value=b") == InputRecord(value=b"b", key=b"a")
    with pytest.raises(CliError, match="does not match"):
        parse(b"nope")
    with pytest.raises(CliError, match="partition"):
        make_line_parser("%p %v")(b"x v")


def test_input_adjacent_fields_rejected() -> None:
    with pytest.raises(CliError, match="separator"):
        make_line_parser("%k%v")


def test_parse_header() -> None:
    assert parse_header("a=b=c") == ("a", b"b=c")
    assert parse_header("a=") == ("a", b"")
    with pytest.raises(CliError):
        parse_header("novalue")
