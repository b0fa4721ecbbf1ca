"""Protobuf canonical text: descriptors rendered back to .proto, one id for text and base64 forms."""

from __future__ import annotations

import base64

import pytest

from chronik.registry import schemas
from chronik.registry.proto_text import render, same_descriptor
from chronik.registry.store import MemoryLog, SchemaRegistry

RICH = '''syntax = "proto3";
package ex.v1;
import "google/protobuf/timestamp.proto";
option java_package = "com.ex";
// a comment that canonical text drops
message User {
  string name = 1;
  optional int32 age = 2;
  repeated string tags = 3;
  map<string, int64> counts = 4;
  oneof contact { string email = 5; string phone = 6; }
  google.protobuf.Timestamp at = 7;
  Kind kind = 8;
  message Inner { bytes b = 1 [deprecated = true]; }
  Inner inner = 9;
  enum Kind { KIND_UNKNOWN = 0; KIND_A = 1; reserved 5 to 9; }
  reserved 20, 30 to 40, 100 to max;
  reserved "old";
}
service Users { rpc Get(User) returns (stream User); }
'''
PROTO2 = ('syntax = "proto2"; package a; message M { required int32 x = 1 [default = 5]; '
          'optional string s = 2 [default = "hi"]; extensions 100 to 200; }')


@pytest.mark.parametrize("src", [RICH, PROTO2])
def test_render_compiles_back_to_the_same_descriptor(src):
    p = schemas.parse("PROTOBUF", src)
    text = render(p.obj)
    assert "comment" not in text
    assert same_descriptor(p.obj, schemas.parse("PROTOBUF", text).obj)
    assert p.text == text  # stored canonical


def test_text_and_base64_forms_get_one_id():
    reg = SchemaRegistry(MemoryLog())
    sid = reg.register("s", {"schema": RICH, "schemaType": "PROTOBUF"}).id
    fdp = schemas.parse("PROTOBUF", RICH).obj
    fdp.name = "users.proto"
    b64 = base64.b64encode(fdp.SerializeToString()).decode()
    assert reg.register("s", {"schema": b64, "schemaType": "PROTOBUF"}).id == sid
    assert reg.lookup("s", {"schema": b64, "schemaType": "PROTOBUF"}).version == 1
    assert reg.subjects["s"].keys() == {1}
