"""Heartbeat (12), v0-4: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin."""

from __future__ import annotations

from kafka.protocol.consumer.group import HeartbeatResponse

API_KEY = 12


def handle(ctx, req):
    v = ctx.api_version
    code = ctx.core.groups.heartbeat(
        req.group_id, req.generation_id, req.member_id, req.group_instance_id if v >= 3 else None
    )
    return HeartbeatResponse(version=v, throttle_time_ms=0, error_code=code)
