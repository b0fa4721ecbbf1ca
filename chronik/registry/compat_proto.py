"""Protobuf compatibility: Confluent's documented difference rules, on FileDescriptorProtos.

Like JSON Schema, Confluent names the differences of an updated schema
from an original one (`protobuf/diff/Difference.Type`); BACKWARD is
`compare(old, new)`, FORWARD `compare(new, old)`.

Incompatible: PACKAGE_CHANGED, MESSAGE_REMOVED, FIELD_KIND_CHANGED (scalar
<-> message/enum), FIELD_SCALAR_KIND_CHANGED (outside a wire-compatible
group), FIELD_NAMED_TYPE_CHANGED, REQUIRED_FIELD_ADDED/REMOVED (proto2),
FIELD_LABEL_CHANGED of message fields, ONEOF_FIELD_REMOVED,
MULTIPLE_FIELDS_MOVED_TO_ONEOF, FIELD_MOVED_TO_EXISTING_ONEOF.
Compatible: MESSAGE_ADDED, FIELD_ADDED, FIELD_REMOVED, FIELD_NAME_CHANGED,
ENUM_* changes, ONEOF_ADDED/REMOVED, a field moved into a new oneof alone,
scalar changes inside a wire-compatible group (int32/uint32/int64/uint64/
bool, sint32/sint64, fixed32/sfixed32, fixed64/sfixed64, string/bytes),
optional <-> repeated for scalars.

Chronik's addition (README): FIELD_NUMBER_RESERVED / FIELD_NAME_RESERVED —
the updated schema gives a field a number (or name) the original reserved.
"""

from __future__ import annotations

from typing import Any

COMPATIBLE = {
    "MESSAGE_ADDED", "FIELD_ADDED", "FIELD_REMOVED", "FIELD_NAME_CHANGED", "ENUM_ADDED", "ENUM_REMOVED",
    "ENUM_CONST_ADDED", "ENUM_CONST_CHANGED", "ENUM_CONST_REMOVED", "ONEOF_ADDED", "ONEOF_REMOVED",
    "ONEOF_FIELD_ADDED", "FIELD_NUMERIC_LABEL_CHANGED", "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
    "FIELD_SCALAR_KIND_CHANGED_COMPATIBLE", "SYNTAX_VERSION_CHANGED",
}

# FieldDescriptorProto.Type numbers
_T_MESSAGE, _T_ENUM, _T_GROUP = 11, 14, 10
_T_STRING, _T_BYTES = 9, 12
_GROUPS = [
    {5, 13, 3, 4, 8},  # int32 uint32 int64 uint64 bool
    {17, 18},  # sint32 sint64
    {7, 15},  # fixed32 sfixed32
    {6, 16},  # fixed64 sfixed64
    {9, 12},  # string bytes
]
_LABEL_OPTIONAL, _LABEL_REQUIRED, _LABEL_REPEATED = 1, 2, 3


def _messages(fdp) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = f".{fdp.package}" if fdp.package else ""

    def walk(msgs, scope: str) -> None:
        for m in msgs:
            name = f"{scope}.{m.name}"
            out[name] = m
            walk(m.nested_type, name)

    walk(fdp.message_type, prefix)
    return out


def _enums(fdp) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = f".{fdp.package}" if fdp.package else ""
    for e in fdp.enum_type:
        out[f"{prefix}.{e.name}"] = e

    def walk(msgs, scope: str) -> None:
        for m in msgs:
            name = f"{scope}.{m.name}"
            for e in m.enum_type:
                out[f"{name}.{e.name}"] = e
            walk(m.nested_type, name)

    walk(fdp.message_type, prefix)
    return out


def _same_group(a: int, b: int) -> bool:
    return any(a in g and b in g for g in _GROUPS)


def _field_diffs(of, uf, path: str, add) -> None:
    if of.name != uf.name:
        add("FIELD_NAME_CHANGED", path)
    o_named, u_named = of.type in (_T_MESSAGE, _T_ENUM, _T_GROUP), uf.type in (_T_MESSAGE, _T_ENUM, _T_GROUP)
    if o_named != u_named or (o_named and (of.type == _T_MESSAGE) != (uf.type == _T_MESSAGE)):
        add("FIELD_KIND_CHANGED", path)
        return
    if o_named:
        if of.type_name != uf.type_name:
            add("FIELD_NAMED_TYPE_CHANGED", path)
    elif of.type != uf.type:
        add("FIELD_SCALAR_KIND_CHANGED_COMPATIBLE" if _same_group(of.type, uf.type)
            else "FIELD_SCALAR_KIND_CHANGED", path)
    if of.label != uf.label:
        if _LABEL_REQUIRED in (of.label, uf.label):
            add("REQUIRED_FIELD_ADDED" if uf.label == _LABEL_REQUIRED else "REQUIRED_FIELD_REMOVED", path)
        elif o_named and of.type == _T_MESSAGE:
            add("FIELD_LABEL_CHANGED", path)
        elif of.type in (_T_STRING, _T_BYTES):
            add("FIELD_STRING_OR_BYTES_LABEL_CHANGED", path)
        else:
            add("FIELD_NUMERIC_LABEL_CHANGED", path)


