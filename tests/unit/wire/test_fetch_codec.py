"""The hand-written Fetch response encoder against kafka-python's, byte for byte, every version."""

from __future__ import annotations

import uuid

import pytest
from kafka.protocol.consumer.fetch import FetchResponse

from chronik.wire import fetch_codec as fc

_Topic = FetchResponse.FetchableTopicResponse
_Part = _Topic.PartitionData
_Aborted = _Part.AbortedTransaction

TOPIC_ID = uuid.UUID("6f1d7b2e-9a51-4c3e-8f0a-1b2c3d4e5f60")
RECORDS = bytes(range(256)) * 600  # 153,600 bytes: a length prefix of 3 varint bytes


def ours() -> fc.FetchResponseData:
    return fc.FetchResponseData(throttle_time_ms=7, error_code=0, session_id=0, responses=[
        fc.FetchableTopicResponse("orders", TOPIC_ID, [
            fc.PartitionData(0, 0, 100, 90, 3, None, RECORDS),
            fc.PartitionData(1, 0, 5, 5, 0, [fc.AbortedTransaction(9, 2), fc.AbortedTransaction(11, 4)],
                             b"tiny"),
            fc.PartitionData(2, 1, -1, -1, -1, None, b""),
        ]),
        fc.FetchableTopicResponse("ünïcode", uuid.UUID(int=0), [fc.PartitionData(0, 0, 0, 0, 0, [], b"")]),
    ])


def theirs(version: int) -> FetchResponse:
    def part(index, code, hw, lso, start, aborted, records):
        return _Part(partition_index=index, error_code=code, high_watermark=hw, last_stable_offset=lso,
                     log_start_offset=start, preferred_read_replica=-1, records=records,
                     aborted_transactions=None if aborted is None else [
                         _Aborted(producer_id=p, first_offset=o) for p, o in aborted])
    return FetchResponse(throttle_time_ms=7, error_code=0, session_id=0, responses=[
        _Topic(topic="orders" if version < 13 else "", topic_id=TOPIC_ID, partitions=[
            part(0, 0, 100, 90, 3, None, RECORDS),
            part(1, 0, 5, 5, 0, [(9, 2), (11, 4)], b"tiny"),
            part(2, 1, -1, -1, -1, None, b""),
        ]),
        _Topic(topic="ünïcode" if version < 13 else "", topic_id=uuid.UUID(int=0),
               partitions=[part(0, 0, 0, 0, 0, [], b"")]),
    ])


@pytest.mark.parametrize("version", range(fc.MIN_VERSION, fc.MAX_VERSION + 1))
def test_same_bytes_as_kafka_python(version: int) -> None:
    expected = bytes(theirs(version).encode(version=version))
    buffers = ours().encode(version)
    assert b"".join(bytes(b) for b in buffers) == expected


@pytest.mark.parametrize("version", [4, 11, 12, 16, 18])
def test_record_sets_are_their_own_buffers(version: int) -> None:
    """The megabyte read from a segment goes out as it is, never copied into the response."""
    records = bytearray(RECORDS)
    resp = fc.FetchResponseData([fc.FetchableTopicResponse("t", TOPIC_ID, [fc.PartitionData(0, 0, 1, 1, 0,
                                                                                            None, records)])])
    assert any(b is records for b in resp.encode(version))
    decoded = FetchResponse.decode(b"".join(bytes(b) for b in resp.encode(version)), version=version)
    assert bytes(decoded.responses[0].partitions[0].records) == RECORDS


@pytest.mark.parametrize("version", [4, 12, 16])
def test_a_record_set_may_come_in_pieces(version: int) -> None:
    pieces = [bytearray(RECORDS[:1000]), memoryview(RECORDS)[1000:]]
    resp = fc.FetchResponseData([fc.FetchableTopicResponse("t", TOPIC_ID, [fc.PartitionData(0, 0, 1, 1, 0,
                                                                                            None, pieces)])])
    buffers = resp.encode(version)
    assert buffers[1] is pieces[0] and buffers[2] is pieces[1]
    decoded = FetchResponse.decode(b"".join(bytes(b) for b in buffers), version=version)
    assert bytes(decoded.responses[0].partitions[0].records) == RECORDS


def test_versions_outside_the_range_are_refused() -> None:
    with pytest.raises(ValueError):
        ours().encode(3)
    with pytest.raises(ValueError):
        ours().encode(19)
