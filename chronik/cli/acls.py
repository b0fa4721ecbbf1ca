"""`chronik acls list|create|delete`: ACLs over the Kafka protocol (works against Apache Kafka too).

    chronik acls create --allow User:alice --operation read --topic orders --group billing
    chronik acls create --deny User:mallory --operation all --topic '*'
    chronik acls create --allow User:app --operation write --topic app. --prefixed
    chronik acls list [--topic orders] [--principal User:alice]
    chronik acls delete --principal User:alice --topic orders
"""

from __future__ import annotations

from typing import Annotated

import typer

from chronik.cli import app
from chronik.cli.client import close_quietly, kafka_errors, make_admin
from chronik.cli.render import Table, show
from chronik.cli.state import CliError

acls_app = typer.Typer(help="Access control lists (Kafka's StandardAuthorizer semantics).", no_args_is_help=True)
app.add_typer(acls_app, name="acls")

RESOURCE = {"any": 1, "topic": 2, "group": 3, "cluster": 4, "transactional-id": 5}
PATTERN = {"any": 1, "match": 2, "literal": 3, "prefixed": 4}
OPERATION = {"any": 1, "all": 2, "read": 3, "write": 4, "create": 5, "delete": 6, "alter": 7, "describe": 8,
             "cluster-action": 9, "describe-configs": 10, "alter-configs": 11, "idempotent-write": 12,
             "create-tokens": 13, "describe-tokens": 14, "two-phase-commit": 15}
PERMISSION = {"any": 1, "deny": 2, "allow": 3}


def _names(table: dict[str, int]) -> dict[int, str]:
    return {v: k for k, v in table.items()}


def _send(request):
    admin = make_admin()
    try:
        with kafka_errors():
            return admin._manager.run(admin._manager.send, request)
    finally:
        close_quietly(admin)


def _resources(topic, group, cluster, txn) -> list[tuple[int, str]]:
    out = [(2, t) for t in topic or []] + [(3, g) for g in group or []] + [(5, t) for t in txn or []]
    if cluster:
        out.append((4, "kafka-cluster"))
    return out


def _ops(operation: list[str] | None, default: list[str]) -> list[int]:
    out = []
    for op in operation or default:
        code = OPERATION.get(op.lower().replace("_", "-"))
        if code is None:
            raise CliError(f"unknown operation {op!r}; one of {', '.join(OPERATION)}")
        out.append(code)
    return out


Topic = Annotated[list[str] | None, typer.Option("--topic", help="Topic name (or prefix with --prefixed).")]
Group = Annotated[list[str] | None, typer.Option("--group", help="Consumer group.")]
Cluster = Annotated[bool, typer.Option("--cluster", help="The cluster resource.")]
Txn = Annotated[list[str] | None, typer.Option("--transactional-id", help="Transactional id.")]
Operation = Annotated[list[str] | None, typer.Option("--operation", help="read|write|create|delete|alter|describe|"
                                                     "cluster-action|describe-configs|alter-configs|"
                                                     "idempotent-write|all")]
Host = Annotated[str | None, typer.Option("--host", help="Client host (default: any, *).")]


@acls_app.command("create")
def create(
    allow: Annotated[list[str] | None, typer.Option("--allow", help="Principal to allow (User:NAME).")] = None,
    deny: Annotated[list[str] | None, typer.Option("--deny", help="Principal to deny (User:NAME).")] = None,
    operation: Operation = None, topic: Topic = None, group: Group = None, cluster: Cluster = False,
    transactional_id: Txn = None, host: Host = None,
    prefixed: Annotated[bool, typer.Option("--prefixed", help="Names are prefixes (PREFIXED pattern).")] = False,
) -> None:
    """Create ACLs: every (principal, operation, resource) combination given."""
    from kafka.protocol.admin.acl import CreateAclsRequest as R

    resources = _resources(topic, group, cluster, transactional_id)
    principals = [(p, 3) for p in allow or []] + [(p, 2) for p in deny or []]
    if not resources or not principals or not operation:
        raise CliError("give --allow/--deny PRINCIPAL, --operation OP and a resource (--topic/--group/--cluster/"
                       "--transactional-id)")
    creations = [R.AclCreation(resource_type=rt, resource_name=name, resource_pattern_type=4 if prefixed else 3,
                               principal=p, host=host or "*", operation=op, permission_type=perm)
                 for rt, name in resources for p, perm in principals for op in _ops(operation, [])]
    resp = _send(R(creations=creations))
    bad = [r for r in resp.results if r.error_code]
    if bad:
        raise CliError("; ".join(r.error_message or str(r.error_code) for r in bad))
    typer.echo(f"created {len(creations)} ACL(s)")


