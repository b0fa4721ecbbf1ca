"""Every version of the core APIs, spoken over a raw socket with kafka-python's classes.

Each request is encoded at each version the broker advertises; the answer
must decode at that version and carry the expected content.
"""

from __future__ import annotations

import struct
import uuid

import pytest
from kafka.protocol.admin.cluster import DescribeClusterRequest, DescribeClusterResponse
from kafka.protocol.admin.configs import DescribeConfigsRequest, DescribeConfigsResponse
from kafka.protocol.admin.topics import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    CreateTopicsRequest,
    CreateTopicsResponse,
    DeleteRecordsRequest,
    DeleteRecordsResponse,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
)
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.offsets import (
    ListOffsetsRequest,
    ListOffsetsResponse,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
)
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
from kafka.record.default_records import DefaultRecordBatchBuilder

from tests.integration.raw import RawConn

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(broker):
    c = RawConn(broker.port)
    yield c
    c.close()


def _records(value: bytes, n: int = 3) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    for i in range(n):
        b.append(i, timestamp=1_700_000_000_000 + i, key=b"k%d" % i, value=value, headers=[])
    return bytes(b.build())


def _create(conn, name: str, partitions: int = 1) -> uuid.UUID:
    C = CreateTopicsRequest
    resp = conn.call(C(topics=[C.CreatableTopic(name=name, num_partitions=partitions,
                                                replication_factor=1, assignments=[], configs=[])],
                       timeout_ms=5000, validate_only=False), CreateTopicsResponse, 7)
    assert resp.topics[0].error_code == 0
    return resp.topics[0].topic_id


def test_metadata_every_version(conn):
    tid = _create(conn, "mdv", 2)
    M = MetadataRequest
    for v in conn.versions(M):
        topic = M.MetadataRequestTopic(name="mdv", topic_id=uuid.UUID(int=0))
        resp = conn.call(M(topics=[topic], allow_auto_topic_creation=False,
                           include_topic_authorized_operations=False,
                           include_cluster_authorized_operations=False), MetadataResponse, v)
        t = resp.topics[0]
        assert t.error_code == 0 and t.name == "mdv"
        assert sorted(p.partition_index for p in t.partitions) == [0, 1]
        assert resp.brokers[0].port == conn.sock.getpeername()[1]
        if v >= 10:
            assert t.topic_id == tid
    # v10+: look a topic up by id alone; an unknown id is UNKNOWN_TOPIC_ID.
    resp = conn.call(M(topics=[M.MetadataRequestTopic(name=None, topic_id=tid)],
                       allow_auto_topic_creation=False, include_topic_authorized_operations=False),
                     MetadataResponse, 12)
    assert resp.topics[0].name == "mdv"
    resp = conn.call(M(topics=[M.MetadataRequestTopic(name=None, topic_id=uuid.uuid4())],
                       allow_auto_topic_creation=False, include_topic_authorized_operations=False),
                     MetadataResponse, 12)
    assert resp.topics[0].error_code == 100


def test_metadata_invalid_and_unknown_topics(broker_factory):
    b = broker_factory("--no-auto-create")
    conn = RawConn(b.port)
    M = MetadataRequest
    resp = conn.call(M(topics=[M.MetadataRequestTopic(name="bad name!"),
                               M.MetadataRequestTopic(name="absent")],
                       allow_auto_topic_creation=True), MetadataResponse, 9)
    codes = {t.name: t.error_code for t in resp.topics}
    assert codes == {"bad name!": 17, "absent": 3}


