"""The compatibility table: for each level, evolutions that must pass and must fail.

Each case registers its history under NONE, then asks the registry whether
the candidate may follow it under every level (POST /compatibility/subjects/S/versions,
which checks what registering would check).
"""

from __future__ import annotations

import json

import pytest

from chronik.registry.store import MemoryLog, SchemaRegistry

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")


def rec(*fields, name="User"):
    return json.dumps({"type": "record", "name": name, "namespace": "ex", "fields": list(fields)})


def f(name, type_, **kw):
    return {"name": name, "type": type_, **kw}


def enum(*symbols):
    return {"type": "enum", "name": "Color", "symbols": list(symbols)}


def obj(props, required=(), closed=False):
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    if closed:
        s["additionalProperties"] = False
    return json.dumps(s)


def proto(body: str, package: str = "ex") -> str:
    return f'syntax = "proto3";\npackage {package};\n{body}\n'


S, INT = {"type": "string"}, {"type": "integer"}
# name, type, history (oldest first), candidate, the levels under which the candidate is compatible
CASES = [
    # -- Avro: the specification's resolution rules --------------------------------------------------------
    ("avro add field with default", "AVRO", [rec(f("a", "int"))], rec(f("a", "int"), f("b", "string", default="")),
     set(LEVELS)),
    ("avro add field without default", "AVRO", [rec(f("a", "int"))], rec(f("a", "int"), f("b", "string")),
     {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("avro remove field without default", "AVRO", [rec(f("a", "int"), f("b", "string"))], rec(f("a", "int")),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("avro remove field with default", "AVRO", [rec(f("a", "int"), f("b", "string", default=""))],
     rec(f("a", "int")), set(LEVELS)),
    ("avro change a type", "AVRO", [rec(f("a", "int"))], rec(f("a", "string")), {"NONE"}),
    ("avro promote int to long", "AVRO", [rec(f("a", "int"))], rec(f("a", "long")),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("avro promote string to bytes", "AVRO", [rec(f("a", "string"))], rec(f("a", "bytes")), set(LEVELS)),
    ("avro rename a field with an alias", "AVRO", [rec(f("a", "int"))], rec(f("b", "int", aliases=["a"])),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("avro rename a field without an alias", "AVRO", [rec(f("a", "int"))], rec(f("b", "int")),
     {"NONE"}),
    ("avro rename the record with an alias", "AVRO", [rec(f("a", "int"))],
     json.dumps({"type": "record", "name": "Person", "namespace": "ex", "aliases": ["User"],
                 "fields": [f("a", "int")]}), {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("avro add an enum symbol", "AVRO", [rec(f("c", enum("RED")))], rec(f("c", enum("RED", "BLUE"))),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("avro remove an enum symbol", "AVRO", [rec(f("c", enum("RED", "BLUE")))], rec(f("c", enum("RED"))),
     {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("avro widen to a union", "AVRO", [rec(f("a", "int"))], rec(f("a", ["null", "int"])),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    # transitive: fine against the latest version, not against the first
    ("avro transitive backward", "AVRO", [rec(f("a", "int")), rec()], rec(f("a", "string", default="")),
     {"NONE", "BACKWARD", "FORWARD", "FULL"}),
    ("avro transitive forward", "AVRO", [rec(f("a", "string", default="")), rec()], rec(f("a", "int")),
     {"NONE", "FORWARD"}),
    ("avro transitive full", "AVRO", [rec(f("a", "int", default=0)), rec()], rec(f("a", "string", default="")),
     {"NONE", "BACKWARD", "FORWARD", "FULL"}),
    # -- JSON Schema: Confluent's rules ----------------------------------------------------------------------
    ("json add an optional property (open model)", "JSON", [obj({"a": S})], obj({"a": S, "b": INT}),
     {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("json add an optional property (closed model)", "JSON", [obj({"a": S}, closed=True)],
     obj({"a": S, "b": INT}, closed=True), {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("json add a property with an empty schema (open model)", "JSON", [obj({"a": S})], obj({"a": S, "b": {}}),
     set(LEVELS)),
    ("json make a property required", "JSON", [obj({"a": S})], obj({"a": S}, required=["a"]),
     {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("json close the content model", "JSON", [obj({"a": S})], obj({"a": S}, closed=True),
     {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("json change a type", "JSON", [obj({"a": S})], obj({"a": INT}), {"NONE"}),
    ("json widen integer to number", "JSON", [obj({"a": INT})], obj({"a": {"type": "number"}}),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("json add an enum value", "JSON", [obj({"a": {"enum": ["x"]}})], obj({"a": {"enum": ["x", "y"]}}),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("json raise maxLength", "JSON", [obj({"a": {"type": "string", "maxLength": 5}})],
     obj({"a": {"type": "string", "maxLength": 10}}), {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("json add a oneOf branch", "JSON", [obj({"a": {"oneOf": [S, INT]}})],
     obj({"a": {"oneOf": [INT, S, {"type": "boolean"}]}}), {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("json turn a type into a oneOf keeping it", "JSON", [obj({"a": S})], obj({"a": {"oneOf": [S, INT]}}),
     {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE"}),
    ("json change a oneOf branch", "JSON", [obj({"a": {"oneOf": [S, INT]}})],
     obj({"a": {"oneOf": [S, {"type": "boolean"}]}}), {"NONE"}),
    # -- Protobuf: Confluent's rules ---------------------------------------------------------------------------
    ("proto add a field", "PROTOBUF", [proto("message M { int32 a = 1; }")],
     proto("message M { int32 a = 1; string b = 2; }"), set(LEVELS)),
    ("proto remove a field", "PROTOBUF", [proto("message M { int32 a = 1; string b = 2; }")],
     proto("message M { int32 a = 1; }"), set(LEVELS)),
    ("proto remove a field and reserve its number", "PROTOBUF",
     [proto("message M { int32 a = 1; string b = 2; }")], proto("message M { int32 a = 1; reserved 2; }"),
     set(LEVELS)),
    ("proto reuse a reserved number", "PROTOBUF", [proto("message M { int32 a = 1; reserved 2; }")],
     proto("message M { int32 a = 1; string c = 2; }"), {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("proto change a type", "PROTOBUF", [proto("message M { int32 a = 1; }")], proto("message M { string a = 1; }"),
     {"NONE"}),
    ("proto widen int32 to int64", "PROTOBUF", [proto("message M { int32 a = 1; }")],
     proto("message M { int64 a = 1; }"), set(LEVELS)),
    ("proto rename a field", "PROTOBUF", [proto("message M { int32 a = 1; }")], proto("message M { int32 b = 1; }"),
     set(LEVELS)),
    ("proto remove a message", "PROTOBUF", [proto("message M { int32 a = 1; }\nmessage N { int32 a = 1; }")],
     proto("message M { int32 a = 1; }"), {"NONE", "FORWARD", "FORWARD_TRANSITIVE"}),
    ("proto change the package", "PROTOBUF", [proto("message M { int32 a = 1; }")],
     proto("message M { int32 a = 1; }", package="other"), {"NONE"}),
    ("proto scalar to message", "PROTOBUF", [proto("message M { int32 a = 1; }\nmessage N { int32 x = 1; }")],
     proto("message M { N a = 1; }\nmessage N { int32 x = 1; }"), {"NONE"}),
    ("different schema types", "AVRO", [rec(f("a", "int"))], ("JSON", obj({"a": INT})), {"NONE"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("level", LEVELS)
def test_compatibility_table(case, level):
    _, schema_type, history, candidate, passes = case
    reg = SchemaRegistry(MemoryLog())
    reg.set_config(None, "NONE")
    for text in history:
        reg.register("s", {"schema": text, "schemaType": schema_type})
    reg.set_config("s", level)
    cand_type, cand = candidate if isinstance(candidate, tuple) else (schema_type, candidate)
    body = {"schema": cand, "schemaType": cand_type}
    messages = reg.check_compatibility("s", None, body)
    assert (not messages) == (level in passes), messages
    # registering decides the same way
    try:
        reg.register("s", body)
        registered = True
    except Exception as exc:
        assert getattr(exc, "status", None) == 409, exc
        registered = False
    assert registered == (level in passes)
