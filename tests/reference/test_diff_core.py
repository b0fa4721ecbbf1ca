"""The same raw requests to Apache Kafka and to Chronik: the answers must match.

Each test sends one scenario's requests to both brokers (tests/reference/diffing.py)
and compares the normalised answers. Differences that are Chronik defects are
strict xfails (reason "chronik defect: ..."); deliberate ones are in README.md,
"Deliberate differences from Apache Kafka", and normalised here.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka.protocol.admin.configs import (
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
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
from kafka.protocol.admin.transactions import DescribeProducersRequest, DescribeProducersResponse
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.group import (
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.protocol.producer.transaction import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from kafka.record.default_records import DefaultRecordBatchBuilder

from tests.conftest import BrokerProcess, free_port
from tests.integration.raw import RawConn
from tests.reference.diffing import Pair

pytestmark = [pytest.mark.integration, pytest.mark.reference]


@pytest.fixture(scope="module")
def pair(kafka_ref, tmp_path_factory):
    broker = BrokerProcess(data_dir=Path(tmp_path_factory.mktemp("diff")) / "data", port=free_port())
    broker.start()
    p = Pair(RawConn(kafka_ref.port), RawConn(broker.port))
    warm_up(p.kafka)
    try:
        yield p
    finally:
        p.kafka.close()
        p.chronik.close()
        broker.stop()


def warm_up(conn: RawConn) -> None:
    """Kafka creates __consumer_offsets and __transaction_state on first use and answers
    COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS until they
    are loaded: wait for that before comparing answers with Chronik's."""
    for key_type in (0, 1):
        for _ in range(150):
            r = conn.call(FindCoordinatorRequest(key="warm-up", key_type=key_type, coordinator_keys=["warm-up"]),
                          FindCoordinatorResponse, 4)
            if r.coordinators[0].error_code == 0:
                break
            time.sleep(0.2)
    for _ in range(150):
        r = conn.call(InitProducerIdRequest(transactional_id="warm-up", transaction_timeout_ms=60000,
                                            producer_id=-1, producer_epoch=-1), InitProducerIdResponse, 4)
        if r.error_code == 0:
            break
        time.sleep(0.2)
    for _ in range(150):
        r = conn.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=-1,
                                            producer_id=-1, producer_epoch=-1), InitProducerIdResponse, 4)
        if r.error_code == 0:
            break
        time.sleep(0.2)


def by_name(answer: dict, key: str = "topics") -> dict:
    """Kafka lists topics in hash order: compare them sorted by name."""
    return dict(answer, **{key: sorted(answer[key], key=lambda t: t["name"])})


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def batch(n: int = 3, value: bytes = b"v", producer_id: int = -1, epoch: int = -1, sequence: int = -1,
          transactional: bool = False, ts: int = 1_700_000_000_000) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=transactional,
                                  producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence,
                                  batch_size=1 << 22)
    for i in range(n):
        b.append(i, timestamp=ts + i, key=b"k%d" % i, value=value, headers=[])
    return bytes(b.build())


C = CreateTopicsRequest


def create_req(topic: str, partitions: int = 1, rf: int = 1, configs: dict | None = None,
               validate_only: bool = False):
    return C(topics=[C.CreatableTopic(name=topic, num_partitions=partitions, replication_factor=rf, assignments=[],
                                      configs=[C.CreatableTopic.CreatableTopicConfig(name=k, value=v)
                                               for k, v in (configs or {}).items()])],
             timeout_ms=5000, validate_only=validate_only)


def create(pair: Pair, topic: str, partitions: int = 1, configs: dict | None = None) -> None:
    k, c = pair.call(lambda: create_req(topic, partitions, configs=configs), CreateTopicsResponse, 5)
    assert k["topics"][0]["error_code"] == 0 and c["topics"][0]["error_code"] == 0, (k, c)


P = ProduceRequest


def produce_req(topic: str, records: bytes, partition: int = 0, acks: int = -1, txid: str | None = None):
    part = P.TopicProduceData.PartitionProduceData(index=partition, records=records)
    return P(transactional_id=txid, acks=acks, timeout_ms=5000,
             topic_data=[P.TopicProduceData(name=topic, partition_data=[part])])


def produce(pair: Pair, make, drop=("log_start_offset",)) -> dict:
    return pair.same(make, ProduceResponse, version=9, drop=drop)