def test_produce_fetch_list_offsets_every_version(conn):
    tid = _create(conn, "pfv")
    P = ProduceRequest
    expected = 0
    for v in conn.versions(P):
        if v < 3:
            continue
        part = P.TopicProduceData.PartitionProduceData(index=0, records=_records(b"v%d" % v))
        td = (P.TopicProduceData(topic_id=tid, partition_data=[part]) if v >= 13
              else P.TopicProduceData(name="pfv", partition_data=[part]))
        resp = conn.call(P(transactional_id=None, acks=-1, timeout_ms=5000, topic_data=[td]),
                         ProduceResponse, v)
        pr = resp.responses[0].partition_responses[0]
        assert pr.error_code == 0, v
        assert pr.base_offset == expected
        expected += 3
    # Produce v13 with an unknown topic id.
    part = P.TopicProduceData.PartitionProduceData(index=0, records=_records(b"x"))
    resp = conn.call(P(transactional_id=None, acks=1, timeout_ms=5000,
                       topic_data=[P.TopicProduceData(topic_id=uuid.uuid4(), partition_data=[part])]),
                     ProduceResponse, 13)
    assert resp.responses[0].partition_responses[0].error_code == 100

    F = FetchRequest
    for v in conn.versions(F):
        fp = F.FetchTopic.FetchPartition(partition=0, fetch_offset=3, log_start_offset=-1,
                                         partition_max_bytes=1 << 20)
        ft = (F.FetchTopic(topic_id=tid, partitions=[fp]) if v >= 13
              else F.FetchTopic(topic="pfv", partitions=[fp]))
        resp = conn.call(F(replica_id=-1, max_wait_ms=100, min_bytes=1, max_bytes=1 << 20,
                           isolation_level=0, session_id=0, session_epoch=-1, topics=[ft],
                           forgotten_topics_data=[], rack_id=""), FetchResponse, v)
        p = resp.responses[0].partitions[0]
        assert p.error_code == 0, v
        assert p.high_watermark == expected
        # Whole batches from the one holding offset 3: base offset 3.
        assert struct.unpack(">q", bytes(p.records[:8]))[0] == 3
        if v >= 13:
            assert resp.responses[0].topic_id == tid

    L = ListOffsetsRequest
    for v in conn.versions(L):
        got = []
        for ts in (-2, -1, 1_700_000_000_001):  # one request each: Kafka refuses a partition named twice
            part = L.ListOffsetsTopic.ListOffsetsPartition(partition_index=0, timestamp=ts)
            resp = conn.call(L(replica_id=-1, isolation_level=0,
                               topics=[L.ListOffsetsTopic(name="pfv", partitions=[part])],
                               timeout_ms=1000), ListOffsetsResponse, v)
            got += [(p.error_code, p.offset) for p in resp.topics[0].partitions]
        # The first record at/after ts ...001 is the second record of the first batch.
        assert got == [(0, 0), (0, expected), (0, 1)], v
        if v >= 7:
            mx = L.ListOffsetsTopic.ListOffsetsPartition(partition_index=0, timestamp=-3)
            resp = conn.call(L(replica_id=-1, isolation_level=0,
                               topics=[L.ListOffsetsTopic(name="pfv", partitions=[mx])],
                               timeout_ms=1000), ListOffsetsResponse, v)
            assert resp.topics[0].partitions[0].timestamp == 1_700_000_000_002

    OE = OffsetForLeaderEpochRequest
    for v in conn.versions(OE):
        resp = conn.call(OE(replica_id=-2, topics=[OE.OffsetForLeaderTopic(topic="pfv", partitions=[
            OE.OffsetForLeaderTopic.OffsetForLeaderPartition(partition=0, current_leader_epoch=-1,
                                                            leader_epoch=0)])]),
                         OffsetForLeaderEpochResponse, v)
        assert resp.topics[0].partitions[0].end_offset == expected


def test_fetch_out_of_range_and_long_poll(conn):
    _create(conn, "lp")
    F = FetchRequest
    fp = F.FetchTopic.FetchPartition(partition=0, fetch_offset=5, partition_max_bytes=1 << 20)
    resp = conn.call(F(replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20,
                       topics=[F.FetchTopic(topic="lp", partitions=[fp])]), FetchResponse, 11)
    assert resp.responses[0].partitions[0].error_code == 1  # OFFSET_OUT_OF_RANGE
    import time

    fp = F.FetchTopic.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1 << 20)
    t = time.monotonic()
    resp = conn.call(F(replica_id=-1, max_wait_ms=300, min_bytes=1, max_bytes=1 << 20,
                       topics=[F.FetchTopic(topic="lp", partitions=[fp])]), FetchResponse, 11)
    waited = time.monotonic() - t
    assert resp.responses[0].partitions[0].records in (b"", None)
    assert 0.25 <= waited < 3


