"""FindCoordinator (10), v0-6: this broker coordinates every group and transactional id.

v4+ batches several keys in one request.
"""

from __future__ import annotations

from kafka.protocol.metadata.find_coordinator import FindCoordinatorResponse

from chronik.wire.errors import ErrorCode

API_KEY = 10

GROUP, TRANSACTION = 0, 1


def handle(ctx, req):
    c = ctx.core.config
    host, port = ctx.endpoint
    v = ctx.api_version
    key_type = req.key_type if v >= 1 else GROUP
    bad_type = key_type not in (GROUP, TRANSACTION)
    code = ErrorCode.INVALID_REQUEST if bad_type else ErrorCode.NONE
    msg = f"Unknown coordinator key type {key_type}" if bad_type else None
    if v >= 4:
        coords = [
            FindCoordinatorResponse.Coordinator(
                key=k, node_id=c.node_id if not code else -1, host=host if not code else "",
                port=port if not code else -1, error_code=code, error_message=msg,
            )
            for k in req.coordinator_keys
        ]
        return FindCoordinatorResponse(version=v, throttle_time_ms=0, coordinators=coords)
    return FindCoordinatorResponse(
        version=v, throttle_time_ms=0, error_code=code, error_message=msg,
        node_id=c.node_id if not code else -1, host=host if not code else "",
        port=port if not code else -1,
    )
