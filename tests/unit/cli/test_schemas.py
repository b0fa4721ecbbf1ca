"""chronik.cli.schemas without a registry: request bodies, the Protobuf message-index framing, format checks."""

from __future__ import annotations

import io
import json

import pytest

from chronik.cli.schemas import _varint_zigzag, _zigzag, check_format, schema_body
from chronik.cli.state import CliError


@pytest.mark.parametrize("n", [0, 1, -1, 63, -64, 64, 300, 2**31 - 1])
def test_zigzag_round_trip(n):
    assert _varint_zigzag(io.BytesIO(_zigzag(n))) == n


def test_first_message_index_is_one_zero_byte():
    # Confluent's framing: [0] is written as the single byte 0 (an empty index list)
    assert _zigzag(0) == b"\x00"


def test_schema_body_types_by_extension_and_references(tmp_path):
    f = tmp_path / "u.proto"
    f.write_text('syntax = "proto3"; message U {}')
    body = schema_body(f, None, ["dep.proto=dep-value:2"])
    assert body == {"schema": 'syntax = "proto3"; message U {}', "schemaType": "PROTOBUF",
                    "references": [{"name": "dep.proto", "subject": "dep-value", "version": 2}]}
    a = tmp_path / "u.avsc"
    a.write_text(json.dumps({"type": "string"}))
    assert "schemaType" not in schema_body(a, None, None)
    assert schema_body(a, "json", None)["schemaType"] == "JSON"
    with pytest.raises(CliError):
        schema_body(a, None, ["no-version"])
    with pytest.raises(CliError):
        schema_body(tmp_path / "missing.avsc", None, None)


def test_check_format():
    assert check_format("avro", "--value-format") == "avro"
    assert check_format(None, "--value-format") is None
    with pytest.raises(CliError):
        check_format("xml", "--value-format")
