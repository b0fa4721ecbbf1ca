"""Search end to end: real clients produce, the ES-style API answers exact partition/offset sets."""

from __future__ import annotations

import json
import shutil
import signal
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import KafkaProducer

pytestmark = [pytest.mark.integration]

T0 = 1_700_000_000_000


def create(bootstrap: str, topic: str, partitions: int = 1, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, partitions, 1, config=configs)])[topic]
    fut.result(10)


def produce(bootstrap: str, topic: str, records: list[dict], **conf) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    for r in records:
        p.produce(topic, value=r.get("value"), key=r.get("key"), partition=r.get("partition", -1),
                  headers=r.get("headers"), timestamp=r.get("timestamp", 0))
    assert p.flush(20) == 0


def ids(*pairs: tuple[int, int]) -> set[str]:
    return {f"{p}-{o}" for p, o in pairs}


def orders(n: int = 60) -> list[dict]:
    """Two partitions, records i = 0..n-1 alternate partitions; offsets are i // 2."""
    out = []
    for i in range(n):
        v = {"user": {"id": i % 5, "name": f"user{i % 5}"}, "level": "error" if i % 6 == 0 else "info",
             "msg": f"payment failed for order {i}" if i % 4 == 0 else f"order {i} shipped", "amount": i * 10}
        out.append({"partition": i % 2, "key": f"user-{i % 5}", "value": json.dumps(v),
                    "headers": [("trace-id", f"t{i}".encode()), ("source", b"checkout" if i % 3 else b"cart")],
                    "timestamp": T0 + i * 1000})
    return out


def where(records: list[dict], pred) -> set[str]:
    return {f"{i % 2}-{i // 2}" for i, r in enumerate(records) if pred(i, r)}


