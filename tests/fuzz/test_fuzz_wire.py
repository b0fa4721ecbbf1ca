"""Fuzzing the framing and every served API version against a live broker (issue 11).

Each example takes a populated request of one API and version (tests/fuzz/requests.py)
and mutates it: flipped bytes, truncation, garbage appended, int32 fields set to -1 or
to huge values (nulls, absurd counts), a size prefix that lies. The broker must answer
or close that connection, stay alive for everyone else, write no traceback, and keep
its memory bounded. CI runs a bounded, derandomized number of examples;
`CHRONIK_FUZZ_EXAMPLES=20000 CHRONIK_FUZZ_RANDOM=1 pytest tests/fuzz` runs longer
on new examples (bench/fuzz.sh).
"""

from __future__ import annotations

import os
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.requests import seeds
from tests.integration.test_bad_input import still_serving

pytestmark = pytest.mark.integration

SEEDS = list(seeds())
EXAMPLES = int(os.environ.get("CHRONIK_FUZZ_EXAMPLES", "400"))
# Fixed examples in CI; CHRONIK_FUZZ_RANDOM=1 explores new ones each run.
DERANDOMIZE = os.environ.get("CHRONIK_FUZZ_RANDOM", "") != "1"
RSS_LIMIT_MB = 300

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 64), st.integers(0, 255)),
    st.tuples(st.just("int32"), st.integers(0, 1 << 16), st.sampled_from([-1, -2, 0x7FFFFFFF, 0x10000])),
    st.tuples(st.just("prefix"), st.integers(-8, 8), st.just(0)),
)


def mutate(frame: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    body = bytearray(frame[4:])
    lie = 0
    for op, a, b in ops:
        if op == "flip" and body:
            body[a % len(body)] ^= b
        elif op == "truncate":
            del body[a % (len(body) + 1):]
        elif op == "append":
            body += bytes([b]) * a
        elif op == "int32" and len(body) >= 4:
            pos = a % (len(body) - 3)
            struct.pack_into(">i", body, pos, b)
        elif op == "prefix":
            lie = a
    size = max(0, len(body) + lie) if lie > 0 else len(body)
    return struct.pack(">i", size) + bytes(body)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def fuzz_broker(tmp_path_factory):
    from tests.conftest import BrokerProcess, free_port

    b = BrokerProcess(data_dir=tmp_path_factory.mktemp("fuzz") / "data", port=free_port())
    b.start()
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("fuzz", 2, 1)])["fuzz"].result(10)
    yield b
    b.stop()
    b.kill()


def send(broker, data: bytes) -> None:
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=2)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)  # the broker sees EOF: a partial frame cannot hold the test up
        s.settimeout(0.5)
        try:
            while s.recv(65536):
                pass
        except (TimeoutError, ConnectionError):
            pass
    finally:
        s.close()


def test_every_seed_request_is_answered(fuzz_broker):
    """The unmutated seeds: every API and version gets an answer or a clean close, no traceback."""
    for _name, _version, frame in SEEDS:
        send(fuzz_broker, frame)
    still_serving(fuzz_broker)
    assert "Traceback" not in fuzz_broker.output()


@settings(max_examples=EXAMPLES, derandomize=DERANDOMIZE, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=4),
       pipelined=st.booleans())
def test_mutated_requests(fuzz_broker, seed, ops, pipelined):
    _name, _version, frame = seed
    data = mutate(frame, ops)
    send(fuzz_broker, data + (frame if pipelined else b""))
    assert fuzz_broker.proc.poll() is None, fuzz_broker.output()[-2000:]


def test_after_fuzzing_the_broker_is_healthy(fuzz_broker):
    still_serving(fuzz_broker)
    out = fuzz_broker.output()
    assert "Traceback" not in out, out[out.index("Traceback") - 500:][:3000]
    assert rss_mb(fuzz_broker.proc.pid) < RSS_LIMIT_MB
