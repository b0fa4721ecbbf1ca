"""ListGroups (16), v0-5: every group; v4+ filtered by state, v5+ by type ("classic" or "consumer").

Consumer-protocol groups (KIP-848) list with protocol type "consumer" and
their own states (Empty, Assigning, Reconciling, Stable), as in Kafka 4.x.
"""

from __future__ import annotations

from kafka.protocol.admin.groups import ListGroupsResponse

from chronik.wire.errors import ErrorCode

API_KEY = 16

_Listed = ListGroupsResponse.ListedGroup
GROUP_TYPE = "classic"
CONSUMER_TYPE = "consumer"


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.groups
    states = {s.lower() for s in req.states_filter} if v >= 4 and req.states_filter else None
    types = {t.lower() for t in req.types_filter} if v >= 5 and req.types_filter else None
    listed = []
    if types is None or GROUP_TYPE in types:
        for g in coord.list_groups():
            if states is not None and g.state.value.lower() not in states:
                continue
            listed.append(_Listed(group_id=g.group_id, protocol_type=g.protocol_type or "",
                                  group_state=g.state.value, group_type=GROUP_TYPE))
    if types is None or CONSUMER_TYPE in types:
        for cg in ctx.core.consumer_groups.list_groups():
            state = cg.state.value
            if states is not None and state.lower() not in states:
                continue
            listed.append(_Listed(group_id=cg.group_id, protocol_type="consumer", group_state=state,
                                  group_type=CONSUMER_TYPE))
    return ListGroupsResponse(version=v, throttle_time_ms=0, error_code=ErrorCode.NONE, groups=listed)
