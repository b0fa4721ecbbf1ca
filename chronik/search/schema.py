"""The search index's schema: one tantivy document per record.

    partition  u64  indexed, fast, stored
    offset     i64  indexed, fast, stored
    timestamp  i64  indexed, fast, stored (epoch milliseconds, the record's)
    key        text (default tokenizer: words, lowercased), stored
    key_exact  text (raw tokenizer: the whole key, case kept) -- `term` on `key`
    value      text with positions (phrases), NOT stored
    value_json JSON (when the value parses as a JSON object): `value.user.id:42`;
               documents only, no positions or frequencies (see below)
    headers    JSON {name: [values]} (raw tokenizer), stored

A document is found by its partition and offset terms (`_id` queries, the
deletes after compaction): a third unique term per document (`uid`, schema
version 1) cost ~4 us of indexing CPU per record and its postings.

The value is not stored in the index: `_source` is read from the log, the
source of truth, at query time (and a hit whose record compaction removed
meanwhile is dropped). Storing it would roughly double the index (measured:
0.97 vs 0.52 of the log size for 1 KiB JSON records).

The value is tokenized twice, as text and as JSON; only the text keeps the
positions that phrases need. With positions on value_json too, 1,000,000
1 KiB JSON records made an index of 0.50 of the log (0.38 without), took 63
(57) us of broker CPU per record, and the pages of the merges' inputs put
the broker's RSS at 338 (279) MB. A phrase on a JSON path therefore matches
documents holding all its words in that field, in any order (chronik.search.dsl).

Values are indexed up to VALUE_CAP bytes (text and JSON); a longer value is
searchable by its first VALUE_CAP bytes only and is not parsed as JSON.
Keys are indexed up to KEY_CAP bytes, header values up to HEADER_CAP.
"""

from __future__ import annotations

from typing import Any, Protocol

import tantivy

__all__ = [
    "HEADER_CAP",
    "KEY_CAP",
    "SCHEMA_VERSION",
    "VALUE_CAP",
    "build_schema",
    "record_document",
]

SCHEMA_VERSION = 2  # a change rebuilds old indexes from the log (chronik.search.index)
VALUE_CAP = 64 * 1024
KEY_CAP = 4096
HEADER_CAP = 4096

# Query names users write -> index fields (see dsl.field_for).
NUMERIC_FIELDS = {"partition": tantivy.FieldType.Unsigned, "offset": tantivy.FieldType.Integer,
                  "timestamp": tantivy.FieldType.Integer}


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("partition", stored=True, indexed=True, fast=True)
    sb.add_integer_field("offset", stored=True, indexed=True, fast=True)
    sb.add_integer_field("timestamp", stored=True, indexed=True, fast=True)
    sb.add_text_field("key", stored=True)
    # One token per key or header value: nothing for positions or frequencies to add.
    sb.add_text_field("key_exact", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("value")
    sb.add_json_field("value_json", index_option="basic")
    sb.add_json_field("headers", stored=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


def text(b: bytes | None, cap: int) -> str | None:
    if b is None:
        return None
    return bytes(b[:cap]).decode("utf-8", "replace")


class RecordLike(Protocol):
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Any  # [(name, value bytes | None)]


# A value that may be a JSON object (leading whitespace allowed, as JSON does).
_JSON_START = frozenset(b"{ \n\t\r")


def record_document(partition: int, r: RecordLike) -> tantivy.Document:
    """One record's document, built with few calls into tantivy.

    The value goes to tantivy as a string and tantivy parses it as JSON
    (``Document.add_json`` with a str: serde_json, in Rust): no Python dict
    per record, which was 60 % of the Python-side cost (12.1 -> 4.9 us per
    1 KiB JSON record, bench in the commit that made it). Only an object is
    accepted; any other JSON, or text that does not parse, is indexed as
    text only.
    """
    doc = tantivy.Document()
    off = r.offset
    doc.add_unsigned("partition", partition)
    doc.add_integer("offset", off)
    doc.add_integer("timestamp", r.timestamp)
    k = r.key
    if k is not None:
        ks = (k if len(k) <= KEY_CAP else k[:KEY_CAP]).decode("utf-8", "replace")
        doc.add_text("key", ks)
        doc.add_text("key_exact", ks)
    v = r.value
    if v:
        if len(v) <= VALUE_CAP:
            vs = v.decode("utf-8", "replace")
            doc.add_text("value", vs)
            if v[0] in _JSON_START:
                try:
                    doc.add_json("value_json", vs)
                except ValueError:
                    pass  # not a JSON object: text only
        else:
            doc.add_text("value", v[:VALUE_CAP].decode("utf-8", "replace"))
    if r.headers:
        hs: dict[str, list[str]] = {}
        for name, hv in r.headers:
            hs.setdefault(name, []).append(text(hv, HEADER_CAP) or "")
        doc.add_json("headers", hs)
    return doc
