"""The search query API: an HTTP-framework-free application object.

    app = SearchApp(core.search)
    fut = app.submit(method, path, query, headers, body)   # never blocks
    fut.add_done_callback(lambda f: ...)                     # f.result() = (status, headers, body)

`submit` only queues the request: parsing, tantivy and reading `_source`
from the segment files all run in the app's worker threads, so the event
loop never waits on a query. The HTTP layer turns the future into a deferred
response (its callback runs on a worker thread: hand it back to the loop).
`handle` is `submit(...).result()` for adapters that may block (tests).

Routes (Elasticsearch's shapes):

    GET|POST /{topic}/_search      /{t1,t2}/_search
    GET|POST /_search              every searchable topic, or ?index=t1,t2
    GET      /_cat/indices[/{topic}]   ?format=json, ?v (header line)

A search body: ``query`` (see chronik.search.dsl), ``size`` (10), ``from``
(0), ``sort`` (``_score`` | ``timestamp`` | ``offset``, each asc/desc),
``_source`` (true/false/fields), ``highlight`` ({"fields": {"value": {},
"key": {}}, "pre_tags", "post_tags", "number_of_fragments": 0 for the whole
value}). URL parameters ``q`` (query_string), ``size``, ``from``, ``sort``
(``timestamp:asc``), ``_source=false``, ``df``, ``default_operator`` work too.
Errors are ES JSON: ``{"error": {"root_cause": [...], "type", "reason"},
"status"}``; a bad query or body is 400, an unknown or unindexed topic 404.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import tantivy

from chronik.search.dsl import QueryError, parse_query_string, to_query
from chronik.search.reader import PartitionFiles, StoredRecord

if TYPE_CHECKING:
    from chronik.search.indexer import SearchIndexer

__all__ = ["MAX_BODY_BYTES", "MAX_RESULT_WINDOW", "Response", "SearchApp"]

Response = tuple[int, dict[str, str], bytes]
MAX_BODY_BYTES = 1 << 20
MAX_RESULT_WINDOW = 10_000  # ES's index.max_result_window
_BODY_KEYS = {"query", "size", "from", "sort", "_source", "highlight", "track_total_hits", "timeout"}
JSON_HEADERS = {"content-type": "application/json; charset=UTF-8"}


class ApiError(Exception):
    def __init__(self, status: int, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.type, self.reason = status, type_, reason


def error_body(status: int, type_: str, reason: str, **extra: Any) -> bytes:
    cause = {"type": type_, "reason": reason, **extra}
    return json.dumps({"error": {"root_cause": [cause], **cause}, "status": status}).encode()


class SearchApp:
    def __init__(self, indexer: SearchIndexer, workers: int = 2) -> None:
        self.indexer = indexer
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="chronik-search-query")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- entry points ---------------------------------------------------------------
    def submit(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> Future[Response]:
        """Queue a request; the future completes on a worker thread with (status, headers, body)."""
        if len(body) > MAX_BODY_BYTES:
            fut: Future[Response] = Future()
            fut.set_result((413, dict(JSON_HEADERS), error_body(
                413, "content_too_long_exception", f"request body over {MAX_BODY_BYTES} bytes")))
            return fut
        return self._pool.submit(self._handle, method, path, query, headers, body)

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> Response:
        """Blocking convenience for threads that may wait (never the event loop)."""
        return self.submit(method, path, query, headers, body).result()

    def _handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                body: bytes) -> Response:
        try:
            return self._route(method.upper(), path, query, body)
        except ApiError as exc:
            return exc.status, dict(JSON_HEADERS), error_body(exc.status, exc.type, exc.reason)
        except QueryError as exc:
            return 400, dict(JSON_HEADERS), error_body(400, exc.type, exc.reason)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # our bug (tantivy panics are BaseExceptions): say so, keep serving
            return 500, dict(JSON_HEADERS), error_body(500, "exception", f"{type(exc).__name__}: {exc}")

    # -- routing --------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Response:
        parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/") if p]
        if parts[:2] == ["_cat", "indices"] and len(parts) <= 3:
            if method not in ("GET", "HEAD"):
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on /_cat/indices")
            return self._cat_indices(parts[2] if len(parts) == 3 else None, query)
        if parts and parts[-1] == "_search" and len(parts) <= 2:
            if method not in ("GET", "POST"):
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on _search")
            if len(parts) == 2:
                names = [n for n in parts[0].split(",") if n]
            else:
                names = [n for v in query.get("index", []) for n in v.split(",") if n]
            return self._search(names, query, body)
        raise ApiError(404, "resource_not_found_exception", f"no handler for {method} /{'/'.join(parts)}")

    # -- _cat/indices ------------------------------------------------------------------
    def _cat_indices(self, only: str | None, query: dict[str, list[str]]) -> Response:
        ix = self.indexer
        rows = []
        for name in sorted(ix.views):
            if only is not None and name != only:
                continue
            view = ix.views.get(name)
            idx = ix.indexes.get(name)
            if view is None:
                continue
            lag = ix.lag(name) or 0
            docs = idx.num_docs() if idx is not None else 0
            size = idx.size_bytes() if idx is not None else 0
            rows.append({
                "health": "green" if lag == 0 else "yellow",
                "status": "open",
                "index": name,
                "uuid": view.topic_id,
                "pri": str(len(view.partitions)),
                "rep": "0",
                "docs.count": str(docs),
                "docs.deleted": "0",
                "store.size": _human(size) if _first(query, "bytes") != "b" else str(size),
                "lag": str(lag),
            })
        if only is not None and not rows:
            raise self._not_found(only)
        if _first(query, "format") == "json":
            return 200, dict(JSON_HEADERS), json.dumps(rows).encode()
        cols = ["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size",
                "lag"]
        table = ([cols] if "v" in query else []) + [[r[c] for c in cols] for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(cols))] if table else []
        text = "".join(" ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n"
                       for row in table)
        return 200, {"content-type": "text/plain; charset=UTF-8"}, text.encode()

    def _not_found(self, name: str) -> ApiError:
        topics = self.indexer.all_topics or frozenset()
        if name in topics:
            return ApiError(404, "index_not_found_exception",
                            f"topic {name} has no search index: enable it with the topic config "
                            f"chronik.search.enable=true (chronik topics alter-config {name} "
                            f"--set chronik.search.enable=true) or start the broker with --search")
        return ApiError(404, "index_not_found_exception", f"no such index [{name}]")

    # -- _search --------------------------------------------------------------------------
    def _search(self, names: list[str], query: dict[str, list[str]], body: bytes) -> Response:
        started = time.monotonic()
        req = self._request(query, body)
        ix = self.indexer
        if not names or names == ["_all"] or names == ["*"]:
            names = sorted(ix.views)
        for n in names:
            if n not in ix.views:
                raise self._not_found(n)
        size, frm = req["size"], req["from"]
        sort_field, order = req["sort"]
        hits: list[tuple[Any, str, int, tantivy.DocAddress, tantivy.Searcher, Any]] = []
        total = 0
        compiled: dict[str, tuple[Any, Any]] = {}
        units: list[tuple[str, Any, tantivy.Query, tantivy.Searcher]] = []  # a tantivy index each
        for name in names:
            idx = ix.indexes.get(name)
            view = ix.views.get(name)
            if idx is None or view is None:
                continue  # enabled a moment ago: the indexer has not opened it yet
            q = self._compile(idx, req["query"])
            compiled[name] = (q, idx)
            q = self._visible(idx.schema, q, view)
            units += [(name, idx, q, searcher) for searcher in idx.searchers()]
        several = len(units) > 1  # hits merged here: each index answers its first from + size
        limit = frm + size if several else size
        offset = 0 if several else frm
        for name, idx, q, searcher in units:
            try:
                if limit == 0:  # tantivy wants a limit of at least 1: count only
                    total += searcher.search(q, 1, count=True).count or 0
                    continue
                if sort_field == "_score":
                    res = searcher.search(q, limit, count=True, offset=offset)
                else:
                    res = searcher.search(q, limit, count=True, offset=offset, order_by_field=sort_field,
                                          order=tantivy.Order.Asc if order == "asc" else tantivy.Order.Desc)
            except ValueError as exc:  # a query the schema cannot answer (tantivy's "Schema error")
                raise QueryError(f"cannot run this query: {exc}", "query_shard_exception") from None
            total += res.count or 0
            for key, addr in res.hits:
                hits.append((key, name, 0, addr, searcher, idx))
        if several:
            reverse = not (sort_field != "_score" and order == "asc")
            hits.sort(key=lambda h: h[0], reverse=reverse)
            hits = hits[frm:frm + size]
        out = self._render(hits, req, sort_field, compiled)
        max_score = max((h["_score"] for h in out if h["_score"] is not None), default=None)
        answer = {
            "took": int((time.monotonic() - started) * 1000),
            "timed_out": False,
            "_shards": {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0},
            "hits": {"total": {"value": total, "relation": "eq"}, "max_score": max_score, "hits": out},
        }
        return 200, dict(JSON_HEADERS), json.dumps(answer).encode()

    def _request(self, query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
        req: dict[str, Any] = {}
        if body and body.strip():
            try:
                req = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise QueryError(f"request body is not JSON: {exc}", "x_content_parse_exception") from None
            if not isinstance(req, dict):
                raise QueryError("request body must be a JSON object", "x_content_parse_exception")
            unknown = set(req) - _BODY_KEYS
            if unknown:
                raise QueryError(f"Unknown key(s) {sorted(unknown)} in the search body")
        q = req.get("query")
        if "q" in query:
            qs: dict[str, Any] = {"query": _first(query, "q")}
            if "df" in query:
                qs["default_field"] = _first(query, "df")
            if "default_operator" in query:
                qs["default_operator"] = _first(query, "default_operator")
            q = {"query_string": qs}
        if q is None:
            q = {"match_all": {}}
        size = _int(req.get("size", _first(query, "size", 10)), "size")
        frm = _int(req.get("from", _first(query, "from", 0)), "from")
        if frm + size > MAX_RESULT_WINDOW:
            raise QueryError(f"Result window is too large, from + size must be less than or equal to: "
                             f"[{MAX_RESULT_WINDOW}] but was [{frm + size}]", "illegal_argument_exception")
        sort = req.get("sort", _first(query, "sort"))
        src = req.get("_source", True)
        if "_source" in query:
            v = _first(query, "_source")
            src = v not in ("false", "0") if v in ("true", "false", "0", "1") else v.split(",")
        hl = req.get("highlight")
        if hl is not None and not isinstance(hl, dict):
            raise QueryError("[highlight] must be an object")
        return {"query": q, "size": size, "from": frm, "sort": _sort(sort), "_source": _source_filter(src),
                "highlight": hl}

    def _compile(self, idx: Any, q: Any) -> tantivy.Query:
        if isinstance(q, dict) and set(q) == {"query_string"} and isinstance(q["query_string"], str):
            return parse_query_string(idx.index, q["query_string"])
        return to_query(idx.index, idx.schema, q)

    @staticmethod
    def _visible(schema: tantivy.Schema, q: tantivy.Query, view: Any) -> tantivy.Query:
        """Hide documents below each partition's log start (retention, DeleteRecords) until pruned."""
        hidden = []
        for p, mark in enumerate(view.partitions):
            if mark.log_start > 0:
                hidden.append((tantivy.Occur.MustNot, tantivy.Query.boolean_query([
                    (tantivy.Occur.Must, tantivy.Query.term_query(schema, "partition", p)),
                    (tantivy.Occur.Must, tantivy.Query.range_query(schema, "offset", tantivy.FieldType.Integer,
                                                                   None, mark.log_start, include_upper=False)),
                ])))
        if not hidden:
            return q
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, q), *hidden])

    def _render(self, hits: list, req: dict[str, Any], sort_field: str,
                compiled: dict[str, tuple[Any, Any]]) -> list[dict[str, Any]]:
        docs = []
        wanted: dict[tuple[str, int], list[int]] = {}
        for key, name, _z, addr, searcher, _idx in hits:
            d = searcher.doc(addr)
            p, o = d["partition"][0], d["offset"][0]
            docs.append((key, name, p, o, d))
            wanted.setdefault((name, p), []).append(o)
        found: dict[tuple[str, int], dict[int, StoredRecord]] = {}
        data_dir = self.indexer.data_dir
        for (name, p), offsets in wanted.items():
            found[(name, p)] = PartitionFiles(data_dir / f"{name}-{p}").lookup(offsets)
        hl = req["highlight"]
        gens: dict[tuple[str, str], Any] = {}
        out = []
        for key, name, p, o, _d in docs:
            rec = found[(name, p)].get(o)
            if rec is None:
                continue  # gone from the log since it was indexed (compaction, retention)
            source = _source(name, p, rec)
            hit: dict[str, Any] = {
                "_index": name,
                "_id": f"{p}-{o}",
                "_score": float(key) if sort_field == "_score" else None,
            }
            if req["_source"] is not False:
                hit["_source"] = req["_source"](source) if callable(req["_source"]) else source
            if sort_field != "_score":
                hit["sort"] = [key]
            if hl:
                h = self._highlight(hl, name, source, compiled, gens)
                if h:
                    hit["highlight"] = h
            out.append(hit)
        return out

    def _highlight(self, hl: dict[str, Any], name: str, source: dict[str, Any],
                   compiled: dict[str, tuple[Any, Any]], gens: dict[tuple[str, str], Any]) -> dict[str, list[str]]:
        fields = hl.get("fields") or {"value": {}}
        if isinstance(fields, list):
            fields = {k: v for f in fields for k, v in (f.items() if isinstance(f, dict) else [(f, {})])}
        pre = (hl.get("pre_tags") or ["<em>"])[0]
        post = (hl.get("post_tags") or ["</em>"])[0]
        q, idx = compiled[name]
        out: dict[str, list[str]] = {}
        for field, opts in fields.items():
            if field not in ("value", "key"):
                continue
            text = source.get(field)
            if not isinstance(text, str) or not text:
                continue
            opts = opts if isinstance(opts, dict) else {}
            whole = opts.get("number_of_fragments", hl.get("number_of_fragments")) == 0
            size = int(opts.get("fragment_size", hl.get("fragment_size", 150)))
            gen = gens.get((name, field))
            if gen is None:
                gen = gens[(name, field)] = tantivy.SnippetGenerator.create(idx.searcher(), q, idx.schema, field)
            gen.set_max_num_chars(len(text) + 1 if whole else size)
            snip = gen.snippet_from_doc(tantivy.Document(**{field: text}))
            ranges = snip.highlighted()
            if not ranges:
                continue
            frag = snip.fragment().encode()
            parts, last = [], 0
            for r in sorted(ranges, key=lambda r: r.start):
                parts += [frag[last:r.start].decode("utf-8", "replace"), pre,
                          frag[r.start:r.end].decode("utf-8", "replace"), post]
                last = r.end
            parts.append(frag[last:].decode("utf-8", "replace"))
            out[field] = ["".join(parts)]
        return out


