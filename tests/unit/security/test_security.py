"""chronik.security: ACL semantics, SCRAM credentials, SASL mechanisms and the state table."""

from __future__ import annotations

import base64
import json
import time

import pytest
from scramp import ScramClient

from chronik.broker.authz import RULES
from chronik.broker.handlers import HANDLERS
from chronik.security import scram
from chronik.security.acl import AclBinding, AclFilter, Authorizer, Operation, PatternType, Permission, ResourceType
from chronik.security.listeners import ListenerSpecError, parse_advertised, parse_listener
from chronik.security.mechanisms import AuthenticationFailed, UnsecuredOAuthExchange
from chronik.security.principal import subject_dn
from chronik.security.session import Action, State, new_session

T, G = ResourceType.TOPIC, ResourceType.GROUP
LIT, PRE = PatternType.LITERAL, PatternType.PREFIXED
ALLOW, DENY = Permission.ALLOW, Permission.DENY


def b(name, op, perm=ALLOW, pattern=LIT, principal="User:alice", host="*", rtype=T):
    return AclBinding(rtype, name, pattern, principal, host, op, perm)


def test_every_served_api_has_an_authorization_rule():
    assert set(HANDLERS) <= set(RULES)


def test_deny_beats_allow_and_all_covers_everything():
    a = Authorizer([b("t", Operation.ALL), b("*", Operation.READ, DENY)])
    assert a.authorize("User:alice", "h", Operation.WRITE, T, "t")
    assert not a.authorize("User:alice", "h", Operation.READ, T, "t")


def test_implied_operations_only_for_allow():
    a = Authorizer([b("t", Operation.WRITE), b("c", Operation.ALTER_CONFIGS)])
    assert a.authorize("User:alice", "h", Operation.DESCRIBE, T, "t")
    assert a.authorize("User:alice", "h", Operation.DESCRIBE_CONFIGS, T, "c")
    assert not a.authorize("User:alice", "h", Operation.READ, T, "t")
    a = Authorizer([b("t", Operation.DESCRIBE), b("t", Operation.READ, DENY)])
    assert a.authorize("User:alice", "h", Operation.DESCRIBE, T, "t")  # DENY READ does not deny DESCRIBE


def test_prefixed_wildcard_principal_and_host():
    a = Authorizer([b("app.", Operation.READ, pattern=PRE, principal="User:*", host="10.0.0.1")])
    assert a.authorize("User:bob", "10.0.0.1", Operation.READ, T, "app.x")
    assert not a.authorize("User:bob", "10.0.0.2", Operation.READ, T, "app.x")
    assert not a.authorize("User:bob", "10.0.0.1", Operation.READ, T, "other")


def test_no_acl_found_super_users_and_the_flag():
    assert not Authorizer().authorize("User:a", "h", Operation.READ, T, "t")
    assert Authorizer(allow_everyone_if_no_acl_found=True).authorize("User:a", "h", Operation.READ, T, "t")
    a = Authorizer([b("t", Operation.READ, principal="User:x")], allow_everyone_if_no_acl_found=True)
    assert not a.authorize("User:a", "h", Operation.READ, T, "t")  # ACLs exist on t: the flag does not apply
    assert Authorizer(super_users=("User:root",)).authorize("User:root", "h", Operation.DELETE, T, "t")


def test_cached_answers_follow_every_acl_change(monkeypatch):
    a = Authorizer([b("app.", Operation.WRITE, pattern=PRE)])
    assert a.authorize("User:alice", "h", Operation.WRITE, T, "app.x")
    assert a.authorize_any("User:alice", "h", Operation.WRITE, T)
    assert a._cache[("User:alice", "h", Operation.WRITE, T, "app.x")] is True  # the next ask is a lookup
    a.create([b("app.x", Operation.WRITE, DENY)])
    assert not a.authorize("User:alice", "h", Operation.WRITE, T, "app.x")
    assert not a.authorize("User:bob", "h", Operation.READ, T, "t")
    a.create([b("t", Operation.READ, principal="User:bob")])
    assert a.authorize("User:bob", "h", Operation.READ, T, "t")
    a.delete([AclFilter(resource_type=T, pattern_type=PRE)])
    assert not a.authorize("User:alice", "h", Operation.WRITE, T, "app.y")
    assert not a.authorize_any("User:alice", "h", Operation.WRITE, T)
    monkeypatch.setattr("chronik.security.acl.CACHE_MAX", 3)
    for i in range(10):
        assert not a.authorize("User:alice", "h", Operation.READ, T, f"t{i}")
    assert len(a._cache) <= 3


def test_filters_any_and_match_and_delete():
    acls = [b("app.", Operation.READ, pattern=PRE), b("app.x", Operation.WRITE), b("*", Operation.READ),
            b("g", Operation.READ, rtype=G)]
    a = Authorizer(acls)
    assert len(a.describe(AclFilter())) == 4
    assert set(a.describe(AclFilter(T, "app.x", PatternType.MATCH))) == set(acls[:3])
    assert a.describe(AclFilter(T, "app.", PatternType.LITERAL)) == []
    saved = []
    a._save = saved.append
    assert a.delete([AclFilter(resource_type=G)]) == [[acls[3]]]
    assert len(saved[-1]) == 3 and AclBinding.from_json(saved[-1][0]) == acls[0]


