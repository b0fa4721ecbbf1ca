"""The message browser: browse, live tail, download, search and produce.

Browse and tail answer at most `records.MAX_LIMIT` records and
`records.MAX_BYTES` of log per call. A download (up to `MAX_DOWNLOAD`
records) is read in slices of `SLICE_RECORDS` between which the loop serves
everyone else, like a /metrics scrape. Search runs in the search app's
worker threads (chronik.search), answered when its future is done; the hits'
records are then read from the log (bounded by the search size) so they
render like browsed ones. Produce is a ProduceRequest through the Produce
handler (acks=1), so schema validation and ACLs apply as to any producer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kafka.partitioner.default import murmur2
from kafka.protocol.producer.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.console.api import ApiError, Call, Route, parse_time_ms, to_int
from chronik.console.kafka_calls import KafkaCallError, call_then, http_status
from chronik.console.records import (
    MAX_BYTES,
    MAX_LIMIT,
    RawRecord,
    ReadError,
    newest_first,
    read_partition,
    to_json,
)
from chronik.console.topics import topic_or_404
from chronik.http.protocol import Request, Response, json_response
from chronik.security.acl import Operation

if TYPE_CHECKING:
    from chronik.broker.topics import Topic
    from chronik.console.decode import Decoder

log = logging.getLogger("chronik.console")

DEFAULT_LIMIT = 50
# A tail poll (every second) shows what is new on screen; a busy topic skips ahead rather than
# shipping a backlog the page would drop.
TAIL_LIMIT = 20
MAX_DOWNLOAD = 10_000
SLICE_RECORDS = 500
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_SEARCH = 200
MAX_PRODUCE_BYTES = 1024 * 1024
FROM = ("end", "start", "offset", "time")


class Later:
    """An answer the route gives later: `start(respond)` calls `respond(Response)` once, on the loop."""

    def __init__(self, start: Callable[[Callable[[Response], None]], None]) -> None:
        self.start = start


def _read_error(exc: ReadError) -> ApiError:
    e = KafkaCallError(exc.code, exc.message)
    return ApiError(http_status(exc.code), exc.message, e.name)


def _partitions(c: Call, t: Topic) -> list[int]:
    p = c.int_arg("partition")
    if p is None:
        return list(range(len(t.partitions)))
    if not 0 <= p < len(t.partitions):
        raise ApiError(404, f"{t.name} has no partition {p} (it has {len(t.partitions)})",
                       "UNKNOWN_TOPIC_OR_PARTITION")
    return [p]


def start_offsets(c: Call, t: Topic, limit: int) -> dict[int, int]:
    """Where each partition's read starts, by the `from` argument."""
    frm = (c.arg("from") or "end").lower()
    if frm not in FROM:
        raise ApiError(400, f"from must be one of {', '.join(FROM)}, not {frm!r}")
    out: dict[int, int] = {}
    ts = None
    if frm == "time":
        raw = c.arg("time")
        if raw is None or raw == "":
            raise ApiError(400, "from=time needs time (epoch ms or ISO 8601)")
        ts = parse_time_ms(raw)
    offset = c.int_arg("offset", 0, lo=0) if frm == "offset" else 0
    for p in _partitions(c, t):
        plog = t.partitions[p]
        if frm == "end":
            out[p] = max(plog.log_start_offset, plog.log_end_offset - limit)
        elif frm == "start":
            out[p] = plog.log_start_offset
        elif frm == "offset":
            out[p] = max(plog.log_start_offset, offset or 0)
        else:
            found = plog.offset_for_timestamp(ts)
            if found is not None:
                out[p] = found[0]
    return out