def test_text_phrase_key_header_json_and_time_queries(search_factory):
    b = search_factory("--search")
    recs = orders()
    create(b.bootstrap, "orders", 2)
    produce(b.bootstrap, "orders", recs)
    b.wait_docs("orders", len(recs))

    assert set(b.search("orders", {"match": {"value": "shipped"}})) == where(recs, lambda i, r: i % 4)
    phrase = {"match_phrase": {"value": "payment failed"}}
    assert set(b.search("orders", phrase)) == where(recs, lambda i, r: i % 4 == 0)
    assert set(b.search("orders", {"query_string": {"query": '"failed for order 8"'}})) == ids((0, 4))
    assert set(b.search("orders", {"term": {"key": "user-3"}})) == where(recs, lambda i, r: i % 5 == 3)
    assert b.search("orders", {"term": {"key": "USER-3"}}) == []  # exact: case kept
    assert set(b.search("orders", {"term": {"headers.trace-id": "t17"}})) == ids((1, 8))
    assert set(b.search("orders", {"match": {"headers.source": "cart"}})) == where(recs, lambda i, r: i % 3 == 0)
    assert set(b.search("orders", {"query_string": {"query": "value.level:error"}})) == where(
        recs, lambda i, r: i % 6 == 0)
    assert set(b.search("orders", {"query_string": {"query": "value.user.id:2 AND value.level:info"}})) == where(
        recs, lambda i, r: i % 5 == 2 and i % 6)
    assert set(b.search("orders", {"term": {"value.amount": 150}})) == where(recs, lambda i, r: i == 15)
    assert b.request("/orders/_search", {"query": {"range": {"value.amount": {"gte": 1}}}})[0] == 400
    assert set(b.search("orders", {"range": {"timestamp": {"gte": T0 + 10_000, "lt": T0 + 20_000}}})) == where(
        recs, lambda i, r: 10 <= i < 20)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((T0 + 50_000) / 1000)) + "Z"
    assert set(b.search("orders", {"range": {"timestamp": {"gte": iso}}})) == where(recs, lambda i, r: i >= 50)
    q = {"bool": {"must": [{"match": {"value": "order"}}], "filter": [{"term": {"partition": 1}}],
                  "must_not": [{"range": {"offset": {"lt": 20}}}], "should": [{"match": {"value": "shipped"}}]}}
    assert set(b.search("orders", q)) == where(recs, lambda i, r: i % 2 == 1 and i // 2 >= 20)
    q2 = {"bool": {"should": [{"term": {"key": "user-1"}}, {"term": {"key": "user-2"}}]}}
    assert set(b.search("orders", q2)) == where(recs, lambda i, r: i % 5 in (1, 2))

    # sort, paging, _source, highlight, URL parameters
    by_ts = b.search("orders", {"match_all": {}}, sort=[{"timestamp": "asc"}], size=5)
    assert by_ts == [f"{i % 2}-{i // 2}" for i in range(5)]
    page = b.search("orders", {"match_all": {}}, sort=[{"timestamp": "asc"}], size=5, **{"from": 5})
    assert page == [f"{i % 2}-{i // 2}" for i in range(5, 10)]
    status, out = b.request("/orders/_search", {"query": {"match": {"value": "payment"}}, "size": 1,
                                                 "_source": ["offset", "key"], "highlight": {"fields": {"value": {}}}})
    hit = out["hits"]["hits"][0]
    assert set(hit["_source"]) == {"offset", "key"} and "<em>payment</em>" in hit["highlight"]["value"][0]
    status, out = b.request("/orders/_search?q=key:user&size=3&sort=offset:desc&_source=false")
    assert status == 200 and out["hits"]["total"]["value"] == 60 and "_source" not in out["hits"]["hits"][0]
    status, out = b.request("/orders/_search", {"query": {"term": {"headers.trace-id": "t3"}}})
    src = out["hits"]["hits"][0]["_source"]
    assert src == {"topic": "orders", "partition": 1, "offset": 1, "timestamp": T0 + 3000, "key": "user-3",
                   "value": recs[3]["value"], "headers": {"trace-id": "t3", "source": "cart"}}
    # /_search over every index and by ?index=
    status, out = b.request("/_search?index=orders&q=value.level:error&size=0")
    assert out["hits"]["total"]["value"] == len(where(recs, lambda i, r: i % 6 == 0))


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_every_codec_is_indexed(search_factory, codec):
    b = search_factory("--search")
    p = KafkaProducer(bootstrap_servers=b.bootstrap, compression_type=codec, linger_ms=20)
    for i in range(200):
        p.send("c", key=b"k%d" % i, value=json.dumps({"n": i, "word": "needle" if i % 10 == 0 else "hay"}).encode())
    p.flush()
    p.close()
    b.wait_docs("c", 200)
    assert set(b.search("c", {"match": {"value": "needle"}})) == {f"0-{i}" for i in range(0, 200, 10)}
    assert set(b.search("c", {"term": {"value.n": 42}})) == {"0-42"}


def test_aborted_never_and_open_transactions_only_after_commit(search_factory):
    b = search_factory("--search")
    create(b.bootstrap, "tx")
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "search-tx"})
    p.init_transactions(10)
    p.begin_transaction()
    for i in range(5):
        p.produce("tx", value=f"aborted {i}".encode())
    p.flush()
    p.abort_transaction(10)
    plain = Producer({"bootstrap.servers": b.bootstrap})
    p.begin_transaction()
    for i in range(5):
        p.produce("tx", value=f"committed {i}".encode())
    p.flush()
    # Open transaction: nothing past the LSO is searchable, not even later plain records.
    plain.produce("tx", value=b"plain after open")
    plain.flush()
    time.sleep(1.0)
    assert b.search("tx", {"match": {"value": "committed"}}) == []
    assert b.search("tx", {"match": {"value": "plain"}}) == []
    p.commit_transaction(10)
    b.wait_total("tx", 5, {"match": {"value": "committed"}})
    b.wait_total("tx", 1, {"match": {"value": "plain"}})
    assert b.search("tx", {"match": {"value": "aborted"}}) == []
    assert b.total("tx") == 6


