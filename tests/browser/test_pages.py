"""Every console page opens without errors and shows the broker's real state; keyboard and axe-core checks."""

from __future__ import annotations

import json

import pytest

from chronik import __version__
from tests.browser.conftest import PAGES, axe_violations, number, open_page, tid

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", list(PAGES))
def test_page_opens_without_console_errors(page, name):
    open_page(page, PAGES[name], name)
    # nothing the page asks the broker for in the background may fail either
    page.wait_for_load_state("networkidle")
    assert page.log.errors == []
    assert page.title()


def test_overview_shows_the_broker_status(page):
    root = open_page(page, PAGES["overview"], "overview")
    assert __version__ in tid(root, "status-version").inner_text()
    assert number(tid(root, "status-topics").inner_text()) >= 3
    # orders 2 + app-logs 3 + users-avro 1, at least (internal topics may count too)
    assert number(tid(root, "status-partitions").inner_text()) >= 6
    assert tid(root, "status-uptime").inner_text().strip()
    assert tid(root, "status-data-dir-size").inner_text().strip()
    assert number(tid(root, "status-connections").inner_text()) >= 0
    for chart in ("chart-produce", "chart-fetch", "chart-latency"):
        assert tid(root, chart).count() == 1, chart


def test_topics_lists_partitions_cleanup_and_search(page):
    root = open_page(page, PAGES["topics"], "topics")
    for name, want_parts in (("orders", 2), ("app-logs", 3), ("users-avro", 1)):
        r = root.locator(f'[data-testid="topic-row"][data-topic="{name}"]')
        assert r.count() == 1, name
        assert number(tid(r, "topic-partitions").inner_text()) == want_parts
    orders = root.locator('[data-testid="topic-row"][data-topic="orders"]')
    logs = root.locator('[data-testid="topic-row"][data-topic="app-logs"]')
    users = root.locator('[data-testid="topic-row"][data-topic="users-avro"]')
    assert "compact" in tid(users, "topic-cleanup").inner_text()
    assert "delete" in tid(logs, "topic-cleanup").inner_text()
    on, off = tid(orders, "topic-search").inner_text().strip(), tid(logs, "topic-search").inner_text().strip()
    assert on and on != off  # indexed vs not indexed read differently
    assert tid(orders, "topic-size").inner_text().strip()
    # retention.ms=604800000 shown in some human form (7 d / 168 h / 604800000)
    assert any(s in tid(orders, "topic-retention").inner_text() for s in ("7", "168", "604800000"))


def test_topic_detail_shows_partition_offsets_and_configs(page):
    root = open_page(page, PAGES["topic"], "topic")
    assert tid(root, "topic-name").inner_text().strip() == "orders"
    for p in (0, 1):
        r = root.locator(f'[data-testid="partition-row"][data-partition="{p}"]')
        assert number(tid(r, "partition-start").inner_text()) == 0
        assert number(tid(r, "partition-end").inner_text()) == 20
        assert tid(r, "partition-size").inner_text().strip()
    search_cfg = root.locator('[data-testid="config-row"][data-config="chronik.search.enable"]')
    assert "true" in search_cfg.inner_text()
    assert "604800000" in root.locator('[data-testid="config-row"][data-config="retention.ms"]').inner_text()


def test_groups_list_and_detail_show_lag(page):
    root = open_page(page, PAGES["groups"], "groups")
    billing = root.locator('[data-testid="group-row"][data-group="billing"]')
    assert billing.count() == 1
    assert "empty" in tid(billing, "group-state").inner_text().lower()
    assert number(tid(billing, "group-members").inner_text()) == 0
    assert number(tid(billing, "group-lag").inner_text()) == 30  # read 10 of 40
    root = open_page(page, PAGES["group"], "group")
    assert "empty" in tid(root, "group-state").inner_text().lower()
    assert number(tid(root, "group-lag-total").inner_text()) == 30
    rows = root.locator('[data-testid="offset-row"][data-topic="orders"]')
    assert rows.count() == 2
    # librdkafka may have read all 10 from one partition: the other shows no commit ("–") and lag 20
    cells = [tid(rows.nth(i), "offset-committed").inner_text().strip() for i in range(2)]
    committed = sum(number(c) for c in cells if any(ch.isdigit() for ch in c))
    lag = sum(number(tid(rows.nth(i), "lag-cell").inner_text()) for i in range(2))
    ends = [number(tid(rows.nth(i), "offset-end").inner_text()) for i in range(2)]
    assert (committed, lag, ends) == (10, 30, [20, 20])
    assert tid(root, "chart-lag").count() == 1