def test_api_versions_chronik_serves_a_subset_of_kafka(pair):
    k, c = pair.call(lambda: ApiVersionsRequest(client_software_name="diff", client_software_version="1"),
                     ApiVersionsResponse, version=3)
    assert k["error_code"] == c["error_code"] == 0
    kafka_keys = {a["api_key"]: (a["min_version"], a["max_version"]) for a in k["api_keys"]}
    chronik_keys = {a["api_key"]: (a["min_version"], a["max_version"]) for a in c["api_keys"]}
    assert set(chronik_keys) <= set(kafka_keys), set(chronik_keys) - set(kafka_keys)


def test_metadata_bad_names_and_absent_topics(pair):
    M = MetadataRequest
    names = ["bad name!", "x" * 250, ".", "..", name("absent"), "a/b"]
    k, c = pair.call(lambda: M(topics=[M.MetadataRequestTopic(name=n, topic_id=uuid.UUID(int=0)) for n in names],
                               allow_auto_topic_creation=False), MetadataResponse, version=12)
    assert by_name(c) == by_name(k)


def test_metadata_auto_create(pair):
    M = MetadataRequest
    topic = name("auto")
    k, c = pair.call(lambda: M(topics=[M.MetadataRequestTopic(name=topic, topic_id=uuid.UUID(int=0)),
                                       M.MetadataRequestTopic(name="bad name!", topic_id=uuid.UUID(int=0))],
                               allow_auto_topic_creation=True), MetadataResponse, version=12)
    k, c = by_name(k), by_name(c)  # "auto-..." < "bad name!"
    # Kafka answers UNKNOWN_TOPIC_OR_PARTITION (or LEADER_NOT_AVAILABLE) while the controller creates
    # the topic; Chronik creates it before answering (README, deliberate differences).
    assert k["topics"][0]["error_code"] in (0, 3, 5) and c["topics"][0]["error_code"] == 0
    assert k["topics"][1] == c["topics"][1] and c["topics"][1]["error_code"] == 17
    for _ in range(50):
        k, c = pair.call(lambda: M(topics=[M.MetadataRequestTopic(name=topic, topic_id=uuid.UUID(int=0))],
                                   allow_auto_topic_creation=False), MetadataResponse, version=12)
        if k["topics"][0]["error_code"] == 0:
            break
        time.sleep(0.1)
    assert c == k


def test_produce_bad_crc_too_large_unknown_partition(pair):
    topic = name("prod")
    create(pair, topic, configs={"max.message.bytes": "1000"})
    good = batch()
    assert produce(pair, lambda: produce_req(topic, good))["responses"][0]["partition_responses"][0]["error_code"] == 0
    corrupt = bytearray(batch())
    corrupt[-1] ^= 0xFF  # a byte of the last record: the CRC no longer matches
    r = produce(pair, lambda: produce_req(topic, bytes(corrupt)))
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 2  # CORRUPT_MESSAGE
    r = produce(pair, lambda: produce_req(topic, batch(1, b"x" * 2000)))
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 10  # MESSAGE_TOO_LARGE
    r = produce(pair, lambda: produce_req(topic, batch(), partition=7))
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 3
    r = produce(pair, lambda: produce_req(topic, good, acks=2))
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 21  # INVALID_REQUIRED_ACKS


def test_produce_idempotent_sequence_errors(pair):
    topic = name("seq")
    create(pair, topic)
    ids = {}
    for side, conn in (("kafka", pair.kafka), ("chronik", pair.chronik)):
        r = conn.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=-1, producer_id=-1,
                                            producer_epoch=-1), InitProducerIdResponse, 4)
        assert r.error_code == 0 and r.producer_epoch == 0
        ids[side] = r.producer_id

    def send(seq: int, epoch: int = 0, n: int = 3, pid_delta: int = 0) -> dict:
        out = {}
        for side, conn in (("kafka", pair.kafka), ("chronik", pair.chronik)):
            req = produce_req(topic, batch(n, producer_id=ids[side] + pid_delta, epoch=epoch, sequence=seq))
            r = ProduceResponse.decode(conn.call_raw(req, 9), version=9).responses[0].partition_responses[0]
            out[side] = (r.error_code, r.base_offset if r.error_code == 0 else None)
        return out

    assert send(0) == {"kafka": (0, 0), "chronik": (0, 0)}
    assert send(0) == {"kafka": (0, 0), "chronik": (0, 0)}  # a retried batch: its first offset again
    gap = send(5)
    assert gap["chronik"] == gap["kafka"] == (45, None)  # OUT_OF_ORDER_SEQUENCE_NUMBER
    assert send(3) == {"kafka": (0, 3), "chronik": (0, 3)}
    fenced = send(6, epoch=5)
    assert fenced["chronik"] == fenced["kafka"], fenced
    unknown = send(1, pid_delta=10_000)
    assert unknown["chronik"] == unknown["kafka"], unknown


