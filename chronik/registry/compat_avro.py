"""Avro compatibility: the Avro specification's schema-resolution rules.

`check(reader, writer)` lists why data written with `writer` cannot be read
with `reader` (empty: it can), in the spirit of Java's SchemaCompatibility
messages that Confluent's `?verbose=true` answers carry:

- primitives match, or the writer's promotes to the reader's
  (int -> long, float, double; long -> float, double; float -> double;
  string <-> bytes)
- records, enums and fixed match by unqualified name or a reader alias
- a reader field missing from the writer (by name or alias) needs a default
- an enum reader without a default must hold every writer symbol
- fixed sizes match; arrays by items, maps by values
- a writer union: every branch must resolve; a reader union: some branch must
"""

from __future__ import annotations

from typing import Any

_PRIMS = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_PROMOTE = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class _Checker:
    def __init__(self, rnamed: dict[str, Any], wnamed: dict[str, Any]) -> None:
        self.rnamed = rnamed
        self.wnamed = wnamed
        self.seen: set[tuple[str, str]] = set()
        self.errors: list[str] = []

    @staticmethod
    def resolve(s: Any, named: dict[str, Any]) -> Any:
        """A named reference to its definition; {"type": "int", ...} (logical types too) to "int"."""
        if isinstance(s, str) and s not in _PRIMS:
            return named.get(s, s)
        if isinstance(s, dict) and s.get("type") in _PRIMS:
            return s["type"]
        return s

    @staticmethod
    def kind(s: Any) -> str:
        if isinstance(s, list):
            return "union"
        if isinstance(s, str):
            return s
        t = s.get("type")
        return t if isinstance(t, str) else "union"

    def err(self, kind: str, path: str, detail: str) -> None:
        self.errors.append(f"{{errorType:'{kind}', description:'{detail}', path:'{path or '/'}'}}")

    def compatible(self, reader: Any, writer: Any, path: str) -> bool:
        before = len(self.errors)
        self.check(reader, writer, path)
        ok = len(self.errors) == before
        del self.errors[before:]
        return ok

    def check(self, reader: Any, writer: Any, path: str) -> None:
        r = self.resolve(reader, self.rnamed)
        w = self.resolve(writer, self.wnamed)
        rk, wk = self.kind(r), self.kind(w)
        if wk == "union":
            for i, branch in enumerate(w):
                self.check(r, branch, f"{path}/{i}")
            return
        if rk == "union":
            if not any(self.compatible(b, w, path) for b in r):
                self.err("MISSING_UNION_BRANCH", path,
                         f"The new schema is missing a type inside a union field at path '{path or '/'}'; "
                         f"reader union lacks {wk}")
            return
        if rk in _PRIMS and wk in _PRIMS:
            if rk != wk and rk not in _PROMOTE.get(wk, ()):
                self.err("TYPE_MISMATCH", path,
                         f"The type (path '{path or '/'}') of a field in the new schema does not match with the "
                         f"old schema: reader type: {rk.upper()} not compatible with writer type: {wk.upper()}")
            return
        if rk != wk:
            self.err("TYPE_MISMATCH", path,
                     f"The type (path '{path or '/'}') of a field in the new schema does not match with the old "
                     f"schema: reader type: {rk.upper()} not compatible with writer type: {wk.upper()}")
            return
        if rk in ("record", "enum", "fixed"):
            rname, wname = r.get("name", ""), w.get("name", "")
            aliases = {_short(a) for a in r.get("aliases", [])}
            if _short(rname) != _short(wname) and _short(wname) not in aliases:
                self.err("NAME_MISMATCH", f"{path}/name",
                         f"The name of the schema has changed (path '{path}/name'): expected: {wname}, "
                         f"found: {rname}")
                return
            key = (rname, wname)
            if rk == "record":
                if key in self.seen:  # recursive types: assume compatible on the way round
                    return
                self.seen.add(key)
                self._record(r, w, path)
            elif rk == "enum":
                missing = [s for s in w.get("symbols", []) if s not in r.get("symbols", [])]
                if missing and r.get("default") is None:
                    self.err("MISSING_ENUM_SYMBOLS", f"{path}/symbols",
                             f"The new schema is missing enum symbols '{missing}' at path '{path}/symbols' in "
                             "the old schema")
            elif r.get("size") != w.get("size"):
                self.err("FIXED_SIZE_MISMATCH", f"{path}/size",
                         f"The size of FIXED type field at path '{path}/size' in the old schema does not match "
                         f"with the new schema: expected {w.get('size')}, found {r.get('size')}")
            return
        if rk == "array":
            self.check(r["items"], w["items"], f"{path}/items")
        elif rk == "map":
            self.check(r["values"], w["values"], f"{path}/values")

    def _record(self, r: dict, w: dict, path: str) -> None:
        wfields = {f["name"]: f for f in w.get("fields", [])}
        for i, rf in enumerate(r.get("fields", [])):
            wf = wfields.get(rf["name"])
            if wf is None:
                for alias in rf.get("aliases", []):
                    if alias in wfields:
                        wf = wfields[alias]
                        break
            fpath = f"{path}/fields/{i}"
            if wf is None:
                if "default" not in rf:
                    self.err("READER_FIELD_MISSING_DEFAULT_VALUE", fpath,
                             f"The field '{rf['name']}' at path '{fpath}' in the new schema has no default value "
                             "and is missing in the old schema")
                continue
            self.check(rf["type"], wf["type"], f"{fpath}/type")


def check(reader, writer) -> list[str]:
    """Why `reader` (a ParsedSchema) cannot read data written with `writer`; empty when it can."""
    c = _Checker(_names(reader), _names(writer))
    c.check(reader.obj, writer.obj, "")
    return c.errors


def _names(p) -> dict[str, Any]:
    named = dict(p.named)
    _collect(p.obj, named)
    return named


def _collect(s: Any, named: dict[str, Any]) -> None:
    if isinstance(s, list):
        for b in s:
            _collect(b, named)
    elif isinstance(s, dict):
        t = s.get("type")
        if t in ("record", "error", "enum", "fixed") and "name" in s:
            named.setdefault(s["name"], s)
        for f in s.get("fields", []) if t in ("record", "error") else ():
            _collect(f.get("type"), named)
        for k in ("items", "values"):
            if k in s:
                _collect(s[k], named)
        if isinstance(t, dict | list):
            _collect(t, named)