def test_delete_records_and_retention_remove_hits(search_factory):
    b = search_factory("--search", "--log-retention-check-interval-ms", "100")
    create(b.bootstrap, "dr")
    produce(b.bootstrap, "dr", [{"value": f"rec {i}"} for i in range(50)])
    b.wait_docs("dr", 50)
    from confluent_kafka import TopicPartition
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    fut = admin.delete_records([TopicPartition("dr", 0, 30)])
    list(fut.values())[0].result(10)
    b.wait_total("dr", 20)
    assert set(b.search("dr", {"match": {"value": "rec"}})) == {f"0-{i}" for i in range(30, 50)}
    b.wait_docs("dr", 20)  # pruned from the index too, not only hidden

    # retention: small segments, retention.ms short -> old segments (and their hits) go
    create(b.bootstrap, "ret", **{"segment.bytes": "200", "retention.ms": "3000"})
    produce(b.bootstrap, "ret", [{"value": f"old {i}"} for i in range(20)])
    b.wait_docs("ret", 20)
    time.sleep(3.2)
    produce(b.bootstrap, "ret", [{"value": "new one"}])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and b.total("ret", {"match": {"value": "old"}}):
        time.sleep(0.1)
    assert b.total("ret", {"match": {"value": "old"}}) == 0
    b.wait_total("ret", 1, {"match": {"value": "new"}})
    assert b.search("ret", {"match": {"value": "new"}}) == ["0-20"]