def _filters(principal, operation, topic, group, cluster, txn, host, pattern):
    resources = _resources(topic, group, cluster, txn) or [(1, None)]
    pt = PATTERN.get(pattern.lower())
    if pt is None:
        raise CliError(f"--pattern must be one of {', '.join(PATTERN)}")
    return [(rt, name, pt, principal, host, op) for rt, name in resources for op in _ops(operation, ["any"])]


Pattern = Annotated[str, typer.Option("--pattern", help="any|match|literal|prefixed")]


@acls_app.command("list")
def list_acls(
    principal: Annotated[str | None, typer.Option("--principal")] = None,
    operation: Operation = None, topic: Topic = None, group: Group = None, cluster: Cluster = False,
    transactional_id: Txn = None, host: Host = None, pattern: Pattern = "any",
) -> None:
    """List ACLs matching the filter (default: all)."""
    from kafka.protocol.admin.acl import DescribeAclsRequest as R

    rows = []
    for rt, name, pt, p, h, op in _filters(principal, operation, topic, group, cluster, transactional_id, host,
                                           "match" if name_given(topic, group, transactional_id, cluster)
                                           and pattern == "any" else pattern):
        resp = _send(R(resource_type_filter=rt, resource_name_filter=name, pattern_type_filter=pt,
                       principal_filter=p, host_filter=h, operation=op, permission_type=1))
        if resp.error_code:
            raise CliError(resp.error_message or f"error {resp.error_code}")
        for res in resp.resources:
            for a in res.acls:
                rows.append({"resource": _names(RESOURCE).get(res.resource_type, res.resource_type),
                             "name": res.resource_name, "pattern": _names(PATTERN).get(res.pattern_type),
                             "principal": a.principal, "host": a.host,
                             "operation": _names(OPERATION).get(a.operation, a.operation),
                             "permission": _names(PERMISSION).get(a.permission_type)})
    show(rows, [Table(["resource", "name", "pattern", "principal", "host", "operation", "permission"], rows)])


def name_given(*parts) -> bool:
    return any(bool(p) for p in parts)


@acls_app.command("delete")
def delete(
    principal: Annotated[str | None, typer.Option("--principal")] = None,
    operation: Operation = None, topic: Topic = None, group: Group = None, cluster: Cluster = False,
    transactional_id: Txn = None, host: Host = None, pattern: Pattern = "literal",
    all_acls: Annotated[bool, typer.Option("--all", help="Allow a filter that matches every ACL.")] = False,
) -> None:
    """Delete the ACLs matching the filter."""
    from kafka.protocol.admin.acl import DeleteAclsRequest as R

    if not (principal or topic or group or cluster or transactional_id) and not all_acls:
        raise CliError("refusing to delete every ACL without --all")
    filters = [R.DeleteAclsFilter(resource_type_filter=rt, resource_name_filter=name, pattern_type_filter=pt,
                                  principal_filter=p, host_filter=h, operation=op, permission_type=1)
               for rt, name, pt, p, h, op in _filters(principal, operation, topic, group, cluster,
                                                      transactional_id, host, pattern if name_given(
                                                          topic, group, transactional_id, cluster) else "any")]
    resp = _send(R(filters=filters))
    n = 0
    for r in resp.filter_results:
        if r.error_code:
            raise CliError(r.error_message or f"error {r.error_code}")
        n += len(r.matching_acls)
    typer.echo(f"deleted {n} ACL(s)")
