"""A FileDescriptorProto rendered back to `.proto` text: the canonical form of a Protobuf schema.

Confluent stores and serves Protobuf schemas as canonical `.proto` text,
whether they were registered as text or as a base64 descriptor (what
confluent-kafka's ProtobufSerializer sends), so both forms of one schema get
one id. `render()` writes that text (type names fully qualified, comments
and layout gone); the caller keeps it only after protoc compiles it back to
the same descriptor (`same_descriptor`), otherwise the schema is stored as
given.
"""

from __future__ import annotations

import json
from typing import Any

_SCALARS = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool",
    9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
}
_T_GROUP, _T_MESSAGE, _T_ENUM, _T_STRING, _T_BYTES = 10, 11, 14, 9, 12
_OPTIONAL, _REQUIRED, _REPEATED = 1, 2, 3
_MAX_FIELD = 536870911


class Unrenderable(Exception):
    """A descriptor feature this renderer does not write (groups, extensions ...)."""


def _is_repeated(field: Any) -> bool:
    rep = getattr(field, "is_repeated", None)
    return bool(rep) if rep is not None else field.label == _REPEATED


def _value(v: Any, field: Any) -> str:
    if field.type == field.TYPE_ENUM:
        return field.enum_type.values_by_number[v].name
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bytes):
        return json.dumps(v.decode("latin-1"))
    if isinstance(v, int | float):
        return repr(v)
    raise Unrenderable(f"option value {v!r}")


def _options(opts: Any, indent: str) -> list[str]:
    out = []
    for field, value in opts.ListFields():
        if field.is_extension or _is_repeated(field) or field.type == field.TYPE_MESSAGE:
            raise Unrenderable(f"option {field.name}")
        out.append(f"{indent}option {field.name} = {_value(value, field)};")
    return out


def _field_options(f: Any) -> str:
    parts = []
    if f.HasField("default_value"):
        if f.type in (_T_STRING, _T_BYTES):
            parts.append(f"default = {json.dumps(f.default_value)}")
        else:
            parts.append(f"default = {f.default_value}")
    for field, value in f.options.ListFields():
        if field.is_extension or field.type == field.TYPE_MESSAGE or _is_repeated(field):
            raise Unrenderable(f"field option {field.name}")
        parts.append(f"{field.name} = {_value(value, field)}")
    return f" [{', '.join(parts)}]" if parts else ""


def _ranges(ranges: Any, exclusive_end: bool) -> str:
    out = []
    for r in ranges:
        end = r.end - 1 if exclusive_end else r.end
        if end >= _MAX_FIELD:
            out.append(f"{r.start} to max")
        elif end == r.start:
            out.append(str(r.start))
        else:
            out.append(f"{r.start} to {end}")
    return ", ".join(out)


def _type_name(f: Any) -> str:
    if f.type in (_T_MESSAGE, _T_ENUM):
        return f.type_name
    if f.type == _T_GROUP:
        raise Unrenderable("groups")
    return _SCALARS[f.type]


def _enum(e: Any, indent: str) -> list[str]:
    out = [f"{indent}enum {e.name} {{"]
    out += _options(e.options, indent + "  ")
    for v in e.value:
        opts = ""
        if v.options.ListFields():
            opts = " [" + ", ".join(f"{fd.name} = {_value(val, fd)}" for fd, val in v.options.ListFields()) + "]"
        out.append(f"{indent}  {v.name} = {v.number}{opts};")
    if len(e.reserved_range):
        out.append(f"{indent}  reserved {_ranges(e.reserved_range, exclusive_end=False)};")
    if e.reserved_name:
        out.append(f"{indent}  reserved {', '.join(json.dumps(n) for n in e.reserved_name)};")
    out.append(f"{indent}}}")
    return out


