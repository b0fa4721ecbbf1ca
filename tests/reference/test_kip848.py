"""The consumer group protocol (KIP-848) against Apache Kafka 4.1 and Chronik: the same scenario, the same answers.

Two confluent-kafka members with `group.protocol=consumer` share four partitions,
consume every record exactly once between them and commit; the AdminClient then
describes the group. Both brokers must give the same observable outcome.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, ConsumerGroupType, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = [pytest.mark.integration, pytest.mark.reference]

RECORDS = 200


def _member(bootstrap: str, group: str, owned: dict) -> Consumer:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": "consumer",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    key = id(c)
    owned[key] = set()

    def on_assign(_c, parts):
        owned[key] |= {p.partition for p in parts}

    def on_revoke(_c, parts):
        owned[key] -= {p.partition for p in parts}

    c.subscribe([group], on_assign=on_assign, on_revoke=on_revoke)
    return c


def _scenario(bootstrap: str) -> dict:
    group = topic = f"kip848-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(30)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(RECORDS):
        p.produce(topic, key=str(i).encode(), value=str(i).encode(), partition=i % 4)
    assert p.flush(30) == 0
    owned: dict = {}
    members = [_member(bootstrap, group, owned)]
    seen: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if len(members) == 1 and owned[id(members[0])]:
                members.append(_member(bootstrap, group, owned))  # the second joins once the first owns all
            for c in members:
                for m in c.consume(100, timeout=0.1):
                    if m.error():
                        assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                        continue
                    seen.append(m.value())
            sizes = sorted(len(owned[id(c)]) for c in members)
            if len(members) == 2 and sizes == [2, 2] and len(seen) >= RECORDS:
                break
        for c in members:
            try:
                c.commit(asynchronous=False)
            except KafkaException as exc:  # a member that consumed nothing has nothing to commit
                assert exc.args[0].code() == KafkaError._NO_OFFSET, exc
        desc = admin.describe_consumer_groups([group])[group].result(30)
        return {
            "sizes": sorted(len(owned[id(c)]) for c in members),
            "disjoint": not (owned[id(members[0])] & owned[id(members[1])]),
            "records": len(seen), "unique": len(set(seen)),
            "type": desc.type, "state": desc.state, "members": len(desc.members),
            "assigned": sorted(len(m.assignment.topic_partitions) for m in desc.members),
        }
    finally:
        for c in members:
            c.close()


def test_two_members_share_four_partitions_as_on_kafka(target):
    got = _scenario(target)
    assert got == {"sizes": [2, 2], "disjoint": True, "records": RECORDS, "unique": RECORDS,
                   "type": ConsumerGroupType.CONSUMER, "state": ConsumerGroupState.STABLE, "members": 2,
                   "assigned": [2, 2]}, got
