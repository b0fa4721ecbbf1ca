"""bench/targets.py and legs_idle.py: the hand-built ApiVersions probe, and idle connections."""

from __future__ import annotations

import socket
import struct
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import legs_idle  # noqa: E402
import sink  # noqa: E402
import targets  # noqa: E402
from kafka.protocol.metadata.api_versions import ApiVersionsRequest  # noqa: E402


def test_api_versions_frame_is_a_valid_v3_request() -> None:
    frame = targets.api_versions_frame(correlation_id=7)
    (size,) = struct.unpack(">i", frame[:4])
    assert size == len(frame) - 4
    header = sink.parse_header(memoryview(frame[4:]), ApiVersionsRequest)
    assert (header.api_key, header.api_version, header.correlation_id) == (18, 3, 7)
    body = ApiVersionsRequest.decode(frame[4 + header.body_offset:], version=3)
    assert body.client_software_name == "chronik-bench"
    assert body.client_software_version == "1"


def test_api_versions_error_reads_the_code_after_the_correlation_id() -> None:
    assert targets.api_versions_error(struct.pack(">ih", 7, 35) + b"rest") == 35


def serve_sink() -> tuple[sink.Sink, int]:
    server = sink.Sink("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.state.port


def test_a_broker_is_up_when_it_answers_api_versions() -> None:
    server, port = serve_sink()
    try:
        assert targets.answers_api_versions(port)
    finally:
        server.listener.close()
    with socket.socket() as s:  # bound but never listening: refused
        s.bind(("127.0.0.1", 0))
        assert not targets.answers_api_versions(s.getsockname()[1], timeout=0.2)


def test_idle_connections_finish_api_versions_and_stay_open() -> None:
    server, port = serve_sink()
    try:
        with legs_idle.IdleConnections(port, 150) as idle:
            assert len(idle.sockets) == 150
            assert idle.error_codes == {0: 150}
            assert idle.still_open() == 150
        assert idle.sockets == []
    finally:
        server.listener.close()


def test_raise_nofile_never_lowers_the_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert legs_idle.raise_nofile(16) == soft
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft
