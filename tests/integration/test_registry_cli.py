"""`chronik schemas ...`, `chronik produce --value-schema` and `chronik consume --value-format` against the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, free_port
from tests.integration.registry_broker import RegistryBroker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rb(tmp_path_factory):
    b = RegistryBroker(data_dir=tmp_path_factory.mktemp("reg") / "data", port=free_port())
    b.registry_port = free_port()
    b.start()
    yield b
    b.stop()
    b.kill()


def run(rb, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, CHRONIK_REGISTRY=rb.registry_url, CHRONIK_TIMEOUT_MS="3000")
    proc = subprocess.run([sys.executable, "-m", "chronik", "-b", rb.bootstrap, *args], cwd=REPO, env=env,
                          input=input.encode() if input else None, capture_output=True, timeout=60)
    if check and proc.returncode:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc


def test_schemas_commands(rb, tmp_path):
    v1 = tmp_path / "user.avsc"
    v1.write_text(json.dumps({"type": "record", "name": "User", "fields": [{"name": "name", "type": "string"}]}))
    bad = tmp_path / "bad.avsc"
    bad.write_text(json.dumps({"type": "record", "name": "User", "fields": [{"name": "name", "type": "int"}]}))
    sid = int(run(rb, "schemas", "register", "cli-value", str(v1)).stdout)
    assert sid >= 1
    assert "cli-value" in run(rb, "schemas", "list").stdout.decode().split()
    got = json.loads(run(rb, "schemas", "get", "cli-value").stdout)
    assert got["id"] == sid and got["version"] == 1
    assert run(rb, "schemas", "check", "cli-value", str(v1)).stdout.strip() == b"compatible"
    proc = run(rb, "schemas", "check", "cli-value", str(bad), check=False)
    assert proc.returncode == 1 and "TYPE_MISMATCH" in proc.stdout.decode()
    assert run(rb, "schemas", "config", "cli-value", "--set", "full").stdout.strip() == b"FULL"
    assert run(rb, "schemas", "config", "cli-value").stdout.strip() == b"FULL"
    assert run(rb, "schemas", "mode").stdout.strip() == b"READWRITE"
    proc = run(rb, "schemas", "get", "nope", check=False)
    assert proc.returncode != 0 and "40401" in proc.stderr.decode()
    assert json.loads(run(rb, "schemas", "delete", "cli-value").stdout) == [1]
    assert "cli-value" not in run(rb, "schemas", "list").stdout.decode().split()


@pytest.mark.parametrize("suffix,schema,fmt", [
    (".avsc", {"type": "record", "name": "P", "fields": [{"name": "x", "type": "int"},
                                                           {"name": "s", "type": "string"}]}, "avro"),
    (".json", {"type": "object", "properties": {"x": {"type": "integer"}, "s": {"type": "string"}}}, "json-schema"),
    (".proto", 'syntax = "proto3";\nmessage P { int32 x = 1; string s = 2; }\n', "protobuf"),
])
def test_produce_and_consume_through_the_registry(rb, tmp_path, suffix, schema, fmt):
    topic = f"cli-{fmt}"
    f = tmp_path / f"p{suffix}"
    f.write_text(schema if isinstance(schema, str) else json.dumps(schema))
    lines = [{"x": i, "s": f"v{i}"} for i in range(3)]
    run(rb, "produce", topic, "--create", "--value-schema", str(f),
        input="".join(json.dumps(x) + "\n" for x in lines))
    out = run(rb, "consume", topic, "-e", "--value-format", fmt).stdout.decode()
    assert [json.loads(line) for line in out.splitlines()] == lines
    # by id too, and the framing is what validation checks
    sid = json.loads(run(rb, "schemas", "get", f"{topic}-value").stdout)["id"]
    run(rb, "produce", topic, "--value-schema-id", str(sid), input=json.dumps({"x": 9, "s": "z"}) + "\n")
    out = run(rb, "consume", topic, "-e", "-o", "-1", "--value-format", fmt).stdout.decode()
    assert json.loads(out) == {"x": 9, "s": "z"}