def fetch_req(topic: str, offset: int, isolation: int = 0):
    F = FetchRequest
    fp = F.FetchTopic.FetchPartition(partition=0, fetch_offset=offset, log_start_offset=-1,
                                     partition_max_bytes=1 << 20)
    return F(replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20, isolation_level=isolation,
             session_id=0, session_epoch=-1, topics=[F.FetchTopic(topic=topic, partitions=[fp])],
             forgotten_topics_data=[], rack_id="")


def test_fetch_out_of_range_and_records_as_written(pair):
    topic = name("fetch")
    create(pair, topic)
    produce(pair, lambda: produce_req(topic, batch(5)))
    for offset in (100, 6, -5):
        # (Kafka's out-of-range answer has no offsets: test_fetch_out_of_range_offsets_are_unknown.)
        r = pair.same(lambda o=offset: fetch_req(topic, o), FetchResponse, version=12,
                      drop=("high_watermark", "last_stable_offset", "log_start_offset"))
        assert r["responses"][0]["partitions"][0]["error_code"] == 1
    # Offset 2 lies inside the batch: both send the whole batch, byte for byte
    # (only the partition leader epoch, bytes 12..16, is the broker's own).
    kr, cr = (conn.call(fetch_req(topic, 2), FetchResponse, 12).responses[0].partitions[0]
              for conn in (pair.kafka, pair.chronik))
    assert (kr.error_code, kr.high_watermark, kr.last_stable_offset) == (0, 5, 5)
    assert (cr.error_code, cr.high_watermark, cr.last_stable_offset) == (0, 5, 5)
    strip = lambda b: bytes(b[:12]) + bytes(b[16:])  # noqa: E731
    assert len(cr.records) > 61 and strip(cr.records) == strip(kr.records)


def test_list_offsets_earliest_latest_max_by_time(pair):
    topic = name("lo")
    create(pair, topic)
    produce(pair, lambda: produce_req(topic, batch(5)))
    produce(pair, lambda: produce_req(topic, batch(2, ts=1_600_000_000_000)))
    L = ListOffsetsRequest
    stamps = (-2, -1, -3, 1_700_000_000_002, 1_800_000_000_000, 1_500_000_000_000)
    offsets = []
    for t in stamps:
        r = pair.same(lambda t=t: L(replica_id=-1, isolation_level=0, timeout_ms=1000, topics=[L.ListOffsetsTopic(
            name=topic, partitions=[L.ListOffsetsTopic.ListOffsetsPartition(partition_index=0, timestamp=t)])]),
            ListOffsetsResponse, version=8)
        offsets.append(r["topics"][0]["partitions"][0]["offset"])
    assert offsets == [0, 7, 4, 2, -1, 0]
    r = pair.same(lambda: L(replica_id=-1, isolation_level=0, timeout_ms=1000, topics=[L.ListOffsetsTopic(
        name=topic, partitions=[L.ListOffsetsTopic.ListOffsetsPartition(partition_index=3, timestamp=-1)])]),
        ListOffsetsResponse, version=8)
    assert r["topics"][0]["partitions"][0]["error_code"] == 3


def test_create_topics_bad_inputs(pair):
    topic = name("ct")
    create(pair, topic)
    cases = [
        create_req(topic),  # exists
        create_req("bad name!"), create_req("y" * 250), create_req("."),
        create_req(name("rf"), rf=3), create_req(name("p0"), partitions=0), create_req(name("pneg"), partitions=-5),
        create_req(name("cfg"), configs={"no.such.config": "1"}),
        create_req(name("cfgv"), configs={"retention.ms": "soon"}),
        create_req(name("cfgp"), configs={"cleanup.policy": "bogus"}),
        create_req(name("vo"), validate_only=True),
    ]
    for req in cases:
        pair.same(lambda r=req: r, CreateTopicsResponse, version=5, drop=("configs", "num_partitions",
                                                                             "replication_factor", "name"))


