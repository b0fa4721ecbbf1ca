"""DeleteGroups (42), v0-2: delete empty groups and their offsets; a group with
members answers NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
"""

from __future__ import annotations

from kafka.protocol.admin.groups import DeleteGroupsResponse

API_KEY = 42

_Result = DeleteGroupsResponse.DeletableGroupResult


def handle(ctx, req):
    coord = ctx.core.groups
    results = [_Result(group_id=g, error_code=coord.delete_group(g)) for g in req.groups_names]
    return DeleteGroupsResponse(version=ctx.api_version, throttle_time_ms=0, results=results)
