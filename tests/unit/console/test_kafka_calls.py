"""Console writes as Kafka requests: authorised as the principal, answered by the handlers."""

from __future__ import annotations

import pytest
from kafka.protocol.admin.topics import CreateTopicsRequest

from chronik.console.kafka_calls import ConsoleSecurity, KafkaCallError, call, http_status
from chronik.wire.errors import ErrorCode as E


def create(name: str) -> CreateTopicsRequest:
    T = CreateTopicsRequest.CreatableTopic
    return CreateTopicsRequest(topics=[T(name=name, num_partitions=1, replication_factor=-1, assignments=[],
                                         configs=[])], timeout_ms=1000, validate_only=False)


def test_http_status_of_kafka_errors():
    assert http_status(E.TOPIC_AUTHORIZATION_FAILED) == 403
    assert http_status(E.UNKNOWN_TOPIC_OR_PARTITION) == 404
    assert http_status(E.TOPIC_ALREADY_EXISTS) == 409
    assert http_status(E.INVALID_CONFIG) == 400
    assert http_status(E.KAFKA_STORAGE_ERROR) == 503
    assert KafkaCallError(9999).name == "ERROR_9999"


def test_a_call_is_answered_by_the_handler(env):
    core, _console, _client = env
    sec = ConsoleSecurity("User:ANONYMOUS", "127.0.0.1", ("127.0.0.1", 9092))
    resp = call(core, sec, create("x"), 99)  # the version is clamped to what we serve
    assert [t.error_code for t in resp.topics] == [0] and "x" in core.topics
    resp = call(core, sec, create("x"), 5)
    assert [t.error_code for t in resp.topics] == [E.TOPIC_ALREADY_EXISTS]


def test_the_authorizer_decides_as_for_a_kafka_client(tmp_path):
    from tests.unit.console.conftest import make

    core, _console, _client = make(tmp_path, authorizer=True)
    try:
        with pytest.raises(KafkaCallError) as e:
            call(core, ConsoleSecurity("User:mallory", "127.0.0.1", ("127.0.0.1", 9092)), create("x"), 5)
        assert e.value.code == E.TOPIC_AUTHORIZATION_FAILED and "x" not in core.topics
    finally:
        core.close()
