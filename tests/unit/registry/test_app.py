"""RegistryApp without sockets: Confluent's routes, status and error codes, bodies."""

from __future__ import annotations

import json

import pytest

from chronik.registry.app import CONTENT_TYPE, RegistryApp
from chronik.registry.store import MemoryLog, SchemaRegistry

CT = {"content-type": CONTENT_TYPE}
AVRO_V1 = json.dumps({"type": "record", "name": "User", "namespace": "ex",
                      "fields": [{"name": "name", "type": "string"}]})
AVRO_V2 = json.dumps({"type": "record", "name": "User", "namespace": "ex",
                      "fields": [{"name": "name", "type": "string"},
                                 {"name": "age", "type": "int", "default": 0}]})
AVRO_BAD_EVOLUTION = json.dumps({"type": "record", "name": "User", "namespace": "ex",
                                 "fields": [{"name": "name", "type": "int"}]})


class Client:
    def __init__(self, log: MemoryLog | None = None) -> None:
        self.log = log or MemoryLog()
        self.registry = SchemaRegistry(self.log)
        self.registry.recover()
        self.app = RegistryApp(self.registry)

    def call(self, method: str, path: str, body=None, **query):
        q = {k: [str(v).lower() if isinstance(v, bool) else str(v)] for k, v in query.items()}
        raw = b"" if body is None else json.dumps(body).encode()
        status, headers, out = self.app.handle(method, path, q, CT, raw)
        assert headers["Content-Type"] == CONTENT_TYPE
        try:
            return status, json.loads(out)
        except ValueError:
            return status, out.decode()

    def register(self, subject: str, schema: str, schema_type: str | None = None, refs=None):
        body = {"schema": schema}
        if schema_type:
            body["schemaType"] = schema_type
        if refs:
            body["references"] = refs
        return self.call("POST", f"/subjects/{subject}/versions", body)


@pytest.fixture
def c() -> Client:
    return Client()


def test_register_same_schema_same_id_and_global_ids(c):
    assert c.register("a-value", AVRO_V1) == (200, {"id": 1})
    assert c.register("a-value", json.dumps(json.loads(AVRO_V1), indent=2)) == (200, {"id": 1})
    assert c.register("b-value", AVRO_V1) == (200, {"id": 1})  # same schema in another subject: same id
    assert c.register("a-value", AVRO_V2) == (200, {"id": 2})
    assert c.call("GET", "/subjects") == (200, ["a-value", "b-value"])
    assert c.call("GET", "/subjects/a-value/versions") == (200, [1, 2])
    assert c.call("GET", "/schemas/ids/1/subjects") == (200, ["a-value", "b-value"])
    assert c.call("GET", "/schemas/ids/1/versions") == (200, [{"subject": "a-value", "version": 1},
                                                              {"subject": "b-value", "version": 1}])


def test_get_routes(c):
    c.register("s", AVRO_V1)
    status, body = c.call("GET", "/subjects/s/versions/latest")
    assert status == 200 and body == {"subject": "s", "version": 1, "id": 1, "schema": json.dumps(
        json.loads(AVRO_V1), separators=(",", ":"))}
    assert c.call("GET", "/subjects/s/versions/1/schema")[1] == json.loads(AVRO_V1)
    assert c.call("GET", "/schemas/ids/1") == (200, {"schema": body["schema"]})
    assert c.call("GET", "/schemas/ids/1/schema")[1] == json.loads(AVRO_V1)
    assert c.call("GET", "/schemas/types") == (200, ["JSON", "PROTOBUF", "AVRO"])
    assert c.call("GET", "/subjects/s/versions/1/referencedby") == (200, [])
    assert c.call("GET", "/") == (200, {})


def test_lookup(c):
    c.register("s", AVRO_V1)
    status, body = c.call("POST", "/subjects/s", {"schema": AVRO_V1})
    assert status == 200 and body["id"] == 1 and body["version"] == 1 and body["subject"] == "s"
    assert c.call("POST", "/subjects/s", {"schema": AVRO_V2}) == (404, {"error_code": 40403,
                                                                        "message": "Schema not found"})
    assert c.call("POST", "/subjects/nope", {"schema": AVRO_V1})[1]["error_code"] == 40401


@pytest.mark.parametrize("path,code,status", [
    ("/subjects/nope/versions", 40401, 404),
    ("/subjects/nope/versions/1", 40401, 404),
    ("/subjects/s/versions/9", 40402, 404),
    ("/subjects/s/versions/0", 42202, 422),
    ("/subjects/s/versions/abc", 42202, 422),
    ("/schemas/ids/99", 40403, 404),
    ("/config/s", 40408, 404),
    ("/mode/s", 40409, 404),
])
def test_not_found_codes(c, path, code, status):
    c.register("s", AVRO_V1)
    st, body = c.call("GET", path)
    assert (st, body["error_code"]) == (status, code)
    assert isinstance(body["message"], str)


