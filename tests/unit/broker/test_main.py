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


class FakeServer:
    """What _start_http needs of the server: listeners, timers and the loop's counters."""

    started = 0.0
    connections_open = stream_connections = accepted_total = closed_total = 0

    def __init__(self) -> None:
        self.factories = []
        self.timers = []

    def add_stream_listener(self, host, port, factory):
        self.factories.append(factory)
        return 19644

    @staticmethod
    def clock() -> float:
        return 0.0

    def call_later(self, delay, fn):
        self.timers.append((delay, fn))


def test_the_console_is_mounted_on_the_admin_port_unless_turned_off(tmp_path):
    from chronik.broker.config import BrokerConfig
    from chronik.broker.core import BrokerCore
    from chronik.http.app import WARM_UP_AFTER_S

    for enabled in (True, False):
        server = FakeServer()
        config = BrokerConfig(data_dir=tmp_path / f"d{enabled}", http_port=0, schema_registry_enabled=False,
                              console_enabled=enabled, console_read_only=True)
        core = BrokerCore(config, server)
        try:
            admin_url, _registry, error = main._start_http(config, server, core)
            assert error is None and admin_url == "http://127.0.0.1:19644"
            router = server.factories[0]().app
            mounted = [owns for owns, _ in router.mounts if owns("/") and owns("/console/api/topics")]
            assert len(mounted) == (1 if enabled else 0)
            if enabled:
                mount = next(h for owns, h in router.mounts if owns("/"))
                assert mount.app is None  # built after start-up, off the path to serving Kafka
                assert (WARM_UP_AFTER_S, mount.build) in server.timers
                console = mount.build()
                assert console.read_only is True and mount.build() is console
                assert any(fn.__self__ is console.sampler for _, fn in server.timers
                           if hasattr(fn, "__self__"))  # sampling once a second on the loop
        finally:
            core.close()
