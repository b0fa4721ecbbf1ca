"""ConsumerGroupDescribe (69), v0-1: consumer groups (KIP-848) with epochs and assignments.

As Kafka 4.x: a group that does not exist, or is a classic group, answers
GROUP_ID_NOT_FOUND ("Group g is not a consumer group."), an empty id
INVALID_GROUP_ID. v1 adds each member's type (1: consumer protocol).
"""

from __future__ import annotations

from chronik.wire.errors import ErrorCode
from chronik.wire.kip848 import ConsumerGroupDescribeResponse

API_KEY = 69

_Group = ConsumerGroupDescribeResponse.DescribedGroup
_Member = _Group.Member
_Assignment = _Member.Assignment
_TP = _Assignment.TopicPartitions
UNKNOWN_OPERATIONS = -(2**31)


def _assignment(core, tps) -> object:
    out = []
    for name, parts in sorted(tps.items()):
        topic = core.topics.get(name)
        if topic is not None and parts:
            out.append(_TP(topic_id=topic.topic_id, topic_name=name, partitions=sorted(parts)))
    return _Assignment(topic_partitions=out)


def _error(gid: str, code: int, message: str) -> object:
    return _Group(error_code=code, error_message=message, group_id=gid, group_state="", group_epoch=0,
                  assignment_epoch=0, assignor_name="", members=[], authorized_operations=UNKNOWN_OPERATIONS)


def handle(ctx, req):
    v = ctx.api_version
    core = ctx.core
    coord = core.consumer_groups
    out = []
    for gid in req.group_ids:
        g = coord.group(gid) if gid else None
        if not gid:
            out.append(_error(gid, ErrorCode.INVALID_GROUP_ID, "Group id can't be empty."))
            continue
        if g is None:
            known = core.groups.describe(gid) is not None
            message = f"Group {gid} is not a consumer group." if known else f"Group {gid} not found."
            out.append(_error(gid, ErrorCode.GROUP_ID_NOT_FOUND, message))
            continue
        members = []
        for m in g.members.values():
            extra = {"member_type": 1} if v >= 1 else {}
            members.append(_Member(
                member_id=m.member_id, instance_id=m.instance_id, rack_id=m.rack_id, member_epoch=m.member_epoch,
                client_id=m.client_id, client_host=m.client_host,
                subscribed_topic_names=list(m.subscribed_topic_names), subscribed_topic_regex=m.subscribed_topic_regex,
                assignment=_assignment(core, m.assigned),
                target_assignment=_assignment(core, g.target.get(m.member_id, {})), **extra,
            ))
        out.append(_Group(
            error_code=ErrorCode.NONE, error_message=None, group_id=gid, group_state=g.state.value,
            group_epoch=g.group_epoch, assignment_epoch=g.assignment_epoch,
            assignor_name=g.assignor or coord.assignors[0], members=members,
            authorized_operations=UNKNOWN_OPERATIONS,
        ))
    return ConsumerGroupDescribeResponse(version=v, throttle_time_ms=0, groups=out)
