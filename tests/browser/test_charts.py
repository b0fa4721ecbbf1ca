"""Live charts: their drawn points grow and follow the traffic (polled, never timed)."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import number, open_page, tid

pytestmark = pytest.mark.integration


def chart_state(chart) -> tuple[int, float]:
    return int(chart.get_attribute("data-points") or 0), float(chart.get_attribute("data-last") or 0)


def test_overview_produce_chart_updates_with_traffic(page, console):
    topic = f"chart-{uuid.uuid4().hex[:6]}"
    console.create_topic(topic, 1)
    root = open_page(page, "/#/", "overview")
    chart = tid(root, "chart-produce")
    chart.wait_for()
    start = chart_state(chart)
    states = [start]
    # produce in bursts and look at the chart after each one: it must gain points and show traffic
    for i in range(60):
        console.produce(topic, [{"key": f"k{i}", "value": "x" * 1000} for _ in range(50)])
        page.wait_for_timeout(500)
        states.append(chart_state(chart))
        points, last = states[-1]
        if points > start[0] and any(v > 0 for _, v in states[1:]):
            break
    assert states[-1][0] > start[0], states
    assert any(v > 0 for _, v in states[1:]), states  # some sample showed produce traffic
    # the chart is an image with a text alternative for screen readers
    label = chart.get_attribute("aria-label") or chart.locator("title").all_inner_texts()
    assert label


def test_group_lag_chart_follows_the_lag(page, console):
    group = f"lagchart-{uuid.uuid4().hex[:6]}"
    assert len(console.consume("orders", 4, group=group, commit=True)) == 4
    root = open_page(page, f"/#/groups/{group}", "group")
    chart = tid(root, "chart-lag")
    chart.wait_for()
    lag = int(number(tid(root, "group-lag-total").inner_text()))
    assert lag == 36  # 40 orders, 4 read
    # wait (polling the page) until the lag chart has sampled the group's lag
    page.wait_for_function("([lag]) => { const c = document.querySelector('[data-testid=chart-lag]');"
                           " return c && +c.dataset.points > 0 && +c.dataset.last === lag; }", arg=[lag],
                           timeout=60_000)
    points, last = chart_state(chart)
    assert points >= 1 and last == lag
