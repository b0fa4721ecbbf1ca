"""DescribeAcls (29), v1-3: the ACL bindings matching a filter, grouped by resource.

Without --authorizer the answer is SECURITY_DISABLED, as Kafka without an
authorizer (kafka-acls --list and AdminClient.describeAcls expect it).
"""

from __future__ import annotations

from kafka.protocol.admin.acl import DescribeAclsResponse

from chronik.broker.handlers._acl_common import filter_error, filter_of
from chronik.wire.errors import ErrorCode

API_KEY = 29

_Resource = DescribeAclsResponse.DescribeAclsResource
_Acl = _Resource.AclDescription


def handle(ctx, req):
    v = ctx.api_version
    authz = ctx.core.authorizer
    if authz is None:
        return DescribeAclsResponse(version=v, throttle_time_ms=0, error_code=ErrorCode.SECURITY_DISABLED,
                                    error_message="No Authorizer is configured.", resources=[])
    flt = filter_of(req, v)
    err = filter_error(flt)
    if err:
        return DescribeAclsResponse(version=v, throttle_time_ms=0, error_code=ErrorCode.INVALID_REQUEST,
                                    error_message=err, resources=[])
    grouped: dict[tuple, list] = {}
    for b in authz.describe(flt):
        grouped.setdefault((int(b.resource_type), b.name, int(b.pattern_type)), []).append(
            _Acl(principal=b.principal, host=b.host, operation=int(b.operation), permission_type=int(b.permission)))
    resources = [_Resource(resource_type=rt, resource_name=name, pattern_type=pt, acls=acls)
                 for (rt, name, pt), acls in grouped.items()]
    return DescribeAclsResponse(version=v, throttle_time_ms=0, error_code=0, error_message=None,
                                resources=resources)
