"""TEST SCAFFOLDING: a stdlib HTTP adapter for chronik.search.api.SearchApp.

The broker's own HTTP admin port (h11 in the selectors loop) is built on
another branch; until the lead mounts SearchApp there, tests run the broker
through this launcher, which serves the app on `--http-port` from a
ThreadingHTTPServer thread inside the broker process:

    python -m tests.search_http --http-port 9644 integrated -p 9092 -d DIR [--search]

Not part of the product: nothing under chronik/ imports it.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def serve(app, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            parts = urlsplit(self.path)
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n) if n else b""
            status, headers, out = app.submit(
                self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()}, body,
            ).result()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, name="test-search-http", daemon=True).start()
    return httpd


def main(argv: list[str]) -> int:
    assert argv[0] == "--http-port", "usage: --http-port N integrated ..."
    port = int(argv[1])
    import chronik.broker.main as broker_main
    from chronik.search.api import SearchApp

    original = broker_main.attach

    def attach(core, server) -> None:
        original(core, server)
        app = SearchApp(core.search)
        httpd = serve(app, port)
        core.on_close(httpd.shutdown)
        core.on_close(app.close)
        print(f"test search http on 127.0.0.1:{port}", flush=True)

    broker_main.attach = attach
    from chronik.cli import main as cli_main

    sys.argv = ["chronik", *argv[2:]]
    return cli_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
