"""ACLs with Kafka's semantics (StandardAuthorizer), sans-IO.

A binding is (resource type, name, pattern type, principal, host,
operation, permission). `Authorizer.authorize` answers one question:

- super users may do anything;
- the ACLs that apply to a resource are the LITERAL ones naming it, the
  LITERAL `*` wildcard and the PREFIXED ones whose prefix starts its name;
  of those, the ones whose principal is the caller's (or `User:*`) and
  whose host is the caller's (or `*`);
- any DENY for the operation (or ALL) wins; then any ALLOW for it, for ALL,
  or for an operation that implies it (READ, WRITE, DELETE and ALTER imply
  DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows;
- with no ACL on the resource at all, `allow_everyone_if_no_acl_found`
  decides (Kafka's allow.everyone.if.no.acl.found, default false).

Filters (DescribeAcls, DeleteAcls) use ANY and MATCH as Kafka's
AclBindingFilter does.

Answers are cached per (principal, host, operation, resource): every
request asks again for the same few resources (a producer's topic per
Produce, each topic per Metadata), and without the cache a question costs
a scan of every PREFIXED binding of its resource type. The answer depends
only on the bindings, so any change to them (create, delete) empties the
cache; it is also emptied when it grows past `CACHE_MAX` entries (many
distinct topic names or hosts), so it never holds more than that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chronik.security.principal import parse


class ResourceType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class Operation(enum.IntEnum):
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


class PatternType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Permission(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


CLUSTER_NAME = "kafka-cluster"
WILDCARD = "*"
WILDCARD_PRINCIPAL = "User:*"
# Entries in the answer cache before it is emptied (each is a tuple and a bool: about 200 bytes).
CACHE_MAX = 65536
_IMPLIED_BY = {
    Operation.DESCRIBE: (Operation.DESCRIBE, Operation.READ, Operation.WRITE, Operation.DELETE, Operation.ALTER),
    Operation.DESCRIBE_CONFIGS: (Operation.DESCRIBE_CONFIGS, Operation.ALTER_CONFIGS),
}


@dataclass(frozen=True, slots=True)
class AclBinding:
    resource_type: ResourceType
    name: str
    pattern_type: PatternType
    principal: str
    host: str
    operation: Operation
    permission: Permission

    def to_json(self) -> list:
        return [int(self.resource_type), self.name, int(self.pattern_type), self.principal, self.host,
                int(self.operation), int(self.permission)]

    @classmethod
    def from_json(cls, row: list) -> AclBinding:
        rt, name, pt, principal, host, op, perm = row
        return cls(ResourceType(rt), name, PatternType(pt), principal, host, Operation(op), Permission(perm))


def validate(b: AclBinding) -> str | None:
    """Why Kafka refuses to create this binding (INVALID_REQUEST), or None."""
    if b.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
        return "Invalid resource type"
    if b.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        return "Invalid pattern type"
    if b.operation in (Operation.UNKNOWN, Operation.ANY):
        return "Invalid operation"
    if b.permission not in (Permission.ALLOW, Permission.DENY):
        return "Invalid permission type"
    if not b.name:
        return "Resource name should not be empty"
    if b.resource_type is ResourceType.CLUSTER and b.name != CLUSTER_NAME:
        return "The only valid name for the CLUSTER resource is kafka-cluster"
    if b.pattern_type is PatternType.PREFIXED and b.name == WILDCARD:
        return "Cannot use the wildcard `*` as a PREFIXED resource name"
    try:
        parse(b.principal)
    except ValueError as exc:
        return str(exc)
    if not b.host:
        return "Host should not be empty"
    return None


@dataclass(frozen=True, slots=True)
class AclFilter:
    resource_type: ResourceType = ResourceType.ANY
    name: str | None = None
    pattern_type: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: Operation = Operation.ANY
    permission: Permission = Permission.ANY

    def matches(self, b: AclBinding) -> bool:
        if self.resource_type is not ResourceType.ANY and self.resource_type != b.resource_type:
            return False
        if self.pattern_type is PatternType.MATCH:
            if self.name is None:
                pass
            elif b.pattern_type is PatternType.LITERAL:
                if b.name not in (self.name, WILDCARD):
                    return False
            elif not self.name.startswith(b.name):
                return False
        else:
            if self.pattern_type is not PatternType.ANY and self.pattern_type != b.pattern_type:
                return False
            if self.name is not None and self.name != b.name:
                return False
        if self.principal is not None and self.principal != b.principal:
            return False
        if self.host is not None and self.host != b.host:
            return False
        if self.operation is not Operation.ANY and self.operation != b.operation:
            return False
        return self.permission is Permission.ANY or self.permission == b.permission


class Authorizer:
    def __init__(self, acls: list[AclBinding] | None = None, super_users: tuple[str, ...] = (),
                 allow_everyone_if_no_acl_found: bool = False, save=None) -> None:
        self.super_users = frozenset(super_users)
        self.allow_if_no_acl = allow_everyone_if_no_acl_found
        self._save = save
        self._acls: list[AclBinding] = []
        # (resource type, LITERAL name) -> bindings; PREFIXED ones by type, scanned.
        self._literal: dict[tuple[ResourceType, str], list[AclBinding]] = {}
        self._prefixed: dict[ResourceType, list[AclBinding]] = {}
        # (principal, host, operation, resource type, name) -> the answer; name None: authorize_any.
        self._cache: dict[tuple, bool] = {}
        for b in acls or []:
            self._add(b)

    # -- the table ---------------------------------------------------------------
    def acls(self) -> list[AclBinding]:
        return list(self._acls)

    def _add(self, b: AclBinding) -> bool:
        if b in self._literal.get((b.resource_type, b.name), ()) or b in self._prefixed.get(b.resource_type, ()):
            return False
        self._acls.append(b)
        self._cache.clear()
        if b.pattern_type is PatternType.LITERAL:
            self._literal.setdefault((b.resource_type, b.name), []).append(b)
        else:
            self._prefixed.setdefault(b.resource_type, []).append(b)
        return True

    def create(self, bindings: list[AclBinding]) -> None:
        for b in bindings:
            self._add(b)
        self.persist()

    def delete(self, filters: list[AclFilter]) -> list[list[AclBinding]]:
        """The bindings each filter removed (a binding goes with the first filter matching it)."""
        removed: list[list[AclBinding]] = []
        gone: set[AclBinding] = set()
        for f in filters:
            hit = [b for b in self._acls if b not in gone and f.matches(b)]
            gone.update(hit)
            removed.append(hit)
        if gone:
            keep = [b for b in self._acls if b not in gone]
            self._acls, self._literal, self._prefixed = [], {}, {}
            self._cache.clear()
            for b in keep:
                self._add(b)
            self.persist()
        return removed

    def describe(self, f: AclFilter) -> list[AclBinding]:
        return [b for b in self._acls if f.matches(b)]

    def persist(self) -> None:
        if self._save is not None:
            self._save([b.to_json() for b in self._acls])

    # -- the question -------------------------------------------------------------
    def _applicable(self, rtype: ResourceType, name: str) -> list[AclBinding]:
        out = list(self._literal.get((rtype, name), ()))
        out.extend(self._literal.get((rtype, WILDCARD), ()))
        for b in self._prefixed.get(rtype, ()):
            if name.startswith(b.name):
                out.append(b)
        return out

    def authorize(self, principal: str, host: str, operation: Operation, rtype: ResourceType, name: str) -> bool:
        key = (principal, host, operation, rtype, name)
        answer = self._cache.get(key)
        if answer is None:
            answer = self._authorize(principal, host, operation, rtype, name)
            self._remember(key, answer)
        return answer

    def _remember(self, key: tuple, answer: bool) -> None:
        cache = self._cache
        if len(cache) >= CACHE_MAX:
            cache.clear()
        cache[key] = answer

    def _authorize(self, principal: str, host: str, operation: Operation, rtype: ResourceType, name: str) -> bool:
        if principal in self.super_users:
            return True
        acls = self._applicable(rtype, name)
        if not acls:
            return self.allow_if_no_acl
        allowed_ops = _IMPLIED_BY.get(operation, (operation,))
        allow = False
        for b in acls:
            if b.principal != principal and b.principal != WILDCARD_PRINCIPAL:
                continue
            if b.host != host and b.host != WILDCARD:
                continue
            if b.permission is Permission.DENY:
                if b.operation == operation or b.operation == Operation.ALL:
                    return False
            elif b.operation in allowed_ops or b.operation == Operation.ALL:
                allow = True
        return allow

    def authorize_any(self, principal: str, host: str, operation: Operation, rtype: ResourceType) -> bool:
        """Kafka's authorizeByResourceType: may the principal do `operation` on some resource of this type?"""
        key = (principal, host, operation, rtype, None)
        answer = self._cache.get(key)
        if answer is None:
            answer = self._authorize_any(principal, host, operation, rtype)
            self._remember(key, answer)
        return answer

    def _authorize_any(self, principal: str, host: str, operation: Operation, rtype: ResourceType) -> bool:
        if principal in self.super_users:
            return True
        names = {b.name for b in self._acls if b.resource_type is rtype and b.permission is Permission.ALLOW
                 and b.pattern_type is PatternType.LITERAL}
        prefixes = [b.name for b in self._prefixed.get(rtype, ()) if b.permission is Permission.ALLOW]
        for name in names:
            if self.authorize(principal, host, operation, rtype, name):
                return True
        for prefix in prefixes:
            # A denying ACL on a longer prefix or name does not cover the whole prefix.
            if self.authorize(principal, host, operation, rtype, prefix):
                return True
        return False
