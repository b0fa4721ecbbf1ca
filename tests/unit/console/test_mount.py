"""The console's stand-in on the admin router: built on the first request or by the start-up timer, once."""

from chronik.console import mount
from chronik.console.mount import ConsoleMount, owns


class FakeApp:
    built = 0

    def __init__(self, admin, read_only=False):
        FakeApp.built += 1
        self.admin, self.read_only = admin, read_only
        self.started = self.closed = False
        self.calls = []

    def start(self):
        self.started = True

    def close(self):
        self.closed = True

    def __call__(self, req, respond):
        self.calls.append(req)
        respond("answer")


def test_the_first_request_builds_the_console_once(monkeypatch):
    import chronik.console.app

    monkeypatch.setattr(chronik.console.app, "ConsoleApp", FakeApp)
    FakeApp.built = 0
    m = ConsoleMount("admin", read_only=True)
    answers = []
    m("GET /", answers.append)
    m("GET /console/api/topics", answers.append)
    assert answers == ["answer", "answer"] and FakeApp.built == 1
    assert m.app.read_only is True and m.app.started and m.app.calls == ["GET /", "GET /console/api/topics"]
    assert m.build() is m.app and FakeApp.built == 1
    m.close()
    assert m.app.closed


def test_a_console_built_after_close_does_not_start_sampling(monkeypatch):
    import chronik.console.app

    monkeypatch.setattr(chronik.console.app, "ConsoleApp", FakeApp)
    m = ConsoleMount("admin")
    m.close()
    assert m.build().started is False


def test_owns_the_pages_and_the_api_only():
    assert all(owns(p) for p in mount.PAGE_PATHS)
    assert owns("/console/api/topics") and owns("/console/static/console.js") and owns("/favicon.ico")
    assert not owns("/metrics") and not owns("/orders/_search") and not owns("/subjects")
