"""Classic and consumer (KIP-848) groups side by side, at the protocol level (exact versions).

What each API answers for each group type, as Kafka 4.x does: ListGroups
types, ConsumerGroupDescribe of a classic group, DescribeGroups of a
consumer group, member-epoch checks in OffsetCommit/OffsetFetch v9+, a
classic member refused by a live consumer group, and the conversion of
empty groups.
"""

from __future__ import annotations

import pytest
from kafka.protocol.admin.groups import (
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.consumer.group import (
    JoinGroupRequest,
    JoinGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)

from chronik.wire.errors import ErrorCode as E
from chronik.wire.kip848 import (
    ConsumerGroupDescribeRequest,
    ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from tests.integration.raw import RawConn, create_topics

pytestmark = pytest.mark.integration


def heartbeat(conn, group, member, epoch, **kw):
    req = ConsumerGroupHeartbeatRequest(group_id=group, member_id=member, member_epoch=epoch, **kw)
    return conn.call(req, ConsumerGroupHeartbeatResponse, 1)


def join(conn, group, member=""):
    proto = JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"\x00\x00\x00\x00\x00\x00")
    req = JoinGroupRequest(group_id=group, session_timeout_ms=10_000, rebalance_timeout_ms=10_000,
                           member_id=member, group_instance_id=None, protocol_type="consumer", protocols=[proto])
    return conn.call(req, JoinGroupResponse, 7)


def commit(conn, group, member, epoch, version=9, topic="gt"):
    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    req = OffsetCommitRequest(group_id=group, generation_id_or_member_epoch=epoch, member_id=member,
                              group_instance_id=None, retention_time_ms=-1, topics=[T(name=topic, partitions=[
                                  P(partition_index=0, committed_offset=1, committed_leader_epoch=-1,
                                    committed_metadata="")])])
    return conn.call(req, OffsetCommitResponse, version).topics[0].partitions[0].error_code


def list_groups(conn, types=()):
    resp = conn.call(ListGroupsRequest(states_filter=[], types_filter=list(types)), ListGroupsResponse, 5)
    return sorted((g.group_id, g.group_type, g.protocol_type, g.group_state) for g in resp.groups)


def test_each_api_answers_per_group_type(broker):
    conn = RawConn(broker.port)
    create_topics(conn, "gt", partitions=2)
    out = heartbeat(conn, "cg", "m1", 0, rebalance_timeout_ms=60_000, subscribed_topic_names=["gt"],
                    topic_partitions=[])
    assert out.error_code == 0 and out.member_epoch == 1
    assert sorted(out.assignment.topic_partitions[0].partitions) == [0, 1]
    assert commit(conn, "simple", "", -1) == 0  # an offsets-only (classic, Empty) group
    first = join(conn, "live")
    assert first.error_code == E.MEMBER_ID_REQUIRED
    assert join(conn, "live", first.member_id).error_code == 0

    assert list_groups(conn, ["consumer"]) == [("cg", "consumer", "consumer", "Stable")]
    assert [g[0] for g in list_groups(conn, ["classic"])] == ["live", "simple"]
    assert [g[0] for g in list_groups(conn)] == ["cg", "live", "simple"]

    resp = conn.call(ConsumerGroupDescribeRequest(group_ids=["cg", "simple", "nope"],
                                                  include_authorized_operations=False),
                     ConsumerGroupDescribeResponse, 1)
    cg, simple, nope = resp.groups
    assert (cg.error_code, cg.group_state, cg.group_epoch, cg.assignment_epoch, cg.assignor_name) == (
        0, "Stable", 1, 1, "uniform")
    m = cg.members[0]
    assert (m.member_id, m.member_epoch, m.member_type, m.subscribed_topic_names) == ("m1", 1, 1, ["gt"])
    assert sorted(m.assignment.topic_partitions[0].partitions) == [0, 1]
    assert m.assignment.topic_partitions[0].topic_name == "gt"
    assert simple.error_code == E.GROUP_ID_NOT_FOUND and "not a consumer group" in simple.error_message
    assert nope.error_code == E.GROUP_ID_NOT_FOUND

    for v, code in ((5, 0), (6, E.GROUP_ID_NOT_FOUND)):
        d = conn.call(DescribeGroupsRequest(groups=["cg"], include_authorized_operations=False),
                      DescribeGroupsResponse, v).groups[0]
        assert (d.error_code, d.group_state) == (code, "Dead")

    # A consumer-protocol member cannot join a live classic group, nor a classic member a live consumer group.
    refused = heartbeat(conn, "live", "m9", 0, rebalance_timeout_ms=1000, subscribed_topic_names=["gt"],
                        topic_partitions=[])
    assert refused.error_code == E.GROUP_ID_NOT_FOUND
    assert join(conn, "cg").error_code == E.GROUP_ID_NOT_FOUND

    # Member epochs fence commits and fetches (v9+); a KIP-848 member must commit with v9+.
    assert commit(conn, "cg", "m1", 1) == 0
    assert commit(conn, "cg", "m1", 0) == E.STALE_MEMBER_EPOCH
    assert commit(conn, "cg", "nobody", 1) == E.UNKNOWN_MEMBER_ID
    assert commit(conn, "cg", "m1", 1, version=8) == E.UNSUPPORTED_VERSION
    G = OffsetFetchRequest.OffsetFetchRequestGroup
    for epoch, code in ((1, 0), (0, E.STALE_MEMBER_EPOCH)):
        fetched = conn.call(OffsetFetchRequest(groups=[G(group_id="cg", member_id="m1", member_epoch=epoch,
                                                           topics=None)], require_stable=False),
                            OffsetFetchResponse, 9).groups[0]
        assert fetched.error_code == code

    # Once empty, a consumer group can be taken over by classic members (its offsets stay).
    assert heartbeat(conn, "cg", "m1", -1).error_code == 0
    assert list_groups(conn, ["consumer"]) == [("cg", "consumer", "consumer", "Empty")]
    first = join(conn, "cg")
    assert first.error_code == E.MEMBER_ID_REQUIRED
    assert join(conn, "cg", first.member_id).error_code == 0
    assert list_groups(conn, ["consumer"]) == []
    assert "cg" in [g[0] for g in list_groups(conn, ["classic"])]
    conn.close()