def test_delete_topics_and_create_partitions_bad_inputs(pair):
    topic = name("cp")
    create(pair, topic, partitions=2)
    T, CP = DeleteTopicsRequest, CreatePartitionsRequest
    absent = name("absent")
    pair.same(lambda: T(topic_names=[absent], timeout_ms=5000), DeleteTopicsResponse, version=5)
    for count in (1, 2, 3):
        pair.same(lambda n=count: CP(topics=[CP.CreatePartitionsTopic(name=topic, count=n, assignments=None)],
                                     timeout_ms=5000, validate_only=False), CreatePartitionsResponse, version=3)
    pair.same(lambda: CP(topics=[CP.CreatePartitionsTopic(name=absent, count=2, assignments=None)],
                         timeout_ms=5000, validate_only=False), CreatePartitionsResponse, version=3)


def test_configs_error_paths(pair):
    topic = name("cfg")
    create(pair, topic)
    D, IA = DescribeConfigsRequest, IncrementalAlterConfigsRequest
    pair.same(lambda: D(resources=[D.DescribeConfigsResource(resource_type=2, resource_name=name("absent"),
                                                             configuration_keys=None)],
                        include_synonyms=False, include_documentation=False), DescribeConfigsResponse,
              version=4, drop=("resource_name",))
    k, c = pair.call(lambda: D(resources=[D.DescribeConfigsResource(
        resource_type=2, resource_name=topic, configuration_keys=["retention.ms", "cleanup.policy"])],
        include_synonyms=False, include_documentation=False), DescribeConfigsResponse, version=4,
        drop=("resource_name",))
    assert c == k

    def alter(key: str, value: str | None, op: int = 0, resource: str = topic):
        return IA(resources=[IA.AlterConfigsResource(resource_type=2, resource_name=resource, configs=[
            IA.AlterConfigsResource.AlterableConfig(name=key, config_operation=op, value=value)])],
            validate_only=False)

    for req in (alter("no.such.config", "1"), alter("retention.ms", "soon"), alter("cleanup.policy", "bogus"),
                alter("retention.ms", "1", resource=name("absent")), alter("retention.ms", "1000"),
                alter("retention.ms", None, op=1)):
        pair.same(lambda r=req: r, IncrementalAlterConfigsResponse, version=1, drop=("resource_name",))


def test_delete_records(pair):
    topic = name("dr")
    create(pair, topic)
    produce(pair, lambda: produce_req(topic, batch(5)))
    R = DeleteRecordsRequest

    def req(offset: int, partition: int = 0):
        return R(topics=[R.DeleteRecordsTopic(name=topic, partitions=[
            R.DeleteRecordsTopic.DeleteRecordsPartition(partition_index=partition, offset=offset)])], timeout_ms=5000)

    for offset, partition in ((2, 0), (1, 0), (9, 0), (-1, 0), (0, 4)):
        pair.same(lambda o=offset, p=partition: req(o, p), DeleteRecordsResponse, version=2)


def test_init_producer_id_and_transaction_error_paths(pair):
    txid = name("tx")
    pair.same(lambda: InitProducerIdRequest(transactional_id=txid, transaction_timeout_ms=10_000_000,
                                            producer_id=-1, producer_epoch=-1), InitProducerIdResponse, version=4)
    pair.same(lambda: EndTxnRequest(transactional_id=name("unknown"), producer_id=1, producer_epoch=0,
                                    committed=True), EndTxnResponse, version=3)
    k, c = pair.call(lambda: InitProducerIdRequest(transactional_id=txid, transaction_timeout_ms=60000,
                                                   producer_id=-1, producer_epoch=-1), InitProducerIdResponse,
                     version=4)
    assert k == c == {"error_code": 0, "producer_epoch": 0}


