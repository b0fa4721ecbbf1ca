"""Kafka Streams with exactly_once_v2 against Apache Kafka and Chronik.

tests/reference/java/StreamsApp.java counts words: a repartition topic (group
by word), a state store with its changelog, the counts written in
transactions. The output is checked exactly; a second run of the same
application (same id, same state directory) resumes from its committed
offsets and state, so the counts go on from the first run's, not from zero.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer

from tests.reference.kafka import run_java

pytestmark = [pytest.mark.integration, pytest.mark.reference, pytest.mark.slow]

LINES_1 = ["the quick brown fox", "jumps over the lazy dog", "The dog sleeps", "a fox a dog a day"]
LINES_2 = ["the end", "fox and dog again", "quick quick"]


def produce(bootstrap: str, topic: str, lines: list[str]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i, line in enumerate(lines):
        p.produce(topic, key=f"line-{i}", value=line)
    assert p.flush(30) == 0


def expected(*batches: list[str]) -> dict[str, int]:
    return dict(Counter(w for batch in batches for line in batch for w in line.lower().split()))


def run_app(target: str, app: str, src: str, dst: str, state, want: dict[str, int]) -> dict[str, int]:
    arg = ",".join(f"{w}={n}" for w, n in sorted(want.items()))
    lines = run_java("StreamsApp", target, app, src, dst, str(state), arg, timeout=240)
    assert ["STATE", "RUNNING"] in lines or ["STATE", "REBALANCING"] in lines, lines
    return {w: int(n) for tag, w, n in (line for line in lines if line[0] == "FINAL")}


def test_streams_exactly_once_v2_word_count_and_restart(target, tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    src, dst, app = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("sin", "sout", "wordcount"))
    admin = AdminClient({"bootstrap.servers": target})
    for f in admin.create_topics([NewTopic(src, 2, 1), NewTopic(dst, 2, 1)]).values():
        f.result(30)
    produce(target, src, LINES_1)
    assert run_app(target, app, src, dst, tmp_path / "state", expected(LINES_1)) == expected(LINES_1)
    topics = set(admin.list_topics(timeout=10).topics)
    assert f"{app}-by-word-repartition" in topics and f"{app}-counts-changelog" in topics
    produce(target, src, LINES_2)
    assert run_app(target, app, src, dst, tmp_path / "state", expected(LINES_1, LINES_2)) == expected(LINES_1, LINES_2)