def _oneof(m, f) -> str | None:
    if f.HasField("oneof_index") and not f.proto3_optional:
        return m.oneof_decl[f.oneof_index].name
    return None


def _message_diffs(om, um, path: str, add) -> None:
    ofields = {f.number: f for f in om.field}
    ufields = {f.number: f for f in um.field}
    reserved = [(r.start, r.end) for r in om.reserved_range]  # end exclusive
    reserved_names = set(om.reserved_name)
    for num, uf in ufields.items():
        fpath = f"{path}.{uf.name}"
        if num not in ofields:
            if any(a <= num < b for a, b in reserved):
                add("FIELD_NUMBER_RESERVED", fpath)
            elif uf.name in reserved_names:
                add("FIELD_NAME_RESERVED", fpath)
            if uf.label == _LABEL_REQUIRED:
                add("REQUIRED_FIELD_ADDED", fpath)
            else:
                add("FIELD_ADDED", fpath)
            continue
        _field_diffs(ofields[num], uf, fpath, add)
    for num, of in ofields.items():
        if num not in ufields:
            add("REQUIRED_FIELD_REMOVED" if of.label == _LABEL_REQUIRED else "FIELD_REMOVED", f"{path}.{of.name}")
    # oneofs: which oneof holds each field number, before and after
    o_in = {n: _oneof(om, f) for n, f in ofields.items()}
    u_in = {n: _oneof(um, f) for n, f in ufields.items()}
    o_names = {d.name for d in om.oneof_decl}
    moved: dict[str, list[int]] = {}
    for n in ofields.keys() & ufields.keys():
        before, after = o_in[n], u_in[n]
        if before == after:
            continue
        if before is not None:
            add("ONEOF_FIELD_REMOVED", f"{path}.{before}")
        elif after in o_names:
            add("FIELD_MOVED_TO_EXISTING_ONEOF", f"{path}.{after}")
        else:
            moved.setdefault(after, []).append(n)
    for name, nums in moved.items():
        add("MULTIPLE_FIELDS_MOVED_TO_ONEOF" if len(nums) > 1 else "ONEOF_FIELD_ADDED", f"{path}.{name}")


def compare(original, updated) -> list[tuple[str, str]]:
    """Every difference of `updated` from `original` (ParsedSchemas): (Confluent's type name, path)."""
    o, u = original.obj, updated.obj
    diffs: list[tuple[str, str]] = []

    def add(kind: str, path: str) -> None:
        diffs.append((kind, path))

    if o.package != u.package:
        add("PACKAGE_CHANGED", u.package or "#")
    if (o.syntax or "proto2") != (u.syntax or "proto2"):
        add("SYNTAX_VERSION_CHANGED", "#")
    om, um = _messages(o), _messages(u)
    if o.package != u.package:  # compare by names relative to the package
        om = {k[len(o.package) + 1:] if o.package else k: v for k, v in om.items()}
        um = {k[len(u.package) + 1:] if u.package else k: v for k, v in um.items()}
    for name, m in om.items():
        if name not in um:
            add("MESSAGE_REMOVED", name.lstrip("."))
        else:
            _message_diffs(m, um[name], name.lstrip("."), add)
    for name in um.keys() - om.keys():
        add("MESSAGE_ADDED", name.lstrip("."))
    oe, ue = _enums(o), _enums(u)
    for name, e in oe.items():
        if name not in ue:
            add("ENUM_REMOVED", name.lstrip("."))
            continue
        ov = {v.number: v.name for v in e.value}
        uv = {v.number: v.name for v in ue[name].value}
        for n in uv.keys() - ov.keys():
            add("ENUM_CONST_ADDED", f"{name.lstrip('.')}.{uv[n]}")
        for n in ov.keys() - uv.keys():
            add("ENUM_CONST_REMOVED", f"{name.lstrip('.')}.{ov[n]}")
        for n in ov.keys() & uv.keys():
            if ov[n] != uv[n]:
                add("ENUM_CONST_CHANGED", f"{name.lstrip('.')}.{uv[n]}")
    for name in ue.keys() - oe.keys():
        add("ENUM_ADDED", name.lstrip("."))
    return diffs


_RESERVED = {"FIELD_NUMBER_RESERVED", "FIELD_NAME_RESERVED"}


def check(reader, writer, reader_is_new: bool = True) -> list[str]:
    """The incompatible differences of `reader` from `writer`.

    A reserved number or name is only *reused* by the newer schema: when the
    reader is the older one (FORWARD), its field is the history the newer
    schema reserved, not a reuse.
    """
    return [f"{{errorType:'{t}', description:'A difference of type {t} at path '#/{p}' is incompatible'}}"
            for t, p in compare(writer, reader)
            if t not in COMPATIBLE and (reader_is_new or t not in _RESERVED)]
