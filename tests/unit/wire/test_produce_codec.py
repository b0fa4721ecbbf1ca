"""The hand-written Produce codec matches kafka-python's byte for byte, every version, both ways."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from chronik.wire import produce_codec as pc

VERSIONS = range(pc.MIN_VERSION, pc.MAX_VERSION + 1)
_TopicData = ProduceRequest.TopicProduceData
_PartData = _TopicData.PartitionProduceData
_TopicResp = ProduceResponse.TopicProduceResponse
_PartResp = _TopicResp.PartitionProduceResponse
_RecordError = _PartResp.BatchIndexAndErrorMessage

names = st.text(min_size=0, max_size=12)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
uuids = st.uuids()


@st.composite
def requests(draw, version: int):
    topics = []
    for _ in range(draw(st.integers(0, 3))):
        parts = [_PartData(index=draw(i32), records=draw(st.one_of(st.none(), st.binary(max_size=300))))
                 for _ in range(draw(st.integers(0, 3)))]
        topics.append(_TopicData(name=draw(names), topic_id=draw(uuids), partition_data=parts))
    return ProduceRequest(version=version, transactional_id=draw(st.one_of(st.none(), names)),
                          acks=draw(st.sampled_from([-1, 0, 1, 7])), timeout_ms=draw(i32), topic_data=topics)


@st.composite
def responses(draw, version: int):
    topics = []
    for _ in range(draw(st.integers(0, 3))):
        parts = []
        for _ in range(draw(st.integers(0, 3))):
            errors = [(draw(i32), draw(st.one_of(st.none(), names))) for _ in range(draw(st.integers(0, 2)))]
            parts.append((draw(i32), draw(st.integers(-1, 120)), draw(i64), draw(i64), draw(i64), errors,
                          draw(st.one_of(st.none(), names))))
        topics.append((draw(names), draw(uuids), parts))
    return topics, draw(i32)


def _as_tuple(req, version: int):
    return (req.transactional_id, req.acks, req.timeout_ms,
            [(t.name if version < 13 else "", t.topic_id if version >= 13 else None,
              [(p.index, None if p.records is None else bytes(p.records)) for p in t.partition_data])
             for t in req.topic_data])


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_requests_decode_as_kafka_python_decodes_them(version, data):
    req = data.draw(requests(version))
    raw = bytearray(req.encode(version=version))
    mine = pc.decode_request(memoryview(raw), version)
    theirs = ProduceRequest.decode(bytes(raw), version=version)
    assert _as_tuple(mine, version) == _as_tuple(theirs, version)


@pytest.mark.parametrize("version", VERSIONS)
def test_records_are_writable_views_into_the_frame(version):
    req = ProduceRequest(version=version, transactional_id="tx", acks=-1, timeout_ms=5,
                         topic_data=[_TopicData(name="t", topic_id=uuid.uuid4(),
                                                partition_data=[_PartData(index=2, records=b"abcdef")])])
    raw = bytearray(req.encode(version=version))
    records = pc.decode_request(memoryview(raw), version).topic_data[0].partition_data[0].records
    records[0:1] = b"Z"
    assert b"Zbcdef" in raw


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_responses_encode_as_kafka_python_encodes_them(version, data):
    topics, throttle = data.draw(responses(version))
    theirs = ProduceResponse(version=version, throttle_time_ms=throttle, responses=[
        _TopicResp(name=name, topic_id=tid, partition_responses=[
            _PartResp(index=i, error_code=code, base_offset=base, log_append_time_ms=at, log_start_offset=start,
                      record_errors=[_RecordError(batch_index=b, batch_index_error_message=m) for b, m in errs],
                      error_message=msg)
            for i, code, base, at, start, errs, msg in parts])
        for name, tid, parts in topics])
    mine = pc.ProduceResponseData([
        pc.TopicProduceResponse(name, tid, [pc.PartitionProduceResponse(*p) for p in parts])
        for name, tid, parts in topics], throttle)
    assert mine.encode(version=version) == theirs.encode(version=version)


@pytest.mark.parametrize("version", VERSIONS)
def test_truncated_requests_are_refused(version):
    req = ProduceRequest(version=version, transactional_id="tx", acks=1, timeout_ms=5,
                         topic_data=[_TopicData(name="topic", topic_id=uuid.uuid4(),
                                                partition_data=[_PartData(index=0, records=b"x" * 40)])])
    raw = req.encode(version=version)
    # Cut anywhere inside the topic data (the trailing tagged-field bytes of flexible versions excepted).
    for cut in range(1, len(raw) - (3 if version >= 9 else 0)):
        with pytest.raises((ValueError, IndexError, struct.error)):
            pc.decode_request(memoryview(bytearray(raw[:cut])), version)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_null_topic_array_is_a_forbidden_null(version):
    head = ProduceRequest(version=version, transactional_id=None, acks=1, timeout_ms=5, topic_data=[])
    raw = bytearray(head.encode(version=version))
    if version >= 9:
        raw[-2] = 0  # compact array length 0 = null
    else:
        raw[-4:] = b"\xff\xff\xff\xff"
    with pytest.raises(pc.ForbiddenNull, match="topic_data"):
        pc.decode_request(memoryview(raw), version)


@pytest.mark.parametrize("version", range(pc.MIN_VERSION, 13))
def test_a_null_topic_name_is_a_forbidden_null(version):
    req = ProduceRequest(version=version, transactional_id=None, acks=1, timeout_ms=5,
                         topic_data=[_TopicData(name="t", partition_data=[])])
    raw = bytearray(req.encode(version=version))
    at = raw.index(b"t")
    if version >= 9:
        raw[at - 1:at + 1] = b"\x00"
    else:
        raw[at - 2:at + 1] = b"\xff\xff"
    with pytest.raises(pc.ForbiddenNull, match=r"topic_data\[0\]\.name"):
        pc.decode_request(memoryview(raw), version)


def test_unknown_tagged_fields_are_skipped():
    req = ProduceRequest(version=9, transactional_id=None, acks=1, timeout_ms=5,
                         topic_data=[_TopicData(name="t", partition_data=[_PartData(index=3, records=b"rec")])])
    raw = bytearray(req.encode(version=9))
    # Each struct ends with an empty tag buffer (0x00): give the partition one tagged field (tag 5, 2 bytes).
    at = raw.index(b"rec") + 3
    assert raw[at] == 0
    raw[at:at + 1] = b"\x01\x05\x02zz"
    mine = pc.decode_request(memoryview(raw), 9)
    assert _as_tuple(mine, 9) == (None, 1, 5, [("t", None, [(3, b"rec")])])
    assert _as_tuple(ProduceRequest.decode(bytes(raw), version=9), 9) == _as_tuple(mine, 9)
