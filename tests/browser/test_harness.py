"""The harness itself: Debian's Chromium reaches the broker's admin port and axe-core loads."""

from __future__ import annotations

import json

import pytest

from chronik import __version__
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.integration


def test_browser_reads_the_status_of_the_broker_it_started(page, console):
    resp = page.goto("/v1/status")
    assert resp is not None and resp.status == 200
    status = json.loads(page.inner_text("body"))
    assert status["version"] == __version__
    assert status["kafka"] == console.bootstrap
    assert page.evaluate("navigator.userAgent").find("HeadlessChrome") >= 0


def test_axe_core_runs_in_the_page(page):
    page.set_content("<html lang='en'><head><title>t</title></head><body><main>"
                     "<img src='data:,'><button></button></main></body></html>")
    ids = {v["id"] for v in axe_violations(page, ("critical", "serious"))}
    # an image without alt text and a button without a name: axe-core must catch both
    assert {"image-alt", "button-name"} <= ids, ids
