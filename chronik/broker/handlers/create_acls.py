"""CreateAcls (30), v1-3: add ACL bindings (persisted in meta.json); one result per creation."""

from __future__ import annotations

from kafka.protocol.admin.acl import CreateAclsResponse

from chronik.broker.handlers._acl_common import enum_or_unknown
from chronik.security.acl import AclBinding, Operation, PatternType, Permission, ResourceType, validate
from chronik.wire.errors import ErrorCode

API_KEY = 30

_Result = CreateAclsResponse.AclCreationResult


def handle(ctx, req):
    v = ctx.api_version
    authz = ctx.core.authorizer
    if authz is None:
        return CreateAclsResponse(version=v, throttle_time_ms=0, results=[
            _Result(error_code=ErrorCode.SECURITY_DISABLED, error_message="No Authorizer is configured.")
            for _ in req.creations])
    results, good = [], []
    for c in req.creations:
        b = AclBinding(enum_or_unknown(ResourceType, c.resource_type), c.resource_name or "",
                       enum_or_unknown(PatternType, c.resource_pattern_type),
                       c.principal or "", c.host or "", enum_or_unknown(Operation, c.operation),
                       enum_or_unknown(Permission, c.permission_type))
        why = validate(b)
        if why:
            results.append(_Result(error_code=ErrorCode.INVALID_REQUEST, error_message=why))
        else:
            good.append(b)
            results.append(_Result(error_code=0, error_message=None))
    if good:
        authz.create(good)
    return CreateAclsResponse(version=v, throttle_time_ms=0, results=results)
