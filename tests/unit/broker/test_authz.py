"""chronik.broker.authz: the Produce and Fetch rules (the hot ones, written without the generic helpers)."""

from __future__ import annotations

from types import SimpleNamespace

from chronik.broker import authz
from chronik.broker.context import RequestContext
from chronik.security.acl import AclBinding, Authorizer, Operation, PatternType, Permission, ResourceType
from chronik.security.scram import CredentialStore
from chronik.security.session import new_session
from chronik.wire import produce_codec
from chronik.wire.errors import ErrorCode


def _ctx(*acls: AclBinding, api_key: int = 0) -> RequestContext:
    core = SimpleNamespace(authorizer=Authorizer(list(acls)), topics_by_id={"id-b": SimpleNamespace(name="b")})
    sec = new_session("SASL_SSL", "SASL_SSL", "10.0.0.1", ("h", 1), (), CredentialStore())
    sec.principal = "User:alice"
    return RequestContext(core, api_key, 9, 1, "c", 1, ("10.0.0.1", 1), sec)


def _allow(rtype: ResourceType, name: str, op: Operation) -> AclBinding:
    return AclBinding(rtype, name, PatternType.LITERAL, "User:alice", "*", op, Permission.ALLOW)


def _produce(tid: str | None, *topics: tuple[str, str | None]) -> produce_codec.ProduceRequestData:
    return produce_codec.ProduceRequestData(tid, -1, 1000, [produce_codec.TopicProduceData(name, tid_, [])
                                                           for name, tid_ in topics])


def test_produce_names_every_denied_topic_and_resolves_topic_ids():
    ctx = _ctx(_allow(ResourceType.TOPIC, "a", Operation.WRITE))
    assert authz.check(ctx, 0, _produce(None, ("a", None))) is None
    denied = authz.check(ctx, 0, _produce(None, ("a", None), ("", "id-b"), ("c", None)))
    assert denied == authz.Denied(ErrorCode.TOPIC_AUTHORIZATION_FAILED, "Not authorized to access topics: [b, c]")
    assert authz.check(ctx, 0, _produce(None, ("", "unknown-id"))) is None  # the handler answers UNKNOWN_TOPIC_ID


def test_produce_checks_the_transactional_id_first():
    ctx = _ctx(_allow(ResourceType.TOPIC, "a", Operation.WRITE))
    denied = authz.check(ctx, 0, _produce("tx", ("zzz", None)))
    assert denied is not None and denied.code == ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    ctx = _ctx(_allow(ResourceType.TOPIC, "a", Operation.WRITE), _allow(ResourceType.TRANSACTIONAL_ID, "tx",
                                                                         Operation.WRITE))
    assert authz.check(ctx, 0, _produce("tx", ("a", None))) is None


def test_fetch_needs_read_and_replicas_need_cluster_action():
    ctx = _ctx(_allow(ResourceType.TOPIC, "a", Operation.READ), api_key=1)
    fetch = SimpleNamespace(replica_id=-1, topics=[SimpleNamespace(topic="a"), SimpleNamespace(topic="x")])
    denied = authz.check(ctx, 1, fetch)
    assert denied == authz.Denied(ErrorCode.TOPIC_AUTHORIZATION_FAILED, "Not authorized to access topics: [x]")
    fetch.topics.pop()
    assert authz.check(ctx, 1, fetch) is None
    fetch.replica_id = 1
    assert authz.check(ctx, 1, fetch).code == ErrorCode.CLUSTER_AUTHORIZATION_FAILED
