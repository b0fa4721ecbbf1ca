"""Compatibility levels over the three schema types.

BACKWARD: the new schema reads data written with the old one(s);
FORWARD: the old schema(s) read data written with the new one; FULL: both.
The plain levels check the latest version only, *_TRANSITIVE every
live version of the subject.
"""

from __future__ import annotations

from chronik.registry import compat_avro, compat_json, compat_proto
from chronik.registry.schemas import AVRO, JSON, ParsedSchema

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
DEFAULT_LEVEL = "BACKWARD"

_CHECKERS = {AVRO: compat_avro.check, JSON: compat_json.check}


def can_read(reader: ParsedSchema, writer: ParsedSchema, reader_is_new: bool = True) -> list[str]:
    """Why `reader` cannot read data written with `writer` (empty: it can)."""
    if reader.schema_type != writer.schema_type:
        return [f"{{errorType:'SCHEMA_TYPE_CHANGED', description:'Incompatible because of different schema type: "
                f"{writer.schema_type} -> {reader.schema_type}'}}"]
    if reader.schema_type not in _CHECKERS:
        return compat_proto.check(reader, writer, reader_is_new)
    return _CHECKERS[reader.schema_type](reader, writer)


def check(level: str, new: ParsedSchema, previous: list[tuple[int, ParsedSchema]]) -> list[str]:
    """Messages (empty: compatible) for registering `new` after `previous` (version, schema), oldest first."""
    if level == "NONE" or not previous:
        return []
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    out: list[str] = []
    for version, old in reversed(against):
        msgs: list[str] = []
        if level.startswith(("BACKWARD", "FULL")):
            msgs += can_read(new, old)
        if level.startswith(("FORWARD", "FULL")):
            msgs += can_read(old, new, reader_is_new=False)
        out += [f"{m[:-1]}, oldSchemaVersion: {version}}}" if m.endswith("}") else m for m in msgs]
        if msgs:
            out.append(f"{{oldSchemaVersion: {version}}}")
            out.append(f"{{oldSchema: '{old.text}'}}")
            out.append(f"{{compatibility: '{level}'}}")
            break
    return out