def test_invalid_schemas_42201(c):
    for body in ({"schema": "{not json"},
                 {"schema": json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]})},
                 {"schema": json.dumps({"type": 12}), "schemaType": "JSON"},
                 {"schema": "syntax = \"proto3\"; message M { strng a = 1; }", "schemaType": "PROTOBUF"},
                 {"schema": "{}", "schemaType": "XML"}):
        status, out = c.call("POST", "/subjects/s/versions", body)
        assert (status, out["error_code"]) == (422, 42201), body
        assert out["message"].startswith("Invalid schema")


def test_incompatible_409_and_verbose_check(c):
    c.register("s", AVRO_V1)
    status, body = c.register("s", AVRO_BAD_EVOLUTION)
    assert status == 409 and body["error_code"] == 409
    assert "incompatible with an earlier schema" in body["message"]
    assert c.call("POST", "/compatibility/subjects/s/versions/latest", {"schema": AVRO_V2}) == (
        200, {"is_compatible": True})
    status, body = c.call("POST", "/compatibility/subjects/s/versions/latest", {"schema": AVRO_BAD_EVOLUTION},
                          verbose=True)
    assert status == 200 and body["is_compatible"] is False
    assert any("TYPE_MISMATCH" in m for m in body["messages"])
    assert c.call("POST", "/compatibility/subjects/s/versions/7", {"schema": AVRO_V2})[1]["error_code"] == 40402
    assert c.call("POST", "/compatibility/subjects/x/versions/1", {"schema": AVRO_V2})[1]["error_code"] == 40401


