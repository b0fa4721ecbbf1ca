"""How a key or value is shown: registry-framed data decoded, JSON parsed, text, or base64.

The Confluent wire format is a zero byte, a 4-byte schema id, then the
payload (Protobuf adds the message indexes as zig-zag varints). The schema
comes from the broker's own registry (`core.registry`), parsed once and
cached there; decoders (Avro readers, Protobuf message classes) are cached
here by schema id. A payload that does not decode is shown raw with the
reason, never an error of the whole page.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chronik.registry.store import SchemaRegistry

MAX_TEXT = 256 * 1024  # a larger value is shown truncated (the download has it whole)
_CACHE_LIMIT = 256


def _zigzag(buf: io.BytesIO) -> int:
    shift = result = 0
    while True:
        b = buf.read(1)
        if not b:
            raise ValueError("truncated varint in the Protobuf message indexes")
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7
        if shift > 63:
            raise ValueError("varint too long in the Protobuf message indexes")


def _jsonable(obj: Any) -> Any:
    """fastavro answers bytes, decimals, datetimes, UUIDs: make them JSON."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.decode("latin-1")
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


class Decoder:
    def __init__(self, registry: SchemaRegistry | None) -> None:
        self.registry = registry
        self._avro: dict[int, Any] = {}
        self._proto: dict[int, Any] = {}

    def field(self, data: bytes | None) -> dict[str, Any] | None:
        """How a key or value is shown: size, text (base64 if not UTF-8), format, json / schema_id / error."""
        if data is None:
            return None
        data = bytes(data)
        out: dict[str, Any] = {"size": len(data)}
        shown = data[:MAX_TEXT]
        if len(data) > MAX_TEXT:
            out["truncated"] = True
        if len(data) >= 5 and data[0] == 0 and self.registry is not None:
            sid = struct.unpack_from(">I", data, 1)[0]
            schema = self.registry.by_id.get(sid)
            if schema is not None:
                out["schema_id"] = sid
                try:
                    fmt, obj = self._registry_decode(sid, schema, data[5:])
                    out["format"], out["json"] = fmt, obj
                    out["text"] = json.dumps(obj, ensure_ascii=False)
                    out["base64"] = base64.b64encode(shown).decode()
                    return out
                except Exception as exc:  # a bad payload is shown raw, with why
                    out["error"] = f"schema {sid} ({schema.schema_type}) does not decode it: {exc}"[:500]
        try:
            text = shown.decode("utf-8")
        except UnicodeDecodeError:
            # Only bytes that are not text travel as base64: a busy tail would otherwise send every value twice.
            out["text"], out["format"] = None, "binary"
            out["base64"] = base64.b64encode(shown).decode()
            return out
        out["text"] = text
        out["format"] = "text"
        stripped = text.lstrip()
        if stripped[:1] in ("{", "[") and not out.get("truncated"):
            try:
                out["json"] = json.loads(text)
                out["format"] = "json"
            except ValueError:
                pass
        return out

    def _registry_decode(self, sid: int, schema: Any, payload: bytes) -> tuple[str, Any]:
        kind = schema.schema_type
        if kind == "AVRO":
            import fastavro

            parsed = self._cached(self._avro, sid, lambda: self.registry.parsed(schema).obj)
            return "avro", _jsonable(fastavro.schemaless_reader(io.BytesIO(payload), parsed, None))
        if kind == "PROTOBUF":
            from google.protobuf import json_format

            buf = io.BytesIO(payload)
            n = _zigzag(buf)
            indexes = [0] if n == 0 else [_zigzag(buf) for _ in range(n)]
            fd = self._cached(self._proto, sid, lambda: self._proto_file(schema))
            names = list(fd.message_types_by_name)
            if not names or not 0 <= indexes[0] < len(names):
                raise ValueError(f"message index {indexes} is not in the schema")
            desc = fd.message_types_by_name[names[indexes[0]]]
            for i in indexes[1:]:
                desc = desc.nested_types[i]
            from google.protobuf.message_factory import GetMessageClass

            msg = GetMessageClass(desc).FromString(buf.read())
            return "protobuf", json_format.MessageToDict(msg, preserving_proto_field_name=True)
        # JSON Schema: the payload is JSON text
        return "json-schema", json.loads(payload.decode("utf-8"))

    def _proto_file(self, schema: Any) -> Any:
        from google.protobuf import descriptor_pool

        p = self.registry.parsed(schema)
        pool = descriptor_pool.DescriptorPool()
        by_name = {d.name: d for d in p.deps}
        added: set[str] = set()

        def add(fdp: Any) -> None:
            if fdp.name in added:
                return
            added.add(fdp.name)
            for dep in fdp.dependency:
                if dep in by_name:
                    add(by_name[dep])
            pool.Add(fdp)

        for d in p.deps:
            add(d)
        add(p.obj)
        return pool.FindFileByName(p.obj.name)

    @staticmethod
    def _cached(cache: dict[int, Any], sid: int, make: Any) -> Any:
        got = cache.get(sid)
        if got is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            got = cache[sid] = make()
        return got