def test_group_api_error_paths(pair):
    group, topic = name("grp"), name("grpt")
    create(pair, topic)
    J = JoinGroupRequest
    pair.same(lambda: HeartbeatRequest(group_id=group, generation_id=1, member_id="nobody",
                                       group_instance_id=None), HeartbeatResponse, version=4)
    pair.same(lambda: SyncGroupRequest(group_id=group, generation_id=1, member_id="nobody",
                                       group_instance_id=None, protocol_type="consumer", protocol_name="range",
                                       assignments=[]), SyncGroupResponse, version=5)
    pair.same(lambda: LeaveGroupRequest(group_id=group, members=[LeaveGroupRequest.MemberIdentity(
        member_id="nobody", group_instance_id=None, reason=None)]), LeaveGroupResponse, version=4)
    OC = OffsetCommitRequest
    pair.same(lambda: OC(group_id=group, generation_id_or_member_epoch=5, member_id="nobody",
                        group_instance_id=None, topics=[OC.OffsetCommitRequestTopic(name=topic, partitions=[
                            OC.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
                                partition_index=0, committed_offset=1, committed_leader_epoch=-1,
                                committed_metadata="")])]), OffsetCommitResponse, version=8)
    # JoinGroup v4+ without a member id: MEMBER_ID_REQUIRED and an id to come back with.
    k, c = pair.call(lambda: J(group_id=group, session_timeout_ms=10000, rebalance_timeout_ms=10000, member_id="",
                               group_instance_id=None, protocol_type="consumer",
                               protocols=[J.JoinGroupRequestProtocol(name="range", metadata=b"")], reason=None),
                     JoinGroupResponse, version=7)
    assert k == c and c["error_code"] == 79
    pair.same(lambda: J(group_id=group, session_timeout_ms=1, rebalance_timeout_ms=10000, member_id="",
                        group_instance_id=None, protocol_type="consumer",
                        protocols=[J.JoinGroupRequestProtocol(name="range", metadata=b"")], reason=None),
              JoinGroupResponse, version=7)  # INVALID_SESSION_TIMEOUT
    pair.same(lambda: OffsetFetchRequest(group_id=group, topics=[OffsetFetchRequest.OffsetFetchRequestTopic(
        name="t", partition_indexes=[0])], require_stable=False), OffsetFetchResponse, version=7)
    pair.same(lambda: FindCoordinatorRequest(key="", key_type=0, coordinator_keys=[]), FindCoordinatorResponse,
              version=3)


def add_partitions_req(txid: str, topic: str):
    A = AddPartitionsToTxnRequest
    return A(v3_and_below_transactional_id=txid, v3_and_below_producer_id=1, v3_and_below_producer_epoch=0,
             v3_and_below_topics=[A.AddPartitionsToTxnTopic(name=topic, partitions=[0])])


def test_add_partitions_to_txn_error_paths(pair):
    topic, txid = name("aptt"), name("unknown")
    create(pair, topic)
    pair.same(lambda: add_partitions_req(txid, topic), AddPartitionsToTxnResponse, version=3)


def test_add_partitions_to_txn_unknown_topic_first(pair):
    txid, topic = name("unknown"), name("absent")
    pair.same(lambda: add_partitions_req(txid, topic), AddPartitionsToTxnResponse, version=3)


def test_offset_commit_unknown_topic(pair):
    group, topic = name("grp"), name("absent")
    OC = OffsetCommitRequest
    pair.same(lambda: OC(group_id=group, generation_id_or_member_epoch=5, member_id="nobody",
                        group_instance_id=None, topics=[OC.OffsetCommitRequestTopic(name=topic, partitions=[
                            OC.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
                                partition_index=0, committed_offset=1, committed_leader_epoch=-1,
                                committed_metadata="")])]), OffsetCommitResponse, version=8, drop=("name",))


def test_describe_producers_unknown_partition(pair):
    D = DescribeProducersRequest
    pair.same(lambda: D(topics=[D.TopicRequest(name=name("absent"), partition_indexes=[0])]),
              DescribeProducersResponse, version=0, drop=("name",))


# Differences found by these tests and fixed in Chronik (regressions stay here).


def test_fetch_out_of_range_offsets_are_unknown(pair):
    topic = name("oor")
    create(pair, topic)
    produce(pair, lambda: produce_req(topic, batch(5)))
    pair.same(lambda: fetch_req(topic, 100), FetchResponse, version=12)


def test_list_offsets_duplicate_partition_is_invalid(pair):
    topic = name("lodup")
    create(pair, topic)
    L = ListOffsetsRequest
    pair.same(lambda: L(replica_id=-1, isolation_level=0, timeout_ms=1000, topics=[L.ListOffsetsTopic(
        name=topic, partitions=[L.ListOffsetsTopic.ListOffsetsPartition(partition_index=0, timestamp=t)
                                for t in (-2, -1)])]), ListOffsetsResponse, version=8)
