"""The console app: pages, routing, sessions and the write guards, against a real core."""

from __future__ import annotations

from chronik.console.app import READ_ONLY_MESSAGE, owns
from tests.unit.console.conftest import make


def test_owns_the_page_and_its_api_but_not_the_other_routes():
    for path in ("/", "/console", "/console/", "/console/static/console.js", "/console/api/topics"):
        assert owns(path), path
    for path in ("/metrics", "/v1/status", "/subjects", "/schemas/ids/1", "/orders/_search", "/_cat/indices"):
        assert not owns(path), path


def test_the_page_and_its_files_are_served_with_security_headers(env):
    _core, _console, client = env
    r = client.request("GET", "/")
    assert r.status == 200 and r.content_type.startswith("text/html")
    body = r.body if isinstance(r.body, bytes) else b"".join(r.body)
    assert b'src="/console/static/console.js"' in body and b"<html lang=\"en\">" in body
    headers = dict(r.headers)
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    for name, ctype in (("console.js", "text/javascript"), ("chart.js", "text/javascript"),
                        ("console.css", "text/css")):
        r = client.request("GET", "/console/static/" + name)
        assert r.status == 200 and r.content_type.startswith(ctype), name
        etag = dict(r.headers)["etag"]
        again = client.request("GET", "/console/static/" + name, headers={"if-none-match": etag})
        assert again.status == 304


def test_unknown_files_and_traversal_are_404_json(env):
    _core, _console, client = env
    for target in ("/console/static/../app.py", "/console/static/nope.js", "/console/static/%2e%2e%2fapp.py",
                   "/console/other"):
        status, body = client.get(target)
        assert status == 404 and body["error"]["status"] == 404, target
    status, body = client.get("/console/api/nothing/here")
    assert status == 404 and "no console API" in body["error"]["message"]


def test_wrong_method_is_405_json(env):
    _core, _console, client = env
    status, body = client.post("/console/api/overview")
    assert status == 405 and "GET" in body["error"]["message"]


def test_a_foreign_host_header_is_refused_even_for_reads(env):
    _core, _console, client = env
    status, body = client.get("/console/api/topics", headers={"host": "evil.example:9644"})
    assert status == 403 and "not this broker" in body["error"]["message"]
    for ok in ("localhost:9644", "127.0.0.1:9644"):
        assert client.get("/console/api/topics", headers={"host": ok})[0] == 200


def test_session_sets_a_cookie_and_a_csrf_token(env):
    _core, _console, client = env
    s = client.login_session()
    assert s["principal"] == "User:ANONYMOUS" and not s["auth_required"] and not s["read_only"]
    assert len(s["csrf_token"]) >= 24
    # the same cookie keeps the same session
    assert client.login_session()["csrf_token"] == s["csrf_token"]


def test_writes_need_the_token_the_cookie_and_the_same_origin(env):
    core, _console, client = env
    body = {"name": "t", "partitions": 1}
    status, out = client.post("/console/api/topics", body, token=False)
    assert status == 403 and out["error"]["code"] == "CSRF"
    status, out = client.post("/console/api/topics", body, headers={"x-csrf-token": "x" * 32})
    assert status == 403
    status, out = client.post("/console/api/topics", body, origin="http://evil.example")
    assert status == 403 and "cross-origin" in out["error"]["message"]
    status, out = client.post("/console/api/topics", body, origin="null")
    assert status == 403
    cookie, client.cookie = client.cookie, None
    status, out = client.post("/console/api/topics", body)
    assert status == 403 and "no console session" in out["error"]["message"]
    client.cookie = cookie
    assert "t" not in core.topics
    status, out = client.post("/console/api/topics", body)
    assert status == 201 and out == {"name": "t", "partitions": 1}
    assert len(core.topics["t"].partitions) == 1
    # no Origin header at all (some clients): the token still decides
    assert client.post("/console/api/topics", {"name": "u"}, origin=None)[0] == 201


def test_bad_json_is_400(env):
    _core, _console, client = env
    r = client.request("POST", "/console/api/topics", b"{not json",
                       {"x-csrf-token": client.csrf, "origin": "http://127.0.0.1:9644"})
    assert r.status == 400
    status, out = client.post("/console/api/topics", ["a", "list"])
    assert status == 400 and "object" in out["error"]["message"]


