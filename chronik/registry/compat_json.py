"""JSON Schema compatibility: Confluent's documented difference rules.

Confluent compares an *original* and an *updated* schema and names each
difference (its `json/diff/Difference.Type`); some differences are
compatible, the rest are not. BACKWARD asks `compare(old, new)` (the new
schema validates whatever the old one accepted), FORWARD `compare(new, old)`.

Covered (names as Confluent's): TYPE_EXTENDED / TYPE_NARROWED / TYPE_CHANGED
(integer widens to number); the content model of objects — open (no
`additionalProperties`, or `true`), closed (`false`), partially open (a
schema): PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
REQUIRED_PROPERTY_(WITH_DEFAULT_)ADDED_TO_UNOPEN_CONTENT_MODEL,
PROPERTY_REMOVED_FROM_OPEN/CLOSED_CONTENT_MODEL,
PROPERTY_ADDED/REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
ADDITIONAL_PROPERTIES_ADDED/REMOVED/EXTENDED/NARROWED,
REQUIRED_ATTRIBUTE_ADDED / _WITH_DEFAULT_ADDED / _REMOVED; min/max
properties, items, length, values (added, removed, increased, decreased);
UNIQUE_ITEMS; PATTERN; MULTIPLE_OF; ENUM_ARRAY and const; anyOf/oneOf
(SUM_TYPE_EXTENDED/NARROWED) and allOf (PRODUCT_TYPE_EXTENDED/NARROWED),
branches paired by a bipartite matching of compatible ones
(COMBINED_TYPE_SUBSCHEMAS_CHANGED when some cannot be paired), a plain
schema turned into a sum type that keeps it; local `$ref`s (`#/definitions`, `#/$defs`)
and references to other registered schemas by name.

Not covered (README): `not`, `if/then/else`, `dependencies`/
`dependentRequired`/`dependentSchemas`, `patternProperties` (treated as a
partially open model only through `additionalProperties`), tuple `items`
and `additionalItems`.
"""

from __future__ import annotations

from typing import Any

COMPATIBLE = {
    "TYPE_EXTENDED", "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_EXTENDED", "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", "REQUIRED_ATTRIBUTE_REMOVED",
    "MAX_PROPERTIES_INCREASED", "MAX_PROPERTIES_REMOVED", "MIN_PROPERTIES_DECREASED", "MIN_PROPERTIES_REMOVED",
    "MAX_ITEMS_INCREASED", "MAX_ITEMS_REMOVED", "MIN_ITEMS_DECREASED", "MIN_ITEMS_REMOVED",
    "MAX_LENGTH_INCREASED", "MAX_LENGTH_REMOVED", "MIN_LENGTH_DECREASED", "MIN_LENGTH_REMOVED",
    "MAXIMUM_INCREASED", "MAXIMUM_REMOVED", "MINIMUM_DECREASED", "MINIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED", "EXCLUSIVE_MAXIMUM_REMOVED", "EXCLUSIVE_MINIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_REMOVED", "UNIQUE_ITEMS_REMOVED", "PATTERN_REMOVED", "MULTIPLE_OF_REDUCED",
    "MULTIPLE_OF_REMOVED", "ENUM_ARRAY_EXTENDED", "ENUM_ARRAY_REMOVED", "CONST_REMOVED", "SUM_TYPE_EXTENDED",
    "PRODUCT_TYPE_NARROWED", "SCHEMA_REMOVED",
}

_TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")
# keyword: (what a larger value means for the set of accepted documents: +1 more, -1 fewer), Confluent's stem
_LIMITS = {
    "maxProperties": (1, "MAX_PROPERTIES"), "minProperties": (-1, "MIN_PROPERTIES"),
    "maxItems": (1, "MAX_ITEMS"), "minItems": (-1, "MIN_ITEMS"),
    "maxLength": (1, "MAX_LENGTH"), "minLength": (-1, "MIN_LENGTH"),
    "maximum": (1, "MAXIMUM"), "minimum": (-1, "MINIMUM"),
    "exclusiveMaximum": (1, "EXCLUSIVE_MAXIMUM"), "exclusiveMinimum": (-1, "EXCLUSIVE_MINIMUM"),
}


class _Ctx:
    def __init__(self, orig_root: Any, upd_root: Any, orig_named: dict, upd_named: dict) -> None:
        self.roots = (orig_root, upd_root)
        self.named = (orig_named, upd_named)
        self.seen: set[tuple[int, int]] = set()
        self.diffs: list[tuple[str, str]] = []


def _deref(s: Any, side: int, ctx: _Ctx, depth: int = 0) -> Any:
    if s is True:
        return {}
    if s is False:
        return {"not": {}}
    if not isinstance(s, dict) or "$ref" not in s or depth > 32:
        return s
    ref = s["$ref"]
    doc_name, _, pointer = ref.partition("#")
    target = ctx.roots[side] if not doc_name else ctx.named[side].get(doc_name)
    if target is None:
        return s
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return s
        target = target[part]
    return _deref(target, side, ctx, depth + 1)