def test_admin_apis_every_version(conn):
    C = CreateTopicsRequest
    for v in conn.versions(C):
        name = f"ct{v}"
        resp = conn.call(C(topics=[C.CreatableTopic(name=name, num_partitions=2, replication_factor=1,
                                                    assignments=[], configs=[
                                                        C.CreatableTopic.CreatableTopicConfig(
                                                            name="retention.ms", value="1000")])],
                           timeout_ms=5000, validate_only=False), CreateTopicsResponse, v)
        assert resp.topics[0].error_code == 0, v
    # validate_only creates nothing; bad replication factor and assignment are refused.
    resp = conn.call(C(topics=[C.CreatableTopic(name="vo", num_partitions=1, replication_factor=1,
                                                assignments=[], configs=[])],
                       timeout_ms=5000, validate_only=True), CreateTopicsResponse, 7)
    assert resp.topics[0].error_code == 0
    resp = conn.call(C(topics=[C.CreatableTopic(name="rf", num_partitions=1, replication_factor=3,
                                                assignments=[], configs=[]),
                               C.CreatableTopic(name="ra", num_partitions=-1, replication_factor=-1,
                                                assignments=[C.CreatableTopic.CreatableReplicaAssignment(
                                                    partition_index=0, broker_ids=[5])], configs=[]),
                               C.CreatableTopic(name="cfg", num_partitions=1, replication_factor=1,
                                                assignments=[], configs=[
                                                    C.CreatableTopic.CreatableTopicConfig(
                                                        name="no.such.config", value="1")])],
                       timeout_ms=5000, validate_only=False), CreateTopicsResponse, 7)
    assert [t.error_code for t in resp.topics] == [38, 39, 40]

    D = DescribeConfigsRequest
    for v in conn.versions(D):
        resp = conn.call(D(resources=[D.DescribeConfigsResource(resource_type=2, resource_name="ct3",
                                                                 configuration_keys=None),
                                      D.DescribeConfigsResource(resource_type=4, resource_name="0",
                                                                configuration_keys=None)],
                           include_synonyms=True, include_documentation=True),
                         DescribeConfigsResponse, v)
        topic_cfg = {c.name: c for c in resp.results[0].configs}
        assert topic_cfg["retention.ms"].value == "1000"
        assert topic_cfg["retention.ms"].config_source == 1
        assert topic_cfg["segment.bytes"].config_source == 5
        broker_cfg = {c.name: c.value for c in resp.results[1].configs}
        assert broker_cfg["num.partitions"] == "1"

    P = CreatePartitionsRequest
    for i, v in enumerate(conn.versions(P)):
        resp = conn.call(P(topics=[P.CreatePartitionsTopic(name="ct2", count=3 + i, assignments=None)],
                           timeout_ms=5000, validate_only=False), CreatePartitionsResponse, v)
        assert resp.results[0].error_code == 0, v
    resp = conn.call(P(topics=[P.CreatePartitionsTopic(name="ct2", count=1, assignments=None)],
                       timeout_ms=5000, validate_only=False), CreatePartitionsResponse, 3)
    assert resp.results[0].error_code == 37

    R = DeleteRecordsRequest
    for v in conn.versions(R):
        resp = conn.call(R(topics=[R.DeleteRecordsTopic(name="ct2", partitions=[
            R.DeleteRecordsTopic.DeleteRecordsPartition(partition_index=0, offset=0)])],
            timeout_ms=1000), DeleteRecordsResponse, v)
        assert resp.topics[0].partitions[0].error_code == 0

    for v in conn.versions(DescribeClusterRequest):
        resp = conn.call(DescribeClusterRequest(include_cluster_authorized_operations=False,
                                                endpoint_type=1, include_fenced_brokers=False),
                         DescribeClusterResponse, v)
        assert resp.error_code == 0 and len(resp.brokers) == 1

    for v in conn.versions(InitProducerIdRequest):
        resp = conn.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=-1,
                                               producer_id=-1, producer_epoch=-1),
                         InitProducerIdResponse, v)
        assert resp.error_code == 0 and resp.producer_id >= 0

    T = DeleteTopicsRequest
    for v in conn.versions(T):
        name = f"ct{v + 1}" if v < 6 else "ct7"
        req = (T(topics=[T.DeleteTopicState(name=name)], timeout_ms=5000) if v >= 6
               else T(topic_names=[name], timeout_ms=5000))
        resp = conn.call(req, DeleteTopicsResponse, v)
        assert resp.responses[0].error_code == 0, v