def test_schemas_list_and_versions_with_a_diff(page):
    root = open_page(page, PAGES["schemas"], "schemas")
    row = root.locator('[data-testid="subject-row"][data-subject="users-avro-value"]')
    assert row.count() == 1
    assert "2" in row.inner_text()  # two versions
    root = open_page(page, PAGES["subject"], "subject")
    assert tid(root, "subject-compatibility").inner_text().strip()
    page.select_option("#diff-left", "1")
    page.select_option("#diff-right", "2")
    left = json.loads(tid(root, "schema-left").inner_text())
    right = json.loads(tid(root, "schema-right").inner_text())
    assert [f["name"] for f in left["fields"]] == ["name", "age", "email"]
    assert [f["name"] for f in right["fields"]] == ["name", "age", "email", "country"]
    added = " ".join(tid(root, "diff-add").all_inner_texts())
    assert "country" in added
    assert tid(root, "diff-del").count() == 0 or "country" not in " ".join(tid(root, "diff-del").all_inner_texts())


def test_keyboard_tab_reaches_and_activates_every_nav_link(page):
    open_page(page, PAGES["overview"], "overview")
    seen: list[str] = []
    for _ in range(40):  # Tab through the page from the top until the nav has been walked
        page.keyboard.press("Tab")
        t = page.evaluate("document.activeElement && document.activeElement.getAttribute('data-testid')")
        if t and t.startswith("nav-"):
            seen.append(t)
        if {"nav-overview", "nav-topics", "nav-groups", "nav-schemas"} <= set(seen):
            break
    assert {"nav-overview", "nav-topics", "nav-groups", "nav-schemas"} <= set(seen), seen
    for link, name in (("nav-topics", "topics"), ("nav-groups", "groups"), ("nav-schemas", "schemas")):
        tid(page, link).focus()
        page.keyboard.press("Enter")
        page.locator(f'[data-testid="page-{name}"][data-loaded="true"]').wait_for()
        assert page.evaluate("location.hash") == f"#/{name}"
    # a visible focus ring: the focused link is styled differently from the unfocused one
    tid(page, "nav-topics").focus()
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle + getComputedStyle("
                            "document.activeElement).boxShadow")
    assert focused not in ("nonenone", "none"), focused


def test_form_fields_have_labels(page):
    open_page(page, PAGES["topic"], "topic")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !e.getAttribute('aria-labelledby'))
        .map(e => e.id || e.name || e.outerHTML.slice(0, 80))""")
    assert unlabelled == []


@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_accessibility_violations(page, name):
    open_page(page, PAGES[name], name)
    assert axe_violations(page) == []


def test_write_controls_are_shown_when_writable(page):
    """The other side of test_read_only: the same controls are there on a writable console."""
    root = open_page(page, PAGES["topics"], "topics")
    assert tid(page, "read-only-banner").is_hidden()
    for shown in ("create-topic-form", "topic-delete"):
        assert root.locator(f'[data-testid="{shown}"]:visible').count() >= 1, shown
    root = open_page(page, PAGES["topic"], "topic")
    for shown in ("produce-form", "alter-config-form", "topic-delete"):
        assert root.locator(f'[data-testid="{shown}"]:visible').count() >= 1, shown
    root = open_page(page, PAGES["group"], "group")
    assert root.locator('[data-testid="reset-form"]:visible').count() == 1
