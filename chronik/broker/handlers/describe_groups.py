"""DescribeGroups (15), v0-6: state, protocol and members of each group.

Member metadata and assignments are only shown in Stable (as Kafka does:
during a rebalance they are in flux). An unknown group is "Dead" with no
error before v6, GROUP_ID_NOT_FOUND from v6. A consumer-protocol group (KIP-848)
is not a classic group: it is answered like an unknown one, as Kafka 4.x does
(ConsumerGroupDescribe describes it).
"""

from __future__ import annotations

from kafka.protocol.admin.groups import DescribeGroupsResponse

from chronik.broker.acl_ops import ResourceType, authorized_operations
from chronik.wire.errors import ErrorCode

API_KEY = 15

_Group = DescribeGroupsResponse.DescribedGroup
_Member = _Group.DescribedGroupMember


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.groups
    out = []
    for gid in req.groups:
        summary = coord.describe(gid)
        if summary is None:
            code = ErrorCode.GROUP_ID_NOT_FOUND if v >= 6 else ErrorCode.NONE
            out.append(_Group(
                error_code=code,
                error_message=(f"Group {gid} is not a classic group." if ctx.core.consumer_groups.owns(gid)
                               else f"Group {gid} not found.") if v >= 6 else None,
                group_id=gid, group_state="Dead", protocol_type="", protocol_data="", members=[],
                authorized_operations=None,
            ))
            continue
        members = [
            _Member(member_id=m.member_id, group_instance_id=m.instance_id, client_id=m.client_id,
                    client_host=m.client_host, member_metadata=meta, member_assignment=assignment)
            for m, meta, assignment in summary.members
        ]
        out.append(_Group(
            error_code=ErrorCode.NONE, group_id=gid, group_state=summary.state,
            protocol_type=summary.protocol_type, protocol_data=summary.protocol_name, members=members,
            authorized_operations=authorized_operations(
                ResourceType.GROUP, v >= 3 and bool(req.include_authorized_operations), ctx, gid),
        ))
    return DescribeGroupsResponse(version=v, throttle_time_ms=0, groups=out)
