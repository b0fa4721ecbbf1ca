"""UNKNOWN_SERVER_ERROR answers mirror the request, for every API we serve."""

from __future__ import annotations

import uuid

import pytest
from kafka.protocol.consumer.fetch import FetchRequest
from kafka.protocol.producer.produce import ProduceRequest

from chronik.wire.apis import ALL_APIS
from chronik.wire.error_response import build_error_response

UNKNOWN = -1


@pytest.mark.parametrize("key", sorted(ALL_APIS))
def test_every_version_encodes(key):
    spec = ALL_APIS[key]
    for v in range(spec.min_version, spec.max_version + 1):
        resp = build_error_response(spec.response, spec.request(version=v), v, UNKNOWN)
        encoded = resp.encode(version=v)
        if key != 18:  # kafka-python decodes an ApiVersions error as v0 (KIP-511), whatever the version
            assert spec.response.decode(encoded, version=v) is not None


def test_produce_answer_names_each_partition():
    part = ProduceRequest.TopicProduceData.PartitionProduceData
    req = ProduceRequest(version=9, transactional_id=None, acks=-1, timeout_ms=1000, topic_data=[
        ProduceRequest.TopicProduceData(name="t", partition_data=[part(index=3, records=b""),
                                                                  part(index=5, records=b"")])])
    resp = build_error_response(ALL_APIS[0].response, req, 9, UNKNOWN)
    (topic,) = resp.responses
    assert topic.name == "t"
    assert [(p.index, p.error_code) for p in topic.partition_responses] == [(3, UNKNOWN), (5, UNKNOWN)]


def test_fetch_answer_has_top_level_code_and_partitions():
    tid = uuid.uuid4()
    part = FetchRequest.FetchTopic.FetchPartition
    req = FetchRequest(version=13, topics=[FetchRequest.FetchTopic(topic_id=tid, partitions=[
        part(partition=2, fetch_offset=0, partition_max_bytes=100)])])
    resp = build_error_response(ALL_APIS[1].response, req, 13, UNKNOWN)
    assert resp.error_code == UNKNOWN
    (topic,) = resp.responses
    assert topic.topic_id == tid
    assert [(p.partition_index, p.error_code) for p in topic.partitions] == [(2, UNKNOWN)]
