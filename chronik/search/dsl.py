"""Elasticsearch query DSL -> tantivy queries.

Supported: ``match_all``, ``match_none``, ``query_string`` (tantivy's query
language: terms, "phrases", AND/OR/NOT, +/-, field:value, ranges
``offset:[10 TO 20]``, ``timestamp:>=...``, JSON paths ``value.user.id:42``),
``match``, ``match_phrase``, ``term``, ``terms``, ``range`` (on timestamp,
offset and partition) and ``bool`` with
must/should/must_not/filter. Anything else is a QueryError (HTTP 400).

Field names as users write them: ``key``, ``value``, ``value.<json path>``,
``headers.<name>``, ``partition``, ``offset``, ``timestamp``. ``term`` on
``key`` matches the whole key exactly (case kept); ``match`` on it matches
words. Timestamps are epoch milliseconds, ISO-8601 strings, or ``now``,
``now-15m`` (s, m, h, d).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import tantivy

from chronik.search.schema import NUMERIC_FIELDS

__all__ = ["QueryError", "parse_time", "rewrite_query_string", "to_query"]

Occur = tantivy.Occur
Query = tantivy.Query
DEFAULT_FIELDS = ["key", "value"]
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_NOW = re.compile(r"^now(?:([+-])(\d+)([smhdw]))?$")
_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class QueryError(Exception):
    """A query the client got wrong: ES answers 400 with this type and reason."""

    def __init__(self, reason: str, type_: str = "parsing_exception") -> None:
        super().__init__(reason)
        self.reason = reason
        self.type = type_


def parse_time(v: Any) -> int:
    """Epoch ms from an int, a digit string, `now[-+]N[smhdw]` or ISO-8601 (UTC unless it says)."""
    if isinstance(v, bool):
        raise QueryError(f"not a time: {v!r}")
    if isinstance(v, int | float):
        return int(v)
    if not isinstance(v, str):
        raise QueryError(f"not a time: {v!r}")
    s = v.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    m = _NOW.match(s)
    if m:
        now = int(time.time() * 1000)
        if m.group(1):
            d = int(m.group(2)) * _UNITS[m.group(3)]
            now = now - d if m.group(1) == "-" else now + d
        return now
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"cannot parse time {v!r} (epoch ms, ISO-8601 or now-15m)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


def tokens(text: str) -> list[str]:
    """What tantivy's default tokenizer makes of text: alphanumeric runs, lowercased."""
    return [t.lower() for t in _TOKEN.findall(text) if len(t) < 40]


_FIELD_START = re.compile(r'(^|[\s(+\-!])value\.(?=[^\s:])')
_JSON_FIELD_END = re.compile(r'(value_json\.[^\s:()"]+):$')
_SLOP = re.compile(r'^~\d+')


def rewrite_query_string(q: str) -> str:
    """`value.<path>` (outside quotes) -> the JSON field `value_json.<path>`, and a phrase on
    it, `value.<path>:"a b"`, -> `(value_json.<path>:"a" AND value_json.<path>:"b")`: value_json
    keeps no positions (chronik.search.schema), all the words in the field is the closest."""
    parts = re.split(r'("(?:[^"\\]|\\.)*")', q)
    out: list[str] = []
    for i, part in enumerate(parts):
        if not i % 2:
            if i and out and out[-1].startswith("(value_json."):
                part = _SLOP.sub("", part)  # a slop means nothing without positions
            out.append(_FIELD_START.sub(r"\1value_json.", part))
            continue
        m = _JSON_FIELD_END.search(out[-1])
        toks = list(dict.fromkeys(tokens(part[1:-1])))
        if m is None or not toks:
            out.append(part)
            continue
        out[-1] = out[-1][:m.start()]
        out.append("(" + " AND ".join(f'{m.group(1)}:"{t}"' for t in toks) + ")")
    return "".join(out)


def field_for(name: str, exact: bool = False) -> str:
    if not isinstance(name, str) or not name:
        raise QueryError(f"bad field name {name!r}")
    if name == "key":
        return "key_exact" if exact else "key"
    if name in ("value", "partition", "offset", "timestamp"):
        return name
    if name.startswith("value."):
        return "value_json." + name[6:]
    if name.startswith("headers.") and len(name) > 8:
        return name
    if name == "_id":
        return "_id"
    raise QueryError(
        f"unknown field {name!r}: use key, value, value.<json path>, headers.<name>, partition, offset, timestamp",
        "query_shard_exception",
    )