def test_scram_credentials_never_hold_the_password_and_verify_plain():
    # A password no base64 salt or key can contain by chance ("pw" did, now and then).
    password = "correct horse battery staple"
    cred = scram.from_password("SCRAM-SHA-256", password)
    assert password not in json.dumps(cred.to_json())
    assert scram.verify_password("SCRAM-SHA-256", cred, password)
    assert not scram.verify_password("SCRAM-SHA-256", cred, "nope")


def _scram_login(session, mechanism, user, password):
    sasl = session.gate
    assert sasl.action(17) is Action.HANDSHAKE and sasl.handshake(mechanism, 1).error is None
    assert sasl.action(3) is Action.CLOSE  # Metadata before authentication
    client = ScramClient([mechanism], user, password)
    first = sasl.authenticate(client.get_client_first().encode())
    client.set_server_first(first.decode())
    final = sasl.authenticate(client.get_client_final().encode())
    client.set_server_final(final.decode())
    session.authenticated()


def test_scram_exchange_with_scramp_client():
    users = scram.CredentialStore()
    users.put("alice", "SCRAM-SHA-512", scram.from_password("SCRAM-SHA-512", "pw"), persist=False)
    s = new_session("SASL", "SASL_PLAINTEXT", "127.0.0.1", ("h", 1), ("SCRAM-SHA-512",), users)
    _scram_login(s, "SCRAM-SHA-512", "alice", "pw")
    assert s.gate is None and s.principal == "User:alice"
    s = new_session("SASL", "SASL_PLAINTEXT", "127.0.0.1", ("h", 1), ("SCRAM-SHA-512",), users)
    with pytest.raises(AuthenticationFailed):
        _scram_login(s, "SCRAM-SHA-512", "alice", "wrong")
    assert s.sasl.state is State.FAILED


def _jwt(claims, alg="none"):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': alg})}.{enc(claims)}."


def test_unsecured_oauthbearer():
    ok = f"n,,\x01auth=Bearer {_jwt({'sub': 'carol', 'exp': time.time() + 60})}\x01\x01".encode()
    ex = UnsecuredOAuthExchange()
    ex.step(ok)
    assert ex.done and ex.principal == "User:carol"
    for bad in (_jwt({"sub": "c", "exp": time.time() - 60}), _jwt({"exp": time.time() + 60}),
                _jwt({"sub": "c", "exp": time.time() + 60}, alg="RS256"), "garbage"):
        with pytest.raises(AuthenticationFailed):
            UnsecuredOAuthExchange().step(f"n,,\x01auth=Bearer {bad}\x01\x01".encode())


def test_subject_dn_is_rfc2253_most_specific_first():
    cert = {"subject": ((("organizationName", "Chronik dev"),), (("commonName", "alice, jr"),))}
    assert subject_dn(cert) == "CN=alice\\, jr,O=Chronik dev"


def test_listener_specs():
    assert parse_listener("EXT=SASL_SSL://0.0.0.0:9094") == ("EXT", "SASL_SSL", "0.0.0.0", 9094)
    assert parse_listener("PLAINTEXT://127.0.0.1:9092") == ("PLAINTEXT", "PLAINTEXT", "127.0.0.1", 9092)
    assert parse_advertised("EXT=broker.example:19094") == ("EXT", "broker.example", 19094)
    with pytest.raises(ListenerSpecError):
        parse_listener("EXT=KERBEROS://h:1")


def test_produce_by_topic_id_is_authorized_on_the_topic_name(tmp_path):
    from kafka.protocol.producer.produce import ProduceRequest as P
    from kafka.protocol.producer.produce import ProduceResponse

    from chronik.broker.config import BrokerConfig
    from chronik.broker.core import BrokerCore
    from chronik.broker.dispatch import Dispatcher
    from chronik.broker.server import Server
    from tests.integration.raw import record_batch

    core = BrokerCore(BrokerConfig(data_dir=tmp_path / "data", authorizer=True), Server("127.0.0.1", 0, 1 << 20))
    topic = core.create_topic("t", 1)
    core.authorizer.create([b("t", Operation.WRITE, principal="User:ANONYMOUS")])

    class Conn:
        conn_id, peer = 1, ("127.0.0.1", 1)
        sec = new_session("PLAINTEXT", "PLAINTEXT", "127.0.0.1", ("h", 1), (), scram.CredentialStore())

    def produce(version: int, **ident) -> int:
        req = P(transactional_id=None, acks=1, timeout_ms=1000, topic_data=[P.TopicProduceData(
            **ident, partition_data=[P.TopicProduceData.PartitionProduceData(index=0, records=record_batch(10))])])
        req.API_VERSION = version
        req.with_header(correlation_id=1, client_id="t")
        out = b"".join(bytes(x) for x in Dispatcher(core)(Conn, bytearray(req.encode(header=True, framed=False))))
        resp = ProduceResponse.decode(out[9 if version >= 9 else 8:], version=version)
        return resp.responses[0].partition_responses[0].error_code

    try:
        assert produce(13, topic_id=topic.topic_id) == 0
        assert produce(9, name="t") == 0
        core.authorizer.delete([AclFilter()])
        assert produce(13, topic_id=topic.topic_id) == 29
    finally:
        core.close()
