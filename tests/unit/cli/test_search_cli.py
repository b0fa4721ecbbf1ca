"""chronik.cli.search without a server: the HTTP base URL and the request body."""

from __future__ import annotations

import pytest

from chronik.cli.search import build_body, http_base
from chronik.cli.state import CliError


def test_http_base(monkeypatch):
    monkeypatch.delenv("CHRONIK_HTTP", raising=False)
    assert http_base(None, "broker.local:9092,other:9092") == "http://broker.local:9644"
    assert http_base(None, "localhost") == "http://localhost:9644"
    assert http_base("h:1/", "x:9092") == "http://h:1"
    monkeypatch.setenv("CHRONIK_HTTP", "https://s:8/")
    assert http_base(None, "x:9092") == "https://s:8"


def test_build_body():
    body = build_body("error", "1700000000000", "1700000001000", [0, 2], 5, "time", False, 0)
    assert body["size"] == 5 and body["sort"] == [{"timestamp": "desc"}]
    flt = body["query"]["bool"]["filter"]
    assert {"range": {"timestamp": {"gte": 1_700_000_000_000, "lt": 1_700_000_001_000}}} in flt
    assert body["query"]["bool"]["must"] == [{"query_string": {"query": "error"}}]
    assert build_body("*", None, None, [], 1, "offset", True, 0)["query"] == {"match_all": {}}
    with pytest.raises(CliError):
        build_body("x", None, None, [], 1, "size", False, 0)
