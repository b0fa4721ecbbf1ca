"""The dispatcher: a handler's bug is answered with UNKNOWN_SERVER_ERROR and the connection goes on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.broker.handlers import HANDLERS
from chronik.broker.main import attach
from chronik.broker.server import Server
from chronik.wire.errors import ErrorCode
from tests.integration.raw import RawConn


@pytest.fixture
def served(tmp_path: Path):
    """An in-process broker (server loop in a thread) on a free port."""
    server = Server("127.0.0.1", 0, 1 << 20)
    server.listen()
    core = BrokerCore(BrokerConfig(data_dir=tmp_path / "data", port=server.port), server)
    attach(core, server)
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


def test_parked_fetch_goes_when_its_connection_closes(served):
    import time

    from kafka.protocol.consumer.fetch import FetchRequest

    server, core = served
    core.create_topic("quiet", 1)
    conn = RawConn(server.port)
    part = FetchRequest.FetchTopic.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1 << 20,
                                                  current_leader_epoch=-1, log_start_offset=-1)
    req = FetchRequest(replica_id=-1, max_wait_ms=86_400_000, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
                       session_id=0, session_epoch=-1,
                       topics=[FetchRequest.FetchTopic(topic="quiet", partitions=[part])],
                       forgotten_topics_data=[], rack_id="")
    req.API_VERSION = 11
    req.with_header(correlation_id=1, client_id="t")
    conn.sock.sendall(req.encode(header=True, framed=True))
    deadline = time.monotonic() + 5
    while len(core.purgatory) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(core.purgatory) == 1
    parked = core.purgatory._deadlines[0][0] - time.monotonic()
    assert parked < 601  # bounded, not a day
    conn.close()
    while len(core.purgatory) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(core.purgatory) == 0
