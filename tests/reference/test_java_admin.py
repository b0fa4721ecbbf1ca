"""Every AdminClient call meaningful on one node: Chronik must answer as Apache Kafka does.

tests/reference/java/AdminCalls.java runs the calls in order against one
broker and prints one id- and time-free line per call. It runs once against
the reference Kafka and once against Chronik; each call is one test here.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess, free_port
from tests.reference.kafka import JAVA_SOURCES, run_java

pytestmark = [pytest.mark.integration, pytest.mark.reference]

PREFIX = f"adm-{uuid.uuid4().hex[:6]}"  # the same names on both brokers
CALLS = re.findall(r'call\("([^"]+)"', (JAVA_SOURCES / "AdminCalls.java").read_text())

# Chronik answers differently, on purpose (README, "Deliberate differences from Apache Kafka"):
# the answer Chronik gives is checked exactly.
DELIBERATE = {
    # Chronik writes the markers before answering EndTxn; Kafka may still be writing them.
    "describeTransactions.afterAbort": (["OK", "state=CompleteAbort"], ["OK", "state=PrepareAbort"]),
    # No KRaft metadata log, hence no finalized metadata.version (no transaction.version 2 either).
    "describeFeatures": (["OK", "finalized-metadata.version=false"], None),
    # Replica reassignment, leader election and the KRaft quorum have no meaning on one
    # process that is its own controller: these APIs are not served.
    "listPartitionReassignments": (["ERR", "UnsupportedVersionException"], None),
    "electLeaders": (["ERR", "UnsupportedVersionException"], None),
    "describeMetadataQuorum": (["ERR", "UnsupportedVersionException"], None),
}

# Chronik defects found by the Java AdminClient: strict xfails until fixed.
DEFECTS = {
}


def _results(bootstrap: str) -> dict[str, list[str]]:
    lines = run_java("AdminCalls", bootstrap, PREFIX)
    return {line[1]: line[2:] for line in lines if line[0] == "CALL"}


@pytest.fixture(scope="module")
def kafka_answers(kafka_ref) -> dict[str, list[str]]:
    return _results(kafka_ref.bootstrap)


@pytest.fixture(scope="module")
def chronik_answers(tmp_path_factory) -> dict[str, list[str]]:
    broker = BrokerProcess(data_dir=Path(tmp_path_factory.mktemp("admin")) / "data", port=free_port())
    broker.start()
    try:
        return _results(broker.bootstrap)
    finally:
        broker.stop()


def test_every_call_ran(kafka_answers, chronik_answers):
    assert list(kafka_answers) == CALLS
    assert list(chronik_answers) == CALLS


@pytest.mark.parametrize("call", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=DEFECTS[c])) if c in DEFECTS else c
    for c in CALLS
])
def test_admin_call_answers_as_kafka(call, kafka_answers, chronik_answers):
    if call in DELIBERATE:
        chronik_answer, kafka_answer = DELIBERATE[call]
        assert chronik_answers[call] == chronik_answer
        if kafka_answer is not None:
            assert kafka_answers[call] in (kafka_answer, chronik_answer)
        return
    assert kafka_answers[call][0] in ("OK", "ERR")
    assert chronik_answers[call] == kafka_answers[call]
