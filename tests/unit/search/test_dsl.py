"""chronik.search.dsl and the request parsing of chronik.search.api, without a broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import tantivy

from chronik.search.api import _sort
from chronik.search.dsl import QueryError, parse_time, rewrite_query_string, to_query, tokens
from chronik.search.index import TopicIndex
from chronik.search.reader import StoredRecord
from chronik.search.schema import build_schema, record_document


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


def test_a_phrase_on_a_json_path_becomes_all_its_words_in_that_field():
    assert rewrite_query_string('value.msg:"Payment, failed"~2 AND key:x') == \
        '(value_json.msg:"payment" AND value_json.msg:"failed") AND key:x'
    assert rewrite_query_string('-value.a.b:"x y x"') == '-(value_json.a.b:"x" AND value_json.a.b:"y")'
    assert rewrite_query_string('value:"a b" "value.c:d e"') == 'value:"a b" "value.c:d e"'


def _searchable(tmp_path: Path) -> tuple[TopicIndex, Callable[[dict], list[int]]]:
    """An index of five JSON records (offsets 0-4 of partition 0, 10-11 of partition 1); a query -> offsets."""
    idx = TopicIndex(tmp_path / "t", "t", "id-1")
    values = [
        {"msg": "payment failed for order 7", "request_id": "req-0007"},
        {"msg": "failed payment", "request_id": "req-0008"},
        {"msg": "order shipped", "note": "payment failed", "request_id": "req-0009"},
        {"msg": "payment ok", "request_id": "req-0007-b"},
        {"msg": "nothing", "request_id": "0007-req"},
    ]
    for o, v in enumerate(values):
        idx.add(record_document(0, StoredRecord(o, 1_700_000_000_000 + o, b"k", json.dumps(v).encode(), [])))
    for o in (10, 11):
        idx.add(record_document(1, StoredRecord(o, 1_700_000_000_000 + o, b"k", b"plain text", [])))
    idx.commit()

    def offsets(q: dict) -> list[int]:
        searcher = idx.searcher()
        res = searcher.search(to_query(idx.index, idx.schema, q), 100)
        return sorted(searcher.fast_field_values("offset", [a for _, a in res.hits]))

    return idx, offsets


def test_json_path_phrases_and_multi_word_terms_match_all_words_of_the_field(tmp_path: Path):
    idx, offsets = _searchable(tmp_path)
    assert offsets({"match_phrase": {"value.msg": "payment failed"}}) == [0, 1]
    assert offsets({"query_string": {"query": 'value.msg:"payment failed"'}}) == [0, 1]
    assert offsets({"term": {"value.request_id": "req-0007"}}) == [0, 3, 4]
    assert offsets({"match_phrase": {"value": "payment failed"}}) == [0, 2]  # the text keeps positions
    assert offsets({"query_string": {"query": 'value.note:"failed payment"'}}) == [2]
    idx.close()


def test_id_queries_find_a_document_by_partition_and_offset(tmp_path: Path):
    idx, offsets = _searchable(tmp_path)
    assert offsets({"term": {"_id": "1-11"}}) == [11]
    assert offsets({"match": {"_id": "0-2"}}) == [2]
    assert offsets({"term": {"_id": "1-2"}}) == []
    assert offsets({"term": {"_id": "nonsense"}}) == []
    idx.close()

