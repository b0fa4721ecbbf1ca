"""Security with real clients: listeners, TLS, SASL (PLAIN, SCRAM, OAUTHBEARER), bad input (issue 15)."""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from chronik.cli.certs import make_certs
from tests.conftest import BrokerProcess, free_port
from tests.integration.raw import RawConn

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = Path(tmp_path_factory.mktemp("certs"))
    make_certs(d, ["client", "admin"])
    return d


@pytest.fixture(scope="module")
def secure(tmp_path_factory, certs):
    """One broker, four listeners: PLAINTEXT, SASL_PLAINTEXT, SSL (client certs requested), SASL_SSL."""
    ports = {name: free_port() for name in ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")}
    args = [a for name, port in ports.items() for a in ("--listener", f"{name}={name}://127.0.0.1:{port}")]
    args += ["--tls-cert", str(certs / "broker.pem"), "--tls-key", str(certs / "broker.key"),
             "--tls-ca", str(certs / "ca.pem"), "--tls-client-auth", "requested",
             "--sasl-user", f"alice:{PASSWORD}", "--sasl-user", "bob:other-password"]
    b = BrokerProcess(data_dir=Path(tmp_path_factory.mktemp("secure")) / "data", port=ports["PLAINTEXT"],
                      extra_args=args)
    b.start()
    b.ports = ports
    yield b
    b.stop()
    assert PASSWORD not in b.output() and "other-password" not in b.output()


def _conf(b, proto: str, certs: Path, **extra) -> dict:
    c = {"bootstrap.servers": f"127.0.0.1:{b.ports[proto]}", "security.protocol": proto, "log_level": 0}
    if proto.endswith("SSL"):
        c["ssl.ca.location"] = str(certs / "ca.pem")
    c.update(extra)
    return c


def _roundtrip(conf: dict, n: int = 20) -> list[bytes]:
    from confluent_kafka import Consumer, Producer

    topic = f"sec-{uuid.uuid4().hex[:8]}"
    p = Producer(conf)
    for i in range(n):
        p.produce(topic, value=b"v%d" % i + b"x" * 1000)
    assert p.flush(20) == 0
    c = Consumer({**conf, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert len(got) == n
    return got


def _metadata_brokers(conf: dict) -> list[tuple[str, int]]:
    from confluent_kafka.admin import AdminClient

    md = AdminClient(conf).list_topics(timeout=10)
    return [(b.host, b.port) for b in md.brokers.values()]


def test_confluent_sasl_ssl_scram_sha_512(secure, certs):
    _roundtrip(_conf(secure, "SASL_SSL", certs, **{"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
                                                   "sasl.password": PASSWORD}))


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_confluent_sasl_plaintext(secure, certs, mechanism):
    _roundtrip(_conf(secure, "SASL_PLAINTEXT", certs, **{"sasl.mechanism": mechanism, "sasl.username": "bob",
                                                         "sasl.password": "other-password"}), n=5)


def test_confluent_oauthbearer_unsecured(secure, certs):
    _roundtrip(_conf(secure, "SASL_PLAINTEXT", certs, **{
        "sasl.mechanism": "OAUTHBEARER", "enable.sasl.oauthbearer.unsecure.jwt": True,
        "sasl.oauthbearer.config": "principal=carol"}), n=5)


def test_confluent_ssl_with_client_certificate(secure, certs):
    _roundtrip(_conf(secure, "SSL", certs, **{"ssl.certificate.location": str(certs / "client.pem"),
                                              "ssl.key.location": str(certs / "client.key")}), n=5)


def test_wrong_password_is_refused(secure, certs):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors = []
    conf = _conf(secure, "SASL_SSL", certs, **{"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
                                               "sasl.password": "wrong", "error_cb": lambda e: errors.append(e)})
    with pytest.raises(KafkaException):
        AdminClient(conf).list_topics(timeout=3)
    deadline = time.monotonic() + 5
    while "SASL authentication failed" not in secure.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in secure.output()


def test_each_listener_advertises_itself(secure, certs):
    """Two (four) listeners at once: Metadata names the listener the client came through."""
    assert _metadata_brokers(_conf(secure, "PLAINTEXT", certs)) == [("127.0.0.1", secure.ports["PLAINTEXT"])]
    sasl = {"sasl.mechanism": "PLAIN", "sasl.username": "alice", "sasl.password": PASSWORD}
    assert _metadata_brokers(_conf(secure, "SASL_SSL", certs, **sasl)) == [("127.0.0.1", secure.ports["SASL_SSL"])]
    assert _metadata_brokers(_conf(secure, "SASL_PLAINTEXT", certs, **sasl)) == [
        ("127.0.0.1", secure.ports["SASL_PLAINTEXT"])]


def test_kafka_python_sasl_ssl(secure, certs):
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"kp-{uuid.uuid4().hex[:8]}"
    conf = dict(bootstrap_servers=f"127.0.0.1:{secure.ports['SASL_SSL']}", security_protocol="SASL_SSL",
                ssl_cafile=str(certs / "ca.pem"), sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="alice",
                sasl_plain_password=PASSWORD)
    p = KafkaProducer(**conf)
    for i in range(10):
        p.send(topic, b"m%d" % i)
    p.flush(20)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000, **conf)
    got = [m.value for m in c]
    c.close()
    assert got[:10] == [b"m%d" % i for i in range(10)]


def test_aiokafka_sasl_ssl(secure, certs):
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context

    topic = f"aio-{uuid.uuid4().hex[:8]}"

    async def run() -> list[bytes]:
        conf = dict(bootstrap_servers=f"127.0.0.1:{secure.ports['SASL_SSL']}", security_protocol="SASL_SSL",
                    ssl_context=create_ssl_context(cafile=str(certs / "ca.pem")), sasl_mechanism="SCRAM-SHA-512",
                    sasl_plain_username="alice", sasl_plain_password=PASSWORD)
        p = AIOKafkaProducer(**conf)
        await p.start()
        for i in range(5):
            await p.send_and_wait(topic, b"a%d" % i)
        await p.stop()
        c = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **conf)
        await c.start()
        got = []
        try:
            while len(got) < 5:
                batch = await asyncio.wait_for(c.getmany(timeout_ms=1000), 15)
                for msgs in batch.values():
                    got += [m.value for m in msgs]
        finally:
            await c.stop()
        return got

    assert asyncio.run(run()) == [b"a%d" % i for i in range(5)]


def test_kcat_sasl_ssl(secure, certs):
    kcat = subprocess.run(["which", "kcat"], capture_output=True, text=True).stdout.strip()
    if not kcat:
        pytest.skip("kcat not installed")
    topic = f"kcat-{uuid.uuid4().hex[:8]}"
    common = [kcat, "-b", f"127.0.0.1:{secure.ports['SASL_SSL']}", "-X", "security.protocol=SASL_SSL",
              "-X", "sasl.mechanism=SCRAM-SHA-512", "-X", "sasl.username=alice", "-X", f"sasl.password={PASSWORD}",
              "-X", f"ssl.ca.location={certs / 'ca.pem'}"]
    subprocess.run([*common, "-P", "-t", topic], input="one\ntwo\n", text=True, check=True, timeout=30)
    out = subprocess.run([*common, "-C", "-t", topic, "-e", "-o", "beginning"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert out.split() == ["one", "two"]


# -- bad input: each closes only its own connection --------------------------------------------
def _closed(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _still_serving(b) -> None:
    c = RawConn(b.ports["PLAINTEXT"])
    try:
        assert c.call(MetadataRequest(topics=[]), MetadataResponse, 1).brokers
    finally:
        c.close()


def test_tls_client_hello_to_plaintext_port(secure, certs):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    raw = socket.create_connection(("127.0.0.1", secure.ports["PLAINTEXT"]))
    with pytest.raises((ssl.SSLError, OSError)):
        ctx.wrap_socket(raw, server_hostname="localhost")
    raw.close()
    _still_serving(secure)


def test_plaintext_kafka_to_tls_port(secure):
    s = socket.create_connection(("127.0.0.1", secure.ports["SSL"]))
    req = MetadataRequest(topics=[])
    req.API_VERSION = 1
    req.with_header(correlation_id=1, client_id="raw")
    s.sendall(req.encode(header=True, framed=True))
    assert _closed(s)
    s.close()
    _still_serving(secure)


def test_garbage_tls_handshake(secure):
    s = socket.create_connection(("127.0.0.1", secure.ports["SASL_SSL"]))
    s.sendall(b"\x16\x03\x01\x02\x00" + b"\xff" * 512)
    assert _closed(s)
    s.close()
    _still_serving(secure)


def _sasl_conn(b, mechanism: str) -> RawConn:
    c = RawConn(b.ports["SASL_PLAINTEXT"])
    resp = c.call(SaslHandshakeRequest(mechanism=mechanism), SaslHandshakeResponse, 1)
    assert resp.error_code == 0
    return c


def test_request_before_authentication_closes(secure):
    c = RawConn(secure.ports["SASL_PLAINTEXT"])
    req = MetadataRequest(topics=[])
    req.API_VERSION = 1
    req.with_header(correlation_id=1, client_id="raw")
    c.sock.sendall(req.encode(header=True, framed=True))
    assert _closed(c.sock)
    c.close()
    _still_serving(secure)


def test_truncated_scram_exchange(secure):
    c = _sasl_conn(secure, "SCRAM-SHA-256")
    resp = c.call(SaslAuthenticateRequest(auth_bytes=b"n,,n=alice,r=abc"), SaslAuthenticateResponse, 1)
    assert resp.error_code == 0 and resp.auth_bytes.startswith(b"r=abc")
    c.sock.close()  # walks away mid-exchange
    c2 = _sasl_conn(secure, "SCRAM-SHA-256")
    resp = c2.call(SaslAuthenticateRequest(auth_bytes=b"n,,n=alice"), SaslAuthenticateResponse, 1)
    assert resp.error_code == 58
    assert _closed(c2.sock)
    c2.close()
    _still_serving(secure)


def test_unsupported_mechanism(secure):
    c = RawConn(secure.ports["SASL_PLAINTEXT"])
    resp = c.call(SaslHandshakeRequest(mechanism="GSSAPI"), SaslHandshakeResponse, 1)
    assert resp.error_code == 33 and "SCRAM-SHA-512" in resp.mechanisms
    assert _closed(c.sock)
    c.close()


def test_sasl_handshake_v0_raw_tokens(secure):
    c = RawConn(secure.ports["SASL_PLAINTEXT"])
    assert c.call(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse, 0).error_code == 0
    token = b"\x00alice\x00" + PASSWORD.encode()
    c.sock.sendall(struct.pack(">i", len(token)) + token)
    assert struct.unpack(">i", c._recv(4))[0] == 0
    assert c.call(MetadataRequest(topics=[]), MetadataResponse, 1).brokers
    c.close()


def test_a_thousand_failed_logins(secure):
    for i in range(1000):
        c = _sasl_conn(secure, "PLAIN")
        resp = c.call(SaslAuthenticateRequest(auth_bytes=b"\x00alice\x00wrong-%d" % i), SaslAuthenticateResponse, 2)
        assert resp.error_code == 58 and "Invalid username or password" in resp.error_message
        assert _closed(c.sock)
        c.close()
    _still_serving(secure)
    assert "wrong-999" not in secure.output()
