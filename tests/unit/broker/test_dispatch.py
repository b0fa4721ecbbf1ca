"""The dispatcher: a handler's bug is answered with UNKNOWN_SERVER_ERROR and the connection goes on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.broker.dispatch import Dispatcher
from chronik.broker.handlers import HANDLERS
from chronik.broker.server import Server
from chronik.wire.errors import ErrorCode
from tests.integration.raw import RawConn


@pytest.fixture
def served(tmp_path: Path):
    """An in-process broker (server loop in a thread) on a free port."""
    server = Server("127.0.0.1", 0, 1 << 20)
    server.listen()
    core = BrokerCore(BrokerConfig(data_dir=tmp_path / "data", port=server.port), server)
    server.dispatch = Dispatcher(core)
    server.deadline_sources.append(core.purgatory)
    core.start()
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    yield server, core
    server.stop()
    loop.join(5)
    server.shutdown()
    core.close()


def test_handler_bug_answers_unknown_server_error_and_keeps_the_connection(served, monkeypatch, caplog):
    server, core = served

    def broken(ctx, req):
        raise RuntimeError("injected bug")

    monkeypatch.setitem(HANDLERS, MetadataRequest.API_KEY, broken)
    conn = RawConn(server.port)
    try:
        req = MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name="a"),
                                      MetadataRequest.MetadataRequestTopic(name="b")],
                              allow_auto_topic_creation=False)
        resp = conn.call(req, MetadataResponse, 9)
        assert [(t.name, t.error_code) for t in resp.topics] == [
            ("a", ErrorCode.UNKNOWN_SERVER_ERROR), ("b", ErrorCode.UNKNOWN_SERVER_ERROR)]
        # The same connection serves the next request.
        versions = conn.call(ApiVersionsRequest(), ApiVersionsResponse, 3)
        assert versions.error_code == 0 and any(a.api_key == 0 for a in versions.api_keys)
    finally:
        conn.close()
    assert "injected bug" in caplog.text


def test_decode_failure_closes_only_that_connection(served):
    server, _ = served
    bad = RawConn(server.port)
    good = RawConn(server.port)
    try:
        # A Metadata v9 header followed by a body that does not decode.
        bad.sock.sendall(b"\x00\x00\x00\x0b" + b"\x00\x03\x00\x09\x00\x00\x00\x01\xff\xff\x00")
        assert bad.sock.recv(10) == b""
        assert good.call(ApiVersionsRequest(), ApiVersionsResponse, 3).error_code == 0
    finally:
        bad.close()
        good.close()
