"""Writes from the console: create a topic, reset a group's offsets; CSRF keeps other origins out."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource

from tests.browser.conftest import number, open_page, tid

pytestmark = pytest.mark.integration


def topic_names(console) -> set[str]:
    return set(console.admin().list_topics(timeout=10).topics)


def post(url: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def session(console) -> tuple[str, str]:
    """A console session outside the browser: (cookie header, CSRF token)."""
    with urllib.request.urlopen(console.url + "/console/api/session", timeout=10) as r:
        cookie = r.headers["set-cookie"].split(";", 1)[0]
        return cookie, json.loads(r.read())["csrf_token"]


def test_create_topic_from_the_ui_is_seen_by_the_admin_client(page, console):
    name = f"ui-{uuid.uuid4().hex[:6]}"
    root = open_page(page, "/#/topics", "topics")
    page.fill("#new-topic-name", name)
    page.fill("#new-topic-partitions", "3")
    page.fill("#new-topic-configs", "retention.ms=3600000\ncleanup.policy=compact")
    tid(root, "create-topic-submit").click()
    root.locator(f'[data-testid="topic-row"][data-topic="{name}"]').wait_for()
    admin = console.admin()
    md = admin.list_topics(name, timeout=10).topics[name]
    assert md.error is None and len(md.partitions) == 3
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["retention.ms"].value == "3600000"
    assert configs["cleanup.policy"].value == "compact"
    assert page.log.errors == []


def test_creating_an_existing_topic_shows_the_kafka_error(page):
    root = open_page(page, "/#/topics", "topics")
    page.fill("#new-topic-name", "orders")
    page.fill("#new-topic-partitions", "1")
    tid(root, "create-topic-submit").click()
    err = tid(page, "error")
    err.wait_for(state="visible")
    assert "exist" in err.inner_text().lower()


def committed(console, group: str, topic: str, partitions: int) -> list[int]:
    c = Consumer({"bootstrap.servers": console.bootstrap, "group.id": group})
    try:
        return [tp.offset for tp in c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)]
    finally:
        c.close()


def test_reset_an_empty_groups_offsets_and_see_lag_change(page, console):
    group = f"audit-{uuid.uuid4().hex[:6]}"
    assert len(console.consume("orders", 40, group=group, commit=True)) == 40
    assert committed(console, group, "orders", 2) == [20, 20]
    root = open_page(page, f"/#/groups/{group}", "group")
    assert number(tid(root, "group-lag-total").inner_text()) == 0
    if page.locator("#reset-topic").count():
        page.select_option("#reset-topic", "orders")
    page.select_option("#reset-to", "start")
    tid(root, "reset-submit").click()
    page.wait_for_function("() => { const e = document.querySelector('[data-testid=group-lag-total]');"
                           " return e && e.textContent.replace(/[^0-9]/g, '') === '40'; }")
    lags = [number(x) for x in tid(root, "lag-cell").all_inner_texts()]
    assert lags == [20, 20]
    assert committed(console, group, "orders", 2) == [0, 0]
    # and to an offset: 15 in every partition -> lag 5 + 5
    page.select_option("#reset-to", "offset")
    page.fill("#reset-offset", "15")
    tid(root, "reset-submit").click()
    page.wait_for_function("() => { const e = document.querySelector('[data-testid=group-lag-total]');"
                           " return e && e.textContent.replace(/[^0-9]/g, '') === '10'; }")
    assert committed(console, group, "orders", 2) == [15, 15]
    assert page.log.errors == []


def test_reset_is_refused_for_a_group_with_members(page, console):
    group = f"busy-{uuid.uuid4().hex[:6]}"
    c = Consumer({"bootstrap.servers": console.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    try:
        c.subscribe(["orders"])
        while not c.assignment():
            c.poll(0.2)
        c.commit(offsets=[TopicPartition("orders", 0, 5), TopicPartition("orders", 1, 5)], asynchronous=False)
        root = open_page(page, f"/#/groups/{group}", "group")
        assert tid(root, "member-row").count() == 1
        page.select_option("#reset-to", "start")
        tid(root, "reset-submit").click()
        err = tid(page, "error")
        err.wait_for(state="visible")
        assert "inactive" in err.inner_text().lower() or "empty" in err.inner_text().lower()
        assert committed(console, group, "orders", 2) == [5, 5]
    finally:
        c.close()


def test_post_without_csrf_token_or_from_another_origin_is_refused(console):
    name = f"csrf-{uuid.uuid4().hex[:6]}"
    body = {"name": name, "partitions": 1, "configs": {}}
    cookie, token = session(console)
    status, out = post(console.url + "/console/api/topics", body, {"cookie": cookie})
    assert status == 403 and out["error"]["status"] == 403
    status, out = post(console.url + "/console/api/topics", body,
                       {"cookie": cookie, "x-csrf-token": token, "origin": "http://evil.example"})
    assert status == 403 and out["error"]["status"] == 403
    status, out = post(console.url + "/console/api/topics", body, {"cookie": cookie, "x-csrf-token": "0" * 32})
    assert status == 403
    assert name not in topic_names(console)
    # the same request with the session's token from the console's origin works
    status, out = post(console.url + "/console/api/topics", body, {"cookie": cookie, "x-csrf-token": token})
    assert status == 201, out
    assert name in topic_names(console)


def test_cross_origin_form_post_from_a_browser_is_refused(page, console):
    """A page on another origin submits a form to the console (the classic CSRF): refused, nothing created."""
    name = f"evil-{uuid.uuid4().hex[:6]}"
    open_page(page, "/#/topics", "topics")  # the victim has a console session (cookie) in this browser
    evil = ("<html><body><form id=f method=POST enctype=text/plain "
            f"action='{console.url}/console/api/topics'>"
            f"<input name='{{\"name\":\"{name}\",\"partitions\":1,\"x\":\"' value='\"}}'></form></body></html>")
    page.route("http://evil.test/**", lambda route: route.fulfill(status=200, content_type="text/html", body=evil))
    page.goto("http://evil.test/")
    with page.expect_navigation() as nav:
        page.evaluate("document.getElementById('f').submit()")
    resp = nav.value
    assert resp is not None and resp.status == 403
    # and a script on that origin cannot use fetch with credentials either
    page.goto("http://evil.test/")
    page.evaluate("""([url, name]) => fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: {'content-type': 'text/plain'}, body: JSON.stringify({name: name, partitions: 1})})
        .then(() => null, () => null)""", [console.url + "/console/api/topics", name + "-fetch"])
    names = topic_names(console)
    assert name not in names and name + "-fetch" not in names
