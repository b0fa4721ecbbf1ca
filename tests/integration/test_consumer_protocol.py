"""The consumer group protocol (KIP-848) driven by confluent-kafka with group.protocol=consumer.

Members run as separate processes (tests/integration/kip848_member.py) so one
can be SIGKILLed; each prints its assignment callbacks with CLOCK_MONOTONIC
times, and `assert_never_two_owners` merges the histories.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupType,
    KafkaError,
    Producer,
)
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.integration

MEMBER = Path(__file__).with_name("kip848_member.py")
FAST = ("--group-consumer-heartbeat-interval-ms", "500", "--group-consumer-session-timeout-ms", "3000")


class Member:
    def __init__(self, bootstrap: str, group: str, topics: str, name: str) -> None:
        self.name = name
        self.events: list[dict] = []
        self.proc = subprocess.Popen([sys.executable, str(MEMBER), bootstrap, group, topics, name],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def owned(self) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for e in list(self.events):
            if e["ev"] == "assign":
                out |= {tuple(tp) for tp in e["tps"]}
            elif e["ev"] == "revoke":
                out -= {tuple(tp) for tp in e["tps"]}
        return out

    def records(self) -> list[list]:
        return [r for e in list(self.events) if e["ev"] == "msgs" for r in e["recs"]]

    def errors(self) -> list[dict]:
        return [e for e in list(self.events) if e["ev"] == "error"]

    def close(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        self._reader.join(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def members():
    started: list[Member] = []
    yield started
    for m in started:
        m.kill()


def wait_for(cond, timeout: float = 20.0, what: str = "condition") -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def create(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result()


def produce(bootstrap: str, topic: str, n: int, partitions: int, start: int = 0) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, start + n):
        p.produce(topic, str(i).encode(), partition=i % partitions)
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(30) == 0


def assert_never_two_owners(group: list[Member]) -> None:
    """Merge every member's assign/revoke history: a partition is never held by two at once."""
    timeline = sorted(((e["t"], e["ev"], m.name, tuple(tp)) for m in group for e in list(m.events)
                       if e["ev"] in ("assign", "revoke") for tp in e["tps"]),
                      key=lambda x: (x[0], x[1] != "revoke"))
    owner: dict[tuple, str] = {}
    for t, ev, name, tp in timeline:
        if ev == "assign":
            assert tp not in owner, f"{tp} assigned to {name} at {t} while {owner[tp]} owns it"
            owner[tp] = name
        else:
            assert owner.get(tp) == name
            del owner[tp]


def assert_exactly_once(group: list[Member], n: int) -> None:
    values = [int(r[3]) for m in group for r in m.records()]
    assert len(values) == n, f"{len(values)} records for {n} produced ({len(set(values))} distinct)"
    assert sorted(values) == list(range(n))


def test_one_member_gets_every_partition_at_once(broker, members):
    create(broker.bootstrap, "solo", 4)
    m = Member(broker.bootstrap, "g-solo", "solo", "a")
    members.append(m)
    wait_for(lambda: len(m.owned()) == 4, what="assignment")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    d = admin.describe_consumer_groups(["g-solo"])["g-solo"].result()
    assert d.type == ConsumerGroupType.CONSUMER and d.state == ConsumerGroupState.STABLE
    assert len(d.members) == 1 and len(d.members[0].assignment.topic_partitions) == 4


def test_two_members_split_four_partitions_and_consume_exactly_once(broker_factory, members):
    b = broker_factory(*FAST)
    create(b.bootstrap, "split", 4)
    a, c = Member(b.bootstrap, "g-split", "split", "a"), Member(b.bootstrap, "g-split", "split", "b")
    members += [a, c]
    wait_for(lambda: len(a.owned()) == 2 and len(c.owned()) == 2, what="a 2/2 split")
    assert a.owned().isdisjoint(c.owned())
    produce(b.bootstrap, "split", 10_000, 4)
    wait_for(lambda: len(a.records()) + len(c.records()) >= 10_000, timeout=60, what="10,000 records")
    time.sleep(0.5)
    assert_exactly_once([a, c], 10_000)
    assert_never_two_owners([a, c])
    assert not a.errors() and not c.errors()


