"""Where Chronik answers differently from Apache Kafka 4.1 (found by tests/reference/).

Each test states what Apache Kafka answers (seen with the reference broker,
tests/reference/kafka.py) and runs against Chronik alone with kafka-python, so
it needs no JVM. Defects are strict xfails until fixed in the broker.
"""

from __future__ import annotations

import pytest
from kafka.protocol.admin.acl import DescribeAclsRequest, DescribeAclsResponse
from kafka.protocol.admin.client_quotas import DescribeClientQuotasRequest, DescribeClientQuotasResponse
from kafka.protocol.admin.configs import DescribeConfigsRequest, DescribeConfigsResponse
from kafka.protocol.admin.topics import CreateTopicsRequest, CreateTopicsResponse
from kafka.protocol.admin.transactions import DescribeProducersRequest, DescribeProducersResponse
from kafka.protocol.admin.users import DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse

from tests.integration.raw import RawConn

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(broker):
    c = RawConn(broker.port)
    yield c
    c.close()


def topic_configs(conn: RawConn, topic: str) -> dict:
    C = CreateTopicsRequest
    conn.call(C(topics=[C.CreatableTopic(name=topic, num_partitions=1, replication_factor=1, assignments=[],
                                         configs=[])], timeout_ms=5000, validate_only=False), CreateTopicsResponse, 5)
    D = DescribeConfigsRequest
    resp = conn.call(D(resources=[D.DescribeConfigsResource(resource_type=2, resource_name=topic,
                                                             configuration_keys=None)],
                       include_synonyms=True, include_documentation=False), DescribeConfigsResponse, 4)
    return {c.name: c for c in resp.results[0].configs}


def test_topic_config_default_synonym_names_the_broker_config(conn):
    cfg = topic_configs(conn, "syn")
    assert [(s.name, s.source) for s in cfg["segment.bytes"].synonyms] == [("log.segment.bytes", 5)]
    assert [(s.name, s.source) for s in cfg["max.message.bytes"].synonyms] == [("message.max.bytes", 5)]


def test_message_timestamp_after_max_ms_default_is_kafka_4s(conn):
    assert topic_configs(conn, "tsmax")["message.timestamp.after.max.ms"].value == "3600000"


def test_kafka_4_compression_level_configs_are_listed(conn):
    cfg = topic_configs(conn, "levels")
    assert {k: cfg[k].value for k in ("compression.gzip.level", "compression.lz4.level",
                                      "compression.zstd.level")} == {
        "compression.gzip.level": "-1", "compression.lz4.level": "9", "compression.zstd.level": "3"}


def test_describe_producers_coordinator_epoch_before_any_marker(broker, conn):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "dp-epoch"})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce("dp", b"open")
    p.flush(30)
    D = DescribeProducersRequest
    resp = conn.call(D(topics=[D.TopicRequest(name="dp", partition_indexes=[0])]), DescribeProducersResponse, 0)
    (state,) = resp.topics[0].partitions[0].active_producers
    p.abort_transaction(30)
    assert state.coordinator_epoch == -1


def served(conn: RawConn) -> set[int]:
    return {a.api_key for a in conn.call(ApiVersionsRequest(), ApiVersionsResponse, 3).api_keys}


def test_describe_acls_is_served(conn):
    assert DescribeAclsRequest.API_KEY in served(conn)
    resp = conn.call(DescribeAclsRequest(resource_type_filter=1, resource_name_filter=None, pattern_type_filter=1,
                                         principal_filter=None, host_filter=None, operation=1, permission_type=1),
                     DescribeAclsResponse, 1)
    assert resp.error_code == 54


def test_describe_client_quotas_is_served(conn):
    assert DescribeClientQuotasRequest.API_KEY in served(conn)
    resp = conn.call(DescribeClientQuotasRequest(components=[], strict=False), DescribeClientQuotasResponse, 1)
    assert resp.error_code == 0 and not resp.entries


def test_describe_user_scram_credentials_is_served(conn):
    assert DescribeUserScramCredentialsRequest.API_KEY in served(conn)
    resp = conn.call(DescribeUserScramCredentialsRequest(users=None), DescribeUserScramCredentialsResponse, 0)
    assert resp.error_code == 0 and not resp.results
