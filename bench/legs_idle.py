"""Idle client connections: raw sockets that finish an ApiVersions exchange, then sit idle.

That is what a connection pool, a monitoring agent or a paused application
leaves on a broker: accepted, authenticated (here: plaintext), known to the
loop, and silent.
"""

from __future__ import annotations

import resource
import socket

from targets import api_versions_frame, read_frame

BATCH = 100  # connections opened (and their requests pipelined) at a time


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class IdleConnections:
    """`count` connections to 127.0.0.1:`port`, each answered one ApiVersions request."""

    def __init__(self, port: int, count: int, timeout: float = 30.0) -> None:
        self.sockets: list[socket.socket] = []
        self.error_codes: dict[int, int] = {}
        try:
            for start in range(0, count, BATCH):
                batch = [socket.create_connection(("127.0.0.1", port), timeout=timeout)
                         for _ in range(min(BATCH, count - start))]
                self.sockets.extend(batch)
                for i, sock in enumerate(batch):
                    sock.sendall(api_versions_frame(correlation_id=start + i + 1))
                for sock in batch:
                    code = int.from_bytes(read_frame(sock)[4:6], "big", signed=True)
                    self.error_codes[code] = self.error_codes.get(code, 0) + 1
        except BaseException:
            self.close()
            raise

    def still_open(self) -> int:
        """How many the broker has not closed (a closed one reads EOF without blocking)."""
        alive = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                alive += sock.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def __enter__(self) -> IdleConnections:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
