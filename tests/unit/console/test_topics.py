"""Topics through the console: list, detail, create/delete/alter as Kafka requests, Kafka's errors."""

from __future__ import annotations


def test_list_and_detail_show_partitions_offsets_and_configs(env):
    core, _console, client = env
    core.create_topic("orders", 2, {"retention.ms": "3600000", "chronik.search.enable": "true"})
    core.create_topic("logs", 1, {"cleanup.policy": "compact"})
    for v in range(3):
        body = {"key": f"k{v}", "value": "x", "partition": 1}
        assert client.post("/console/api/topics/orders/produce", body)[0] == 201
    status, out = client.get("/console/api/topics")
    assert status == 200
    by = {t["name"]: t for t in out["topics"]}
    assert by["orders"]["partitions"] == 2 and by["orders"]["messages"] == 3 and by["orders"]["search_enabled"]
    assert by["orders"]["retention_ms"] == 3600000 and by["logs"]["cleanup_policy"] == "compact"
    assert not by["logs"]["search_enabled"] and by["orders"]["size_bytes"] > 0
    status, d = client.get("/console/api/topics/orders")
    assert [(p["partition"], p["start_offset"], p["end_offset"]) for p in d["partitions"]] == [(0, 0, 0), (1, 0, 3)]
    cfg = {c["name"]: c for c in d["configs"]}
    assert cfg["retention.ms"] == {"name": "retention.ms", "value": "3600000", "is_default": False}
    assert cfg["segment.bytes"]["is_default"]


def test_unknown_topic_is_404(env):
    _core, _console, client = env
    status, out = client.get("/console/api/topics/nope")
    assert status == 404 and out["error"]["code"] == "UNKNOWN_TOPIC_OR_PARTITION"


def test_create_with_configs_and_kafka_errors(env):
    core, _console, client = env
    status, out = client.post("/console/api/topics", {"name": "a", "partitions": 3,
                                                      "configs": {"cleanup.policy": "compact"}})
    assert status == 201
    assert len(core.topics["a"].partitions) == 3 and core.topics["a"].config.compact
    status, out = client.post("/console/api/topics", {"name": "a", "partitions": 1})
    assert status == 409 and out["error"]["code"] == "TOPIC_ALREADY_EXISTS"
    assert "already exists" in out["error"]["message"]
    status, out = client.post("/console/api/topics", {"name": "bad name!", "partitions": 1})
    assert status == 400 and out["error"]["code"] == "INVALID_TOPIC_EXCEPTION"
    status, out = client.post("/console/api/topics", {"name": "b", "configs": {"retention.ms": "soon"}})
    assert status == 400 and out["error"]["code"] == "INVALID_CONFIG"
    for bad in ({"name": "c", "partitions": 0}, {"name": "c", "partitions": "many"}, {"partitions": 1},
                {"name": "c", "configs": ["x"]}):
        status, out = client.post("/console/api/topics", bad)
        assert status == 400, bad
    assert "b" not in core.topics and "c" not in core.topics


def test_alter_configs_sets_and_resets(env):
    core, _console, client = env
    core.create_topic("t", 1)
    status, d = client.post("/console/api/topics/t/configs", {"set": {"retention.ms": "1000"}})
    assert status == 200
    assert {c["name"]: c["value"] for c in d["configs"]}["retention.ms"] == "1000"
    assert core.topics["t"].configs == {"retention.ms": "1000"}
    status, d = client.post("/console/api/topics/t/configs", {"delete": ["retention.ms"]})
    assert status == 200 and core.topics["t"].configs == {}
    status, out = client.post("/console/api/topics/t/configs", {"set": {"no.such.config": "1"}})
    assert status == 400 and out["error"]["code"] == "INVALID_CONFIG"
    assert client.post("/console/api/topics/t/configs", {})[0] == 400
    assert client.post("/console/api/topics/nope/configs", {"set": {"retention.ms": "1"}})[0] == 404


def test_delete(env):
    core, _console, client = env
    core.create_topic("t", 1)
    status, out = client.post("/console/api/topics/t/delete")
    assert status == 200 and out == {"deleted": "t"} and "t" not in core.topics
    status, out = client.post("/console/api/topics/t/delete")
    assert status == 404 and out["error"]["code"] == "UNKNOWN_TOPIC_OR_PARTITION"