def test_config_per_subject_and_global(c):
    assert c.call("GET", "/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert c.call("PUT", "/config", {"compatibility": "full"}) == (200, {"compatibility": "FULL"})
    assert c.call("PUT", "/config/s", {"compatibility": "NONE"}) == (200, {"compatibility": "NONE"})
    assert c.call("GET", "/config/s") == (200, {"compatibilityLevel": "NONE"})
    c.register("s", AVRO_V1)
    assert c.register("s", AVRO_BAD_EVOLUTION)[0] == 200  # NONE
    assert c.call("PUT", "/config/s", {"compatibility": "SIDEWAYS"})[1]["error_code"] == 42203
    assert c.call("DELETE", "/config/s") == (200, {"compatibilityLevel": "NONE"})
    assert c.call("GET", "/config/s", defaultToGlobal=True) == (200, {"compatibilityLevel": "FULL"})
    assert c.call("DELETE", "/config") == (200, {"compatibilityLevel": "FULL"})
    assert c.call("GET", "/config") == (200, {"compatibilityLevel": "BACKWARD"})


def test_modes(c):
    assert c.call("GET", "/mode") == (200, {"mode": "READWRITE"})
    assert c.call("PUT", "/mode/s", {"mode": "READONLY"}) == (200, {"mode": "READONLY"})
    status, body = c.register("s", AVRO_V1)
    assert (status, body["error_code"]) == (422, 42205)
    assert c.call("DELETE", "/mode/s") == (200, {"mode": "READONLY"})
    assert c.register("s", AVRO_V1)[0] == 200
    assert c.call("PUT", "/mode", {"mode": "BOGUS"})[1]["error_code"] == 42204
    assert c.call("PUT", "/mode", {"mode": "IMPORT"})[1]["error_code"] == 42205  # subjects exist
    assert c.call("PUT", "/mode", {"mode": "IMPORT"}, force=True) == (200, {"mode": "IMPORT"})
    body = {"schema": AVRO_V2, "id": 100, "version": 5}
    assert c.call("POST", "/subjects/imported/versions", body) == (200, {"id": 100})
    assert c.call("GET", "/subjects/imported/versions") == (200, [5])
    assert c.call("PUT", "/mode", {"mode": "READWRITE"}) == (200, {"mode": "READWRITE"})
    assert c.register("fresh", json.dumps({"type": "string"})) == (200, {"id": 101})


def test_soft_and_permanent_deletes(c):
    c.register("s", AVRO_V1)
    c.register("s", AVRO_V2)
    assert c.call("DELETE", "/subjects/s/versions/1", permanent=True)[1]["error_code"] == 40407
    assert c.call("DELETE", "/subjects/s/versions/1") == (200, 1)
    assert c.call("DELETE", "/subjects/s/versions/1")[1]["error_code"] == 40406
    assert c.call("GET", "/subjects/s/versions") == (200, [2])
    assert c.call("GET", "/subjects/s/versions", deleted=True) == (200, [1, 2])
    assert c.call("GET", "/subjects/s/versions/1")[1]["error_code"] == 40402
    assert c.call("GET", "/subjects/s/versions/1", deleted=True)[1]["version"] == 1
    assert c.call("DELETE", "/subjects/s", permanent=True)[1]["error_code"] == 40405
    assert c.call("DELETE", "/subjects/s") == (200, [2])
    assert c.call("GET", "/subjects") == (200, [])
    assert c.call("GET", "/subjects", deleted=True) == (200, ["s"])
    assert c.call("GET", "/subjects/s/versions")[1]["error_code"] == 40401
    assert c.call("DELETE", "/subjects/s")[1]["error_code"] == 40404
    assert c.call("GET", "/schemas/ids/1")[0] == 200  # soft-deleted schemas stay readable by id
    assert c.call("DELETE", "/subjects/s", permanent=True) == (200, [1, 2])
    assert c.call("GET", "/subjects", deleted=True) == (200, [])
    assert c.call("GET", "/schemas/ids/1")[1]["error_code"] == 40403
    assert c.call("DELETE", "/subjects/s")[1]["error_code"] == 40401
    # ids are never reused
    assert c.register("t", json.dumps({"type": "string"})) == (200, {"id": 3})
    # re-registering after a soft delete continues the version numbers
    c.call("DELETE", "/subjects/t")
    c.register("t", json.dumps({"type": "string"}))
    assert c.call("GET", "/subjects/t/versions") == (200, [2])


def test_references_avro_and_referencedby(c):
    addr = json.dumps({"type": "record", "name": "Address", "namespace": "ex",
                       "fields": [{"name": "city", "type": "string"}]})
    assert c.register("address", addr) == (200, {"id": 1})
    user = json.dumps({"type": "record", "name": "User", "namespace": "ex",
                       "fields": [{"name": "home", "type": "ex.Address"}]})
    refs = [{"name": "ex.Address", "subject": "address", "version": 1}]
    assert c.register("user", user, refs=refs) == (200, {"id": 2})
    assert c.call("GET", "/subjects/address/versions/1/referencedby") == (200, [2])
    assert c.call("GET", "/schemas/ids/2")[1]["references"] == refs
    assert c.call("DELETE", "/subjects/address")[1]["error_code"] == 42206
    assert c.register("user2", user)[1]["error_code"] == 42201  # unresolved name without the reference
    missing = [{"name": "ex.Address", "subject": "address", "version": 9}]
    assert c.register("user3", user, refs=missing)[1]["error_code"] == 42201


def test_references_protobuf_and_json(c):
    dep = 'syntax = "proto3"; package ex; message Address { string city = 1; }'
    assert c.register("addr.proto", dep, "PROTOBUF") == (200, {"id": 1})
    main = 'syntax = "proto3"; package ex; import "addr.proto"; message User { Address home = 1; }'
    refs = [{"name": "addr.proto", "subject": "addr.proto", "version": 1}]
    assert c.register("user", main, "PROTOBUF", refs) == (200, {"id": 2})
    status, body = c.call("GET", "/schemas/ids/2", format="serialized")
    assert status == 200 and body["schemaType"] == "PROTOBUF" and " " not in body["schema"]
    jdep = json.dumps({"type": "object", "properties": {"city": {"type": "string"}}})
    assert c.register("jaddr", jdep, "JSON") == (200, {"id": 3})
    juser = json.dumps({"type": "object", "properties": {"home": {"$ref": "addr.json"}}})
    assert c.register("juser", juser, "JSON", [{"name": "addr.json", "subject": "jaddr", "version": 1}]) == (
        200, {"id": 4})


def test_state_is_rebuilt_from_the_log():
    c = Client()
    c.register("s", AVRO_V1)
    c.register("s", AVRO_V2)
    c.call("PUT", "/config/s", {"compatibility": "FULL"})
    c.call("PUT", "/mode/m", {"mode": "READONLY"})
    c.call("DELETE", "/subjects/s/versions/1")
    c.register("x", json.dumps({"type": "string"}))
    c.call("DELETE", "/subjects/x")
    c.call("DELETE", "/subjects/x", permanent=True)
    again = Client(c.log)
    for path, q in (("/subjects", {}), ("/subjects", {"deleted": True}), ("/subjects/s/versions", {}),
                    ("/subjects/s/versions", {"deleted": True}), ("/config/s", {}), ("/mode/m", {}),
                    ("/schemas/ids/2", {}), ("/schemas/ids/3", {})):
        assert again.call("GET", path, **q) == c.call("GET", path, **q), path
    assert again.register("y", json.dumps({"type": "long"})) == (200, {"id": 4})
    # the records are Confluent's: keytype keys, JSON values
    kinds = {json.loads(k)["keytype"] for k, _ in c.log.records}
    assert kinds == {"SCHEMA", "CONFIG", "MODE", "DELETE_SUBJECT", "CLEAR_SUBJECT"}


def test_http_errors(c):
    assert c.call("GET", "/nope")[0] == 404
    assert c.call("PATCH", "/subjects")[0] == 405
    status, headers, body = c.app.handle("POST", "/subjects/s/versions", {}, {"content-type": "text/xml"}, b"x")
    assert status == 415
    status, headers, body = c.app.handle("POST", "/subjects/s/versions", {}, CT, b"{bad")
    assert status == 400
    assert c.call("POST", "/subjects/s/versions", {})[1]["error_code"] == 422
