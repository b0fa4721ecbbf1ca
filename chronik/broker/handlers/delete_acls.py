"""DeleteAcls (31), v1-3: remove the bindings each filter matches, and list them."""

from __future__ import annotations

from kafka.protocol.admin.acl import DeleteAclsResponse

from chronik.broker.handlers._acl_common import filter_error, filter_of
from chronik.wire.errors import ErrorCode

API_KEY = 31

_Result = DeleteAclsResponse.DeleteAclsFilterResult
_Match = _Result.DeleteAclsMatchingAcl


def handle(ctx, req):
    v = ctx.api_version
    authz = ctx.core.authorizer
    if authz is None:
        return DeleteAclsResponse(version=v, throttle_time_ms=0, filter_results=[
            _Result(error_code=ErrorCode.SECURITY_DISABLED, error_message="No Authorizer is configured.",
                    matching_acls=[]) for _ in req.filters])
    filters = [filter_of(f, v) for f in req.filters]
    errors = [filter_error(f) for f in filters]
    removed = authz.delete([f for f, e in zip(filters, errors, strict=True) if e is None])
    it = iter(removed)
    results = []
    for e in errors:
        if e is not None:
            results.append(_Result(error_code=ErrorCode.INVALID_REQUEST, error_message=e, matching_acls=[]))
            continue
        results.append(_Result(error_code=0, error_message=None, matching_acls=[
            _Match(error_code=0, error_message=None, resource_type=int(b.resource_type), resource_name=b.name,
                   pattern_type=int(b.pattern_type), principal=b.principal, host=b.host,
                   operation=int(b.operation), permission_type=int(b.permission)) for b in next(it)]))
    return DeleteAclsResponse(version=v, throttle_time_ms=0, filter_results=results)