def _message(m: Any, indent: str, proto3: bool) -> list[str]:
    out = [f"{indent}message {m.name} {{"]
    inner = indent + "  "
    out += _options(m.options, inner)
    maps = {n.name: n for n in m.nested_type if n.options.map_entry}
    real_oneofs = {f.oneof_index for f in m.field if f.HasField("oneof_index") and not f.proto3_optional}

    def field_line(f: Any, pad: str, in_oneof: bool) -> str:
        entry = maps.get(f.type_name.rsplit(".", 1)[-1]) if f.type == _T_MESSAGE and f.label == _REPEATED else None
        if entry is not None and f.type_name.endswith("." + entry.name):
            k, v = entry.field[0], entry.field[1]
            return f"{pad}map<{_type_name(k)}, {_type_name(v)}> {f.name} = {f.number}{_field_options(f)};"
        label = ""
        if not in_oneof:
            if f.label == _REPEATED:
                label = "repeated "
            elif f.label == _REQUIRED:
                label = "required "
            elif not proto3 or f.proto3_optional:
                label = "optional "
        return f"{pad}{label}{_type_name(f)} {f.name} = {f.number}{_field_options(f)};"

    done_oneofs: set[int] = set()
    for f in m.field:
        if f.HasField("oneof_index") and f.oneof_index in real_oneofs:
            idx = f.oneof_index
            if idx in done_oneofs:
                continue
            done_oneofs.add(idx)
            out.append(f"{inner}oneof {m.oneof_decl[idx].name} {{")
            out += _options(m.oneof_decl[idx].options, inner + "  ")
            out += [field_line(g, inner + "  ", True) for g in m.field
                    if g.HasField("oneof_index") and g.oneof_index == idx]
            out.append(f"{inner}}}")
        else:
            out.append(field_line(f, inner, False))
    for n in m.nested_type:
        if n.name not in maps:
            out += _message(n, inner, proto3)
    for e in m.enum_type:
        out += _enum(e, inner)
    if len(m.extension_range):
        out.append(f"{inner}extensions {_ranges(m.extension_range, exclusive_end=True)};")
    if len(m.extension):
        raise Unrenderable("extensions")
    if len(m.reserved_range):
        out.append(f"{inner}reserved {_ranges(m.reserved_range, exclusive_end=True)};")
    if m.reserved_name:
        out.append(f"{inner}reserved {', '.join(json.dumps(n) for n in m.reserved_name)};")
    out.append(f"{indent}}}")
    return out


def render(fdp: Any) -> str:
    """`.proto` text for a FileDescriptorProto; raises Unrenderable for what it does not write."""
    syntax = fdp.syntax or "proto2"
    if syntax not in ("proto2", "proto3"):
        raise Unrenderable(f"syntax {syntax}")
    proto3 = syntax == "proto3"
    out = [f'syntax = "{syntax}";']
    if fdp.package:
        out.append(f"package {fdp.package};")
    for i, dep in enumerate(fdp.dependency):
        kind = "public " if i in fdp.public_dependency else "weak " if i in fdp.weak_dependency else ""
        out.append(f"import {kind}{json.dumps(dep)};")
    out += _options(fdp.options, "")
    for m in fdp.message_type:
        out += _message(m, "", proto3)
    for e in fdp.enum_type:
        out += _enum(e, "")
    for s in fdp.service:
        out.append(f"service {s.name} {{")
        out += _options(s.options, "  ")
        for rpc in s.method:
            cs = "stream " if rpc.client_streaming else ""
            ss = "stream " if rpc.server_streaming else ""
            opts = _options(rpc.options, "    ")
            body = " {\n" + "\n".join(opts) + "\n  }" if opts else ";"
            out.append(f"  rpc {rpc.name}({cs}{rpc.input_type}) returns ({ss}{rpc.output_type}){body}")
        out.append("}")
    if len(fdp.extension):
        raise Unrenderable("extensions")
    return "\n".join(out) + "\n"


def same_descriptor(a: Any, b: Any) -> bool:
    """Equal but for the file name, json names and source info."""
    def norm(fdp: Any) -> bytes:
        c = type(fdp)()
        c.CopyFrom(fdp)
        c.ClearField("name")
        c.ClearField("source_code_info")

        def strip(msgs: Any) -> None:
            for m in msgs:
                for f in m.field:
                    f.ClearField("json_name")
                strip(m.nested_type)

        strip(c.message_type)
        return c.SerializeToString(deterministic=True)

    return norm(a) == norm(b)
