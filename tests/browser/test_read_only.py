"""`chronik integrated --console-read-only`: the console shows no write controls and the API refuses writes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import VIEWPORT, PageLog, open_page, tid

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ro_console(console_factory):
    c = console_factory("--console-read-only")
    c.create_topic("ro-topic", 1)
    c.produce("ro-topic", [{"key": "k", "value": "v"}])
    assert len(c.consume("ro-topic", 1, group="ro-group", commit=True)) == 1
    return c


@pytest.fixture
def ro_page(browser, ro_console):
    ctx = browser.new_context(base_url=ro_console.url, viewport=VIEWPORT, timezone_id="UTC")
    ctx.set_default_timeout(15_000)
    p = ctx.new_page()
    p.log = PageLog()
    p.log.attach(p)
    try:
        yield p
    finally:
        ctx.close()


def test_read_only_hides_every_write_control(ro_page):
    page = ro_page
    root = open_page(page, "/#/topics", "topics")
    assert tid(page, "read-only-banner").is_visible()
    assert root.locator('[data-testid="topic-row"][data-topic="ro-topic"]').count() == 1
    for hidden in ("create-topic-form", "topic-delete"):
        assert root.locator(f'[data-testid="{hidden}"]:visible').count() == 0, hidden
    root = open_page(page, "/#/topics/ro-topic", "topic")
    assert tid(root, "message-row").count() >= 1  # reading still works
    for hidden in ("produce-form", "alter-config-form", "topic-delete"):
        assert root.locator(f'[data-testid="{hidden}"]:visible').count() == 0, hidden
    root = open_page(page, "/#/groups/ro-group", "group")
    assert root.locator('[data-testid="reset-form"]:visible').count() == 0
    assert page.log.errors == []


def test_read_only_api_refuses_writes_even_with_a_token(ro_console):
    with urllib.request.urlopen(ro_console.url + "/console/api/session", timeout=10) as r:
        cookie = r.headers["set-cookie"].split(";", 1)[0]
        sess = json.loads(r.read())
    assert sess["read_only"] is True
    req = urllib.request.Request(ro_console.url + "/console/api/topics/ro-topic/produce", method="POST",
                                 data=json.dumps({"key": "k2", "value": "v2"}).encode(),
                                 headers={"content-type": "application/json", "cookie": cookie,
                                          "x-csrf-token": sess["csrf_token"]})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403
    assert "read-only" in json.loads(e.value.read())["error"]["message"]
    assert len(ro_console.consume("ro-topic", 2, timeout=3)) == 1  # nothing was written
