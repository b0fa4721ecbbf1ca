"""Authorisation per request: Kafka's "Operations and Resources on Protocols" as one table.

The dispatcher calls `check(ctx, api_key, request)` for every request when
an authorizer is configured (and never otherwise: one attribute check on
the hot path). A rule names what the request needs (operation, resource
type, names); the first need that is not granted answers the whole request
with the matching error code (TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_
AUTHORIZATION_FAILED), built like Kafka's error responses. Where Kafka
filters instead of refusing, a rule returns a filter for the response
(ListGroups, ListTransactions); Metadata hides topics in its handler, as
the handler knows which topics it lists.

Every API key the broker serves must have a rule here (a test checks it),
so a new handler cannot slip past authorisation.

Difference from Kafka: a request naming several topics of which only some
are denied is refused as a whole (Kafka answers per topic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chronik.security.acl import CLUSTER_NAME
from chronik.security.acl import Operation as Op
from chronik.security.acl import ResourceType as RT
from chronik.wire.errors import ErrorCode

_CODES = {
    RT.TOPIC: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    RT.GROUP: ErrorCode.GROUP_AUTHORIZATION_FAILED,
    RT.CLUSTER: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
    RT.TRANSACTIONAL_ID: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}


@dataclass(frozen=True, slots=True)
class Denied:
    code: int
    message: str


def _denied(rtype: RT, names: list[str]) -> Denied:
    if rtype is RT.CLUSTER:
        return Denied(_CODES[rtype], "Cluster authorization failed.")
    what = {RT.TOPIC: "topics", RT.GROUP: "group", RT.TRANSACTIONAL_ID: "transactional id"}[rtype]
    shown = f"[{', '.join(names)}]" if rtype is RT.TOPIC else ", ".join(names)
    return Denied(_CODES[rtype], f"Not authorized to access {what}: {shown}")


def need(ctx: Any, op: Op, rtype: RT, *names: str | None) -> Denied | None:
    bad = [n for n in names if n is not None and not ctx.allowed(op, rtype, n)]
    return _denied(rtype, bad) if bad else None


def need_cluster(ctx: Any, op: Op) -> Denied | None:
    return None if ctx.allowed(op, RT.CLUSTER, CLUSTER_NAME) else _denied(RT.CLUSTER, [])


def _name(ctx: Any, t: Any) -> str | None:
    n = getattr(t, "name", None)
    if n and isinstance(n, str):  # a field outside the decoded version reads as its default ""
        return n
    n = getattr(t, "topic", None)
    if n and isinstance(n, str):
        return n
    tid = getattr(t, "topic_id", None)
    topic = ctx.core.topics_by_id.get(tid) if tid is not None else None
    return topic.name if topic is not None else None  # unknown ids: the handler answers UNKNOWN_TOPIC_ID


def _topics(ctx: Any, items: Any) -> list[str]:
    return [n for n in (_name(ctx, t) for t in items or ()) if n is not None]


def _first(*checks: Callable[[], Denied | None]) -> Denied | None:
    for c in checks:
        d = c()
        if d is not None:
            return d
    return None


# -- the rules, by API key -----------------------------------------------------------------------
# Produce and Fetch come many times a second: their rules avoid the generic helpers' closures.
_WRITE, _READ, _TOPIC, _TXN_ID = Op.WRITE, Op.READ, RT.TOPIC, RT.TRANSACTIONAL_ID


def _topic_need(ctx, op, items) -> Denied | None:
    allowed = ctx.allowed
    bad: list[str] = []
    for t in items or ():
        n = _name(ctx, t)
        if n is not None and not allowed(op, _TOPIC, n):
            bad.append(n)
    return _denied(_TOPIC, bad) if bad else None


def _produce(ctx, r):
    tid = getattr(r, "transactional_id", None)
    if tid is not None and not ctx.allowed(_WRITE, _TXN_ID, tid):
        return _denied(_TXN_ID, [tid])
    return _topic_need(ctx, _WRITE, r.topic_data)


def _fetch(ctx, r):
    if getattr(r, "replica_id", -1) >= 0:
        return need_cluster(ctx, Op.CLUSTER_ACTION)
    return _topic_need(ctx, _READ, r.topics)


def _describe_topics(field: str):
    return lambda ctx, r: need(ctx, Op.DESCRIBE, RT.TOPIC, *_topics(ctx, getattr(r, field)))


def _offset_commit(ctx, r):
    return _first(lambda: need(ctx, Op.READ, RT.GROUP, r.group_id),
                  lambda: need(ctx, Op.READ, RT.TOPIC, *_topics(ctx, r.topics)))


def _offset_fetch(ctx, r):
    groups = getattr(r, "groups", None)
    if groups is None or ctx.api_version < 8:
        return _first(lambda: need(ctx, Op.DESCRIBE, RT.GROUP, r.group_id),
                      lambda: need(ctx, Op.DESCRIBE, RT.TOPIC, *_topics(ctx, r.topics)))
    for g in groups:
        d = _first(lambda g=g: need(ctx, Op.DESCRIBE, RT.GROUP, g.group_id),
                   lambda g=g: need(ctx, Op.DESCRIBE, RT.TOPIC, *_topics(ctx, g.topics)))
        if d:
            return d
    return None


def _find_coordinator(ctx, r):
    keys = list(getattr(r, "coordinator_keys", None) or ()) if ctx.api_version >= 4 else [r.key]
    rtype = RT.TRANSACTIONAL_ID if getattr(r, "key_type", 0) == 1 else RT.GROUP
    return need(ctx, Op.DESCRIBE, rtype, *keys)


def _group(op: Op):
    return lambda ctx, r: need(ctx, op, RT.GROUP, r.group_id)


def _describe_groups(ctx, r):
    return need(ctx, Op.DESCRIBE, RT.GROUP, *r.groups)


def _consumer_group_describe(ctx, r):
    return need(ctx, Op.DESCRIBE, RT.GROUP, *r.group_ids)


def _list_groups(ctx, r):
    if ctx.allowed(Op.DESCRIBE, RT.CLUSTER, CLUSTER_NAME):
        return None

    def only_described(resp):
        resp.groups = [g for g in resp.groups if ctx.allowed(Op.DESCRIBE, RT.GROUP, g.group_id)]
        return resp
    return only_described


def _create_topics(ctx, r):
    if ctx.allowed(Op.CREATE, RT.CLUSTER, CLUSTER_NAME):
        return None
    return need(ctx, Op.CREATE, RT.TOPIC, *_topics(ctx, r.topics))


def _topics_op(op: Op):
    return lambda ctx, r: need(ctx, op, RT.TOPIC, *_topics(ctx, r.topics))


def _delete_topics(ctx, r):
    names = list(r.topic_names or ()) if ctx.api_version < 6 else _topics(ctx, r.topics)
    return need(ctx, Op.DELETE, RT.TOPIC, *names)


def _init_producer_id(ctx, r):
    tid = getattr(r, "transactional_id", None)
    if tid is not None:
        return need(ctx, Op.WRITE, RT.TRANSACTIONAL_ID, tid)
    # KIP-679 (Kafka 3.0+): IDEMPOTENT_WRITE on the cluster, or WRITE on any topic.
    if ctx.allowed(Op.IDEMPOTENT_WRITE, RT.CLUSTER, CLUSTER_NAME) or ctx.allowed_any(Op.WRITE, RT.TOPIC):
        return None
    return _denied(RT.CLUSTER, [])


def _add_partitions_to_txn(ctx, r):
    if ctx.api_version <= 3:
        return _first(lambda: need(ctx, Op.WRITE, RT.TRANSACTIONAL_ID, r.v3_and_below_transactional_id),
                      lambda: need(ctx, Op.WRITE, RT.TOPIC, *_topics(ctx, r.v3_and_below_topics)))
    if ctx.allowed(Op.CLUSTER_ACTION, RT.CLUSTER, CLUSTER_NAME):
        return None  # v4+ verify_only batches come from brokers
    for t in r.transactions:
        d = _first(lambda t=t: need(ctx, Op.WRITE, RT.TRANSACTIONAL_ID, t.transactional_id),
                   lambda t=t: need(ctx, Op.WRITE, RT.TOPIC, *_topics(ctx, t.topics)))
        if d:
            return d
    return None


def _add_offsets_to_txn(ctx, r):
    return _first(lambda: need(ctx, Op.WRITE, RT.TRANSACTIONAL_ID, r.transactional_id),
                  lambda: need(ctx, Op.READ, RT.GROUP, r.group_id))


def _end_txn(ctx, r):
    return need(ctx, Op.WRITE, RT.TRANSACTIONAL_ID, r.transactional_id)


def _txn_offset_commit(ctx, r):
    return _first(lambda: need(ctx, Op.WRITE, RT.TRANSACTIONAL_ID, r.transactional_id),
                  lambda: need(ctx, Op.READ, RT.GROUP, r.group_id),
                  lambda: need(ctx, Op.READ, RT.TOPIC, *_topics(ctx, r.topics)))


def _configs(op: Op):
    def rule(ctx, r):
        for res in r.resources:
            if res.resource_type == 2:
                d = need(ctx, op, RT.TOPIC, res.resource_name)
            elif res.resource_type == 32:  # GROUP configs
                d = need(ctx, op, RT.GROUP, res.resource_name)
            else:  # broker, broker logger, client metrics
                d = need_cluster(ctx, op)
            if d:
                return d
        return None
    return rule


def _cluster(op: Op):
    return lambda ctx, r: need_cluster(ctx, op)


def _delete_groups(ctx, r):
    return need(ctx, Op.DELETE, RT.GROUP, *r.groups_names)


def _offset_delete(ctx, r):
    return _first(lambda: need(ctx, Op.DELETE, RT.GROUP, r.group_id),
                  lambda: need(ctx, Op.READ, RT.TOPIC, *_topics(ctx, r.topics)))


def _describe_producers(ctx, r):
    return need(ctx, Op.READ, RT.TOPIC, *_topics(ctx, r.topics))


def _describe_transactions(ctx, r):
    return need(ctx, Op.DESCRIBE, RT.TRANSACTIONAL_ID, *r.transactional_ids)


def _list_transactions(ctx, r):
    def only_described(resp):
        resp.transaction_states = [t for t in resp.transaction_states
                                   if ctx.allowed(Op.DESCRIBE, RT.TRANSACTIONAL_ID, t.transactional_id)]
        return resp
    return only_described


def _none(ctx, r):
    return None


RULES: dict[int, Callable[[Any, Any], Any]] = {
    0: _produce,
    1: _fetch,
    2: _describe_topics("topics"),
    3: _none,  # Metadata hides topics without DESCRIBE in its handler; creation needs CREATE there
    8: _offset_commit,
    9: _offset_fetch,
    10: _find_coordinator,
    11: _group(Op.READ),
    12: _group(Op.READ),
    13: _group(Op.READ),
    14: _group(Op.READ),
    15: _describe_groups,
    16: _list_groups,
    17: _none,  # SaslHandshake
    18: _none,  # ApiVersions
    19: _create_topics,
    20: _delete_topics,
    21: _topics_op(Op.DELETE),
    22: _init_producer_id,
    23: _describe_topics("topics"),
    24: _add_partitions_to_txn,
    25: _add_offsets_to_txn,
    26: _end_txn,
    28: _txn_offset_commit,
    29: _cluster(Op.DESCRIBE),  # DescribeAcls
    30: _cluster(Op.ALTER),  # CreateAcls
    31: _cluster(Op.ALTER),  # DeleteAcls
    32: _configs(Op.DESCRIBE_CONFIGS),
    33: _configs(Op.ALTER_CONFIGS),
    35: _cluster(Op.DESCRIBE),
    36: _none,  # SaslAuthenticate
    37: _topics_op(Op.ALTER),
    42: _delete_groups,
    44: _configs(Op.ALTER_CONFIGS),
    47: _offset_delete,
    48: _cluster(Op.DESCRIBE_CONFIGS),  # DescribeClientQuotas
    50: _cluster(Op.DESCRIBE),  # DescribeUserScramCredentials
    51: _cluster(Op.ALTER),  # AlterUserScramCredentials
    60: _cluster(Op.DESCRIBE),
    61: _describe_producers,
    65: _describe_transactions,
    66: _list_transactions,
    68: _group(Op.READ),  # ConsumerGroupHeartbeat
    69: _consumer_group_describe,
}


# Requests whose names are plain strings (the error builder mirrors struct arrays only):
# api key -> (request field, response array, name field of its entries).
_STRING_ARRAYS = {
    20: ("topic_names", "responses", "name"),
    15: ("groups", "groups", "group_id"),
    42: ("groups_names", "results", "group_id"),
    65: ("transactional_ids", "transaction_states", "transactional_id"),
    69: ("group_ids", "groups", "group_id"),
    10: ("coordinator_keys", "coordinators", "key"),
}


def denied_response(response_cls: Any, request: Any, version: int, api_key: int, denied: Denied, build) -> Any:
    """Kafka's answer to a refused request: every entry carries the authorization error."""
    resp = build(response_cls, request, version, denied.code, denied.message)
    spec = _STRING_ARRAYS.get(api_key)
    names = getattr(request, spec[0], None) if spec else None
    if spec and names and not getattr(resp, spec[1], None):
        field = response_cls._struct.fields[spec[1]]
        entries = []
        for n in names:
            e = field.data_class(version=version)
            for fname, f in e._struct.fields.items():
                if not f.for_version_q(version):
                    continue
                if fname == "error_code":
                    setattr(e, fname, denied.code)
                elif fname == "error_message":
                    setattr(e, fname, denied.message)
                elif f.is_struct_array():
                    setattr(e, fname, [])
            setattr(e, spec[2], n)
            entries.append(e)
        setattr(resp, spec[1], entries)
    if api_key == 1:
        resp.error_code = 0  # Fetch: per partition, as Kafka
    return resp


def check(ctx: Any, api_key: int, request: Any) -> Denied | Callable[[Any], Any] | None:
    rule = RULES.get(api_key)
    if rule is None:
        # A served API nobody wrote a rule for: only super users (and cluster admins) may use it.
        return need_cluster(ctx, Op.ALTER)
    return rule(ctx, request)
