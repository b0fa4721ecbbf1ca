"""Record format strings for `produce -f` and `consume -f` (kcat/rpk style), and JSON lines.

Output directives (consume): %t topic, %p partition, %o offset, %k key, %v value,
%h headers (k=v,k=v), %T timestamp in ms, %d timestamp as an ISO-8601 UTC date,
%% a literal percent. Escapes \\n \\t \\r \\\\ are understood so that a shell user can
write `-f '%k\\t%v\\n'` without $'...' quoting.

Input directives (produce): %k %v %h %p %T, separated by literal text. Each field
reads up to the next literal separator (the last one to the end of the line), so
`-f '%k:%v'` splits `a:b:c` into key `a` and value `b:c`.

Everything here is a pure function over bytes so it can be unit-tested without a
broker; values stay bytes end to end (binary records pass through untouched) and
only the JSON form decodes them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chronik.cli.state import CliError, UsageError

OUTPUT_FIELDS = frozenset("tpokvhTd")
INPUT_FIELDS = frozenset("kvhpT")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "0": "\0"}

Header = tuple[str, bytes]


@dataclass(frozen=True)
class Token:
    """A piece of a format string: either literal text or a field letter."""

    literal: str = ""
    field: str = ""


@dataclass
class Record:
    """A consumed record, independent of the client library's record type."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[Header] = ()


@dataclass
class InputRecord:
    """What one input line turns into for the producer."""

    value: bytes | None
    key: bytes | None = None
    headers: list[Header] = field(default_factory=list)
    partition: int | None = None
    timestamp: int | None = None


def unescape(text: str) -> str:
    """Turn kcat's backslash escapes (\\n, \\t, \\r, \\\\, \\0, \\xNN) into their characters."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1:i + 2] == "x":
            digits = text[i + 2:i + 4]
            if len(digits) == 2 and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(chr(int(digits, 16)))
                i += 4
                continue
            raise UsageError(f"bad escape {text[i:i + 4]!r} in {text!r}: \\x needs two hex digits")
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPES:
            out.append(ESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_format(fmt: str, allowed: frozenset[str]) -> list[Token]:
    """Split a format string into literal and field tokens; reject unknown directives."""
    if not fmt:
        raise UsageError("empty format string")
    text = unescape(fmt)
    tokens: list[Token] = []
    lit: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            lit.append(ch)
            i += 1
            continue
        if i + 1 >= len(text):
            raise UsageError(f"bad format string {fmt!r}: dangling '%' at the end")
        nxt = text[i + 1]
        if nxt == "%":
            lit.append("%")
        elif nxt in allowed:
            if lit:
                tokens.append(Token(literal="".join(lit)))
                lit = []
            tokens.append(Token(field=nxt))
        else:
            known = " ".join(f"%{c}" for c in sorted(allowed))
            raise UsageError(f"bad format string {fmt!r}: unknown directive %{nxt} (known: {known})")
        i += 2
    if lit:
        tokens.append(Token(literal="".join(lit)))
    return tokens


# ---------------------------------------------------------------------------- output


def format_headers(headers: Sequence[Header]) -> bytes:
    return b",".join(k.encode() + b"=" + (v or b"") for k, v in headers)


def iso_time(ms: int) -> str:
    if ms < 0:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _field_bytes(rec: Record, name: str) -> bytes:
    if name == "v":
        return rec.value or b""
    if name == "k":
        return rec.key or b""
    if name == "t":
        return rec.topic.encode()
    if name == "p":
        return str(rec.partition).encode()
    if name == "o":
        return str(rec.offset).encode()
    if name == "T":
        return str(rec.timestamp).encode()
    if name == "h":
        return format_headers(rec.headers)
    if name == "d":
        return iso_time(rec.timestamp).encode()
    raise AssertionError(name)


def _text(data: bytes | None) -> tuple[str | None, bool]:
    """Bytes as JSON text; (text, True) when the bytes were not UTF-8 and got base64'd."""
    if data is None:
        return None, False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), True


def unescape_bytes(text: str) -> bytes:
    """unescape() as bytes: \\xNN is the byte NN (latin-1 keeps 0..255 as they are)."""
    out = unescape(text)
    try:
        return out.encode("latin-1") if any(0x80 <= ord(c) <= 0xFF for c in out) else out.encode()
    except UnicodeEncodeError:
        return out.encode()


def _embedded(data: bytes | None) -> object:
    """A value that is a JSON object or array, parsed; anything else: a marker to keep text."""
    if not data or data[:1] not in (b"{", b"[") and data.lstrip()[:1] not in (b"{", b"["):
        return _KEEP
    try:
        return json.loads(data)
    except ValueError:
        return _KEEP


_KEEP = object()


