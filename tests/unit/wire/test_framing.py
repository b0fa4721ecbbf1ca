"""Request header parsing, response framing, the API table and the zero-copy records view."""

from __future__ import annotations

import struct

import pytest
from kafka.protocol.metadata.api_versions import ApiVersionsRequest
from kafka.protocol.metadata.metadata import MetadataRequest
from kafka.protocol.producer.produce import ProduceRequest

from chronik.broker.dispatch import _flexible_of
from chronik.broker.handlers import served_apis
from chronik.wire.apis import ALL_APIS
from chronik.wire.framing import (
    LARGE_FRAME_START,
    FrameDecoder,
    FrameTooLarge,
    MalformedFrame,
    frame_response,
    parse_request_header,
)


def _frame(req, version: int, corr: int = 9, client: str = "cli") -> memoryview:
    req.API_VERSION = version
    req.with_header(correlation_id=corr, client_id=client)
    return memoryview(bytes(req.encode(header=True, framed=True))[4:])


@pytest.mark.parametrize("version", [1, 9, 12])
def test_header_round_trip(version):
    frame = _frame(MetadataRequest(topics=None, allow_auto_topic_creation=False), version)
    h = parse_request_header(frame, _flexible_of)
    assert (h.api_key, h.api_version, h.correlation_id, h.client_id) == (3, version, 9, "cli")
    body = MetadataRequest.decode(frame[h.body_offset:], version=version)
    assert body.topics is None


def test_flexible_api_versions_header_has_tags():
    frame = _frame(ApiVersionsRequest(client_software_name="x", client_software_version="1"), 3)
    h = parse_request_header(frame, _flexible_of)
    assert ApiVersionsRequest.decode(frame[h.body_offset:], version=3).client_software_name == "x"


@pytest.mark.parametrize("raw", [b"", b"\x00\x03", struct.pack(">hhih", 3, 1, 1, 50) + b"short",
                                 struct.pack(">hhih", 3, 1, 1, -7)])
def test_malformed_headers(raw):
    with pytest.raises(MalformedFrame):
        parse_request_header(memoryview(raw), _flexible_of)


def test_response_framing():
    assert b"".join(frame_response(3, 77, True, b"abc")) == struct.pack(">ii", 3 + 4 + 1, 77) + b"\x00abc"
    # ApiVersions never carries tagged fields in its response header.
    assert b"".join(frame_response(18, 5, True, b"abc")) == struct.pack(">ii", 3 + 4, 5) + b"abc"
    # A small body is joined with its header; a large one and a list of buffers are not copied.
    assert len(frame_response(3, 1, False, b"x" * 100)) == 1
    big = b"y" * (1 << 20)
    head, body = frame_response(3, 1, True, big)
    assert body is big and head == struct.pack(">ii", len(big) + 5, 1) + b"\x00"
    head, *parts = frame_response(1, 2, False, [b"ab", b"cd"])
    assert parts == [b"ab", b"cd"] and head == struct.pack(">ii", 8, 2)


def test_served_ranges():
    keys = {s.key: s for s in served_apis()}
    assert keys[0].min_version == 0 and keys[0].max_version == 13
    assert (keys[1].min_version, keys[1].max_version) == (4, 18)
    assert (keys[3].min_version, keys[3].max_version) == (0, 13)
    assert (keys[2].min_version, keys[2].max_version) == (1, 11)
    assert (keys[18].min_version, keys[18].max_version) == (0, 4)
    assert set(keys) <= set(ALL_APIS)


def test_produce_records_are_views_into_the_frame():
    P = ProduceRequest
    req = P(transactional_id=None, acks=1, timeout_ms=1, topic_data=[P.TopicProduceData(
        name="t", partition_data=[P.TopicProduceData.PartitionProduceData(index=0, records=b"abcdef")])])
    frame = bytearray(req.encode(version=9))
    decoded = P.decode(memoryview(frame), version=9)
    rec = decoded.topic_data[0].partition_data[0].records
    assert isinstance(rec, memoryview) and not rec.readonly
    rec[0:1] = b"X"
    assert b"Xbcdef" in frame
    # A length running past the frame is an error, not a short slice.
    with pytest.raises(ValueError):
        P.decode(memoryview(frame[:-6]), version=9)


@pytest.mark.parametrize("version", [4, 11, 12, 16, 18])
def test_fetch_response_buffers_frame_with_the_right_size(version):
    import os

    from kafka.protocol.consumer.fetch import FetchResponse

    from chronik.wire import fetch_codec as fc

    sets = [os.urandom(n) for n in (10, 300, 70_000)]
    resp = fc.FetchResponseData([fc.FetchableTopicResponse("t", None, [
        fc.PartitionData(i, 0, 99, 99, 0, None, r) for i, r in enumerate(sets)])])
    head, *body = frame_response(1, 5, version >= 12, resp.encode(version))
    assert struct.unpack(">i", head[:4])[0] == len(head) - 4 + sum(len(b) for b in body)
    decoded = FetchResponse.decode(b"".join(bytes(b) for b in body), version=version)
    assert [bytes(p.records) for p in decoded.responses[0].partitions] == sets


