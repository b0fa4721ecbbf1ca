"""Schemas through the console: subjects, versions pretty-printed, compatibility levels."""

from __future__ import annotations

import json

from chronik.console.schemas import pretty

V1 = {"type": "record", "name": "U", "fields": [{"name": "name", "type": "string"}]}
V2 = {"type": "record", "name": "U", "fields": [{"name": "name", "type": "string"},
                                                 {"name": "age", "type": "int", "default": 0}]}


def test_pretty_indents_json_and_leaves_protobuf():
    assert pretty("AVRO", json.dumps(V1)).startswith('{\n  "type"')
    assert pretty("PROTOBUF", 'syntax = "proto3";') == 'syntax = "proto3";'
    assert pretty("JSON", "not json") == "not json"


def test_subjects_and_versions(env):
    core, _console, client = env
    for v in (V1, V2):
        core.registry.register("users-value", {"schema": json.dumps(v)})
    core.registry.set_config("users-value", "FULL")
    status, out = client.get("/console/api/schemas")
    assert status == 200 and out["compatibility"] == "BACKWARD"
    (s,) = out["subjects"]
    assert (s["subject"], s["versions"], s["type"], s["compatibility"]) == ("users-value", [1, 2], "AVRO", "FULL")
    status, d = client.get("/console/api/schemas/users-value")
    assert status == 200 and d["compatibility"] == "FULL" and not d["compatibility_is_default"]
    assert [json.loads(v["schema"]) for v in d["versions"]] == [V1, V2]
    assert client.get("/console/api/schemas/nope")[0] == 404
