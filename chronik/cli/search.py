"""`chronik search TOPIC QUERY`: find records through the broker's search index (HTTP).

QUERY is tantivy's query language (Lucene-like): words, "phrases",
AND/OR/NOT, `field:value` with fields key, value, value.<json path>,
headers.<name>, partition, offset, timestamp, and ranges such as
`offset:[100 TO 200]`. An empty QUERY (or `*`) matches everything.

It talks to the broker's HTTP port: `--http URL`, env CHRONIK_HTTP, else
http://<host of -b>:9644. The answer is Elasticsearch-shaped
(`POST /TOPIC/_search`), so `curl` works the same way.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.formats import Record, make_formatter, record_to_json
from chronik.cli.offsets import parse_time
from chronik.cli.state import CliError, state

DEFAULT_HTTP_PORT = 9644
_HL_ON, _HL_OFF = "\x1b[1;31m", "\x1b[0m"
SORTS = {"relevance": [{"_score": "desc"}], "time": [{"timestamp": "desc"}], "offset": [{"offset": "asc"}]}


def http_base(http: str | None, brokers: str) -> str:
    """--http, else $CHRONIK_HTTP, else the first -b host on port 9644."""
    url = http or os.environ.get("CHRONIK_HTTP")
    if not url:
        first = brokers.split(",")[0].strip()
        host = first.rpartition(":")[0] if ":" in first else first
        url = f"http://{host or 'localhost'}:{DEFAULT_HTTP_PORT}"
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def build_body(query: str, since: str | None, until: str | None, partitions: list[int], size: int,
               sort: str, highlight: bool, now_ms: int) -> dict[str, Any]:
    if sort not in SORTS:
        raise CliError(f"--sort must be one of {', '.join(SORTS)}, not {sort!r}")
    filters: list[dict[str, Any]] = []
    rng: dict[str, int] = {}
    if since:
        rng["gte"] = parse_time(since, now_ms)
    if until:
        rng["lt"] = parse_time(until, now_ms)
    if rng:
        filters.append({"range": {"timestamp": rng}})
    if partitions:
        filters.append({"bool": {"should": [{"term": {"partition": p}} for p in partitions]}})
    q: dict[str, Any] = {"query_string": {"query": query}} if query.strip() not in ("", "*") else {"match_all": {}}
    if filters:
        q = {"bool": {"must": [q], "filter": filters}}
    body: dict[str, Any] = {"query": q, "size": size, "sort": SORTS[sort]}
    if highlight:
        body["highlight"] = {"fields": {"value": {}, "key": {}}, "number_of_fragments": 0,
                             "pre_tags": [_HL_ON], "post_tags": [_HL_OFF]}
    return body


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        reason = None
        try:
            err = json.loads(e.read())["error"]
            reason = err.get("reason") or err.get("type") if isinstance(err, dict) else str(err)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        raise CliError(reason or f"HTTP {e.code} from {url} (is this Chronik's HTTP port?)") from None
    except (urllib.error.URLError, OSError) as e:
        why = getattr(e, "reason", e)
        raise CliError(f"cannot reach the search API at {url}: {why} "
                       f"(the broker's HTTP port: --http URL or CHRONIK_HTTP)") from None


@app.command()
def search(
    topic: Annotated[str, typer.Argument(help="Topic to search (comma-separate several).")],
    query: Annotated[str, typer.Argument(help="Query text (tantivy/Lucene syntax); '*' for all.")] = "*",
    since: Annotated[str | None, typer.Option("--since", help="Records at or after this time "
                                              "(epoch ms, 2026-11-01, 2026-11-01T10:00:00Z, -10m).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Records before this time.")] = None,
    partition: Annotated[list[int] | None, typer.Option("-p", "--partition", help="Only this partition "
                                                        "(repeatable).")] = None,
    count: Annotated[int, typer.Option("-n", "--count", min=0, max=10_000, help="Most hits to print.")] = 20,
    sort: Annotated[str, typer.Option("--sort", help="relevance | time (newest first) | offset.")] = "relevance",
    fmt: Annotated[str, typer.Option("-f", "--format", help="%t %p %o %k %v %h %T %d, or json.")] = "%p:%o %k %v\\n",
    http: Annotated[str | None, typer.Option("--http", help="Search API base URL "
                                             "(env CHRONIK_HTTP; default http://<-b host>:9644).")] = None,
) -> None:
    """Find records by text, key, header, JSON field and time in a topic's search index."""
    formatter = make_formatter(fmt)  # a bad format fails before the request
    color = fmt != "json" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    body = build_body(query, since, until, partition or [], count, sort, color, int(time.time() * 1000))
    base = http_base(http, state.brokers)
    answer = post(f"{base}/{topic}/_search", body)
    out = sys.stdout.buffer
    hits = answer.get("hits", {}).get("hits", [])
    for h in hits:
        src = h.get("_source") or {}
        hl = h.get("highlight") or {}
        value = hl.get("value", [src.get("value")])[0] if color else src.get("value")
        key = hl.get("key", [src.get("key")])[0] if color else src.get("key")
        headers = []
        for k, v in (src.get("headers") or {}).items():
            for one in v if isinstance(v, list) else [v]:
                headers.append((k, None if one is None else one.encode()))
        rec = Record(src.get("topic", h.get("_index", topic)), src.get("partition", -1), src.get("offset", -1),
                     src.get("timestamp", -1), None if key is None else key.encode(),
                     None if value is None else value.encode(), headers)
        if fmt == "json":
            doc = record_to_json(rec)
            doc["score"] = h.get("_score")
            out.write(json.dumps(doc, ensure_ascii=False).encode() + b"\n")
        else:
            out.write(formatter(rec))
    out.flush()
    if sys.stderr.isatty():
        total = answer.get("hits", {}).get("total", {}).get("value", len(hits))
        typer.echo(f"{len(hits)} of {total} hit(s) in {answer.get('took', 0)} ms", err=True)