def _types(s: dict) -> set[str] | None:
    t = s.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else set(t)


def _covers(big: set[str], small: set[str]) -> bool:
    return all(t in big or (t == "integer" and "number" in big) for t in small)


def _compare(orig: Any, upd: Any, path: str, ctx: _Ctx) -> None:
    o = _deref(orig, 0, ctx)
    u = _deref(upd, 1, ctx)
    key = (id(o), id(u))
    if key in ctx.seen:
        return
    ctx.seen.add(key)
    add = ctx.diffs.append
    if not isinstance(o, dict) or not isinstance(u, dict):
        return
    if u == {} and o != {}:
        add(("TYPE_EXTENDED", path))
        return
    ot, ut = _types(o), _types(u)
    if ot != ut:
        if ut is None:
            add(("TYPE_EXTENDED", path))
        elif ot is None:
            add(("TYPE_NARROWED", path))
        elif _covers(ut, ot):
            add(("TYPE_EXTENDED", path))
        elif _covers(ot, ut):
            add(("TYPE_NARROWED", path))
        else:
            add(("TYPE_CHANGED", path))
            return
    for kw, (sign, stem) in _LIMITS.items():
        ov, uv = o.get(kw), u.get(kw)
        if isinstance(ov, bool) or isinstance(uv, bool):  # draft-4 boolean exclusives: compare as is
            if ov != uv:
                add((f"{stem}_{'ADDED' if uv else 'REMOVED'}", path))
            continue
        if ov == uv:
            continue
        if ov is None:
            add((f"{stem}_ADDED", path))
        elif uv is None:
            add((f"{stem}_REMOVED", path))
        elif (uv > ov) == (sign > 0):
            add((f"{stem}_{'INCREASED' if sign > 0 else 'DECREASED'}", path))
        else:
            add((f"{stem}_{'DECREASED' if sign > 0 else 'INCREASED'}", path))
    if o.get("uniqueItems", False) != u.get("uniqueItems", False):
        add(("UNIQUE_ITEMS_ADDED" if u.get("uniqueItems") else "UNIQUE_ITEMS_REMOVED", path))
    if o.get("pattern") != u.get("pattern"):
        if "pattern" not in u:
            add(("PATTERN_REMOVED", path))
        else:
            add(("PATTERN_ADDED" if "pattern" not in o else "PATTERN_CHANGED", path))
    om, um = o.get("multipleOf"), u.get("multipleOf")
    if om != um:
        if um is None:
            add(("MULTIPLE_OF_REMOVED", path))
        elif om is None:
            add(("MULTIPLE_OF_ADDED", path))
        elif om % um == 0:
            add(("MULTIPLE_OF_REDUCED", path))
        else:
            add(("MULTIPLE_OF_CHANGED", path))
    _enum(o, u, path, add)
    _object(o, u, path, ctx)
    if "items" in o or "items" in u:
        oi, ui = o.get("items", {}), u.get("items", {})
        if isinstance(oi, dict | bool) and isinstance(ui, dict | bool):
            _compare(oi, ui, f"{path}/items", ctx)
    _combined(o, u, path, ctx)


def _enum(o: dict, u: dict, path: str, add) -> None:
    oe, ue = o.get("enum"), u.get("enum")
    if oe != ue:
        if ue is None:
            add(("ENUM_ARRAY_REMOVED", path))
        elif oe is None:
            add(("ENUM_ARRAY_NARROWED", path))
        elif all(v in ue for v in oe):
            add(("ENUM_ARRAY_EXTENDED", path))
        elif all(v in oe for v in ue):
            add(("ENUM_ARRAY_NARROWED", path))
        else:
            add(("ENUM_ARRAY_CHANGED", path))
    if o.get("const", ...) != u.get("const", ...):
        if "const" not in u:
            add(("CONST_REMOVED", path))
        else:
            add(("CONST_ADDED" if "const" not in o else "CONST_CHANGED", path))


def _model(s: dict) -> str:
    a = s.get("additionalProperties", True)
    if a is True or a == {}:
        return "open"
    if a is False:
        return "closed"
    return "partial"


def _is_covered(ctx: _Ctx, orig: Any, upd: Any, path: str) -> bool:
    sub = _Ctx(*ctx.roots, *ctx.named)
    _compare(orig, upd, path, sub)
    return all(t in COMPATIBLE for t, _ in sub.diffs)


