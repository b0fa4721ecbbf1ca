"""JoinGroup (11), v0-9: enter a group's join phase; answered when the phase completes.

v1+ carries a rebalance timeout (v0 uses the session timeout), v4+ answers a
first join with MEMBER_ID_REQUIRED (KIP-394), v5+ static membership
(KIP-345), v7+ protocol type in the answer, v9 `skip_assignment` for a
static leader that rejoined without a rebalance.
"""

from __future__ import annotations

from kafka.protocol.consumer.group import JoinGroupResponse

from chronik.broker.group_state import JoinResult
from chronik.wire.errors import ErrorCode

API_KEY = 11

_Member = JoinGroupResponse.JoinGroupResponseMember


def _response(v: int, res: JoinResult) -> JoinGroupResponse:
    return JoinGroupResponse(
        version=v,
        throttle_time_ms=0,
        error_code=res.error,
        generation_id=res.generation_id,
        protocol_type=res.protocol_type,
        # Non-nullable before v7.
        protocol_name=res.protocol_name if v >= 7 else (res.protocol_name or ""),
        leader=res.leader,
        skip_assignment=res.skip_assignment,
        member_id=res.member_id,
        members=[_Member(member_id=mid, group_instance_id=iid, metadata=meta) for mid, iid, meta in res.members],
    )


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.groups
    rebalance_ms = req.rebalance_timeout_ms if v >= 1 else req.session_timeout_ms
    # The coordinator always answers by the rebalance timeout; this deadline
    # only guards against a wait that would otherwise never end.
    wait_ms = 2 * max(rebalance_ms, req.session_timeout_ms, 0) + 10_000
    d = ctx.defer(
        lambda expired: _response(v, JoinResult(ErrorCode.REBALANCE_IN_PROGRESS, req.member_id)) if expired else None,
        wait_ms, (),
    )
    peer = ctx.peer[0] if isinstance(ctx.peer, tuple) and ctx.peer else ""
    coord.join(
        group_id=req.group_id,
        member_id=req.member_id or "",
        instance_id=req.group_instance_id if v >= 5 else None,
        client_id=ctx.client_id or "",
        client_host=f"/{peer}",
        session_timeout_ms=req.session_timeout_ms,
        rebalance_timeout_ms=rebalance_ms,
        protocol_type=req.protocol_type,
        protocols=[(p.name, bytes(p.metadata)) for p in req.protocols],
        require_known_member_id=v >= 4,
        callback=lambda res: d.complete(_response(v, res)),
    )
    return d
