"""TEST SCAFFOLDING: serve a broker's RegistryApp over stdlib HTTP until the broker's own HTTP port lands.

    python -m tests.integration.registry_http --registry-port N -- <chronik integrated args>

runs `chronik integrated` in this process with one addition: a
ThreadingHTTPServer on 127.0.0.1:N whose handler threads never touch the
registry themselves — each request is queued, a byte on a socketpair wakes
the broker's selectors loop, and the loop runs `core.registry_app.handle`
(as the sans-IO HTTP layer will), then hands the answer back. When the
admin HTTP port mounts the app, the tests switch to it and this file goes.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.conftest import REPO, BrokerProcess


def mount(core, server, port: int) -> ThreadingHTTPServer:
    calls: queue.SimpleQueue = queue.SimpleQueue()
    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)

    def on_loop() -> None:
        try:
            while rsock.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                fut, args = calls.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(core.registry_app.handle(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                fut.set_exception(exc)

    server.add_wakeup(rsock, on_loop)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes

        def _do(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            fut: Future = Future()
            calls.put((fut, (self.command, url.path, parse_qs(url.query, keep_blank_values=True), headers, body)))
            try:
                wsock.send(b"x")
            except BlockingIOError:
                pass
            status, out_headers, out = fut.result(30)
            self.send_response(status)
            for k, v in out_headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = _do

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True, name="registry-http").start()
    return httpd


class RegistryBroker(BrokerProcess):
    """A BrokerProcess whose registry answers on http://127.0.0.1:<registry_port>."""

    registry_port: int = 0

    @property
    def registry_url(self) -> str:
        return f"http://127.0.0.1:{self.registry_port}"

    def start(self, timeout: float = 30.0) -> RegistryBroker:
        self.log_path = self.data_dir.parent / f"broker-{self.port}-{time.time_ns()}.log"
        log = open(self.log_path, "wb")
        cmd = [sys.executable, "-m", "tests.integration.registry_http", "--registry-port", str(self.registry_port),
               "--", "-p", str(self.port), "-d", str(self.data_dir), *self.extra_args]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited early:\n{self.output()}")
            if "listening on" in self.output():
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"broker did not start:\n{self.output()}")


def main(argv: list[str]) -> None:
    sep = argv.index("--")
    port = int(argv[argv.index("--registry-port") + 1])
    from chronik.broker import main as broker_main
    from chronik.cli import main as cli_main

    original = broker_main.attach

    def attach(core, server) -> None:
        original(core, server)
        mount(core, server, port)

    broker_main.attach = attach
    sys.argv = ["chronik", "integrated", *argv[sep + 1:]]
    cli_main()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(sys.argv[1:])
