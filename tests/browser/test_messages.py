"""The message browser, search, live tail and the produce form against records of real clients."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.browser.conftest import PAGES, T0, number, open_page, orders, tid

pytestmark = pytest.mark.integration


def rows_by_offset(root, testid: str = "message-row") -> dict[tuple[int, int], object]:
    rows = tid(root, testid)
    out = {}
    for i in range(rows.count()):
        r = rows.nth(i)
        out[(int(r.get_attribute("data-partition")), int(r.get_attribute("data-offset")))] = r
    return out


def browse(page, root, frm: str, limit: int = 50, **fields: str) -> None:
    page.select_option("#browse-from", frm)
    for name, value in fields.items():
        page.fill(f"#browse-{name}", value)
    page.fill("#browse-limit", str(limit))
    tid(root, "browse-submit").click()


def test_browse_from_start_shows_keys_json_values_headers_and_timestamps(page):
    root = open_page(page, PAGES["topic"], "topic")
    browse(page, root, "start")
    table = tid(root, "messages-table")
    page.wait_for_function("n => document.querySelectorAll('[data-testid=messages-table] "
                           "[data-testid=message-row]').length === n", arg=40)
    by = rows_by_offset(table)
    want = orders()
    assert set(by) == {(i % 2, i // 2) for i in range(40)}
    for i, rec in enumerate(want):
        r = by[(i % 2, i // 2)]
        assert tid(r, "message-key").inner_text().strip() == rec["key"]
        shown = tid(r, "message-value").locator("pre").inner_text()
        assert json.loads(shown) == json.loads(rec["value"])
        assert "\n" in shown and '\n  "' in shown  # pretty-printed, indented
        headers = tid(r, "message-headers").inner_text()
        assert "trace-id" in headers and f"trace-{i}" in headers and "checkout" in headers
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime((T0 + i * 1000) / 1000))
        shown_ts = tid(r, "message-timestamp").inner_text().replace("T", " ")
        assert ts in shown_ts, (ts, shown_ts)
    assert page.log.errors == []


def test_default_view_is_newest_first(page):
    root = open_page(page, PAGES["topic"], "topic")
    first = tid(tid(root, "messages-table"), "message-row").first
    first.wait_for()
    assert (first.get_attribute("data-partition"), first.get_attribute("data-offset")) == ("1", "19")
    assert tid(first, "message-key").inner_text().strip() == "order-39"


def test_browse_from_offset_in_one_partition(page):
    root = open_page(page, PAGES["topic"], "topic")
    page.select_option("#browse-partition", "1")
    browse(page, root, "offset", limit=5, offset="15")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=messages-table] "
                           "[data-testid=message-row]')].every(r => r.dataset.partition === '1' "
                           "&& +r.dataset.offset >= 15) && document.querySelectorAll("
                           "'[data-testid=messages-table] [data-testid=message-row]').length === 5")
    keys = sorted(tid(r, "message-key").inner_text().strip() for r in rows_by_offset(root).values())
    assert keys == sorted(f"order-{o * 2 + 1}" for o in range(15, 20))


def test_avro_record_is_decoded_through_the_registry(page):
    root = open_page(page, "/#/topics/users-avro", "topic")
    browse(page, root, "start")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=messages-table] "
                           "[data-testid=message-row]').length === 3")
    by = rows_by_offset(root)
    for offset, name in enumerate(["alice", "bob", "carol"]):
        r = by[(0, offset)]
        assert tid(r, "message-key").inner_text().strip() == f"u{offset}"
        value = json.loads(tid(r, "message-value").locator("pre").inner_text())
        assert value == {"name": name, "age": 30 + offset, "email": None, "country": "FR"}


def test_search_shows_the_expected_hits(page):
    root = open_page(page, PAGES["topic"], "topic")
    page.fill("#search-query", "value.status:failed")
    tid(root, "search-submit").click()
    results = tid(root, "search-results")
    tid(root, "search-total").wait_for()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=search-results] "
                           "[data-testid=message-row]').length === 10")
    assert number(tid(root, "search-total").inner_text()) == 10
    keys = {tid(r, "message-key").inner_text().strip() for r in rows_by_offset(results).values()}
    assert keys == {f"order-{i}" for i in range(0, 40, 4)}
    # a narrower query, words and fields together
    page.fill("#search-query", "value.status:failed AND value.user:user0")
    tid(root, "search-submit").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=search-results] "
                           "[data-testid=message-row]').length === 2")
    keys = {tid(r, "message-key").inner_text().strip() for r in rows_by_offset(results).values()}
    assert keys == {"order-0", "order-20"}
    assert tid(root, "search-not-indexed").count() == 0 or not tid(root, "search-not-indexed").is_visible()


def test_search_on_a_topic_without_index_says_so(page):
    root = open_page(page, "/#/topics/app-logs", "topic")
    page.fill("#search-query", "GET")
    tid(root, "search-submit").click()
    msg = tid(root, "search-not-indexed")
    msg.wait_for(state="visible")
    text = msg.inner_text().lower()
    assert "not indexed" in text and "chronik.search.enable" in text
    assert tid(root, "search-results").locator('[data-testid="message-row"]').count() == 0


def test_live_tail_shows_a_message_produced_after_the_page_opened(page, console):
    topic = f"tail-{uuid.uuid4().hex[:6]}"
    console.create_topic(topic, 2)
    console.produce(topic, [{"key": "before", "value": "old"}])
    root = open_page(page, f"/#/topics/{topic}", "topic")
    # the first tail answer fixes the page's cursor at the end offsets: produce after it
    with page.expect_response(lambda r: "/tail" in r.url and r.status == 200):
        page.check("#tail")
    marker = f"arrived-{uuid.uuid4().hex[:8]}"
    console.produce(topic, [{"key": "k-live", "value": json.dumps({"marker": marker}), "partition": 1,
                             "headers": [("h", b"live")]}])
    row = tid(root, "messages-table").locator('[data-testid="message-row"]', has_text=marker)
    row.wait_for(timeout=30_000)
    assert tid(row, "message-key").inner_text().strip() == "k-live"
    assert json.loads(tid(row, "message-value").locator("pre").inner_text()) == {"marker": marker}
    assert (row.get_attribute("data-partition"), row.get_attribute("data-offset")) == ("1", "0")
    # newest first: the live record is above the one produced before the page opened
    assert tid(tid(root, "messages-table"), "message-row").first.inner_text().find(marker) >= 0
    assert page.log.errors == []


def test_produce_form_writes_a_record_confluent_kafka_reads(page, console):
    topic = f"form-{uuid.uuid4().hex[:6]}"
    console.create_topic(topic, 1)
    root = open_page(page, f"/#/topics/{topic}", "topic")
    value = json.dumps({"hello": "from the console", "n": 7})
    page.fill("#produce-key", "form-key")
    page.fill("#produce-value", value)
    page.fill("#produce-headers", "source=console\ntrace=abc-1")
    tid(root, "produce-submit").click()
    tid(page, "notice").wait_for(state="visible")
    got = console.consume(topic, 1)
    assert len(got) == 1
    m = got[0]
    assert (m.key(), m.value(), m.partition(), m.offset()) == (b"form-key", value.encode(), 0, 0)
    assert m.headers() == [("source", b"console"), ("trace", b"abc-1")]


def test_download_a_range_as_json_lines(page):
    root = open_page(page, PAGES["topic"], "topic")
    browse(page, root, "start", limit=40)
    href = tid(root, "download-jsonl").get_attribute("href")
    resp = page.request.get(href)
    assert resp.status == 200
    lines = [json.loads(x) for x in resp.text().splitlines() if x.strip()]
    assert len(lines) == 40
    assert {(m["partition"], m["offset"]) for m in lines} == {(i % 2, i // 2) for i in range(40)}
    assert {m["key"]["text"] for m in lines} == {f"order-{i}" for i in range(40)}