def log_offsets(bootstrap: str, topic: str) -> set[str]:
    """`_id`s of the records a consumer reads from partition 0 (the log's own answer)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "x", "enable.partition.eof": True,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = set()
    try:
        while True:
            m = c.poll(5)
            if m is None:
                break
            if m.error():
                break
            out.add(f"0-{m.offset()}")
    finally:
        c.close()
    return out


def test_compaction_removes_hits(search_factory):
    b = search_factory("--search", "--log-retention-check-interval-ms", "100")
    # Indexed first, compacted two seconds later (min.compaction.lag.ms).
    create(b.bootstrap, "cmp", **{"cleanup.policy": "compact", "segment.bytes": "300",
                                  "min.cleanable.dirty.ratio": "0.01", "segment.ms": "100",
                                  "min.compaction.lag.ms": "2000"})
    recs = [{"key": f"k{i % 4}", "value": f"version {i} of k{i % 4}"} for i in range(40)]
    produce(b.bootstrap, "cmp", recs, **{"enable.idempotence": False})
    b.wait_docs("cmp", 40)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and "compacted cmp-0" not in b.output():
        time.sleep(0.2)
    assert "compacted cmp-0" in b.output()
    hits: set[str] = set()
    while time.monotonic() < deadline:
        hits = set(b.search("cmp", {"match": {"value": "version"}}))
        if hits == log_offsets(b.bootstrap, "cmp"):
            break
        time.sleep(0.3)
    assert hits == log_offsets(b.bootstrap, "cmp")
    assert {f"0-{i}" for i in range(36, 40)} <= hits and len(hits) < 40
    assert b.total("cmp") == len(hits)  # counted right too: removed from the index, not only hidden


def test_delete_topic_removes_the_index_and_opt_in_per_topic(search_factory):
    b = search_factory()  # no --search: topics opt in
    create(b.bootstrap, "plain")
    produce(b.bootstrap, "plain", [{"value": "x"}])
    time.sleep(0.5)  # the loop publishes its topic list every 250 ms
    status, out = b.request("/plain/_search")
    assert status == 404 and "chronik.search.enable=true" in out["error"]["reason"]
    create(b.bootstrap, "opt", **{"chronik.search.enable": "true"})
    produce(b.bootstrap, "opt", [{"value": f"v{i}"} for i in range(10)])
    b.wait_docs("opt", 10)
    # AlterConfigs turns it on for an existing topic, DescribeConfigs lists it
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource("topic", "plain", set_config={"chronik.search.enable": "true"})
    list(admin.alter_configs([res]).values())[0].result(10)
    b.wait_docs("plain", 1)
    desc = list(admin.describe_configs([ConfigResource("topic", "plain")]).values())[0].result(10)
    assert desc["chronik.search.enable"].value == "true"
    idx_dir = b.data_dir / ".search" / "opt"
    assert idx_dir.is_dir()
    list(admin.delete_topics(["opt"]).values())[0].result(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and idx_dir.exists():
        time.sleep(0.05)
    assert not idx_dir.exists()
    status, out = b.request("/opt/_search")
    assert status == 404


def test_sigkill_during_indexing_then_restart_has_no_duplicates(search_factory):
    b = search_factory("--search")
    create(b.bootstrap, "big", 2)
    n = 20_000
    produce(b.bootstrap, "big", [{"value": f"record number {i}", "partition": i % 2} for i in range(n)])
    time.sleep(0.3)  # indexing under way
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    b.start()
    row = b.wait_docs("big", n, timeout=90)
    assert int(row["docs.count"]) == n
    got = b.search("big", {"match": {"value": "record"}}, size=10_000)
    assert len(got) == len(set(got)) == 10_000
    assert b.total("big", {"match": {"value": "record"}}) == n
    assert b.search("big", {"match_phrase": {"value": "record number 12345"}}) == ["1-6172"]


def test_removed_index_directory_is_rebuilt(search_factory):
    b = search_factory("--search")
    create(b.bootstrap, "rb")
    produce(b.bootstrap, "rb", [{"value": f"line {i}", "key": f"k{i}"} for i in range(100)])
    b.wait_docs("rb", 100)
    before = b.search("rb", {"match": {"value": "line"}})
    b.stop()
    shutil.rmtree(b.data_dir / ".search" / "rb")
    b.start()
    b.wait_docs("rb", 100)
    assert sorted(b.search("rb", {"match": {"value": "line"}})) == sorted(before)
    # a damaged one too
    b.stop()
    for f in (b.data_dir / ".search" / "rb").iterdir():
        if f.name == "meta.json":
            f.write_text("{ not json")
    b.start()
    b.wait_docs("rb", 100)
    assert b.total("rb") == 100


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", {"query": {"nope": {}}}, {"query": {"match": {"value": "x", "key": "y"}}},
    {"query": {"query_string": {"query": "value:("}}}, {"size": -1}, {"from": "x"}, {"sort": "key"},
    {"query": {"range": {"timestamp": {"gte": "yesterday-ish"}}}}, {"query": {"term": {"nofield": "x"}}},
    {"query": {"bool": {"must": [{"match": {}}]}}}, {"unknown": 1}, {"size": 20_000},
])
def test_malformed_bodies_get_400_and_the_broker_keeps_serving(search_factory, body, request):
    b = request.node.__dict__.setdefault("_b", None) or search_factory("--search")
    create(b.bootstrap, "m")
    produce(b.bootstrap, "m", [{"value": "hello"}])
    b.wait_docs("m", 1)
    status, out = b.request("/m/_search", body if isinstance(body, bytes) else body, method="POST")
    assert status == 400, out
    assert out["status"] == 400 and out["error"]["type"] and out["error"]["root_cause"]
    assert b.search("m", {"match": {"value": "hello"}}) == ["0-0"]


def test_a_backlog_larger_than_one_commit_is_indexed_once(search_factory):
    """More records than the indexer keeps uncommitted (it commits within a slice): each exactly once."""
    from chronik.search.index import MAX_UNCOMMITTED_DOCS

    b = search_factory()
    n = 2 * MAX_UNCOMMITTED_DOCS + 1234
    create(b.bootstrap, "backlog")  # search off: the whole backlog is there when it is turned on
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 50, "batch.size": 1 << 20})
    for i in range(n):
        p.produce("backlog", key=f"k{i % 7}".encode(), value=json.dumps({"i": i, "even": i % 2 == 0}).encode())
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource("topic", "backlog", set_config={"chronik.search.enable": "true"})
    list(admin.alter_configs([res]).values())[0].result(10)
    b.wait_docs("backlog", n, timeout=300)
    assert b.total("backlog", {"term": {"key": "k3"}}) == len(range(3, n, 7))
    assert b.total("backlog", {"term": {"value.even": True}}) == len(range(0, n, 2))
    assert set(b.search("backlog", {"term": {"value.i": n - 1}})) == {f"0-{n - 1}"}
    assert set(b.search("backlog", {"range": {"offset": {"gte": 9_000, "lt": 9_005}}})) == \
        {f"0-{o}" for o in range(9_000, 9_005)}
