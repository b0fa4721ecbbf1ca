"""Plain functions behind the commands: record building, filters, lag, rendering."""

from __future__ import annotations

import json
from collections import namedtuple

import pytest

from chronik.cli import render
from chronik.cli.consume import make_filter
from chronik.cli.formats import Record
from chronik.cli.groups import lag_rows
from chronik.cli.produce import (
    ProduceOptions,
    make_record_builder,
    parse_acks,
    parse_compression,
    read_lines,
)
from chronik.cli.state import CliError, state
from chronik.cli.topics import log_dir_sizes, parse_config_pairs

TP = namedtuple("TP", "topic partition")


def test_builder_key_delimiter_headers_tombstone() -> None:
    opts = ProduceOptions("t", key_delimiter=b"\t", headers=[("a", b"1")], tombstone=True,
                          missing_key="null")
    build = make_record_builder(opts)
    rec = build(b"k\tv\tw")
    assert (rec.key, rec.value, rec.headers) == (b"k", b"v\tw", [("a", b"1")])
    assert build(b"nokey").key is None
    strict = make_record_builder(ProduceOptions("t", key_delimiter=b":"))
    strict(b"a:b")
    with pytest.raises(CliError, match="line 2 has no key delimiter"):
        strict(b"nokey")
    assert build(b"k\t").value is None  # empty value + --tombstone -> null


def test_builder_fixed_key_and_partition() -> None:
    build = make_record_builder(ProduceOptions("t", key=b"K", partition=2))
    rec = build(b"v")
    assert (rec.key, rec.value, rec.partition) == (b"K", b"v", 2)


def test_read_lines_strips_endings(tmp_path) -> None:
    p = tmp_path / "in.txt"
    p.write_bytes(b"a\r\nb\n\nc")
    with open(p, "rb") as f:
        assert list(read_lines(f)) == [b"a", b"b", b"", b"c"]


def test_acks_and_compression() -> None:
    assert parse_acks("all") == -1 and parse_acks("1") == 1
    assert parse_compression("ZSTD") == "zstd"
    with pytest.raises(CliError):
        parse_acks("2")
    with pytest.raises(CliError, match="compression"):
        parse_compression("brotli")


def test_filters() -> None:
    keep = make_filter("err", "^user-", ["src=^web$"])
    good = Record("t", 0, 0, 0, b"user-1", b"an error", [("src", b"web")])
    assert keep(good)
    assert not keep(Record("t", 0, 0, 0, b"user-1", b"fine", [("src", b"web")]))
    assert not keep(Record("t", 0, 0, 0, b"admin", b"error", [("src", b"web")]))
    assert not keep(Record("t", 0, 0, 0, b"user-1", b"error", [("src", b"webx")]))
    assert make_filter(None, None, []) is None
    with pytest.raises(CliError, match="regex"):
        make_filter("(", None, [])
    with pytest.raises(CliError, match="NAME=REGEX"):
        make_filter(None, None, ["nope"])


def test_lag_rows() -> None:
    a0, a1, b0 = TP("a", 0), TP("a", 1), TP("b", 0)
    rows = lag_rows({a0: 5, a1: -1}, {a0: 8, a1: 4, b0: 3}, {b0: "m1"})
    assert [(r["topic"], r["partition"], r["lag"], r["member"]) for r in rows] == [
        ("a", 0, 3, ""), ("a", 1, 4, ""), ("b", 0, 3, "m1"),
    ]


def test_config_pairs_and_log_dirs() -> None:
    assert parse_config_pairs(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(CliError):
        parse_config_pairs(["a"])
    answer = [{"broker": 0, "log_dirs": [{"error_code": 0, "topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "partition_size": 10},
                                     {"partition_index": 1, "partition_size": 5}]},
        {"name": "u", "partitions": [{"partition_index": 0, "partition_size": 99}]},
    ]}]}]
    assert log_dir_sizes(answer, "t") == {0: 10, 1: 5}


def test_render_modes(capsys) -> None:
    rows = [{"name": "a", "n": 1}, {"name": "bb", "n": None}]
    tables = [render.Table(["name", "n"], rows)]
    render.show(rows, tables, mode="json")
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == rows
    render.show(rows, tables, mode="text")
    assert capsys.readouterr().out == "a\t1\nbb\t\n"
    render.show(rows, tables, mode="yaml")
    assert "name: bb" in capsys.readouterr().out
    with pytest.raises(CliError, match="output"):
        render.show(rows, tables, mode="xml")


def test_render_default_is_text_when_piped(capsys, monkeypatch) -> None:
    monkeypatch.setattr(state, "output", None)
    assert render.output_mode() == "text"  # pytest captures stdout: not a TTY
    assert render.human_bytes(2048) == "2.0 KiB"