def _fetch(conn, topic: str, partitions: list[tuple[int, int, int]], max_bytes: int, max_wait_ms: int = 0,
           min_bytes: int = 1):
    """partitions: (partition, fetch_offset, partition_max_bytes)."""
    F = FetchRequest
    ft = F.FetchTopic(topic=topic, partitions=[
        F.FetchTopic.FetchPartition(partition=p, fetch_offset=o, partition_max_bytes=m) for p, o, m in partitions])
    return conn.call(F(replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=min_bytes, max_bytes=max_bytes,
                       isolation_level=0, topics=[ft]), FetchResponse, 11)


def _produce_batches(conn, topic: str, partition: int, count: int, value: bytes) -> None:
    P = ProduceRequest
    for _ in range(count):
        part = P.TopicProduceData.PartitionProduceData(index=partition, records=_records(value, 1))
        resp = conn.call(P(transactional_id=None, acks=1, timeout_ms=5000,
                           topic_data=[P.TopicProduceData(name=topic, partition_data=[part])]), ProduceResponse, 9)
        assert resp.responses[0].partition_responses[0].error_code == 0


def _batch_offsets(records) -> list[int]:
    out, pos, data = [], 0, bytes(records or b"")
    while pos + 12 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        out.append(base)
        pos += 12 + length
    return out


def test_fetch_byte_limits(conn):
    _create(conn, "lim", 2)
    value = b"x" * 1000
    _produce_batches(conn, "lim", 0, 5, value)
    _produce_batches(conn, "lim", 1, 5, value)
    # Partition max bytes below one batch: still exactly one whole batch (KIP-74).
    resp = _fetch(conn, "lim", [(0, 0, 10)], max_bytes=1 << 20)
    assert _batch_offsets(resp.responses[0].partitions[0].records) == [0]
    # Room for about two batches per partition.
    resp = _fetch(conn, "lim", [(0, 0, 2500), (1, 0, 2500)], max_bytes=1 << 20)
    assert [_batch_offsets(p.records) for p in resp.responses[0].partitions] == [[0, 1], [0, 1]]
    # The response limit: the first partition fills it, the second gets nothing.
    resp = _fetch(conn, "lim", [(0, 0, 1 << 20), (1, 0, 1 << 20)], max_bytes=2500)
    assert [_batch_offsets(p.records) for p in resp.responses[0].partitions] == [[0, 1], []]
    assert [p.high_watermark for p in resp.responses[0].partitions] == [5, 5]


def test_long_poll_is_woken_by_produce(broker, conn):
    import threading
    import time

    _create(conn, "wake")
    producer = RawConn(broker.port)
    timer = threading.Timer(0.4, _produce_batches, args=(producer, "wake", 0, 1, b"hello"))
    start = time.monotonic()
    timer.start()
    resp = _fetch(conn, "wake", [(0, 0, 1 << 20)], max_bytes=1 << 20, max_wait_ms=10_000)
    waited = time.monotonic() - start
    timer.join()
    producer.close()
    assert _batch_offsets(resp.responses[0].partitions[0].records) == [0]
    assert 0.3 < waited < 3.0  # woken by the produce, long before max_wait_ms
