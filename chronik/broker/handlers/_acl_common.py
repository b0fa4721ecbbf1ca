"""Shared by the ACL handlers: request fields to bindings and filters."""

from __future__ import annotations

from chronik.security.acl import AclFilter, Operation, PatternType, Permission, ResourceType


def enum_or_unknown(cls, value):
    try:
        return cls(value)
    except ValueError:
        return cls(0)


def filter_of(f, version: int) -> AclFilter:
    return AclFilter(
        resource_type=enum_or_unknown(ResourceType, f.resource_type_filter),
        name=f.resource_name_filter,
        pattern_type=enum_or_unknown(PatternType, getattr(f, "pattern_type_filter", 3) if version >= 1 else 3),
        principal=f.principal_filter,
        host=f.host_filter,
        operation=enum_or_unknown(Operation, f.operation),
        permission=enum_or_unknown(Permission, f.permission_type),
    )


def filter_error(flt: AclFilter) -> str | None:
    if ResourceType.UNKNOWN in (flt.resource_type,) or flt.pattern_type is PatternType.UNKNOWN:
        return "Invalid resource or pattern type filter"
    if flt.operation is Operation.UNKNOWN or flt.permission is Permission.UNKNOWN:
        return "Invalid operation or permission type filter"
    return None
