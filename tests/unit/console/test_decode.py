"""How keys and values are shown: registry-framed Avro / JSON Schema / Protobuf decoded, JSON, text, bytes."""

from __future__ import annotations

import base64
import io
import json
import struct

import fastavro
import pytest

from chronik.console.decode import MAX_TEXT, Decoder
from chronik.registry.store import MemoryLog, SchemaRegistry

AVRO = {"type": "record", "name": "User", "fields": [{"name": "name", "type": "string"},
                                                      {"name": "age", "type": "int"},
                                                      {"name": "email", "type": ["null", "string"], "default": None}]}
PROTO = 'syntax = "proto3";\npackage t;\nmessage Order {\n  string id = 1;\n  int32 qty = 2;\n}\n'


@pytest.fixture
def registry():
    return SchemaRegistry(MemoryLog())


def framed(sid: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", sid) + payload


def test_plain_fields():
    d = Decoder(None)
    assert d.field(None) is None
    f = d.field(b'{"a": [1, 2]}')
    assert (f["format"], f["json"], f["text"], f["size"]) == ("json", {"a": [1, 2]}, '{"a": [1, 2]}', 13)
    assert d.field(b"hello")["format"] == "text" and "json" not in d.field(b"hello")
    assert d.field(b"{not json")["format"] == "text"
    f = d.field(b"\xff\x00\x01")
    assert f["format"] == "binary" and f["text"] is None and base64.b64decode(f["base64"]) == b"\xff\x00\x01"
    big = d.field(b"x" * (MAX_TEXT + 10))
    assert big["truncated"] and len(big["text"]) == MAX_TEXT and big["size"] == MAX_TEXT + 10


def test_avro_through_the_registry(registry):
    sid = registry.register("users-value", {"schema": json.dumps(AVRO)}).id
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(AVRO), {"name": "alice", "age": 30, "email": None})
    f = Decoder(registry).field(framed(sid, buf.getvalue()))
    assert (f["format"], f["schema_id"], f["json"]) == ("avro", sid, {"name": "alice", "age": 30, "email": None})
    assert json.loads(f["text"]) == f["json"]


def test_json_schema_through_the_registry(registry):
    sid = registry.register("j-value", {"schemaType": "JSON", "schema": json.dumps({"type": "object"})}).id
    f = Decoder(registry).field(framed(sid, b'{"x": 1}'))
    assert (f["format"], f["json"]) == ("json-schema", {"x": 1})


def test_protobuf_through_the_registry(registry):
    from google.protobuf.message_factory import GetMessageClass

    stored = registry.register("o-value", {"schemaType": "PROTOBUF", "schema": PROTO})
    d = Decoder(registry)
    fd = d._proto_file(registry.by_id[stored.id])
    cls = GetMessageClass(fd.message_types_by_name["Order"])
    payload = b"\x00" + cls(id="o-1", qty=3).SerializeToString()  # message indexes [0]
    f = d.field(framed(stored.id, payload))
    assert (f["format"], f["json"]) == ("protobuf", {"id": "o-1", "qty": 3})


def test_a_payload_that_does_not_decode_is_shown_raw_with_the_reason(registry):
    sid = registry.register("users-value", {"schema": json.dumps(AVRO)}).id
    f = Decoder(registry).field(framed(sid, b"\x99"))
    assert "does not decode" in f["error"] and f["format"] == "binary"
    # an id the registry does not know: just bytes
    f = Decoder(registry).field(framed(4242, b"abc"))
    assert "schema_id" not in f and "error" not in f
