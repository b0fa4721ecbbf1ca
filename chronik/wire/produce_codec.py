"""Produce v3-13 request decoding and response encoding by hand, with struct.

Why not kafka-python's classes here (the design's rule for every other API):
with one small record per request, kafka-python's generic decode, the
response objects' construction and their generic encode were a quarter of
the broker's CPU per produce request (py-spy, #18). Produce is the one
message on the hot path of every producer, its schema is small and stable
(Kafka's ProduceRequest.json / ProduceResponse.json, versions 3-13), and
tests/unit/wire/test_produce_codec.py checks every version byte for byte
against kafka-python, both ways, so the two cannot drift apart silently.

The decoded request and the response objects carry the attribute names of
kafka-python's (transactional_id, acks, timeout_ms, topic_data[].name /
.topic_id / .partition_data[].index / .records; responses[].
partition_responses[]...), so handlers and the authoriser read them alike.
`records` is a writable memoryview into the request frame (as
chronik.wire.zero_copy arranges for kafka-python's decoder): offsets are
patched in place and the bytes written as received.

Input kafka-python would refuse is refused: truncation, bad UTF-8, and a
null where Kafka's schema forbids one (`ForbiddenNull`, which Kafka's
parser refuses as well). Unknown tagged fields are skipped; bytes after
the body are ignored (as kafka-python does).
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from chronik.wire.encoding import array_count as _count
from chronik.wire.encoding import read_uvarint, skip_tagged_fields
from chronik.wire.encoding import string_bytes as _string

MIN_VERSION = 3
MAX_VERSION = 13
FIRST_FLEXIBLE = 9
FIRST_TOPIC_ID = 13

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_ACKS_TIMEOUT = struct.Struct(">hi")
_PART_V3 = struct.Struct(">ihqq")  # index, error_code, base_offset, log_append_time_ms
_I64 = struct.Struct(">q")
_ZERO_UUID = uuid.UUID(int=0)


class ForbiddenNull(ValueError):
    """A field Kafka's schema declares non-nullable arrived as null."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


# -- request ---------------------------------------------------------------------------------------


class PartitionProduceData:
    __slots__ = ("index", "records")

    def __init__(self, index: int, records: memoryview | None) -> None:
        self.index = index
        self.records = records


class TopicProduceData:
    __slots__ = ("name", "topic_id", "partition_data")

    def __init__(self, name: str, topic_id: uuid.UUID | None, partition_data: list[PartitionProduceData]) -> None:
        self.name = name
        self.topic_id = topic_id
        self.partition_data = partition_data


class ProduceRequestData:
    __slots__ = ("transactional_id", "acks", "timeout_ms", "topic_data")

    def __init__(self, transactional_id: str | None, acks: int, timeout_ms: int,
                 topic_data: list[TopicProduceData]) -> None:
        self.transactional_id = transactional_id
        self.acks = acks
        self.timeout_ms = timeout_ms
        self.topic_data = topic_data


def _text(buf: memoryview, start: int, size: int) -> str:
    end = start + size
    if end > len(buf):
        raise ValueError("string runs past the body")
    return str(buf[start:end], "utf-8")


def decode_request(body: memoryview, version: int) -> ProduceRequestData:
    """Decode a ProduceRequest body (after the request header). ValueError/IndexError/struct.error on bad input."""
    if version >= FIRST_FLEXIBLE:
        return _decode_flexible(body, version)
    (n,) = _I16.unpack_from(body, 0)
    pos = 2
    txn = None
    if n >= 0:
        txn = _text(body, pos, n)
        pos += n
    elif n != -1:
        raise ValueError("negative string length")
    acks, timeout = _ACKS_TIMEOUT.unpack_from(body, pos)
    pos += 6
    (ntopics,) = _I32.unpack_from(body, pos)
    pos += 4
    if ntopics < 0:
        raise ForbiddenNull("topic_data")
    topics = []
    unpack_i16, unpack_i32 = _I16.unpack_from, _I32.unpack_from
    for t in range(ntopics):
        (n,) = unpack_i16(body, pos)
        pos += 2
        if n < 0:
            raise ForbiddenNull(f"topic_data[{t}].name")
        name = _text(body, pos, n)
        pos += n
        (nparts,) = unpack_i32(body, pos)
        pos += 4
        if nparts < 0:
            raise ForbiddenNull(f"topic_data[{t}].partition_data")
        parts = []
        for _ in range(nparts):
            index, size = _PAIR.unpack_from(body, pos)
            pos += 8
            if size < 0:
                parts.append(PartitionProduceData(index, None))
                continue
            end = pos + size
            if end > len(body):
                raise ValueError("records run past the frame")
            parts.append(PartitionProduceData(index, body[pos:end]))
            pos = end
        topics.append(TopicProduceData(name, None, parts))
    return ProduceRequestData(txn, acks, timeout, topics)