class MessageRoutes:
    def __init__(self, decoder: Decoder, scheduler: Any, search: Callable[[Request, Callable[[Response], None]], None]):
        self.decoder = decoder
        self.scheduler = scheduler
        self.search_app = search

    def routes(self) -> list[Route]:
        base = r"/console/api/topics/(?P<topic>[^/]+)"
        return [
            ("GET", base + "/messages", self.browse, False),
            ("GET", base + "/tail", self.tail, False),
            ("GET", base + "/download", self.download, False),
            ("GET", base + "/search", self.search, False),
            ("POST", base + "/produce", self.produce, True),
        ]

    # -- browse ----------------------------------------------------------------------------------
    def browse(self, c: Call) -> Any:
        t = topic_or_404(c, c.params["topic"], Operation.READ)
        limit = c.int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        order = (c.arg("order") or "newest").lower()
        if order not in ("newest", "oldest"):
            raise ApiError(400, f"order must be newest or oldest, not {order!r}")
        starts = start_offsets(c, t, limit)
        budget = max(64 * 1024, MAX_BYTES // max(1, len(starts)))
        got: list[RawRecord] = []
        cursor: dict[str, int] = {}
        try:
            for p, start in starts.items():
                recs, nxt = read_partition(c.core, t, p, start, limit, budget)
                got.extend(recs)
                cursor[str(p)] = nxt
        except ReadError as exc:
            raise _read_error(exc) from None
        frm = (c.arg("from") or "end").lower()
        ordered = newest_first(got)
        # "end": the newest `limit` overall; else the first `limit` from the start points.
        picked = ordered[:limit] if frm == "end" else ordered[-limit:]
        truncated = len(got) > len(picked)
        if order == "oldest":
            picked.reverse()
        return {"messages": [to_json(r, self.decoder) for r in picked], "cursor": cursor,
                "end_offsets": {str(i): p.log_end_offset for i, p in enumerate(t.partitions)},
                "truncated": truncated}

    # -- tail -------------------------------------------------------------------------------------
    def tail(self, c: Call) -> Any:
        t = topic_or_404(c, c.params["topic"], Operation.READ)
        limit = c.int_arg("limit", TAIL_LIMIT, 1, MAX_LIMIT)
        raw = c.arg("cursor") or ""
        cursor: dict[int, int] = {}
        for item in filter(None, raw.split(",")):
            p, sep, o = item.partition(":")
            if not sep:
                raise ApiError(400, f"cursor must be partition:offset,..., not {raw!r}")
            cursor[to_int(p, "cursor partition", 0)] = to_int(o, "cursor offset", 0)
        got: list[RawRecord] = []
        out: dict[str, int] = {}
        try:
            for p, plog in enumerate(t.partitions):
                end = plog.log_end_offset
                start = cursor.get(p, end if not cursor else plog.log_start_offset)
                # A tail shows what is new, not a backlog: past `limit` behind, it skips to the newest.
                start = max(start, end - limit, plog.log_start_offset)
                if start < end and raw:
                    recs, start = read_partition(c.core, t, p, start, limit, MAX_BYTES // max(1, len(t.partitions)))
                    got.extend(recs)
                out[str(p)] = start
        except ReadError as exc:
            raise _read_error(exc) from None
        picked = newest_first(got)
        return {"messages": [to_json(r, self.decoder) for r in picked], "cursor": out,
                "cursor_text": ",".join(f"{p}:{o}" for p, o in out.items())}

    # -- download ---------------------------------------------------------------------------------
    def download(self, c: Call) -> Any:
        t = topic_or_404(c, c.params["topic"], Operation.READ)
        limit = c.int_arg("limit", 1000, 1, MAX_DOWNLOAD)
        frm = (c.arg("from") or "end").lower()
        per_partition = c.int_arg("limit", 1000, 1, MAX_DOWNLOAD)
        starts = start_offsets(c, t, per_partition if frm == "end" else limit)
        until = c.int_arg("until_offset", None, lo=0)
        core, decoder = c.core, self.decoder
        name = t.name

        def lines() -> Iterator[None | list[bytes]]:
            out: list[bytes] = []
            total = used = 0
            for p, start in starts.items():
                offset = start
                while total < limit and used < MAX_DOWNLOAD_BYTES:
                    recs, nxt = read_partition(core, t, p, offset, min(SLICE_RECORDS, limit - total),
                                               MAX_BYTES, stop=until)
                    for r in recs:
                        line = (json.dumps(to_json(r, decoder), ensure_ascii=False) + "\n").encode()
                        used += len(line)
                        out.append(line)
                    total += len(recs)
                    if not recs or nxt <= offset:
                        break
                    offset = nxt
                    yield None
            return out

        def start(respond: Callable[[Response], None]) -> None:
            steps = lines()

            def run() -> None:
                try:
                    next(steps)
                except StopIteration as stop:
                    filename = f"{name}-{int(time.time())}.jsonl".replace('"', "")
                    respond(Response(200, stop.value or [b""], "application/x-ndjson; charset=utf-8",
                                     [("content-disposition", f'attachment; filename="{filename}"')]))
                    return
                except ReadError as exc:
                    err = _read_error(exc)
                    respond(json_response(err.status, err.body()))
                    return
                except Exception:  # our bug: answered, logged, and the loop goes on
                    log.exception("console download of %s failed", name)
                    respond(json_response(500, ApiError(500, "internal error (logged by the broker)").body()))
                    return
                self.scheduler.call_later(0, run)

            run()

        return Later(start)

    # -- search --------------------------------------------------------------------------------------
    def search(self, c: Call) -> Any:
        t = topic_or_404(c, c.params["topic"], Operation.READ)
        if not c.core.search.searchable(t):
            raise ApiError(404, f"topic {t.name} is not indexed for search: set its config "
                           "chronik.search.enable=true (or start the broker with --search)",
                           "NOT_INDEXED", indexed=False)
        q = (c.arg("q") or "").strip()
        size = c.int_arg("size", 50, 1, MAX_SEARCH)
        sort = (c.arg("sort") or "time").lower()
        sorts = {"relevance": [{"_score": "desc"}], "time": [{"timestamp": "desc"}],
                 "offset": [{"offset": "asc"}]}
        if sort not in sorts:
            raise ApiError(400, f"sort must be one of {', '.join(sorts)}, not {sort!r}")
        query: dict[str, Any] = {"query_string": {"query": q}} if q not in ("", "*") else {"match_all": {}}
        filters: list[dict[str, Any]] = []
        rng: dict[str, int] = {}
        if c.arg("since"):
            rng["gte"] = parse_time_ms(c.arg("since"), "since")
        if c.arg("until"):
            rng["lt"] = parse_time_ms(c.arg("until"), "until")
        if rng:
            filters.append({"range": {"timestamp": rng}})
        p = c.int_arg("partition")
        if p is not None:
            filters.append({"term": {"partition": p}})
        if filters:
            query = {"bool": {"must": [query], "filter": filters}}
        body = json.dumps({"query": query, "size": size, "sort": sorts[sort], "_source": False}).encode()
        req = Request("POST", f"/{quote(t.name)}/_search", f"/{quote(t.name)}/_search", {},
                      [("content-type", "application/json")], body)
        core, decoder = c.core, self.decoder

        def start(respond: Callable[[Response], None]) -> None:
            def answered(resp: Response) -> None:
                try:
                    collect(resp)
                except Exception:  # our bug: answered, logged, and the loop goes on
                    log.exception("console search of %s failed", t.name)
                    respond(json_response(500, ApiError(500, "internal error (logged by the broker)").body()))

            def collect(resp: Response) -> None:
                raw = resp.body if isinstance(resp.body, bytes) else b"".join(resp.body)
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = {}
                if resp.status != 200:
                    reason = (doc.get("error") or {}).get("reason") if isinstance(doc.get("error"), dict) else None
                    respond(json_response(resp.status if 400 <= resp.status < 500 else 502, ApiError(
                        resp.status if 400 <= resp.status < 500 else 502,
                        f"search failed: {reason or raw[:300].decode(errors='replace')}", "SEARCH_ERROR").body()))
                    return
                hits = doc.get("hits", {})
                out = []
                for h in hits.get("hits", []):
                    part, _, off = str(h.get("_id", "")).partition("-")
                    try:
                        part_i, off_i = int(part), int(off)
                        recs, _ = read_partition(core, t, part_i, off_i, 1, 1024 * 1024, stop=off_i + 1)
                    except (ValueError, ReadError):
                        continue
                    for r in recs:
                        j = to_json(r, decoder)
                        j["score"] = h.get("_score")
                        out.append(j)
                total = hits.get("total", {})
                respond(json_response(200, {"indexed": True, "query": q,
                                            "total": total.get("value", len(out)) if isinstance(total, dict)
                                            else total, "hits": out}))

            self.search_app(req, answered)

        return Later(start)

    # -- produce -------------------------------------------------------------------------------------
    def produce(self, c: Call) -> Any:
        name = c.params["topic"]
        t = c.core.topics.get(name)
        if t is None:
            raise ApiError(404, f"topic {name!r} does not exist", "UNKNOWN_TOPIC_OR_PARTITION")
        body = c.body()

        def as_bytes(v: Any, what: str) -> bytes | None:
            if v is None:
                return None
            if isinstance(v, dict | list):
                return json.dumps(v, ensure_ascii=False).encode()
            if not isinstance(v, str):
                raise ApiError(400, f"{what} must be a string, JSON, or null")
            return v.encode()

        key = as_bytes(body.get("key"), "key")
        value = as_bytes(body.get("value"), "value")
        raw_headers = body.get("headers") or []
        if isinstance(raw_headers, dict):
            raw_headers = [{"key": k, "value": v} for k, v in raw_headers.items()]
        if not isinstance(raw_headers, list):
            raise ApiError(400, "headers must be a list of {key, value}")
        headers = []
        for h in raw_headers:
            if not isinstance(h, dict) or not isinstance(h.get("key"), str) or not h["key"]:
                raise ApiError(400, "each header needs a non-empty string key")
            headers.append((h["key"], as_bytes(h.get("value"), f"header {h['key']}")))
        size = len(key or b"") + len(value or b"") + sum(len(k) + len(v or b"") for k, v in headers)
        if size > MAX_PRODUCE_BYTES:
            raise ApiError(413, f"a console message is at most {MAX_PRODUCE_BYTES} bytes, not {size}")
        p = body.get("partition")
        n = len(t.partitions)
        if p is None or p == "":
            p = (murmur2(key) & 0x7FFFFFFF) % n if key is not None else int(time.time() * 1000) % n
        p = to_int(p, "partition", 0, n - 1)
        builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                            producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                            batch_size=size + 1024)
        builder.append(0, int(time.time() * 1000), key, value, headers)
        records = bytes(builder.build())
        PD = ProduceRequest.TopicProduceData
        req = ProduceRequest(transactional_id=None, acks=1, timeout_ms=5000, topic_data=[
            PD(name=name, partition_data=[PD.PartitionProduceData(index=p, records=records)])])

        def start(respond: Callable[[Response], None]) -> None:
            def answered(resp: Any) -> None:
                for tr in getattr(resp, "responses", ()):
                    for pr in tr.partition_responses:
                        if pr.error_code:
                            e = KafkaCallError(pr.error_code, getattr(pr, "error_message", None))
                            respond(json_response(http_status(pr.error_code), ApiError(
                                http_status(pr.error_code), e.message, e.name).body()))
                        else:
                            respond(json_response(201, {"topic": name, "partition": pr.index,
                                                        "offset": pr.base_offset}))
                        return
                respond(json_response(500, ApiError(500, "the produce request got no answer").body()))

            try:
                # A first write to a partition waits for its files (made off the loop): answer then.
                call_then(c.core, c.security, req, 9, answered)
            except KafkaCallError as exc:
                raise ApiError(http_status(exc.code), exc.message, exc.name) from None

        return Later(start)
