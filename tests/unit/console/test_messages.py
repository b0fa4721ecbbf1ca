"""The message browser through the console: browse, tail, download, produce, search errors."""

from __future__ import annotations

import json


def produce(client, topic: str, n: int, partition: int | None = None, prefix: str = "v") -> list[dict]:
    out = []
    for i in range(n):
        status, r = client.post(f"/console/api/topics/{topic}/produce",
                                {"key": f"k{i}", "value": json.dumps({"n": i, "p": prefix}),
                                 "headers": [{"key": "h", "value": f"x{i}"}], "partition": partition})
        assert status == 201, r
        out.append(r)
    return out


def test_produce_then_browse_newest_first_with_json_and_headers(env):
    core, _console, client = env
    core.create_topic("t", 2)
    got = produce(client, "t", 6, partition=0)
    assert [r["offset"] for r in got] == list(range(6)) and {r["partition"] for r in got} == {0}
    status, out = client.get("/console/api/topics/t/messages?from=end&limit=4")
    assert status == 200
    msgs = out["messages"]
    assert [m["offset"] for m in msgs] == [5, 4, 3, 2]
    m = msgs[0]
    assert m["key"]["text"] == "k5" and m["value"]["format"] == "json" and m["value"]["json"] == {"n": 5, "p": "v"}
    assert m["headers"] == [{"key": "h", "value": "x5"}]
    assert out["cursor"] == {"0": 6, "1": 0} and out["end_offsets"] == {"0": 6, "1": 0}


def test_browse_from_start_offset_and_time(env):
    core, _console, client = env
    core.create_topic("t", 1)
    produce(client, "t", 10, partition=0)
    out = client.get("/console/api/topics/t/messages?from=start&limit=3&order=oldest")[1]
    assert [m["offset"] for m in out["messages"]] == [0, 1, 2] and out["truncated"] is False
    out = client.get("/console/api/topics/t/messages?from=offset&offset=7&partition=0")[1]
    assert sorted(m["offset"] for m in out["messages"]) == [7, 8, 9]
    ts = out["messages"][-1]["timestamp"]
    out = client.get(f"/console/api/topics/t/messages?from=time&time={ts}")[1]
    assert min(m["offset"] for m in out["messages"]) <= 7 and all(m["timestamp"] >= ts for m in out["messages"])
    out = client.get("/console/api/topics/t/messages?from=time&time=2100-01-01T00:00:00Z")[1]
    assert out["messages"] == []


def test_browse_bad_arguments_are_400_or_404(env):
    core, _console, client = env
    core.create_topic("t", 1)
    for q, code in (("from=sideways", 400), ("limit=0", 400), ("limit=100000", 400), ("limit=x", 400),
                    ("partition=5", 404), ("from=time", 400), ("from=time&time=yesterday", 400),
                    ("from=offset&offset=-3", 400), ("order=random", 400)):
        status, out = client.get("/console/api/topics/t/messages?" + q)
        assert status == code and out["error"]["status"] == code, q


def test_tail_returns_only_what_is_new(env):
    core, _console, client = env
    core.create_topic("t", 2)
    produce(client, "t", 2, partition=0)
    first = client.get("/console/api/topics/t/tail")[1]
    assert first["messages"] == [] and first["cursor"] == {"0": 2, "1": 0}
    produce(client, "t", 1, partition=1, prefix="new")
    again = client.get("/console/api/topics/t/tail?cursor=" + first["cursor_text"])[1]
    assert [(m["partition"], m["offset"], m["value"]["json"]["p"]) for m in again["messages"]] == [(1, 0, "new")]
    assert again["cursor"] == {"0": 2, "1": 1}
    assert client.get("/console/api/topics/t/tail?cursor=" + again["cursor_text"])[1]["messages"] == []
    assert client.get("/console/api/topics/t/tail?cursor=garbage")[0] == 400