_PAIR = struct.Struct(">ii")


def _decode_flexible(body: memoryview, version: int) -> ProduceRequestData:
    n, pos = read_uvarint(body, 0)
    txn = None
    if n:
        txn = _text(body, pos, n - 1)
        pos += n - 1
    acks, timeout = _ACKS_TIMEOUT.unpack_from(body, pos)
    pos += 6
    ntopics, pos = read_uvarint(body, pos)
    if not ntopics:
        raise ForbiddenNull("topic_data")
    by_id = version >= FIRST_TOPIC_ID
    topics = []
    for t in range(ntopics - 1):
        if by_id:
            if pos + 16 > len(body):
                raise ValueError("topic id runs past the body")
            name, topic_id = "", uuid.UUID(bytes=bytes(body[pos:pos + 16]))
            pos += 16
        else:
            n, pos = read_uvarint(body, pos)
            if not n:
                raise ForbiddenNull(f"topic_data[{t}].name")
            name, topic_id = _text(body, pos, n - 1), None
            pos += n - 1
        nparts, pos = read_uvarint(body, pos)
        if not nparts:
            raise ForbiddenNull(f"topic_data[{t}].partition_data")
        parts = []
        for _ in range(nparts - 1):
            (index,) = _I32.unpack_from(body, pos)
            size, pos = read_uvarint(body, pos + 4)
            if not size:
                records = None
            else:
                end = pos + size - 1
                if end > len(body):
                    raise ValueError("records run past the frame")
                records = body[pos:end]
                pos = end
            pos = skip_tagged_fields(body, pos)
            parts.append(PartitionProduceData(index, records))
        pos = skip_tagged_fields(body, pos)
        topics.append(TopicProduceData(name, topic_id, parts))
    skip_tagged_fields(body, pos)
    return ProduceRequestData(txn, acks, timeout, topics)


# -- response --------------------------------------------------------------------------------------


class PartitionProduceResponse:
    __slots__ = ("index", "error_code", "base_offset", "log_append_time_ms", "log_start_offset",
                 "record_errors", "error_message")

    def __init__(self, index: int, error_code: int, base_offset: int = -1, log_append_time_ms: int = -1,
                 log_start_offset: int = -1, record_errors: list[tuple[int, str | None]] | None = None,
                 error_message: str | None = None) -> None:
        self.index = index
        self.error_code = error_code
        self.base_offset = base_offset
        self.log_append_time_ms = log_append_time_ms
        self.log_start_offset = log_start_offset
        # (batch_index, batch_index_error_message) pairs
        self.record_errors = record_errors or []
        self.error_message = error_message


class TopicProduceResponse:
    __slots__ = ("name", "topic_id", "partition_responses")

    def __init__(self, name: str, topic_id: uuid.UUID | None,
                 partition_responses: list[PartitionProduceResponse]) -> None:
        self.name = name
        self.topic_id = topic_id
        self.partition_responses = partition_responses


class ProduceResponseData:
    """A ProduceResponse v3-13; `encode(version=)` as kafka-python's messages have."""

    __slots__ = ("responses", "throttle_time_ms")

    def __init__(self, responses: list[TopicProduceResponse], throttle_time_ms: int = 0) -> None:
        self.responses = responses
        self.throttle_time_ms = throttle_time_ms

    def encode(self, version: int) -> bytes:
        return encode_response(self, version)


def encode_response(resp: Any, version: int) -> bytes:
    flexible = version >= FIRST_FLEXIBLE
    out = [_count(len(resp.responses), flexible)]
    add = out.append
    for topic in resp.responses:
        if version >= FIRST_TOPIC_ID:
            add((topic.topic_id or _ZERO_UUID).bytes)
        else:
            add(_string(topic.name, flexible))
        add(_count(len(topic.partition_responses), flexible))
        for p in topic.partition_responses:
            add(_PART_V3.pack(p.index, p.error_code, p.base_offset, p.log_append_time_ms))
            if version >= 5:
                add(_I64.pack(p.log_start_offset))
            if version >= 8:
                add(_count(len(p.record_errors), flexible))
                for batch_index, message in p.record_errors:
                    add(_I32.pack(batch_index))
                    add(_string(message, flexible))
                    if flexible:
                        add(b"\x00")
                add(_string(p.error_message, flexible))
            if flexible:
                add(b"\x00")  # current_leader is never set: no tagged fields
        if flexible:
            add(b"\x00")
    add(_I32.pack(resp.throttle_time_ms))
    if flexible:
        add(b"\x00")  # node_endpoints is never set
    return b"".join(out)
