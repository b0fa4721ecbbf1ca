"""LeaveGroup (13), v0-5: v0-2 one member by id; v3+ a batch of members by id or
static instance id (KIP-345), each with its own error code.
"""

from __future__ import annotations

from kafka.protocol.consumer.group import LeaveGroupResponse

from chronik.wire.errors import ErrorCode

API_KEY = 13

_Member = LeaveGroupResponse.MemberResponse


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.groups
    if v < 3:
        (code,) = coord.leave(req.group_id, [(req.member_id, None)])
        return LeaveGroupResponse(version=v, throttle_time_ms=0, error_code=code)
    wanted = [(m.member_id or "", m.group_instance_id) for m in req.members]
    codes = coord.leave(req.group_id, wanted)
    members = [
        _Member(member_id=mid, group_instance_id=iid, error_code=code)
        for (mid, iid), code in zip(wanted, codes, strict=True)
    ]
    return LeaveGroupResponse(version=v, throttle_time_ms=0, error_code=ErrorCode.NONE, members=members)