def test_download_is_json_lines_in_slices(env, monkeypatch):
    from chronik.console import messages

    monkeypatch.setattr(messages, "SLICE_RECORDS", 3)  # several slices on the loop
    core, console, client = env
    core.create_topic("t", 2)
    produce(client, "t", 5, partition=0)
    produce(client, "t", 4, partition=1)
    r = client.request("GET", "/console/api/topics/t/download?from=start&limit=100")
    assert r.status == 200 and r.content_type.startswith("application/x-ndjson")
    assert "attachment" in dict(r.headers)["content-disposition"]
    raw = r.body if isinstance(r.body, bytes) else b"".join(r.body)
    lines = [json.loads(x) for x in raw.splitlines()]
    want = [(0, i) for i in range(5)] + [(1, i) for i in range(4)]
    assert sorted((m["partition"], m["offset"]) for m in lines) == want
    r = client.request("GET", "/console/api/topics/t/download?from=start&limit=4")
    raw = r.body if isinstance(r.body, bytes) else b"".join(r.body)
    assert len(raw.splitlines()) == 4


def test_produce_errors(env):
    core, _console, client = env
    core.create_topic("t", 1)
    assert client.post("/console/api/topics/nope/produce", {"value": "v"})[0] == 404
    assert client.post("/console/api/topics/t/produce", {"value": 5})[0] == 400
    assert client.post("/console/api/topics/t/produce", {"value": "v", "partition": 3})[0] == 400
    assert client.post("/console/api/topics/t/produce", {"value": "v", "headers": [{"value": "no key"}]})[0] == 400
    assert client.post("/console/api/topics/t/produce", {"value": "x" * (1024 * 1024 + 1)})[0] == 413
    assert core.topics["t"].partitions[0].log_end_offset == 0
    # a null value (a tombstone) and a JSON value given as an object
    assert client.post("/console/api/topics/t/produce", {"key": "k", "value": None})[0] == 201
    assert client.post("/console/api/topics/t/produce", {"key": "k", "value": {"a": 1}})[0] == 201
    msgs = client.get("/console/api/topics/t/messages?from=start&order=oldest")[1]["messages"]
    assert msgs[0]["value"] is None and msgs[1]["value"]["json"] == {"a": 1}


def test_compacted_topic_refuses_a_keyless_record_like_kafka(env):
    core, _console, client = env
    core.create_topic("c", 1, {"cleanup.policy": "compact"})
    status, out = client.post("/console/api/topics/c/produce", {"value": "v"})
    assert status == 400 and out["error"]["code"] == "INVALID_RECORD"


def test_search_on_a_topic_without_an_index_says_how_to_get_one(env):
    core, _console, client = env
    core.create_topic("t", 1)
    status, out = client.get("/console/api/topics/t/search?q=hello")
    assert status == 404 and out["indexed"] is False
    assert "not indexed" in out["error"]["message"] and "chronik.search.enable" in out["error"]["message"]
    assert client.get("/console/api/topics/nope/search?q=x")[0] == 404


def test_a_tail_that_falls_behind_skips_to_the_newest(env):
    core, _console, client = env
    core.create_topic("t", 1)
    cursor = client.get("/console/api/topics/t/tail")[1]["cursor_text"]
    produce(client, "t", 12, partition=0)
    out = client.get(f"/console/api/topics/t/tail?limit=5&cursor={cursor}")[1]
    assert [m["offset"] for m in out["messages"]] == [11, 10, 9, 8, 7] and out["cursor"] == {"0": 12}


def test_a_bug_during_a_download_is_a_500_answer_not_a_hung_request(env, monkeypatch):
    from chronik.console import messages

    core, _console, client = env
    core.create_topic("t", 1)
    produce(client, "t", 2, partition=0)

    def broken(rec, decoder):
        raise RuntimeError("boom")

    monkeypatch.setattr(messages, "to_json", broken)
    status, out = client.get("/console/api/topics/t/download?from=start")
    assert status == 500 and "internal error" in out["error"]["message"]