def _single(body: Any, kind: str) -> tuple[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise QueryError(f"[{kind}] query needs exactly one field")
    return next(iter(body.items()))


def _list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _numeric_term(schema: tantivy.Schema, field: str, v: Any) -> tantivy.Query:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise QueryError(f"{field} needs an integer, not {v!r}")
    try:
        n = parse_time(v) if field == "timestamp" else int(v)
    except ValueError:
        raise QueryError(f"{field} needs an integer, not {v!r}") from None
    if field == "partition" and n < 0:
        return Query.empty_query()
    return Query.term_query(schema, field, n)


def _id_query(schema: tantivy.Schema, v: Any) -> tantivy.Query:
    """`_id` "<partition>-<offset>": the document with that partition and offset (no such id: none)."""
    p, _, o = str(v).partition("-")
    if not (p.isdigit() and o.isdigit()):
        return Query.empty_query()
    return Query.boolean_query([(Occur.Must, Query.term_query(schema, "partition", int(p))),
                                (Occur.Must, Query.term_query(schema, "offset", int(o)))])


def _all_words(schema: tantivy.Schema, f: str, toks: list[str]) -> tantivy.Query:
    """A phrase on a JSON path: all its words in that field, any order (value_json keeps no
    positions: chronik.search.schema)."""
    if not toks:
        return Query.empty_query()
    if len(toks) == 1:
        return Query.term_query(schema, f, toks[0])
    return Query.boolean_query([(Occur.Must, Query.term_query(schema, f, t)) for t in dict.fromkeys(toks)])


def _term(schema: tantivy.Schema, name: str, v: Any) -> tantivy.Query:
    f = field_for(name, exact=True)
    if f in NUMERIC_FIELDS:
        return _numeric_term(schema, f, v)
    if f == "_id":
        return _id_query(schema, v)
    if isinstance(v, dict | list) or v is None:
        raise QueryError(f"[term] value for {name} must be a string, number or boolean")
    if f.startswith("value_json."):
        if isinstance(v, str):
            # Text leaves are tokenized (lowercased words): a value matches by its words.
            return _all_words(schema, f, tokens(v))
        return Query.term_query(schema, f, v)
    if f == "value":
        toks = tokens(str(v))
        if len(toks) == 1:
            return Query.term_query(schema, f, toks[0])
        return Query.phrase_query(schema, f, toks) if toks else Query.empty_query()
    if f == "key":
        return Query.term_query(schema, f, str(v))
    return Query.term_query(schema, f, v if not isinstance(v, bool | int | float) else str(v))


def _match(schema: tantivy.Schema, body: Any, phrase: bool) -> tantivy.Query:
    kind = "match_phrase" if phrase else "match"
    name, spec = _single(body, kind)
    operator = "or"
    if isinstance(spec, dict):
        if "query" not in spec:
            raise QueryError(f"[{kind}] needs a query for {name}")
        operator = str(spec.get("operator", "or")).lower()
        spec = spec["query"]
    f = field_for(name)
    if f in NUMERIC_FIELDS:
        return _numeric_term(schema, f, spec)
    if f == "_id":
        return _id_query(schema, spec)
    if isinstance(spec, bool | int | float) and f.startswith("value_json."):
        return Query.term_query(schema, f, spec)
    if not isinstance(spec, str | int | float):
        raise QueryError(f"[{kind}] query for {name} must be text")
    if f.startswith("headers."):
        return Query.term_query(schema, f, str(spec))
    toks = tokens(str(spec))
    if not toks:
        return Query.empty_query()
    if phrase and len(toks) > 1:
        if f.startswith("value_json."):
            return _all_words(schema, f, toks)
        return Query.phrase_query(schema, f, toks)
    if len(toks) == 1:
        return Query.term_query(schema, f, toks[0])
    occur = Occur.Must if operator == "and" else Occur.Should
    return Query.boolean_query([(occur, Query.term_query(schema, f, t)) for t in toks])


def _range(schema: tantivy.Schema, body: Any) -> tantivy.Query:
    name, spec = _single(body, "range")
    if not isinstance(spec, dict) or not spec:
        raise QueryError(f"[range] on {name} needs gte/gt/lte/lt")
    f = field_for(name)
    bad = set(spec) - {"gte", "gt", "lte", "lt", "format", "time_zone", "boost"}
    if bad:
        raise QueryError(f"[range] unknown parameter(s) {sorted(bad)}")

    def conv(v: Any) -> Any:
        if f == "timestamp":
            return parse_time(v)
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise QueryError(f"[range] bound {v!r} on {name} is not a number")
        try:
            n = float(v) if isinstance(v, float) or (isinstance(v, str) and "." in v) else int(v)
        except ValueError:
            raise QueryError(f"[range] bound {v!r} on {name} is not a number") from None
        return n

    lo = conv(spec["gte"]) if "gte" in spec else conv(spec["gt"]) if "gt" in spec else None
    hi = conv(spec["lte"]) if "lte" in spec else conv(spec["lt"]) if "lt" in spec else None
    if lo is None and hi is None:
        return Query.all_query()
    if f in NUMERIC_FIELDS:
        ftype = NUMERIC_FIELDS[f]
        if f == "partition":
            lo = max(0, int(lo)) if lo is not None else None
            hi = int(hi) if hi is not None else None
            if hi is not None and hi < 0:
                return Query.empty_query()
        else:
            lo = int(lo) if lo is not None else None
            hi = int(hi) if hi is not None else None
        return Query.range_query(schema, f, ftype, lo, hi, include_lower=lo is None or "gte" in spec,
                                 include_upper=hi is None or "lte" in spec)
    raise QueryError(f"[range] works on timestamp, offset and partition, not {name} "
                     "(ranges on JSON paths need a fast JSON field: not indexed, to keep the index small)")


def to_query(index: tantivy.Index, schema: tantivy.Schema, q: Any) -> tantivy.Query:
    if not isinstance(q, dict) or len(q) != 1:
        raise QueryError("a query is an object with exactly one query type, e.g. {\"match\": {\"value\": \"error\"}}")
    kind, body = next(iter(q.items()))
    if kind == "match_all":
        return Query.all_query()
    if kind == "match_none":
        return Query.empty_query()
    if kind == "query_string":
        if isinstance(body, str):
            body = {"query": body}
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise QueryError("[query_string] needs a query string")
        return parse_query_string(index, body["query"], body.get("default_field"), body.get("default_operator"))
    if kind in ("match", "match_phrase"):
        return _match(schema, body, kind == "match_phrase")
    if kind == "term":
        name, v = _single(body, "term")
        if isinstance(v, dict):
            if "value" not in v:
                raise QueryError(f"[term] needs a value for {name}")
            v = v["value"]
        return _term(schema, name, v)
    if kind == "terms":
        if not isinstance(body, dict):
            raise QueryError("[terms] needs a field and a list")
        items = [(k, v) for k, v in body.items() if k != "boost"]
        if len(items) != 1 or not isinstance(items[0][1], list):
            raise QueryError("[terms] needs one field with a list of values")
        name, vals = items[0]
        if not vals:
            return Query.empty_query()
        return Query.boolean_query([(Occur.Should, _term(schema, name, v)) for v in vals])
    if kind == "range":
        return _range(schema, body)
    if kind == "bool":
        if not isinstance(body, dict):
            raise QueryError("[bool] needs an object")
        bad = set(body) - {"must", "should", "must_not", "filter", "minimum_should_match", "boost"}
        if bad:
            raise QueryError(f"[bool] unknown clause(s) {sorted(bad)}")
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for name, occur in (("must", Occur.Must), ("filter", Occur.Must), ("must_not", Occur.MustNot)):
            for sub in _list(body.get(name)):
                clauses.append((occur, to_query(index, schema, sub)))
        shoulds = [to_query(index, schema, sub) for sub in _list(body.get("should"))]
        positive = any(o is Occur.Must for o, _ in clauses)
        msm = body.get("minimum_should_match")
        if shoulds:
            if positive and not msm:
                clauses += [(Occur.Should, s) for s in shoulds]
            else:
                clauses.append((Occur.Must, Query.boolean_query([(Occur.Should, s) for s in shoulds])))
            positive = True
        if not positive:
            clauses.append((Occur.Must, Query.all_query()))
        return Query.boolean_query(clauses)
    raise QueryError(f"unknown query [{kind}]", "parsing_exception")


def parse_query_string(index: tantivy.Index, text: str, default_field: Any = None,
                       default_operator: Any = None) -> tantivy.Query:
    fields = DEFAULT_FIELDS
    if default_field not in (None, "*", "_all"):
        fields = [field_for(str(default_field))]
    conj = str(default_operator or "OR").upper() == "AND"
    if not text.strip() or text.strip() == "*":
        return Query.all_query()
    try:
        return index.parse_query(rewrite_query_string(text), fields, conjunction_by_default=conj)
    except ValueError as exc:
        raise QueryError(f"Failed to parse query [{text}]: {exc}", "query_shard_exception") from None
