"""Kafka's ACL operations and the operations each resource type supports.

`authorized_operations` fields (Metadata, DescribeCluster, DescribeGroups)
carry a 32-bit field of operation codes (a set of codes for kafka-python). Without an authorizer Kafka grants
every operation the resource type supports (AuthHelper.authorizedOperations);
with one, the operations the principal's ACLs allow on that resource;
when the request does not ask, the field is Integer.MIN_VALUE.
"""

from __future__ import annotations

import enum
from typing import Any

from chronik.security.acl import CLUSTER_NAME
from chronik.security.acl import Operation as _Operation

# One set of codes for the whole broker: the authorizer's.
AclOperation = _Operation


class ResourceType(enum.IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


Op = AclOperation
# Kafka's AclEntry.supportedOperations.
SUPPORTED: dict[ResourceType, tuple[AclOperation, ...]] = {
    ResourceType.TOPIC: (Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DELETE, Op.ALTER, Op.DESCRIBE_CONFIGS,
                         Op.ALTER_CONFIGS),
    ResourceType.GROUP: (Op.READ, Op.DESCRIBE, Op.DELETE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS),
    ResourceType.CLUSTER: (Op.CREATE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE,
                           Op.ALTER, Op.DESCRIBE),
    ResourceType.TRANSACTIONAL_ID: (Op.DESCRIBE, Op.WRITE, Op.TWO_PHASE_COMMIT),
}

# kafka-python encodes the field from a set of operation codes; None is "not requested".
NOT_REQUESTED = None


def authorized_operations(resource_type: ResourceType, requested: bool, ctx: Any = None,
                          name: str | None = None) -> set[int] | None:
    """The field to answer: the supported operations the request's principal may do, or 'not requested'."""
    if not requested:
        return NOT_REQUESTED
    ops = SUPPORTED[resource_type]
    if ctx is None or ctx.core.authorizer is None:
        return {int(op) for op in ops}
    if resource_type is ResourceType.CLUSTER:
        name = CLUSTER_NAME
    return {int(op) for op in ops if ctx.allowed(op, resource_type, name or "")}