def test_third_member_joins_and_partitions_move_incrementally(broker_factory, members):
    b = broker_factory(*FAST)
    create(b.bootstrap, "grow", 6)
    a, c = Member(b.bootstrap, "g-grow", "grow", "a"), Member(b.bootstrap, "g-grow", "grow", "b")
    members += [a, c]
    wait_for(lambda: len(a.owned()) == 3 and len(c.owned()) == 3, what="a 3/3 split")
    produce(b.bootstrap, "grow", 3000, 6)
    joined = time.monotonic()
    d = Member(b.bootstrap, "g-grow", "grow", "c")
    members.append(d)
    produce(b.bootstrap, "grow", 3000, 6, start=3000)
    wait_for(lambda: [len(x.owned()) for x in (a, c, d)] == [2, 2, 2], what="a 2/2/2 split")
    wait_for(lambda: sum(len(x.records()) for x in (a, c, d)) >= 6000, timeout=60, what="6,000 records")
    time.sleep(0.5)
    assert_never_two_owners([a, c, d])
    assert_exactly_once([a, c, d], 6000)
    # Incremental: a and b each gave up exactly one partition and kept the others.
    for x in (a, c):
        revoked = [tp for e in x.events if e["ev"] == "revoke" and e["t"] > joined for tp in e["tps"]]
        assert len(revoked) == 1


def test_killed_member_is_evicted_after_the_session_timeout(broker_factory, members):
    b = broker_factory(*FAST)
    create(b.bootstrap, "kill", 4)
    a, c = Member(b.bootstrap, "g-kill", "kill", "a"), Member(b.bootstrap, "g-kill", "kill", "b")
    members += [a, c]
    wait_for(lambda: len(a.owned()) == 2 and len(c.owned()) == 2, what="a 2/2 split")
    c.kill()
    killed = time.monotonic()
    wait_for(lambda: len(a.owned()) == 4, timeout=15, what="a taking over")
    took = time.monotonic() - killed
    assert 2.5 <= took <= 3.0 + 2.0, took  # session timeout 3 s, then one heartbeat
    assert_never_two_owners([a])


def test_leaving_member_hands_over_within_a_heartbeat_interval(broker_factory, members):
    b = broker_factory("--group-consumer-heartbeat-interval-ms", "1000")
    create(b.bootstrap, "leave", 4)
    a, c = Member(b.bootstrap, "g-leave", "leave", "a"), Member(b.bootstrap, "g-leave", "leave", "b")
    members += [a, c]
    wait_for(lambda: len(a.owned()) == 2 and len(c.owned()) == 2, what="a 2/2 split")
    c.close()
    closed = next(e["t"] for e in c.events if e["ev"] == "closed")
    wait_for(lambda: len(a.owned()) == 4, timeout=10, what="a taking over")
    got = max(e["t"] for e in a.events if e["ev"] == "assign")
    assert got - closed <= 1.0 + 0.3, got - closed
    assert_never_two_owners([a, c])


def test_commit_and_resume_without_duplicates_or_gaps(broker_factory, members):
    b = broker_factory(*FAST)
    create(b.bootstrap, "resume", 3)
    produce(b.bootstrap, "resume", 900, 3)
    a = Member(b.bootstrap, "g-resume", "resume", "a")
    members.append(a)
    wait_for(lambda: len(a.records()) >= 900, what="the first 900")
    a.close()
    produce(b.bootstrap, "resume", 600, 3, start=900)
    c = Member(b.bootstrap, "g-resume", "resume", "b")
    members.append(c)
    wait_for(lambda: len(c.records()) >= 600, what="the next 600")
    time.sleep(0.5)
    assert_exactly_once([a, c], 1500)


def test_regex_subscription_picks_up_a_topic_created_later(broker_factory, members):
    b = broker_factory(*FAST)
    create(b.bootstrap, "rx-one", 2)
    a = Member(b.bootstrap, "g-rx", "^rx-.*", "a")
    members.append(a)
    wait_for(lambda: len(a.owned()) == 2, what="rx-one")
    create(b.bootstrap, "rx-two", 3)
    wait_for(lambda: {t for t, _ in a.owned()} == {"rx-one", "rx-two"} and len(a.owned()) == 5,
             timeout=20, what="rx-two picked up")


