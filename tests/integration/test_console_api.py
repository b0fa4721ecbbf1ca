"""The console's JSON API on a real `chronik integrated`, with data written and read by confluent-kafka.

Checks content: values, offsets and lag numbers the API answers, Avro decoded through the in-process
registry (Confluent wire format), search hits, the CSRF / Origin guards, read-only mode, offset
resets (refused for a group with members, as kafka-consumer-groups does), and login as a SASL user
when the authorizer is on.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration

ck = pytest.importorskip("confluent_kafka")

USER_AVRO = json.dumps({"type": "record", "name": "User", "fields": [
    {"name": "name", "type": "string"}, {"name": "age", "type": "int"}]})


@dataclass
class Api:
    base: str
    cookie: str | None = None
    csrf: str | None = None

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None,
             token: bool = True) -> tuple[int, object, dict]:
        h = {"content-type": "application/json"}
        if self.cookie:
            h["cookie"] = self.cookie
        if method == "POST":
            h["origin"] = self.base
            if token and self.csrf:
                h["x-csrf-token"] = self.csrf
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        req = urllib.request.Request(self.base + path, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                raw, status, rh = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            raw, status, rh = e.read(), e.code, e.headers
        ctype = rh.get("Content-Type") or ""
        return status, (json.loads(raw) if ctype.startswith("application/json") else raw), rh

    def get(self, path: str, **kw) -> tuple[int, object]:
        status, body, _ = self.call("GET", path, **kw)
        return status, body

    def post(self, path: str, body: object = None, **kw) -> tuple[int, object]:
        status, out, _ = self.call("POST", path, body, **kw)
        return status, out

    def session(self) -> dict:
        status, body, headers = self.call("GET", "/console/api/session")
        assert status == 200
        if headers.get("Set-Cookie"):
            self.cookie = headers["Set-Cookie"].split(";", 1)[0]
        self.csrf = body["csrf_token"]
        return body


def start(broker_factory, *args: str):
    http = free_port()
    b = broker_factory("--http-port", str(http), "--no-schema-registry-port", *args)
    api = Api(f"http://127.0.0.1:{http}")
    api.session()
    return b, api


def produce(bootstrap: str, topic: str, records: list[tuple], **conf) -> None:
    p = ck.Producer({"bootstrap.servers": bootstrap, **conf})
    for key, value, partition, headers in records:
        extra = {"partition": partition} if partition is not None else {}
        p.produce(topic, key=key, value=value, headers=headers, **extra)
    assert p.flush(15) == 0


def consume(bootstrap: str, topic: str, n: int, group: str, commit: bool = True) -> list:
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m)
    if commit and got:
        last = {}
        for m in got:
            last[m.partition()] = m.offset() + 1
        c.commit(offsets=[ck.TopicPartition(topic, p, o) for p, o in last.items()], asynchronous=False)
    c.close()
    return got


def test_the_page_and_the_api_show_what_confluent_kafka_wrote(broker_factory):
    b, api = start(broker_factory, "--search")
    status, page, headers = api.call("GET", "/")
    assert status == 200 and b"console.js" in page and "script-src 'self'" in headers["Content-Security-Policy"]
    assert api.post("/console/api/topics", {"name": "orders", "partitions": 2,
                                            "configs": {"chronik.search.enable": "true"}})[0] == 201
    records = [(f"order-{i}", json.dumps({"id": i, "status": "failed" if i % 4 == 0 else "paid"}), i % 2,
                [("trace", f"t{i}".encode())]) for i in range(20)]
    produce(b.bootstrap, "orders", records)
    status, topics = api.get("/console/api/topics")
    (orders,) = [t for t in topics["topics"] if t["name"] == "orders"]
    assert (orders["partitions"], orders["messages"], orders["search_enabled"]) == (2, 20, True)
    status, d = api.get("/console/api/topics/orders")
    assert [(p["partition"], p["start_offset"], p["end_offset"]) for p in d["partitions"]] == [(0, 0, 10), (1, 0, 10)]
    # newest first: order-18 and order-19 (offset 9 of each partition) were written last
    status, out = api.get("/console/api/topics/orders/messages?from=end&limit=4")
    msgs = out["messages"]
    stamps = [m["timestamp"] for m in msgs]
    assert stamps == sorted(stamps, reverse=True)
    assert {(m["partition"], m["offset"], m["key"]["text"]) for m in msgs[:2]} == {(0, 9, "order-18"),
                                                                                    (1, 9, "order-19")}
    last = next(m for m in msgs if m["key"]["text"] == "order-19")
    assert last["value"]["json"] == {"id": 19, "status": "paid"} and last["headers"] == [{"key": "trace",
                                                                                          "value": "t19"}]
    status, out = api.get("/console/api/topics/orders/messages?from=offset&offset=8&partition=0&order=oldest")
    assert [(m["offset"], m["key"]["text"]) for m in out["messages"]] == [(8, "order-16"), (9, "order-18")]
    # search with `chronik search`'s syntax, through the index
    deadline = time.monotonic() + 30
    while True:
        status, out = api.get("/console/api/topics/orders/search?q=" + urllib.request.quote("value.status:failed"))
        if status == 200 and out["total"] == 5 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and out["total"] == 5
    assert sorted(m["key"]["text"] for m in out["hits"]) == sorted(f"order-{i}" for i in range(0, 20, 4))
    # a time range that holds none of them
    status, out = api.get("/console/api/topics/orders/search?q=*&since=4102444800000")
    assert status == 200 and out["total"] == 0 and out["hits"] == []
    status, out = api.get("/console/api/topics/orders/search?q=" + urllib.request.quote("value.status:(") )
    assert status == 400 and "search failed" in out["error"]["message"]
    # download as JSON lines
    status, raw, headers = api.call("GET", "/console/api/topics/orders/download?from=start&limit=100")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    lines = [json.loads(x) for x in raw.splitlines()]
    assert sorted(m["key"]["text"] for m in lines) == sorted(f"order-{i}" for i in range(20))
    # produce from the console: confluent-kafka reads it back
    status, out = api.post("/console/api/topics/orders/produce", {"key": "from-console", "value": "hi",
                                                                  "headers": [{"key": "h", "value": "v"}],
                                                                  "partition": 0})
    assert status == 201 and out == {"topic": "orders", "partition": 0, "offset": 10}
    got = consume(b.bootstrap, "orders", 21, "reader", commit=False)
    mine = [m for m in got if m.key() == b"from-console"]
    assert len(mine) == 1 and mine[0].value() == b"hi" and mine[0].headers() == [("h", b"v")]
    # the first write to a fresh topic waits for its files (made off the loop), then answers
    assert api.post("/console/api/topics", {"name": "fresh"})[0] == 201
    status, out = api.post("/console/api/topics/fresh/produce", {"key": "k", "value": "first"})
    assert status == 201 and out == {"topic": "fresh", "partition": 0, "offset": 0}
    assert [m.value() for m in consume(b.bootstrap, "fresh", 1, "fresh-reader", commit=False)] == [b"first"]
    # bad input: JSON errors, the broker keeps serving
    for path in ("/console/api/topics/orders/messages?limit=-1", "/console/api/topics/orders/messages?from=x"):
        status, out = api.get(path)
        assert status == 400 and out["error"]["status"] == 400
    status, out = api.get("/console/api/topics/nope")
    assert status == 404
    assert api.get("/console/api/overview")[1]["status"]["topics"] >= 1


def test_avro_values_are_decoded_through_the_registry(broker_factory):
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    b, api = start(broker_factory)
    sr = SchemaRegistryClient({"url": api.base})
    sid = sr.register_schema("users-value", Schema(USER_AVRO, "AVRO"))
    ser = AvroSerializer(sr, USER_AVRO)
    ctx = SerializationContext("users", MessageField.VALUE)
    produce(b.bootstrap, "users", [(f"u{i}", ser({"name": n, "age": 30 + i}, ctx), None, None)
                                   for i, n in enumerate(["alice", "bob"])])
    status, out = api.get("/console/api/topics/users/messages?from=start&order=oldest")
    assert status == 200
    values = [(m["value"]["format"], m["value"]["schema_id"], m["value"]["json"]) for m in out["messages"]]
    assert values == [("avro", sid, {"name": "alice", "age": 30}), ("avro", sid, {"name": "bob", "age": 31})]
    status, s = api.get("/console/api/schemas")
    assert [(x["subject"], x["versions"], x["type"]) for x in s["subjects"]] == [("users-value", [1], "AVRO")]


def test_group_lag_and_resets(broker_factory):
    b, api = start(broker_factory)
    api.post("/console/api/topics", {"name": "events", "partitions": 2})
    produce(b.bootstrap, "events", [(f"k{i}", f"v{i}", i % 2, None) for i in range(20)])
    assert len(consume(b.bootstrap, "events", 20, "audit")) == 20
    status, groups = api.get("/console/api/groups")
    (audit,) = [g for g in groups["groups"] if g["group_id"] == "audit"]
    assert (audit["state"], audit["members"], audit["lag"]) == ("Empty", 0, 0)
    status, out = api.post("/console/api/groups/audit/reset", {"to": "start", "topic": "events"})
    assert status == 200 and {(o["partition"], o["offset"]) for o in out["offsets"]} == {(0, 0), (1, 0)}
    status, d = api.get("/console/api/groups/audit")
    assert d["lag"] == 20 and [(r["partition"], r["committed"], r["end_offset"], r["lag"]) for r in d["offsets"]] == \
        [(0, 0, 10, 10), (1, 0, 10, 10)]
    assert api.post("/console/api/groups/audit/reset", {"to": "offset", "offset": 7})[0] == 200
    assert api.get("/console/api/groups/audit")[1]["lag"] == 6
    # what the console committed is what a consumer of the group resumes from
    again = consume(b.bootstrap, "events", 6, "audit", commit=False)
    assert sorted((m.partition(), m.offset()) for m in again) == [(p, o) for p in (0, 1) for o in (7, 8, 9)]
    # a group with a member: refused with Kafka's message, nothing changes
    c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": "busy", "auto.offset.reset": "earliest"})
    try:
        c.subscribe(["events"])
        deadline = time.monotonic() + 30
        while not c.assignment() and time.monotonic() < deadline:
            c.poll(0.2)
        c.commit(offsets=[ck.TopicPartition("events", 0, 5), ck.TopicPartition("events", 1, 5)], asynchronous=False)
        status, d = api.get("/console/api/groups/busy")
        assert d["state"] == "Stable" and len(d["members"]) == 1
        assert sorted(p for a in d["members"][0]["assignment"] for p in a["partitions"]) == [0, 1]
        status, out = api.post("/console/api/groups/busy/reset", {"to": "start"})
        assert status == 409 and out["error"]["code"] == "NON_EMPTY_GROUP"
        assert "inactive" in out["error"]["message"] and "Stable" in out["error"]["message"]
        assert [r["committed"] for r in api.get("/console/api/groups/busy")[1]["offsets"]] == [5, 5]
    finally:
        c.close()


def test_csrf_origin_and_host_guards(broker_factory):
    b, api = start(broker_factory)
    assert api.post("/console/api/topics", {"name": "a"}, token=False)[0] == 403
    assert api.post("/console/api/topics", {"name": "a"}, headers={"origin": "http://evil.example"})[0] == 403
    assert api.post("/console/api/topics", {"name": "a"}, headers={"x-csrf-token": "0" * 32})[0] == 403
    status, out = api.get("/console/api/topics", headers={"host": "rebound.example:80"})
    assert status == 403 and out["error"]["status"] == 403
    status, out = api.get("/console/api/topics")
    assert [t["name"] for t in out["topics"]] == []
    assert api.post("/console/api/topics", {"name": "a"})[0] == 201


def test_read_only_console(broker_factory):
    b, api = start(broker_factory, "--console-read-only")
    assert api.session()["read_only"] is True
    status, out = api.post("/console/api/topics", {"name": "a"})
    assert status == 403 and "read-only" in out["error"]["message"]
    assert api.get("/console/api/topics")[1]["topics"] == []


def test_login_as_a_sasl_user_when_the_authorizer_is_on(broker_factory):
    b, api = start(broker_factory, "--authorizer", "--sasl-user", "admin:admin-secret", "--sasl-user", "bob:bob-pw",
                   "--super-user", "User:admin")
    s = api.session()
    assert s["auth_required"] and not s["authenticated"]
    status, out = api.get("/console/api/topics")
    assert status == 401 and out["auth_required"] is True
    status, out = api.post("/console/api/login", {"username": "bob", "password": "wrong"})
    assert status == 401
    status, out, headers = api.call("POST", "/console/api/login", {"username": "bob", "password": "bob-pw"})
    assert status == 200 and out["principal"] == "User:bob"
    api.cookie, api.csrf = headers["Set-Cookie"].split(";", 1)[0], out["csrf_token"]
    # bob has no ACLs: sees no topics, may create none
    status, out = api.post("/console/api/topics", {"name": "bobs"})
    assert status == 403 and out["error"]["code"] == "TOPIC_AUTHORIZATION_FAILED"
    # the super user may
    status, out, headers = api.call("POST", "/console/api/login", {"username": "admin", "password": "admin-secret"})
    api.cookie, api.csrf = headers["Set-Cookie"].split(";", 1)[0], out["csrf_token"]
    assert api.post("/console/api/topics", {"name": "admins"})[0] == 201
    assert [t["name"] for t in api.get("/console/api/topics")[1]["topics"]] == ["admins"]


def test_a_consumer_protocol_group_shows_its_members_and_assignment(broker_factory):
    b, api = start(broker_factory)
    api.post("/console/api/topics", {"name": "jobs", "partitions": 3})
    produce(b.bootstrap, "jobs", [(f"k{i}", f"v{i}", i % 3, None) for i in range(9)])
    c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": "workers", "group.protocol": "consumer",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.subscribe(["jobs"])
        got = 0
        deadline = time.monotonic() + 30
        while got < 9 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        c.commit(asynchronous=False)
        status, d = api.get("/console/api/groups/workers")
        assert status == 200 and d["type"] == "consumer" and d["state"] == "Stable"
        (member,) = d["members"]
        assert member["assignment"] == [{"topic": "jobs", "partitions": [0, 1, 2]}]
        assert [(r["partition"], r["committed"], r["lag"], r["member_id"]) for r in d["offsets"]] == \
            [(p, 3, 0, member["member_id"]) for p in range(3)]
        status, out = api.post("/console/api/groups/workers/reset", {"to": "start"})
        assert status == 409 and out["error"]["code"] == "NON_EMPTY_GROUP"
    finally:
        c.close()


def test_acl_host_matching_sees_the_browsers_address(broker_factory):
    """The console acts for the browser: ACL host matching sees the browser's address, not the broker's."""
    b, api = start(broker_factory, "--authorizer", "--sasl-user", "bob:bob-pw", "--super-user", "User:ANONYMOUS")
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    binding = AclBinding(ResourceType.TOPIC, "bob-", ResourcePatternType.PREFIXED, "User:bob", "127.0.0.2",
                         AclOperation.ALL, AclPermissionType.ALLOW)
    for f in admin.create_acls([binding]).values():
        f.result(timeout=15)
    status, out, headers = api.call("POST", "/console/api/login", {"username": "bob", "password": "bob-pw"})
    assert status == 200
    api.cookie, api.csrf = headers["Set-Cookie"].split(";", 1)[0], out["csrf_token"]

    def create_from(source: str, name: str) -> tuple[int, dict]:
        host, port = api.base.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=15, source_address=(source, 0))
        try:
            conn.request("POST", "/console/api/topics", json.dumps({"name": name}),
                         {"content-type": "application/json", "origin": api.base, "cookie": api.cookie,
                          "x-csrf-token": api.csrf})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    status, out = create_from("127.0.0.1", "bob-a")
    assert status == 403 and out["error"]["code"] == "TOPIC_AUTHORIZATION_FAILED"
    assert create_from("127.0.0.2", "bob-a")[0] == 201
    assert "bob-a" in admin.list_topics(timeout=15).topics
    # from 127.0.0.1 bob may not even describe it
    assert api.get("/console/api/topics")[1]["topics"] == []
