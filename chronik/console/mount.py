"""The console's place on the admin router, with the console itself built after start-up.

Its modules (pages, decoders, the sampler) are not on the path to serving
Kafka, so the broker mounts this small stand-in at start and builds the
ConsoleApp a moment later on a timer — or at once, when a browser asks first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chronik.console.app import ConsoleApp
    from chronik.http.app import AdminApp
    from chronik.http.protocol import Request, Response

PAGE_PATHS = ("/", "/console", "/index.html")


def owns(path: str) -> bool:
    return path in PAGE_PATHS or path == "/console/" or path.startswith("/console/") or path == "/favicon.ico"


class ConsoleMount:
    def __init__(self, admin: AdminApp, read_only: bool = False) -> None:
        self.admin = admin
        self.read_only = read_only
        self.app: ConsoleApp | None = None
        self.closed = False

    def build(self) -> ConsoleApp:
        if self.app is None:
            from chronik.console.app import ConsoleApp

            self.app = ConsoleApp(self.admin, read_only=self.read_only)
            if not self.closed:
                self.app.start()
        return self.app

    def __call__(self, req: Request, respond: Callable[[Response], None]) -> None:
        self.build()(req, respond)

    def close(self) -> None:
        self.closed = True
        if self.app is not None:
            self.app.close()
