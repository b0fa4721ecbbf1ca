"""The Java client (kafka-clients 4.x and 3.9) against Apache Kafka and against Chronik.

tests/reference/java/Clients.java runs each scenario and prints what it saw;
the same assertions hold on both brokers.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest

from tests.reference.kafka import run_java

pytestmark = [pytest.mark.integration, pytest.mark.reference]

CLIENTS = pytest.mark.parametrize("clients", ["4", "3"], ids=["clients4", "clients3.9"])


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tagged(lines: list[list[str]], tag: str) -> list[list[str]]:
    return [line[1:] for line in lines if line[0] == tag]


@CLIENTS
def test_idempotent_producer_keys_headers_every_codec(target, clients):
    topic = name("jcodecs")
    lines = run_java("Clients", target, "codecs", topic, clients=clients)
    sent = {value: (int(p), int(o)) for value, p, o in tagged(lines, "SENT")}
    recs = tagged(lines, "REC")
    assert len(sent) == 100 and len(recs) == 100
    by_partition = defaultdict(list)
    key_partition = {}
    for t, p, o, key, value, headers, ts_type in recs:
        codec, i = value.rsplit("-", 1)
        assert t == topic and ts_type == "CreateTime"
        assert sent[value] == (int(p), int(o))
        assert key == f"k{int(i) % 4}"
        assert headers == f"codec={codec},i={i}"
        assert key_partition.setdefault(key, p) == p
        by_partition[p].append(int(o))
    for offsets in by_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))


@CLIENTS
@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_consumer_group_two_members_join_and_leave(target, clients, assignor):
    topic = name("jgroup")
    lines = run_java("Clients", target, "group", topic, name("g"), assignor, clients=clients)
    phases = {p[0]: p[1:] for p in tagged(lines, "PHASE")}
    everything = f"[{topic}-0, {topic}-1, {topic}-2, {topic}-3]"
    assert phases["c1-alone"] == [everything]
    assert phases["both"] == [f"[{topic}-0, {topic}-1]", f"[{topic}-2, {topic}-3]"]
    assert phases["c1-again"] == [everything]
    first_revoke = tagged(lines, "REVOKED")[0]
    if assignor == "range":  # eager: everything is given back before the new assignment
        assert first_revoke == ["c1", everything]
    else:  # cooperative: only what moves to c2
        assert first_revoke == ["c1", f"[{topic}-2, {topic}-3]"]
    assert tagged(lines, "SEEN") == [["40"]]
    assert tagged(lines, "COMMITTED") == [[str(p), "10"] for p in range(4)]
    assert not tagged(lines, "BAD")


@CLIENTS
def test_manual_commit_and_resume(target, clients):
    lines = run_java("Clients", target, "commit-resume", name("jcommit"), name("g"), clients=clients)
    assert lines == [
        ["READ", "10"],
        ["COMMITTED", "6", "six"],
        ["RESUMED", "6", "k6", "v6"],
        ["ASYNC", "8"],
        ["COMMITTED", "10", "-"],
    ]


@CLIENTS
def test_transactions_send_offsets_read_committed_and_fencing(target, clients):
    src, dst = name("jtxin"), name("jtxout")
    lines = run_java("Clients", target, "txn", src, dst, name("g"), clients=clients)
    assert tagged(lines, "TXN") == [["committed", "10"], ["aborted", "2"], ["committed", "1"]]
    committed = sorted(r[4] for r in tagged(lines, "RC"))
    assert committed == sorted([f"V{i}" for i in range(10)] + ["after-abort"])
    uncommitted = sorted(r[4] for r in tagged(lines, "RU"))
    assert uncommitted == sorted(committed + ["aborted-1", "aborted-2"])
    assert tagged(lines, "GROUP-OFFSET") == [[src, "0", "10"]]
    # Kafka 4 answers a fenced producer's Produce with INVALID_PRODUCER_EPOCH (transaction
    # version 2), Chronik's transaction version 1 with PRODUCER_FENCED: both are fencing.
    assert tagged(lines, "FENCED")[0][0] in ("ProducerFencedException", "InvalidProducerEpochException")
    # End offsets count the control records: 10 + 2 aborted + 1 + 3 markers (2 on one partition).
    assert sum(int(e[1]) for e in tagged(lines, "END")) == 2 * 17