def test_admin_client_lists_describes_and_deletes_consumer_groups(broker_factory, members):
    b = broker_factory(*FAST)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    create(b.bootstrap, "adm", 2)
    produce(b.bootstrap, "adm", 10, 2)
    a = Member(b.bootstrap, "g-adm", "adm", "a")
    members.append(a)
    wait_for(lambda: len(a.records()) >= 10, what="10 records")
    time.sleep(0.3)
    listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result()
    assert [(g.group_id, g.type) for g in listed.valid] == [("g-adm", ConsumerGroupType.CONSUMER)]
    assert admin.list_consumer_groups(types={ConsumerGroupType.CLASSIC}).result().valid == []
    d = admin.describe_consumer_groups(["g-adm"])["g-adm"].result()
    assert d.type == ConsumerGroupType.CONSUMER and len(d.members) == 1
    assert sorted(tp.partition for tp in d.members[0].assignment.topic_partitions) == [0, 1]
    offs = admin.list_consumer_group_offsets([_req("g-adm")])["g-adm"].result()
    assert sorted((tp.partition, tp.offset) for tp in offs.topic_partitions) == [(0, 5), (1, 5)]
    fut = admin.delete_consumer_groups(["g-adm"])["g-adm"]
    with pytest.raises(Exception) as exc:
        fut.result()
    assert exc.value.args[0].code() == KafkaError.NON_EMPTY_GROUP
    a.close()
    wait_for(lambda: admin.describe_consumer_groups(["g-adm"])["g-adm"].result().state
             == ConsumerGroupState.EMPTY, what="empty group")
    # OffsetDelete (confluent-kafka's Python API has none; kafka-python's admin sends it).
    from kafka.admin import KafkaAdminClient
    from kafka.structs import TopicPartition as KTP
    kadmin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        res = kadmin.delete_group_offsets("g-adm", [KTP("adm", 0)])
    finally:
        kadmin.close()
    assert list(res.values()) in ([None], [0]) or all(not getattr(v, "errno", 0) for v in res.values()), res
    offs = admin.list_consumer_group_offsets([_req("g-adm")])["g-adm"].result()
    assert sorted((tp.partition, tp.offset) for tp in offs.topic_partitions) == [(1, 5)]
    admin.delete_consumer_groups(["g-adm"])["g-adm"].result()
    assert admin.list_consumer_groups().result().valid == []


def _req(group: str, parts=None):
    from confluent_kafka import ConsumerGroupTopicPartitions
    return ConsumerGroupTopicPartitions(group, parts)


def test_group_survives_a_broker_restart(broker_factory, members, tmp_path):
    b = broker_factory(*FAST)
    create(b.bootstrap, "rst", 2)
    a = Member(b.bootstrap, "g-rst", "rst", "a")
    members.append(a)
    wait_for(lambda: len(a.owned()) == 2, what="assignment")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    before = admin.describe_consumer_groups(["g-rst"])["g-rst"].result()
    b.stop()
    b.start()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    after = admin.describe_consumer_groups(["g-rst"])["g-rst"].result()
    assert after.members[0].member_id == before.members[0].member_id
    produce(b.bootstrap, "rst", 10, 2)
    wait_for(lambda: len(a.records()) >= 10, what="consuming after the restart")
    assert not [e for e in a.events if e["ev"] == "revoke"]




def test_cli_groups_seek_refused_while_a_consumer_protocol_member_is_active(broker_factory, members):
    b = broker_factory(*FAST)
    create(b.bootstrap, "seekc", 1)
    a = Member(b.bootstrap, "g-seekc", "seekc", "a")
    members.append(a)
    wait_for(lambda: len(a.owned()) == 1, what="assignment")
    out = subprocess.run([sys.executable, "-m", "chronik", "-b", b.bootstrap, "groups", "seek", "g-seekc",
                          "--to", "start"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "active member" in out.stderr
