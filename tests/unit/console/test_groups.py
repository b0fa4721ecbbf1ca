"""Consumer groups through the console: lag per partition, lag history, resets of an empty group."""

from __future__ import annotations

import struct

from chronik.console.groups import parse_assignment


def fill(client, topic: str, per_partition: list[int]) -> None:
    for p, n in enumerate(per_partition):
        for i in range(n):
            body = {"key": "k", "value": str(i), "partition": p}
            assert client.post(f"/console/api/topics/{topic}/produce", body)[0] == 201


def test_parse_assignment_reads_the_consumer_protocol():
    topic = b"orders"
    data = struct.pack(">hi", 0, 1) + struct.pack(">h", len(topic)) + topic + struct.pack(">iii", 2, 1, 0) + b"\xff" * 4
    assert parse_assignment(data) == {"orders": [0, 1]}
    assert parse_assignment(b"\x00") == {}
    assert parse_assignment(b"") == {}


def test_list_and_detail_show_lag_including_uncommitted_partitions(env):
    core, console, client = env
    core.create_topic("t", 2)
    fill(client, "t", [5, 3])
    core.offsets.commit("g", {("t", 0): (2, None, -1)})
    status, out = client.get("/console/api/groups")
    assert status == 200
    (g,) = out["groups"]
    assert (g["group_id"], g["state"], g["members"], g["lag"], g["topics"]) == ("g", "Empty", 0, 6, ["t"])
    status, d = client.get("/console/api/groups/g")
    assert status == 200 and d["lag"] == 6 and d["members"] == []
    rows = [(r["topic"], r["partition"], r["committed"], r["end_offset"], r["lag"]) for r in d["offsets"]]
    assert rows == [("t", 0, 2, 5, 3), ("t", 1, None, 3, 3)]
    console.sampler.sample()  # the first sample takes lag at once
    h = client.get("/console/api/groups/g/lag-history")[1]
    assert h["interval_ms"] == 5000 and [p["lag"] for p in h["points"]] == [6] and h["lag"] == 6
    assert client.get("/console/api/groups/nope")[0] == 404


def test_reset_to_start_end_offset_and_time(env):
    core, _console, client = env
    core.create_topic("t", 2)
    fill(client, "t", [4, 4])
    core.offsets.commit("g", {("t", 0): (4, None, -1), ("t", 1): (4, None, -1)})
    status, out = client.post("/console/api/groups/g/reset", {"to": "start"})
    assert status == 200 and out["offsets"] == [{"topic": "t", "partition": 0, "offset": 0},
                                                  {"topic": "t", "partition": 1, "offset": 0}]
    assert client.get("/console/api/groups/g")[1]["lag"] == 8
    client.post("/console/api/groups/g/reset", {"to": "offset", "offset": 3, "topic": "t", "partitions": [1]})
    assert {p: c.offset for (_, p), c in core.offsets.group_offsets("g").items()} == {0: 0, 1: 3}
    client.post("/console/api/groups/g/reset", {"to": "offset", "offset": 99})  # clamped to the end
    assert {c.offset for c in core.offsets.group_offsets("g").values()} == {4}
    msgs = client.get("/console/api/topics/t/messages?from=start&partition=0&order=oldest")[1]["messages"]
    client.post("/console/api/groups/g/reset", {"to": "time", "time": msgs[2]["timestamp"], "topic": "t",
                                                "partitions": [0]})
    assert core.offsets.group_offsets("g")[("t", 0)].offset <= 2
    assert client.post("/console/api/groups/g/reset", {"to": "end"})[1]["offsets"][0]["offset"] == 4


def test_reset_bad_input(env):
    core, _console, client = env
    core.create_topic("t", 1)
    core.offsets.commit("g", {("t", 0): (0, None, -1)})
    for body, code in (({"to": "sideways"}, 400), ({"to": "offset", "offset": "x"}, 400), ({"to": "time"}, 400),
                       ({"to": "start", "topic": "nope"}, 404), ({"to": "start", "partitions": "0"}, 400)):
        status, out = client.post("/console/api/groups/g/reset", body)
        assert status == code and out["error"]["status"] == code, body
    assert client.post("/console/api/groups/nope/reset", {"to": "start"})[0] == 404
