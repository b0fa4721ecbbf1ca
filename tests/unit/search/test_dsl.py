"""chronik.search.dsl and the request parsing of chronik.search.api, without a broker."""

from __future__ import annotations

import pytest
import tantivy

from chronik.search.api import _sort
from chronik.search.dsl import QueryError, parse_time, rewrite_query_string, to_query, tokens
from chronik.search.schema import build_schema


def test_value_paths_are_rewritten_outside_quotes_only():
    assert rewrite_query_string("value.level:error AND (value.user.id:42)") == \
        "value_json.level:error AND (value_json.user.id:42)"
    assert rewrite_query_string('"value.level:x" -value.a:b') == '"value.level:x" -value_json.a:b'
    assert rewrite_query_string("value:error") == "value:error"


def test_times():
    assert parse_time(5) == 5 and parse_time("17") == 17
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000_000
    assert abs(parse_time("now-1h") - (parse_time("now") - 3_600_000)) < 1000
    with pytest.raises(QueryError):
        parse_time("yesterday")


def test_sort_forms():
    assert _sort(None) == ("_score", "desc")
    assert _sort("timestamp:asc") == ("timestamp", "asc")
    assert _sort([{"offset": {"order": "desc"}}]) == ("offset", "desc")
    assert _sort({"time": "asc"}) == ("timestamp", "asc")
    with pytest.raises(QueryError):
        _sort("key")


def test_tokens_follow_the_default_tokenizer():
    assert tokens("Payment FAILED, order_12!") == ["payment", "failed", "order", "12"]


@pytest.mark.parametrize("q", [
    {}, {"nope": {}}, {"match": {}}, {"term": {"zzz": 1}}, {"range": {"key": {"gte": 1}}},
    {"bool": {"must": [{"match": {}}]}}, {"bool": {"musts": []}}, {"query_string": {"query": "value:("}},
])
def test_bad_queries_raise_query_error(q):
    schema = build_schema()
    with pytest.raises(QueryError):
        to_query(tantivy.Index(schema), schema, q)
