"""ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69): encode/decode round trips, every version."""

from __future__ import annotations

import uuid

import pytest

from chronik.wire.apis import ALL_APIS
from chronik.wire.kip848 import (
    ConsumerGroupDescribeRequest,
    ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)

T1 = uuid.UUID("11111111-2222-3333-4444-555555555555")


def _strip(d, absent):
    """to_dict() without the fields a version does not carry."""
    if isinstance(d, dict):
        return {k: _strip(x, absent) for k, x in d.items() if k not in absent}
    if isinstance(d, list):
        return [_strip(x, absent) for x in d]
    return d


def _roundtrip(msg, cls, v, absent=()):
    data = bytes(msg.encode(version=v))
    back = cls.decode(data, version=v)
    # kafka-python's decoded objects carry no header, so they are compared, not re-encoded.
    assert _strip(back.to_dict(), {"version", *absent}) == _strip(msg.to_dict(), {"version", *absent})
    return back


@pytest.mark.parametrize("v", [0, 1])
def test_heartbeat_request_roundtrip(v):
    tp = ConsumerGroupHeartbeatRequest.TopicPartitions(topic_id=T1, partitions=[0, 2, 3])
    req = ConsumerGroupHeartbeatRequest(
        version=v, group_id="g", member_id="m-1", member_epoch=7, instance_id="i-1", rack_id=None,
        rebalance_timeout_ms=300000, subscribed_topic_names=["a", "b"],
        subscribed_topic_regex="^t.*" if v >= 1 else None, server_assignor="range", topic_partitions=[tp],
    )
    back = _roundtrip(req, ConsumerGroupHeartbeatRequest, v)
    assert (back.group_id, back.member_id, back.member_epoch, back.instance_id) == ("g", "m-1", 7, "i-1")
    assert back.subscribed_topic_names == ["a", "b"]
    assert back.server_assignor == "range"
    assert back.topic_partitions[0].topic_id == T1 and back.topic_partitions[0].partitions == [0, 2, 3]
    assert back.subscribed_topic_regex == ("^t.*" if v >= 1 else None)


@pytest.mark.parametrize("v", [0, 1])
def test_heartbeat_request_nulls_mean_unchanged(v):
    req = ConsumerGroupHeartbeatRequest(version=v, group_id="g", member_id="m", member_epoch=3)
    back = _roundtrip(req, ConsumerGroupHeartbeatRequest, v)
    assert back.subscribed_topic_names is None and back.topic_partitions is None
    assert back.rebalance_timeout_ms == -1 and back.server_assignor is None


@pytest.mark.parametrize("v", [0, 1])
def test_heartbeat_response_roundtrip(v):
    R = ConsumerGroupHeartbeatResponse
    tp = R.Assignment.TopicPartitions(topic_id=T1, partitions=[1])
    resp = R(version=v, throttle_time_ms=0, error_code=0, error_message=None, member_id="m-1",
             member_epoch=4, heartbeat_interval_ms=5000, assignment=R.Assignment(topic_partitions=[tp]))
    back = _roundtrip(resp, R, v)
    assert back.member_epoch == 4 and back.heartbeat_interval_ms == 5000
    assert back.assignment.topic_partitions[0].partitions == [1]
    none = _roundtrip(R(version=v, throttle_time_ms=0, error_code=110, member_id=None, member_epoch=-1,
                        heartbeat_interval_ms=0, assignment=None), R, v)
    assert none.assignment is None and none.error_code == 110


@pytest.mark.parametrize("v", [0, 1])
def test_describe_roundtrip(v):
    req = ConsumerGroupDescribeRequest(version=v, group_ids=["g1", "g2"], include_authorized_operations=True)
    assert _roundtrip(req, ConsumerGroupDescribeRequest, v).group_ids == ["g1", "g2"]
    R = ConsumerGroupDescribeResponse
    G = R.DescribedGroup
    M = G.Member
    A = M.Assignment
    tps = [A.TopicPartitions(topic_id=T1, topic_name="t", partitions=[0, 1])]
    member = M(member_id="m", instance_id=None, rack_id=None, member_epoch=3, client_id="c", client_host="/h",
               subscribed_topic_names=["t"], subscribed_topic_regex=None,
               assignment=A(topic_partitions=tps), target_assignment=A(topic_partitions=[]), member_type=1)
    group = G(error_code=0, error_message=None, group_id="g1", group_state="Stable", group_epoch=3,
              assignment_epoch=3, assignor_name="uniform", members=[member], authorized_operations=-2147483648)
    back = _roundtrip(R(version=v, throttle_time_ms=0, groups=[group]), R, v,
                      absent=() if v >= 1 else ("member_type",))
    bm = back.groups[0].members[0]
    assert bm.assignment.topic_partitions[0].topic_name == "t"
    assert bm.member_type == (1 if v >= 1 else -1)


def test_apis_table_serves_kip848_and_the_apis_its_clients_call():
    assert (ALL_APIS[68].min_version, ALL_APIS[68].max_version) == (0, 1)
    assert (ALL_APIS[69].min_version, ALL_APIS[69].max_version) == (0, 1)
    # KIP-848 clients commit with member epochs (OffsetCommit v9+, OffsetFetch v9+)
    # and list groups by type (ListGroups v5).
    assert ALL_APIS[8].max_version >= 9 and ALL_APIS[9].max_version >= 9 and ALL_APIS[16].max_version >= 5
