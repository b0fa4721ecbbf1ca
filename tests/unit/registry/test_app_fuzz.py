"""RegistryApp under random requests: always an answer, never our bug (a 500)."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronik.registry.app import CONTENT_TYPE, RegistryApp
from chronik.registry.store import MemoryLog, SchemaRegistry

SEGMENTS = st.sampled_from(["subjects", "versions", "schemas", "ids", "config", "mode", "compatibility",
                            "latest", "schema", "referencedby", "types", "1", "2", "-1", "0", "x", "s",
                            "%2F", "99999999999"])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["schema", "schemaType", "references", "compatibility", "mode", "id", "version",
                         "name", "subject"]), inner, max_size=4),
    max_leaves=8,
)
SCHEMAS = st.sampled_from([
    json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}),
    json.dumps({"type": "string"}), "{", "", 'syntax = "proto3"; message M { int32 a = 1; }',
    json.dumps({"type": "object"}),
])


def _app() -> RegistryApp:
    reg = SchemaRegistry(MemoryLog())
    reg.recover()
    return RegistryApp(reg)


APP = _app()


@settings(max_examples=int(os.environ.get("CHRONIK_FUZZ_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
       path=st.lists(SEGMENTS, max_size=6),
       query=st.dictionaries(st.sampled_from(["deleted", "permanent", "verbose", "format", "subject", "force",
                                              "defaultToGlobal", "subjectPrefix"]),
                             st.lists(st.text(max_size=8), min_size=1, max_size=2), max_size=3),
       body=JSONISH, schema=SCHEMAS, schema_type=st.sampled_from([None, "AVRO", "JSON", "PROTOBUF", "X", 3]))
def test_random_requests_never_fail_on_our_side(method, path, query, body, schema, schema_type):
    if isinstance(body, dict) and "schema" in body:
        body["schema"] = schema
        body["schemaType"] = schema_type
    status, headers, out = APP.handle(method, "/" + "/".join(path), query, {"content-type": CONTENT_TYPE},
                                      json.dumps(body).encode())
    assert status < 500, (status, out)
    assert headers["Content-Type"] == CONTENT_TYPE
    if status >= 400:
        err = json.loads(out)
        assert isinstance(err["error_code"], int) and isinstance(err["message"], str)


ROUTES = st.sampled_from([
    ("POST", "/subjects/{s}/versions"), ("POST", "/subjects/{s}"), ("DELETE", "/subjects/{s}"),
    ("DELETE", "/subjects/{s}/versions/{v}"), ("GET", "/subjects/{s}/versions/{v}"),
    ("GET", "/subjects/{s}/versions/{v}/referencedby"), ("POST", "/compatibility/subjects/{s}/versions/{v}"),
    ("PUT", "/config/{s}"), ("PUT", "/mode/{s}"), ("DELETE", "/config/{s}"), ("DELETE", "/mode/{s}"),
    ("GET", "/schemas/ids/{v}"), ("GET", "/schemas/ids/{v}/versions"), ("PUT", "/config"), ("PUT", "/mode"),
])


@settings(max_examples=int(os.environ.get("CHRONIK_FUZZ_EXAMPLES", "600")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(route=ROUTES, subject=st.sampled_from(["a", "b", "c-value"]),
       version=st.sampled_from(["1", "2", "latest", "-1", "0", "x"]),
       query=st.dictionaries(st.sampled_from(["deleted", "permanent", "verbose", "force", "format"]),
                             st.sampled_from([["true"], ["false"], ["serialized"]]), max_size=3),
       schema=SCHEMAS, schema_type=st.sampled_from([None, "AVRO", "JSON", "PROTOBUF"]),
       level=st.sampled_from(["NONE", "BACKWARD", "FULL_TRANSITIVE", "nope"]),
       mode=st.sampled_from(["READWRITE", "READONLY", "IMPORT", "?"]),
       refs=st.sampled_from([None, [], [{"name": "x", "subject": "a", "version": 1}], "bad", [1]]))
def test_route_sequences_keep_the_registry_consistent(route, subject, version, query, schema, schema_type,
                                                      level, mode, refs):
    method, template = route
    path = template.format(s=subject, v=version)
    body = {"schema": schema, "schemaType": schema_type, "compatibility": level, "mode": mode}
    if refs is not None:
        body["references"] = refs
    status, _, out = APP.handle(method, path, query, {"content-type": CONTENT_TYPE}, json.dumps(body).encode())
    assert status < 500, (method, path, status, out)
    # the state replays to the same answers
    reg = APP.registry
    again = SchemaRegistry(reg.log)
    again.recover()
    assert {s: {n: (v.schema.id, v.deleted) for n, v in vs.items()} for s, vs in again.subjects.items()} == \
        {s: {n: (v.schema.id, v.deleted) for n, v in vs.items()} for s, vs in reg.subjects.items()}
    assert again.configs == reg.configs and again.modes == reg.modes
