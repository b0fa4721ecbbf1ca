"""A raw Kafka connection for tests: exact request versions, kafka-python's codec, no client logic."""

from __future__ import annotations

import socket
import struct

from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse


class RawConn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.corr = 0
        self._ranges: dict[int, tuple[int, int]] | None = None

    def call(self, req, resp_cls, version: int):
        """Send `req` at `version`; decode the answer with `resp_cls` at the same version."""
        body = self.call_raw(req, version)
        return resp_cls.decode(body, version=version)

    def call_raw(self, req, version: int) -> bytes:
        """Send `req` at `version`; return the response body (header checked and removed)."""
        self.corr += 1
        req.API_VERSION = version
        req.with_header(correlation_id=self.corr, client_id="raw")
        self.sock.sendall(req.encode(header=True, framed=True))
        size = struct.unpack(">i", self._recv(4))[0]
        frame = self._recv(size)
        assert struct.unpack(">i", frame[:4])[0] == self.corr
        # Flexible versions answer with response header v1 (one empty tag-section byte),
        # except ApiVersions, whose response header never has tags.
        flexible = type(req).flexible_version_q(version) and type(req).API_KEY != 18
        return frame[5:] if flexible else frame[4:]

    def versions(self, cls) -> range:
        """The versions of `cls`'s API that the broker advertises (and the class can encode)."""
        if self._ranges is None:
            resp = self.call(ApiVersionsRequest(), ApiVersionsResponse, 3)
            self._ranges = {a.api_key: (a.min_version, a.max_version) for a in resp.api_keys}
        lo, hi = self._ranges[cls.API_KEY]
        return range(max(lo, cls.min_version), hi + 1)

    def close(self) -> None:
        self.sock.close()

    def _recv(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "connection closed"
            buf += chunk
        return buf
