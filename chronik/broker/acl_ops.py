"""Kafka's ACL operations and the operations each resource type supports.

`authorized_operations` fields (Metadata, DescribeCluster, DescribeGroups)
carry a 32-bit field of operation codes (a set of codes for kafka-python). Without an authorizer Kafka grants
every operation the resource type supports (AuthHelper.authorizedOperations);
when the request does not ask, the field is Integer.MIN_VALUE. The security
work will narrow the granted set by the principal's ACLs, here.
"""

from __future__ import annotations

import enum


class AclOperation(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14
    TWO_PHASE_COMMIT = 15


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


def authorized_operations(resource_type: ResourceType, requested: bool) -> set[int] | None:
    """The field to answer: every supported operation (no authorizer), or 'not requested'."""
    return {int(op) for op in SUPPORTED[resource_type]} if requested else NOT_REQUESTED