def record_to_json(rec: Record, raw_values: bool = True) -> dict:
    """The JSON-lines shape of a record (rpk-like). Non-UTF-8 bytes are base64 with a flag.

    Unless `raw_values`, a value that is a JSON object or array is embedded as
    such (so `jq .value.id` works); other values stay strings.
    """
    key, key_b64 = _text(rec.key)
    embedded = _KEEP if raw_values else _embedded(rec.value)
    value, value_b64 = _text(rec.value) if embedded is _KEEP else (embedded, False)
    doc: dict = {
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "timestamp": rec.timestamp,
        "key": key,
        "value": value,
        "headers": [{"key": k, "value": _text(v)[0]} for k, v in rec.headers],
    }
    if key_b64:
        doc["key_encoding"] = "base64"
    if value_b64:
        doc["value_encoding"] = "base64"
    return doc


Formatter = Callable[[Record], bytes]


def make_formatter(fmt: str, raw_values: bool = False) -> Formatter:
    """Compile an output format (or `json`) into a function Record -> bytes."""
    if fmt == "json":
        return lambda rec: json.dumps(record_to_json(rec, raw_values), ensure_ascii=False).encode() + b"\n"
    tokens = parse_format(fmt, OUTPUT_FIELDS)
    # Fast paths for the formats used most, so consuming big topics stays cheap.
    if tokens == [Token(field="v"), Token(literal="\n")]:
        return lambda rec: (rec.value or b"") + b"\n"
    parts: list[bytes | str] = [
        t.literal.encode() if t.literal else t.field for t in tokens
    ]

    def fmt_record(rec: Record) -> bytes:
        return b"".join(p if isinstance(p, bytes) else _field_bytes(rec, p) for p in parts)

    return fmt_record


# ----------------------------------------------------------------------------- input


def parse_header(text: str) -> Header:
    """`k=v` -> ("k", b"v"); the value may be empty, the key may not."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CliError(f"bad header {text!r}: expected KEY=VALUE")
    return key, value.encode()


def parse_headers_field(data: bytes) -> list[Header]:
    """The %h input field: `k=v,k2=v2` (empty means no headers)."""
    if not data:
        return []
    return [parse_header(part) for part in data.decode("utf-8", "replace").split(",")]


def _int_field(data: bytes, what: str, line: bytes) -> int:
    try:
        return int(data)
    except ValueError:
        raise CliError(f"bad {what} {data!r} in input line {line[:80]!r}") from None


LineParser = Callable[[bytes], InputRecord]


def make_line_parser(fmt: str) -> LineParser:
    """Compile an input format (or `json`) into a function line -> InputRecord."""
    if fmt == "json":
        return parse_json_line
    tokens = parse_format(fmt, INPUT_FIELDS)
    # rpk writes the record terminator into the format (`%k %v\n`): lines are
    # already split on newlines, so a trailing newline is dropped here.
    if tokens and tokens[-1].literal.endswith("\n"):
        rest = tokens[-1].literal.rstrip("\r\n")
        tokens = tokens[:-1] + ([Token(literal=rest)] if rest else [])
    if not tokens:
        raise UsageError(f"bad format string {fmt!r}: no fields")
    for a, b in zip(tokens, tokens[1:], strict=False):
        if a.field and b.field:
            raise UsageError(
                f"bad format string {fmt!r}: %{a.field}%{b.field} needs a separator between them"
            )
    enc = [(t.literal.encode(), t.field) for t in tokens]

    def parse(line: bytes) -> InputRecord:
        rec = InputRecord(value=b"")
        pos = 0
        for i, (lit, name) in enumerate(enc):
            if lit:
                if not line.startswith(lit, pos):
                    raise CliError(
                        f"input line does not match format {fmt!r}: {line[:80]!r}"
                    )
                pos += len(lit)
                continue
            nxt = enc[i + 1][0] if i + 1 < len(enc) else b""
            if nxt:
                end = line.find(nxt, pos)
                if end < 0:
                    raise CliError(
                        f"input line does not match format {fmt!r}: {line[:80]!r}"
                    )
            else:
                end = len(line)
            data = line[pos:end]
            pos = end
            if name == "v":
                rec.value = data
            elif name == "k":
                rec.key = data
            elif name == "h":
                rec.headers = parse_headers_field(data)
            elif name == "p":
                rec.partition = _int_field(data, "partition", line)
            elif name == "T":
                rec.timestamp = _int_field(data, "timestamp", line)
        return rec

    return parse


def parse_json_line(line: bytes) -> InputRecord:
    """A JSON object as written by `consume -f json` (topic/offset are ignored)."""
    try:
        doc = json.loads(line)
    except ValueError as exc:
        raise CliError(f"bad JSON input line {line[:80]!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise CliError(f"JSON input line is not an object: {line[:80]!r}")

    def as_bytes(name: str) -> bytes | None:
        val = doc.get(name)
        if val is None:
            return None
        if doc.get(f"{name}_encoding") == "base64":
            return base64.b64decode(val)
        return val.encode() if isinstance(val, str) else json.dumps(val).encode()

    headers_doc = doc.get("headers") or []
    if isinstance(headers_doc, dict):
        headers = [(str(k), str(v).encode()) for k, v in headers_doc.items()]
    else:
        headers = [(str(h["key"]), (h.get("value") or "").encode()) for h in headers_doc]
    return InputRecord(
        value=as_bytes("value"),
        key=as_bytes("key"),
        headers=headers,
        partition=doc.get("partition"),
        timestamp=doc.get("timestamp"),
    )