# -- FrameDecoder -------------------------------------------------------------------


def _framed(*bodies: bytes) -> bytes:
    return b"".join(struct.pack(">i", len(b)) + b for b in bodies)


def test_decoder_whole_and_pipelined_frames():
    d = FrameDecoder(1024)
    assert d.feed(_framed(b"one", b"", b"three")) == [b"one", b"", b"three"]
    assert d.buffered == 0


def test_decoder_partial_frames_byte_by_byte():
    d = FrameDecoder(1024, buffer_size=16)
    data = _framed(b"hello", b"x" * 40, b"world")
    out = []
    for i in range(len(data)):
        out.extend(d.feed(data[i:i + 1]))
    assert out == [b"hello", b"x" * 40, b"world"]
    assert d.buffered == 0


def test_decoder_frame_larger_than_its_buffer_through_recv_buffer():
    d = FrameDecoder(10_000, buffer_size=64)
    body = bytes(range(256)) * 20
    data = _framed(body, b"next")
    out, pos = [], 0
    while pos < len(data):
        buf = d.recv_buffer()
        assert len(buf) > 0
        n = min(len(buf), len(data) - pos, 100)
        buf[:n] = data[pos:pos + n]
        pos += n
        out.extend(d.received(n))
    assert out == [body, b"next"]


def test_decoder_moves_a_partial_frame_to_the_front():
    d = FrameDecoder(1024, buffer_size=16)
    # 12 bytes of whole frame, then 4 bytes of a frame header that fills the buffer.
    assert d.feed(_framed(b"12345678") + struct.pack(">i", 6)) == [b"12345678"]
    assert d.feed(b"abcdef") == [b"abcdef"]


@pytest.mark.parametrize("size,exc", [(-1, MalformedFrame), (1025, FrameTooLarge)])
def test_decoder_verdicts(size, exc):
    d = FrameDecoder(1024)
    with pytest.raises(exc):
        d.feed(struct.pack(">i", size) + b"...")


def test_decoder_limit_is_inclusive():
    d = FrameDecoder(4)
    assert d.feed(_framed(b"abcd")) == [b"abcd"]


def test_an_idle_decoder_is_small_and_a_busy_one_grows():
    d = FrameDecoder(1 << 20)
    assert d.capacity <= 8 * 1024
    bodies = [bytes([i]) * 3000 for i in range(60)]
    assert d.feed(_framed(*bodies)) == bodies
    assert 8 * 1024 < d.capacity <= 256 * 1024


def test_a_claimed_size_is_not_allocated_before_its_bytes_arrive():
    d = FrameDecoder(100 * 1024 * 1024)
    assert d.feed(struct.pack(">i", 99 * 1024 * 1024) + b"x" * 14) == []
    assert d.buffered == 14 and d.capacity <= LARGE_FRAME_START + 64 * 1024  # not 99 MB


def test_large_frames_wait_for_admission_and_give_it_back():
    budget = {"free": 100_000}
    released = []

    def admit(size):
        if size <= budget["free"]:
            budget["free"] -= size
            return True
        return False

    def release(size):
        budget["free"] += size
        released.append(size)

    big = b"b" * 60_000
    first = FrameDecoder(1 << 20, admit=admit, release=release)
    second = FrameDecoder(1 << 20, admit=admit, release=release)
    assert first.feed(_framed(big)[:30_000]) == []
    assert second.feed(_framed(big)[:20]) == [] and second.waiting
    assert len(second.recv_buffer()) == 0  # no more bytes while waiting
    assert second.retry() == [] and second.waiting
    assert first.feed(_framed(big)[30_000:]) == [big]
    assert released == [60_000]
    assert second.retry() == [] and not second.waiting
    assert second.feed(_framed(big)[20:]) == [big]


def test_close_gives_back_an_admitted_frame():
    released = []
    d = FrameDecoder(1 << 20, release=released.append)
    d.feed(struct.pack(">i", 500_000) + b"x" * 10)
    d.close()
    assert released == [500_000]


def test_a_frame_larger_than_its_start_buffer_grows_to_exactly_its_size():
    d = FrameDecoder(16 * 1024 * 1024)
    body = bytes(range(256)) * (3 * LARGE_FRAME_START // 256 + 7)
    data = _framed(body)
    out, pos = [], 0
    while pos < len(data):
        buf = d.recv_buffer()
        n = min(len(buf), len(data) - pos, 300_000)
        buf[:n] = data[pos:pos + n]
        pos += n
        out.extend(d.received(n))
    assert out == [body] and len(out[0]) == len(body)
