"""Fetch v4-18 responses encoded by hand, with the record sets as their own buffers.

Why not kafka-python's classes here (the design's rule for every other API):
serving a 1 MB fetch to a confluent-kafka consumer, building the response's
DataContainers, their generic encode and the search for the record-set
markers (chronik.wire.splice) were about a third of the broker's CPU per
fetch (py-spy, #18), more than reading the megabyte. Fetch is the message
on the hot path of every consumer, the response schema is small and stable
(Kafka's FetchResponse.json), and tests/unit/wire/test_fetch_codec.py
checks every version byte for byte against kafka-python's encoding, so the
two cannot drift apart silently.

The objects carry the attribute names of kafka-python's (responses[].topic /
.topic_id / .partitions[].partition_index, .error_code, .records ...), so
the handler and the stats read them alike. `encode` returns a list of
buffers: the record sets go out as the buffers they were read into, behind
their real length prefixes. Tagged fields are never set (diverging_epoch,
current_leader, snapshot_id, node_endpoints: leader and epoch never change
on a single node), so each tagged section is the empty one.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from chronik.wire.encoding import array_count as _count
from chronik.wire.encoding import uvarint_bytes as _uvarint_bytes

MIN_VERSION = 4
MAX_VERSION = 18
FIRST_FLEXIBLE = 12
FIRST_TOPIC_ID = 13

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEAD = struct.Struct(">ihi")  # throttle_time_ms, error_code, session_id (v7+)
_PART = struct.Struct(">ihqq")  # partition_index, error_code, high_watermark, last_stable_offset
_I64 = struct.Struct(">q")
_ABORTED = struct.Struct(">qq")  # producer_id, first_offset
_ZERO_UUID = uuid.UUID(int=0)


class AbortedTransaction:
    __slots__ = ("producer_id", "first_offset")

    def __init__(self, producer_id: int, first_offset: int) -> None:
        self.producer_id = producer_id
        self.first_offset = first_offset


class PartitionData:
    __slots__ = ("partition_index", "error_code", "high_watermark", "last_stable_offset",
                 "log_start_offset", "aborted_transactions", "preferred_read_replica", "records")

    def __init__(self, partition_index: int, error_code: int, high_watermark: int = -1,
                 last_stable_offset: int = -1, log_start_offset: int = -1,
                 aborted_transactions: list[AbortedTransaction] | None = None,
                 records: Any = b"") -> None:
        self.partition_index = partition_index
        self.error_code = error_code
        self.high_watermark = high_watermark
        self.last_stable_offset = last_stable_offset
        self.log_start_offset = log_start_offset
        self.aborted_transactions = aborted_transactions
        self.preferred_read_replica = -1  # no follower fetching (KIP-392) on a single node
        # bytes-like, or a list of them sent one after the other; b"" when there is nothing
        self.records = records


class FetchableTopicResponse:
    __slots__ = ("topic", "topic_id", "partitions")

    def __init__(self, topic: str, topic_id: uuid.UUID | None, partitions: list[PartitionData]) -> None:
        self.topic = topic
        self.topic_id = topic_id
        self.partitions = partitions


class FetchResponseData:
    __slots__ = ("responses", "throttle_time_ms", "error_code", "session_id")

    def __init__(self, responses: list[FetchableTopicResponse], throttle_time_ms: int = 0,
                 error_code: int = 0, session_id: int = 0) -> None:
        self.responses = responses
        self.throttle_time_ms = throttle_time_ms
        self.error_code = error_code
        self.session_id = session_id

    def encode(self, version: int) -> list:
        return encode_response(self, version)


def encode_response(resp: FetchResponseData, version: int) -> list:
    """The response body as buffers: small pieces joined, each record set a buffer of its own."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"Fetch v{version} is not encoded here (v{MIN_VERSION}-{MAX_VERSION})")
    flexible = version >= FIRST_FLEXIBLE
    by_id = version >= FIRST_TOPIC_ID
    out: list = []
    small = bytearray()
    if version >= 7:
        small += _HEAD.pack(resp.throttle_time_ms, resp.error_code, resp.session_id)
    else:
        small += _I32.pack(resp.throttle_time_ms)
    small += _count(len(resp.responses), flexible)
    for topic in resp.responses:
        if by_id:
            small += (topic.topic_id or _ZERO_UUID).bytes
        else:
            raw = topic.topic.encode("utf-8")
            small += _uvarint_bytes(len(raw) + 1) if flexible else _I16.pack(len(raw))
            small += raw
        small += _count(len(topic.partitions), flexible)
        for p in topic.partitions:
            small += _PART.pack(p.partition_index, p.error_code, p.high_watermark, p.last_stable_offset)
            if version >= 5:
                small += _I64.pack(p.log_start_offset)
            aborted = p.aborted_transactions
            if aborted is None:
                small += b"\x00" if flexible else b"\xff\xff\xff\xff"
            else:
                small += _count(len(aborted), flexible)
                for a in aborted:
                    small += _ABORTED.pack(a.producer_id, a.first_offset)
                    if flexible:
                        small += b"\x00"
            if version >= 11:
                small += _I32.pack(p.preferred_read_replica)
            records = p.records
            pieces = isinstance(records, list)
            size = -1 if records is None else sum(map(len, records)) if pieces else len(records)
            if flexible:
                small += _uvarint_bytes(size + 1)
            else:
                small += _I32.pack(size)
            if size > 0:
                out.append(bytes(small))
                if pieces:
                    out.extend(records)
                else:
                    out.append(records)
                small = bytearray()
            if flexible:
                small += b"\x00"
        if flexible:
            small += b"\x00"
    if flexible:
        small += b"\x00"
    out.append(bytes(small))
    return out
