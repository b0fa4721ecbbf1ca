"""Nulls in fields Kafka declares non-nullable are found at decode time, for every API."""

from __future__ import annotations

import pytest

from chronik.wire.apis import ALL_APIS
from chronik.wire.nulls import _plan, first_forbidden_null


def _cases():
    for key, spec in sorted(ALL_APIS.items()):
        for v in sorted({spec.min_version, spec.max_version}):
            for name, _nested, nullable in _plan(spec.request._struct, v):
                if not nullable and _encodes_null(spec, v, name):
                    yield pytest.param(key, v, name, id=f"{spec.name}-v{v}-{name}")


def _encodes_null(spec, version: int, field: str) -> bool:
    """kafka-python writes some nulls as empty values (Metadata v0 topics): nothing to find there."""
    req = spec.request(version=version)
    setattr(req, field, None)
    return getattr(spec.request.decode(req.encode(version=version), version=version), field) is None


@pytest.mark.parametrize("key,version,field", list(_cases()))
def test_null_in_a_non_nullable_field_is_named(key, version, field):
    spec = ALL_APIS[key]
    req = spec.request(version=version)
    setattr(req, field, None)
    decoded = spec.request.decode(req.encode(version=version), version=version)
    assert first_forbidden_null(decoded, version) == field


@pytest.mark.parametrize("key", sorted(ALL_APIS))
def test_default_requests_have_no_forbidden_nulls(key):
    spec = ALL_APIS[key]
    for v in range(spec.min_version, spec.max_version + 1):
        req = spec.request(version=v)
        assert first_forbidden_null(spec.request.decode(req.encode(version=v), version=v), v) is None


def test_nested_nulls_are_found_with_their_path():
    from kafka.protocol.producer.produce import ProduceRequest

    part = ProduceRequest.TopicProduceData.PartitionProduceData
    req = ProduceRequest(version=3, transactional_id=None, acks=1, timeout_ms=10, topic_data=[
        ProduceRequest.TopicProduceData(name=None, partition_data=[part(index=0, records=None)])])
    decoded = ProduceRequest.decode(req.encode(version=3), version=3)
    assert first_forbidden_null(decoded, 3) == "topic_data[0].name"