def test_read_only_refuses_every_write_with_a_clear_message(tmp_path):
    core, _console, client = make(tmp_path, read_only=True)
    try:
        s = client.login_session()
        assert s["read_only"] is True
        core.create_topic("t", 1)
        for target, body in (("/console/api/topics", {"name": "x"}), ("/console/api/topics/t/produce", {"value": "v"}),
                             ("/console/api/topics/t/delete", {}), ("/console/api/topics/t/configs", {"set": {}}),
                             ("/console/api/groups/g/reset", {"to": "start"})):
            status, out = client.post(target, body)
            assert status == 403 and out["error"]["message"] == READ_ONLY_MESSAGE, target
        assert set(core.topics) == {"t"} and core.topics["t"].partitions[0].log_end_offset == 0
        # reads still work
        assert client.get("/console/api/topics")[0] == 200
    finally:
        core.close()


def test_with_an_authorizer_the_console_asks_for_a_user_and_acts_as_it(tmp_path):
    from chronik.security.acl import AclBinding, Operation, PatternType, Permission, ResourceType

    core, _console, client = make(tmp_path, authorizer=True, sasl_users=[("alice", "secret"), ("bob", "pw")],
                                  super_users=("User:alice",))
    try:
        core.create_topic("t", 1)
        s = client.login_session()
        assert s["auth_required"] and not s["authenticated"] and s["principal"] is None
        status, out = client.get("/console/api/topics")
        assert status == 401 and out["auth_required"] is True
        status, out = client.post("/console/api/login", {"username": "alice", "password": "wrong"})
        assert status == 401 and out["error"]["code"] == "SASL_AUTHENTICATION_FAILED"
        # bob may describe and read t, not write it
        core.authorizer.create([
            AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:bob", "*", Operation.DESCRIBE,
                       Permission.ALLOW),
            AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:bob", "*", Operation.READ,
                       Permission.ALLOW)])
        client.cookie = _cookie_of(client, "bob", "pw")
        assert client.login_session()["principal"] == "User:bob"
        status, out = client.get("/console/api/topics")
        assert status == 200 and [t["name"] for t in out["topics"]] == ["t"]
        status, out = client.post("/console/api/topics/t/produce", {"value": "v"})
        assert status == 403 and out["error"]["code"] == "TOPIC_AUTHORIZATION_FAILED"
        status, out = client.post("/console/api/topics", {"name": "new"})
        assert status == 403 and out["error"]["code"] == "TOPIC_AUTHORIZATION_FAILED", out
        assert "new" not in core.topics
        # alice is a super user
        client.cookie = _cookie_of(client, "alice", "secret")
        status, out = client.post("/console/api/topics/t/produce", {"value": "v"})
        assert status == 201 and out["offset"] == 0
    finally:
        core.close()


def _cookie_of(client, user: str, password: str) -> str:
    client.cookie = None
    client.login_session()
    r = client.request("POST", "/console/api/login", {"username": user, "password": password},
                       {"x-csrf-token": client.csrf, "origin": "http://127.0.0.1:9644",
                        "content-type": "application/json"})
    assert r.status == 200
    import json

    raw = r.body if isinstance(r.body, bytes) else b"".join(r.body)
    client.csrf = json.loads(raw)["csrf_token"]
    return dict(r.headers)["set-cookie"].split(";", 1)[0]


def test_overview_and_its_series(env):
    core, console, client = env
    console.sampler.sample()
    core.create_topic("t", 1)
    console.sampler.sample()
    status, out = client.get("/console/api/overview")
    assert status == 200 and out["status"]["topics"] == 1 and out["status"]["version"]
    status, out = client.get("/console/api/overview/series?since=0")
    assert status == 200 and out["interval_ms"] == 1000 and len(out["points"]) == 1
    last = out["points"][-1]["t"]
    assert client.get(f"/console/api/overview/series?since={last}")[1]["points"] == []
    assert client.get("/console/api/overview/series?since=abc")[0] == 400


def test_files_are_gzipped_for_browsers_that_take_it(env):
    import gzip

    _core, _console, client = env
    plain = client.request("GET", "/console/static/console.js")
    packed = client.request("GET", "/console/static/console.js", headers={"accept-encoding": "gzip, br"})
    h = dict(packed.headers)
    assert h["content-encoding"] == "gzip" and h["vary"] == "accept-encoding"
    assert gzip.decompress(packed.body) == plain.body and len(packed.body) < len(plain.body) / 2
    assert h["etag"] != dict(plain.headers)["etag"]


def test_large_json_answers_are_gzipped_small_ones_not(env):
    import gzip
    import json

    core, console, client = env
    for _ in range(60):
        console.sampler.sample()
    r = client.request("GET", "/console/api/overview/series?since=0", headers={"accept-encoding": "gzip"})
    assert dict(r.headers)["content-encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(r.body))["points"]) == 59
    r = client.request("GET", "/console/api/session", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in dict(r.headers)
