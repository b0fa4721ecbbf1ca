"""With the authorizer on, the console asks for a SASL user and acts as that principal."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import VIEWPORT, PageLog, axe_violations, open_page, tid

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def acl_console(console_factory):
    return console_factory("--authorizer", "--sasl-user", "admin:admin-secret", "--sasl-user", "bob:bob-secret",
                           "--super-user", "User:admin")


@pytest.fixture
def new_page(browser, acl_console):
    contexts = []

    def make():
        ctx = browser.new_context(base_url=acl_console.url, viewport=VIEWPORT, timezone_id="UTC")
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        p = ctx.new_page()
        p.log = PageLog()
        p.log.attach(p)
        return p

    yield make
    for ctx in contexts:
        ctx.close()


def log_in(page, user: str, password: str) -> None:
    form = page.locator('[data-testid="page-login"][data-loaded="true"] [data-testid="login-form"]')
    form.wait_for()
    page.fill("#login-username", user)
    page.fill("#login-password", password)
    tid(form, "login-submit").click()


def test_login_is_asked_and_the_console_acts_as_that_user(new_page):
    page = new_page()
    page.goto("/#/topics")
    log_in(page, "admin", "wrong")
    err = tid(page, "error")
    err.wait_for(state="visible")
    assert tid(page, "login-form").is_visible()  # still asked
    assert axe_violations(page) == []
    page.fill("#login-password", "admin-secret")
    tid(page, "login-submit").click()
    root = page.locator('[data-testid="page-topics"][data-loaded="true"]')
    root.wait_for()
    assert "User:admin" in tid(page, "principal").inner_text()
    name = f"acl-{uuid.uuid4().hex[:6]}"
    page.fill("#new-topic-name", name)
    page.fill("#new-topic-partitions", "1")
    tid(root, "create-topic-submit").click()
    root.locator(f'[data-testid="topic-row"][data-topic="{name}"]').wait_for()

    # bob has no ACLs: he does not see admin's topic and may not create one
    bob = new_page()
    bob.goto("/#/topics")
    log_in(bob, "bob", "bob-secret")
    root = bob.locator('[data-testid="page-topics"][data-loaded="true"]')
    root.wait_for()
    assert "User:bob" in tid(bob, "principal").inner_text()
    assert root.locator(f'[data-testid="topic-row"][data-topic="{name}"]').count() == 0
    bob.fill("#new-topic-name", f"{name}-bob")
    bob.fill("#new-topic-partitions", "1")
    tid(root, "create-topic-submit").click()
    err = tid(bob, "error")
    err.wait_for(state="visible")
    assert "authoriz" in err.inner_text().lower()
    # admin still does not see a topic of bob's
    open_page(page, "/#/topics", "topics")
    assert page.locator(f'[data-testid="topic-row"][data-topic="{name}-bob"]').count() == 0
