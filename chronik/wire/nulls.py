"""Nulls where Kafka's schema forbids them: found once, at decode time.

kafka-python decodes a length of -1 as None whatever the schema says, so a
request with a null array, string or bytes field that Kafka declares
non-nullable would reach a handler as None. Kafka's own parser rejects such
a request (and closes the connection), so we do the same, in one place, for
every API: `first_forbidden_null(request, version)` names the first such
field, or returns None.

The fields to look at depend only on the struct and the version, so they
are worked out once per (struct, version) and cached: a request costs one
`getattr` per non-nullable string/bytes/array field.
"""

from __future__ import annotations

from typing import Any

# (struct schema id, version) -> [(field name, kind, nullable?)]; kind: "struct" (recurse),
# "items" (an array of strings/bytes whose elements may not be null), "value"
_PLAN: dict[tuple[int, int], list[tuple[str, str, bool]]] = {}
_NULLABLE_KINDS = ("string", "bytes", "records")


def _plan(struct: Any, version: int) -> list[tuple[str, str, bool]]:
    key = (id(struct), version)
    plan = _PLAN.get(key)
    if plan is None:
        plan = []
        for name, field in struct.fields.items():
            if not field.for_version_q(version):
                continue
            nullable = bool(field.nullable_for_version_q(version))
            type_str = getattr(field, "type_str", "")
            if field.is_struct_array():
                plan.append((name, "struct", nullable))
            elif field.is_struct():
                plan.append((name, "struct", True))  # tagged structs are absent (None) by default
            elif field.is_array() and type_str[2:] in _NULLABLE_KINDS:
                plan.append((name, "items", nullable))  # Kafka's array elements are never null
            elif (field.is_array() or type_str in _NULLABLE_KINDS) and not nullable:
                plan.append((name, "value", False))
        _PLAN[key] = plan
    return plan


def first_forbidden_null(obj: Any, version: int, path: str = "") -> str | None:
    for name, kind, nullable in _plan(obj._struct, version):
        value = getattr(obj, name, None)
        if value is None:
            if nullable:
                continue
            return f"{path}{name}"
        if kind == "items":
            for i, item in enumerate(value):
                if item is None:
                    return f"{path}{name}[{i}]"
        elif kind == "struct":
            items = value if isinstance(value, list) else (value,)
            for i, item in enumerate(items):
                where = first_forbidden_null(item, version, f"{path}{name}[{i}].")
                if where is not None:
                    return where
    return None