def _source(topic: str, partition: int, r: StoredRecord) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for k, v in r.headers:
        s = None if v is None else bytes(v).decode("utf-8", "replace")
        if k in headers:
            prev = headers[k]
            headers[k] = [*prev, s] if isinstance(prev, list) else [prev, s]
        else:
            headers[k] = s
    return {
        "topic": topic,
        "partition": partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "key": None if r.key is None else bytes(r.key).decode("utf-8", "replace"),
        "value": None if r.value is None else bytes(r.value).decode("utf-8", "replace"),
        "headers": headers,
    }


def _first(query: dict[str, list[str]], name: str, default: Any = None) -> Any:
    v = query.get(name)
    return v[0] if v else default


def _int(v: Any, name: str) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise QueryError(f"[{name}] must be a non-negative integer, not {v!r}") from None
    if isinstance(v, bool) or n < 0 or (isinstance(v, float) and v != n):
        raise QueryError(f"[{name}] must be a non-negative integer, not {v!r}")
    return n


_SORT_NAMES = {"_score": "_score", "relevance": "_score", "score": "_score", "timestamp": "timestamp",
               "time": "timestamp", "offset": "offset"}


def _sort(spec: Any) -> tuple[str, str]:
    """(field, order) from ES sort forms: "timestamp", "timestamp:asc", {"timestamp": "asc"},
    {"timestamp": {"order": "asc"}}, or a list of one of these (the first decides)."""
    if spec is None:
        return "_score", "desc"
    if isinstance(spec, list):
        if not spec:
            return "_score", "desc"
        spec = spec[0]
    order = None
    if isinstance(spec, str):
        name, _, order = spec.partition(":")
    elif isinstance(spec, dict) and len(spec) == 1:
        name, o = next(iter(spec.items()))
        order = o.get("order") if isinstance(o, dict) else o
    else:
        raise QueryError(f"[sort] cannot sort by {spec!r}")
    field = _SORT_NAMES.get(name)
    if field is None:
        raise QueryError(f"[sort] works on _score, timestamp and offset, not {name!r}")
    order = (order or ("desc" if field in ("_score", "timestamp") else "asc")).lower()
    if order not in ("asc", "desc"):
        raise QueryError(f"[sort] order must be asc or desc, not {order!r}")
    return field, order


def _source_filter(spec: Any) -> Any:
    if spec is True or spec is None:
        return True
    if spec is False:
        return False
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, dict):
        inc = spec.get("includes") or spec.get("include")
        exc = set(_as_list(spec.get("excludes") or spec.get("exclude")))
        inc = _as_list(inc) if inc else None
        return lambda s: {k: v for k, v in s.items() if (inc is None or k in inc) and k not in exc}
    if isinstance(spec, list) and all(isinstance(x, str) for x in spec):
        return lambda s: {k: v for k, v in s.items() if k in spec}
    raise QueryError(f"[_source] must be true, false, a field list or includes/excludes, not {spec!r}")


def _as_list(v: Any) -> list[str]:
    return [v] if isinstance(v, str) else list(v or [])


def _human(n: int) -> str:
    for unit in ("b", "kb", "mb", "gb"):
        if n < 1024 or unit == "gb":
            return f"{n}{unit}" if unit == "b" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
