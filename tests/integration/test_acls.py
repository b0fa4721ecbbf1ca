"""ACLs enforced per API as Kafka's "Operations and Resources on Protocols" table says (issue 15.5).

One broker with --authorizer and a SASL_PLAINTEXT listener; `admin` is a
super user and sets ACLs over the protocol; `alice` starts with none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.protocol.admin.acl import (
    CreateAclsRequest,
    CreateAclsResponse,
    DeleteAclsRequest,
    DeleteAclsResponse,
    DescribeAclsRequest,
    DescribeAclsResponse,
)
from kafka.protocol.admin.cluster import DescribeClusterRequest, DescribeClusterResponse
from kafka.protocol.admin.configs import DescribeConfigsRequest, DescribeConfigsResponse
from kafka.protocol.admin.groups import ListGroupsRequest, ListGroupsResponse
from kafka.protocol.admin.topics import (
    CreateTopicsRequest,
    CreateTopicsResponse,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
)
from kafka.protocol.consumer.group import JoinGroupRequest, JoinGroupResponse
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from tests.conftest import BrokerProcess, free_port
from tests.integration.raw import RawConn, produce, record_batch

pytestmark = pytest.mark.integration

TOPIC_DENIED, GROUP_DENIED, CLUSTER_DENIED, TXN_DENIED = 29, 30, 31, 53
ALLOW, DENY = 3, 2
TOPIC, GROUP, CLUSTER, TXN = 2, 3, 4, 5
LITERAL, PREFIXED = 3, 4
READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, ALL = 3, 4, 5, 6, 7, 8, 2


@pytest.fixture(scope="module")
def authz(tmp_path_factory):
    sasl = free_port()
    plain = free_port()
    b = BrokerProcess(
        data_dir=Path(tmp_path_factory.mktemp("acl")) / "data", port=plain,
        extra_args=["--listener", f"PLAINTEXT://127.0.0.1:{plain}", "--listener",
                    f"SASL_PLAINTEXT://127.0.0.1:{sasl}", "--authorizer", "--super-user", "User:admin",
                    "--sasl-user", "admin:adminpw", "--sasl-user", "alice:alicepw", "--sasl-user", "bob:bobpw"])
    b.start()
    b.sasl_port = sasl
    admin = login(b, "admin", "adminpw")
    C = CreateTopicsRequest
    admin.call(C(topics=[C.CreatableTopic(name=n, num_partitions=1, replication_factor=1, assignments=[], configs=[])
                         for n in ("t", "app.orders", "secret")], timeout_ms=5000, validate_only=False),
               CreateTopicsResponse, 5)
    b.admin = admin
    yield b
    admin.close()
    b.stop()


def login(b, user: str, password: str) -> RawConn:
    c = RawConn(b.sasl_port)
    assert c.call(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse, 1).error_code == 0
    resp = c.call(SaslAuthenticateRequest(auth_bytes=b"\x00" + user.encode() + b"\x00" + password.encode()),
                  SaslAuthenticateResponse, 2)
    assert resp.error_code == 0, resp.error_message
    return c


def acl(b, rtype, name, principal, op, perm=ALLOW, pattern=LITERAL, host="*") -> None:
    R = CreateAclsRequest
    resp = b.admin.call(R(creations=[R.AclCreation(resource_type=rtype, resource_name=name,
                                                   resource_pattern_type=pattern, principal=principal, host=host,
                                                   operation=op, permission_type=perm)]), CreateAclsResponse, 3)
    assert [r.error_code for r in resp.results] == [0]


def drop_acls(b, principal: str) -> None:
    R = DeleteAclsRequest
    b.admin.call(R(filters=[R.DeleteAclsFilter(resource_type_filter=1, resource_name_filter=None,
                                               pattern_type_filter=1, principal_filter=principal, host_filter=None,
                                               operation=1, permission_type=1)]), DeleteAclsResponse, 3)


@pytest.fixture
def alice(authz):
    drop_acls(authz, "User:alice")
    c = login(authz, "alice", "alicepw")
    yield c
    c.close()
    drop_acls(authz, "User:alice")


def metadata(c, topics=None, **kw):
    T = MetadataRequest.MetadataRequestTopic
    req = MetadataRequest(topics=None if topics is None else [T(name=t, topic_id=None) for t in topics],
                          allow_auto_topic_creation=kw.get("create", False),
                          include_topic_authorized_operations=kw.get("ops", False))
    return c.call(req, MetadataResponse, 12)


def list_offsets(c, topic):
    R = ListOffsetsRequest
    req = R(replica_id=-1, isolation_level=0, topics=[R.ListOffsetsTopic(name=topic, partitions=[
        R.ListOffsetsTopic.ListOffsetsPartition(partition_index=0, current_leader_epoch=-1, timestamp=-1)])])
    return c.call(req, ListOffsetsResponse, 7).topics[0].partitions[0].error_code


def test_without_acls_everything_is_refused_with_kafkas_codes(alice):
    assert [t.name for t in metadata(alice).topics] == []
    assert [t.error_code for t in metadata(alice, ["t"]).topics] == [TOPIC_DENIED]
    assert produce(alice, "t", record_batch(10)).error_code == TOPIC_DENIED
    assert list_offsets(alice, "t") == TOPIC_DENIED
    J = JoinGroupRequest
    join = alice.call(J(group_id="g", session_timeout_ms=10000, rebalance_timeout_ms=10000, member_id="",
                        group_instance_id=None, protocol_type="consumer",
                        protocols=[J.JoinGroupRequestProtocol(name="range", metadata=b"")]), JoinGroupResponse, 5)
    assert join.error_code == GROUP_DENIED
    fc = alice.call(FindCoordinatorRequest(key="g", key_type=0), FindCoordinatorResponse, 2)
    assert fc.error_code == GROUP_DENIED
    C = CreateTopicsRequest
    ct = alice.call(C(topics=[C.CreatableTopic(name="new", num_partitions=1, replication_factor=1, assignments=[],
                                               configs=[])], timeout_ms=5000, validate_only=False),
                    CreateTopicsResponse, 5)
    assert ct.topics[0].error_code == TOPIC_DENIED
    dt = alice.call(DeleteTopicsRequest(topic_names=["t"], timeout_ms=5000), DeleteTopicsResponse, 4)
    assert dt.responses[0].error_code == TOPIC_DENIED
    D = DescribeConfigsRequest
    res = D.DescribeConfigsResource(resource_type=2, resource_name="t", configuration_keys=None)
    dc = alice.call(D(resources=[res], include_synonyms=False, include_documentation=False), DescribeConfigsResponse, 4)
    assert dc.results[0].error_code == TOPIC_DENIED
    da = alice.call(DescribeAclsRequest(resource_type_filter=1, resource_name_filter=None, pattern_type_filter=1,
                                        principal_filter=None, host_filter=None, operation=1, permission_type=1),
                    DescribeAclsResponse, 3)
    assert da.error_code == CLUSTER_DENIED
    ip = alice.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000), InitProducerIdResponse,
                    2)
    assert ip.error_code == CLUSTER_DENIED
    ipt = alice.call(InitProducerIdRequest(transactional_id="tx", transaction_timeout_ms=60000),
                     InitProducerIdResponse, 2)
    assert ipt.error_code == TXN_DENIED
    dcl = alice.call(DescribeClusterRequest(include_cluster_authorized_operations=False), DescribeClusterResponse, 0)
    assert dcl.error_code == CLUSTER_DENIED
    assert alice.call(ListGroupsRequest(), ListGroupsResponse, 3).error_code == 0  # filtered, not refused
    # Auto-creation needs CREATE.
    assert [t.error_code for t in metadata(alice, ["auto1"], create=True).topics] == [TOPIC_DENIED]


def test_grants_make_the_same_requests_succeed(authz, alice):
    acl(authz, TOPIC, "t", "User:alice", WRITE)
    assert produce(alice, "t", record_batch(10)).error_code == 0
    # WRITE implies DESCRIBE: the topic shows, with what alice may do on it.
    md = metadata(alice, ops=True)
    assert [t.name for t in md.topics] == ["t"]
    assert set(md.topics[0].authorized_operations) == {WRITE, DESCRIBE}
    # KIP-679: WRITE on a topic is enough for an idempotent producer.
    ip = alice.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000), InitProducerIdResponse,
                    2)
    assert ip.error_code == 0
    acl(authz, TXN, "tx", "User:alice", WRITE)
    ipt = alice.call(InitProducerIdRequest(transactional_id="tx", transaction_timeout_ms=60000),
                     InitProducerIdResponse, 2)
    assert ipt.error_code == 0
    acl(authz, GROUP, "g", "User:alice", READ)
    fc = alice.call(FindCoordinatorRequest(key="g", key_type=0), FindCoordinatorResponse, 2)
    assert fc.error_code == 0
    # Auto-creation needs DESCRIBE (to be told anything) and CREATE, as in Kafka.
    acl(authz, TOPIC, "auto", "User:alice", DESCRIBE, pattern=PREFIXED)
    assert [t.error_code for t in metadata(alice, ["auto2"], create=True).topics] == [TOPIC_DENIED]
    acl(authz, TOPIC, "auto", "User:alice", CREATE, pattern=PREFIXED)
    assert [t.error_code for t in metadata(alice, ["auto2"], create=True).topics] == [0]
    acl(authz, CLUSTER, "kafka-cluster", "User:alice", DESCRIBE)
    dcl = alice.call(DescribeClusterRequest(include_cluster_authorized_operations=True), DescribeClusterResponse, 0)
    assert dcl.error_code == 0 and set(dcl.authorized_operations) == {DESCRIBE}


def test_deny_beats_allow_and_prefixed_patterns(authz, alice):
    acl(authz, TOPIC, "app.", "User:alice", READ, pattern=PREFIXED)
    assert list_offsets(alice, "app.orders") == 0  # READ implies DESCRIBE
    acl(authz, TOPIC, "*", "User:alice", DESCRIBE, perm=DENY)
    assert list_offsets(alice, "app.orders") == TOPIC_DENIED


def test_host_and_wildcard_principal(authz, alice):
    acl(authz, TOPIC, "secret", "User:*", DESCRIBE, host="10.9.9.9")
    assert list_offsets(alice, "secret") == TOPIC_DENIED
    acl(authz, TOPIC, "secret", "User:*", DESCRIBE, host="127.0.0.1")
    assert list_offsets(alice, "secret") == 0
    drop_acls(authz, "User:*")


def test_super_user_and_plaintext_anonymous(authz):
    assert {t.name for t in metadata(authz.admin).topics} >= {"t", "app.orders", "secret"}
    anon = RawConn(authz.port)
    try:
        assert metadata(anon).topics == []
    finally:
        anon.close()


def test_describe_acls_lists_what_was_created(authz, alice):
    acl(authz, GROUP, "billing", "User:alice", READ)
    resp = authz.admin.call(DescribeAclsRequest(resource_type_filter=GROUP, resource_name_filter="billing",
                                                pattern_type_filter=2, principal_filter="User:alice", host_filter=None,
                                                operation=1, permission_type=1), DescribeAclsResponse, 3)
    assert [(r.resource_name, [(a.principal, a.operation) for a in r.acls]) for r in resp.resources] == [
        ("billing", [("User:alice", READ)])]


def test_acls_persist_across_restarts(authz):
    acl(authz, TOPIC, "kept", "User:bob", READ)
    authz.admin.close()
    authz.restart()
    authz.admin = login(authz, "admin", "adminpw")
    resp = authz.admin.call(DescribeAclsRequest(resource_type_filter=TOPIC, resource_name_filter="kept",
                                                pattern_type_filter=3, principal_filter=None, host_filter=None,
                                                operation=1, permission_type=1), DescribeAclsResponse, 3)
    assert [r.resource_name for r in resp.resources] == ["kept"]
    meta = (authz.data_dir / "meta.json").read_text()
    assert "bobpw" not in meta and "alicepw" not in meta
