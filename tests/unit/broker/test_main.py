"""Start-up helpers of the broker process."""

from __future__ import annotations

import threading

from chronik.broker import main


def test_open_console_asks_the_default_browser_off_the_loop(monkeypatch):
    opened = []
    done = threading.Event()

    def fake_open(url):
        opened.append((url, threading.current_thread().name))
        done.set()
        return True

    monkeypatch.setattr("webbrowser.open", fake_open)
    main._open_console("http://127.0.0.1:9644/")
    assert done.wait(10)
    assert opened == [("http://127.0.0.1:9644/", "open-console")]


def test_a_broken_browser_is_a_warning_not_a_dead_broker(monkeypatch):
    warned = []
    done = threading.Event()

    def broken(url):
        raise RuntimeError("no display")

    def warning(msg, *args):
        warned.append(msg % args)
        done.set()

    monkeypatch.setattr("webbrowser.open", broken)
    monkeypatch.setattr(main.log, "warning", warning)
    main._open_console("http://127.0.0.1:9644/")
    assert done.wait(10)
    assert warned == ["cannot open http://127.0.0.1:9644/ in a browser: no display"]