def _object(o: dict, u: dict, path: str, ctx: _Ctx) -> None:
    add = ctx.diffs.append
    op, up = o.get("properties", {}) or {}, u.get("properties", {}) or {}
    if not (op or up or "additionalProperties" in o or "additionalProperties" in u or "required" in o
            or "required" in u):
        return
    om, um = _model(o), _model(u)
    oreq, ureq = set(o.get("required", [])), set(u.get("required", []))
    for name, schema in up.items():
        ppath = f"{path}/properties/{name}"
        if name in op:
            _compare(op[name], schema, ppath, ctx)
            continue
        if om == "open":
            add(("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL" if schema in ({}, True)
                 else "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", ppath))
        elif om == "partial" and _is_covered(ctx, o["additionalProperties"], schema, ppath):
            add(("PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ppath))
        elif name in ureq:
            has_default = isinstance(schema, dict) and "default" in schema
            add(("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL" if has_default
                 else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", ppath))
        else:
            add(("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", ppath))
    for name, schema in op.items():
        if name in up:
            continue
        ppath = f"{path}/properties/{name}"
        if um == "open":
            add(("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", ppath))
        elif um == "closed":
            add(("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", ppath))
        elif _is_covered(ctx, schema, u["additionalProperties"], ppath):
            add(("PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ppath))
        else:
            add(("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", ppath))
    for name in sorted(ureq - oreq):
        schema = up.get(name, {})
        add(("REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED" if isinstance(schema, dict) and "default" in schema
             else "REQUIRED_ATTRIBUTE_ADDED", f"{path}/required/{name}"))
    for name in sorted(oreq - ureq):
        add(("REQUIRED_ATTRIBUTE_REMOVED", f"{path}/required/{name}"))
    if om != um:
        if um == "open":
            add(("ADDITIONAL_PROPERTIES_ADDED" if om == "closed" else "ADDITIONAL_PROPERTIES_EXTENDED",
                 f"{path}/additionalProperties"))
        elif um == "closed":
            add(("ADDITIONAL_PROPERTIES_REMOVED" if om == "open" else "ADDITIONAL_PROPERTIES_NARROWED",
                 f"{path}/additionalProperties"))
        else:
            add(("ADDITIONAL_PROPERTIES_EXTENDED" if om == "closed" else "ADDITIONAL_PROPERTIES_NARROWED",
                 f"{path}/additionalProperties"))
    elif um == "partial":
        _compare(o["additionalProperties"], u["additionalProperties"], f"{path}/additionalProperties", ctx)


def _compatible(ctx: _Ctx, orig: Any, upd: Any, path: str) -> bool:
    return _is_covered(ctx, orig, upd, path)


def _matching(ctx: _Ctx, ob: list, ub: list, path: str) -> int:
    """The largest set of (original, updated) branch pairs that are compatible (bipartite matching)."""
    ok = [[_compatible(ctx, a, b, f"{path}/{i}") for b in ub] for i, a in enumerate(ob)]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(len(ub)):
            if ok[i][j] and j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(ob)))


def _combined(o: dict, u: dict, path: str, ctx: _Ctx) -> None:
    add = ctx.diffs.append
    for kw, more, fewer in (("anyOf", "SUM_TYPE_EXTENDED", "SUM_TYPE_NARROWED"),
                            ("oneOf", "SUM_TYPE_EXTENDED", "SUM_TYPE_NARROWED"),
                            ("allOf", "PRODUCT_TYPE_EXTENDED", "PRODUCT_TYPE_NARROWED")):
        ob, ub = o.get(kw), u.get(kw)
        if ob is None and ub is None:
            continue
        kpath = f"{path}/{kw}"
        if not isinstance(ob, list | type(None)) or not isinstance(ub, list | type(None)):
            add(("COMBINED_TYPE_CHANGED", kpath))
            continue
        if ob is None:
            # a plain schema became a sum type: compatible when one branch takes what it took
            plain = {k: v for k, v in o.items() if k not in ("anyOf", "oneOf", "allOf")}
            if kw != "allOf" and any(_compatible(ctx, plain, b, f"{kpath}/{i}") for i, b in enumerate(ub)):
                add((more, kpath))
            else:
                add(("COMBINED_TYPE_CHANGED", kpath))
            continue
        if ub is None:
            plain = {k: v for k, v in u.items() if k not in ("anyOf", "oneOf", "allOf")}
            if len(ob) == 1 and _compatible(ctx, ob[0], plain, kpath):
                continue
            add(("SUM_TYPE_NARROWED" if kw != "allOf" else "COMBINED_TYPE_CHANGED", kpath))
            continue
        if len(ub) > len(ob):
            add((more, kpath))
        elif len(ub) < len(ob):
            add((fewer, kpath))
        if _matching(ctx, ob, ub, kpath) < min(len(ob), len(ub)):
            add(("COMBINED_TYPE_SUBSCHEMAS_CHANGED", kpath))


def compare(original, updated) -> list[tuple[str, str]]:
    """Every difference of `updated` from `original` (ParsedSchemas): (Confluent's type name, JSON path)."""
    ctx = _Ctx(original.obj, updated.obj, original.named, updated.named)
    _compare(original.obj, updated.obj, "#", ctx)
    return ctx.diffs


def check(reader, writer) -> list[str]:
    """Why `reader` cannot validate what `writer` accepted: the incompatible differences."""
    return [f"{{errorType:'{t}', description:'A difference of type {t} at path '{p}' is incompatible'}}"
            for t, p in compare(writer, reader) if t not in COMPATIBLE]
