"""SyncGroup (14), v0-5: the leader hands out assignments; everyone receives theirs.

A follower that syncs before the leader waits in the purgatory. v3+ carries
the static instance id, v5+ protocol type and name (checked when given).
"""

from __future__ import annotations

from kafka.protocol.consumer.group import SyncGroupResponse

from chronik.broker.group_state import SyncResult
from chronik.wire.errors import ErrorCode

API_KEY = 14


def _response(v: int, res: SyncResult) -> SyncGroupResponse:
    return SyncGroupResponse(
        version=v, throttle_time_ms=0, error_code=res.error,
        protocol_type=res.protocol_type, protocol_name=res.protocol_name,
        assignment=res.assignment,
    )


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.groups
    group = coord.groups.get(req.group_id)
    # Bounded by the leader's session: if it dies, it is expired and we answer.
    wait_ms = 2 * max((m.session_timeout_ms + m.rebalance_timeout_ms for m in group.members.values()),
                      default=0) + 10_000 if group else 10_000
    d = ctx.defer(
        lambda expired: _response(v, SyncResult(ErrorCode.REBALANCE_IN_PROGRESS)) if expired else None,
        wait_ms, (),
    )
    coord.sync(
        group_id=req.group_id,
        generation_id=req.generation_id,
        member_id=req.member_id,
        instance_id=req.group_instance_id if v >= 3 else None,
        protocol_type=req.protocol_type if v >= 5 else None,
        protocol_name=req.protocol_name if v >= 5 else None,
        assignments={a.member_id: bytes(a.assignment) for a in req.assignments},
        callback=lambda res: d.complete(_response(v, res)),
    )
    return d
