"""Consumer groups and committed offsets against a real broker, with real clients."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.raw import RawConn

pytestmark = pytest.mark.integration


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)


def produce(bootstrap: str, topic: str, n: int, partitions: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, value=str(i).encode(), partition=i % partitions)
    assert p.flush(30) == 0


def consumer(bootstrap: str, group: str, **conf) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "heartbeat.interval.ms": 500,
        **conf,
    })


def poll_until(consumers: list[Consumer], cond: Callable[[], bool], timeout: float = 30.0,
               sink: dict | None = None) -> None:
    """Poll every consumer in turn until `cond()`; messages go to sink[consumer index]."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        for i, c in enumerate(consumers):
            for m in c.consume(500, timeout=0.05):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError(m.error())
                if sink is not None:
                    sink.setdefault(i, []).append((m.partition(), m.offset(), m.value()))


def partitions_of(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def new_group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def test_two_consumers_share_partitions_exactly_once_then_hand_over(broker_factory):
    b = broker_factory("--partitions", "4")
    topic, group = "split", new_group()
    create_topic(b.bootstrap, topic, 4)
    c1, c2 = consumer(b.bootstrap, group), consumer(b.bootstrap, group)
    c1.subscribe([topic])
    c2.subscribe([topic])
    got: dict[int, list] = {}
    poll_until([c1, c2], lambda: len(partitions_of(c1)) == 2 and len(partitions_of(c2)) == 2, sink=got)
    assert partitions_of(c1).isdisjoint(partitions_of(c2))
    assert partitions_of(c1) | partitions_of(c2) == {0, 1, 2, 3}

    produce(b.bootstrap, topic, 10_000, 4)
    poll_until([c1, c2], lambda: sum(len(v) for v in got.values()) >= 10_000, sink=got)
    values = [v for msgs in got.values() for _, _, v in msgs]
    assert sorted(int(v) for v in values) == list(range(10_000))
    assert len(got) == 2  # both consumers did work
    c1.commit(asynchronous=False)
    c2.commit(asynchronous=False)

    c2.close()  # LeaveGroup: c1 takes everything over
    poll_until([c1], lambda: partitions_of(c1) == {0, 1, 2, 3})
    produce(b.bootstrap, topic, 8, 4)
    late: dict[int, list] = {}
    poll_until([c1], lambda: len(late.get(0, [])) >= 8, sink=late)
    assert sorted(int(v) for _, _, v in late[0]) == list(range(8))  # no replay of committed data
    c1.close()


_KILLED_CONSUMER = textwrap.dedent("""
    import sys, time
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "auto.offset.reset": "earliest"})
    c.subscribe([sys.argv[3]])
    while True:
        c.poll(0.1)
        if c.assignment():
            print("assigned", flush=True)
            break
    while True:
        c.poll(0.1)
""")


def test_killed_consumer_is_evicted_after_its_session_timeout(broker_factory):
    b = broker_factory("--partitions", "4")
    topic, group = "evict", new_group()
    create_topic(b.bootstrap, topic, 4)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_CONSUMER, b.bootstrap, group, topic],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "assigned"
        c = consumer(b.bootstrap, group)
        c.subscribe([topic])
        poll_until([c], lambda: len(partitions_of(c)) == 2)
        proc.kill()  # no LeaveGroup
        proc.wait(10)
        killed_at = time.monotonic()
        poll_until([c], lambda: partitions_of(c) == {0, 1, 2, 3}, timeout=30)
        # Not before the 6 s session timeout, and not much later.
        assert 4.0 < time.monotonic() - killed_at < 20.0
        c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_commit_close_and_resume_without_duplicates_or_gaps(broker_factory):
    b = broker_factory("--partitions", "3")
    topic, group = "resume", new_group()
    produce(b.bootstrap, topic, 3000, 3)
    first: dict[int, list] = {}
    c = consumer(b.bootstrap, group)
    c.subscribe([topic])
    poll_until([c], lambda: len(first.get(0, [])) >= 1000, sink=first)
    c.commit(asynchronous=False)
    c.close()
    second: dict[int, list] = {}
    c = consumer(b.bootstrap, group)
    c.subscribe([topic])
    poll_until([c], lambda: len(first[0]) + len(second.get(0, [])) >= 3000, sink=second)
    c.close()
    seen = [v for _, _, v in first[0]] + [v for _, _, v in second[0]]
    assert len(seen) == 3000 and {int(v) for v in seen} == set(range(3000))


def test_cooperative_sticky_assignment(broker_factory):
    b = broker_factory("--partitions", "4")
    topic, group = "coop", new_group()
    create_topic(b.bootstrap, topic, 4)
    conf = {"partition.assignment.strategy": "cooperative-sticky"}
    revoked: list = []
    c1 = consumer(b.bootstrap, group, **conf)
    c1.subscribe([topic], on_revoke=lambda _c, parts: revoked.extend(p.partition for p in parts))
    poll_until([c1], lambda: partitions_of(c1) == {0, 1, 2, 3})
    c2 = consumer(b.bootstrap, group, **conf)
    c2.subscribe([topic])
    poll_until([c1, c2], lambda: len(partitions_of(c1)) == 2 and len(partitions_of(c2)) == 2)
    assert partitions_of(c1) | partitions_of(c2) == {0, 1, 2, 3}
    # Incremental: c1 only gave up the two partitions that moved.
    assert sorted(revoked) == sorted(partitions_of(c2))
    c2.close()
    poll_until([c1], lambda: partitions_of(c1) == {0, 1, 2, 3})
    c1.close()


def test_static_member_restart_does_not_rebalance(broker_factory):
    b = broker_factory("--partitions", "4")
    topic, group = "static", new_group()
    create_topic(b.bootstrap, topic, 4)

    def static(name: str) -> Consumer:
        return consumer(b.bootstrap, group, **{"group.instance.id": name, "session.timeout.ms": 10000})

    events: list = []
    c1 = static("one")
    c1.subscribe([topic], on_assign=lambda _c, p: events.append("assign"),
                 on_revoke=lambda _c, p: events.append("revoke"))
    c2 = static("two")
    c2.subscribe([topic])
    poll_until([c1, c2], lambda: len(partitions_of(c1)) == 2 and len(partitions_of(c2)) == 2)
    before = partitions_of(c2)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    gen_before = _describe(admin, group)
    events.clear()
    c2.close()  # a static member does not send LeaveGroup on close
    c2 = static("two")
    c2.subscribe([topic])
    poll_until([c1, c2], lambda: partitions_of(c2) == before)
    t_end = time.monotonic() + 2
    while time.monotonic() < t_end:
        c1.poll(0.1)
        c2.poll(0.1)
    assert events == []  # c1 never saw a rebalance
    assert partitions_of(c1) | before == {0, 1, 2, 3}
    after = _describe(admin, group)
    assert after.state.name == "STABLE" and len(after.members) == 2
    assert {m.group_instance_id for m in after.members} == {"one", "two"}
    assert {m.member_id for m in after.members} != {m.member_id for m in gen_before.members}
    c1.close()
    c2.close()


def _describe(admin: AdminClient, group: str):
    return admin.describe_consumer_groups([group])[group].result(10)


def test_kafka_python_auto_commit_restart_resumes(broker_factory):
    from kafka import KafkaConsumer

    b = broker_factory("--partitions", "2")
    topic, group = "kp-auto", new_group()
    produce(b.bootstrap, topic, 400, 2)

    def run(limit: int) -> list[bytes]:
        c = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, group_id=group, auto_offset_reset="earliest",
                          enable_auto_commit=True, auto_commit_interval_ms=100, max_poll_records=50)
        out: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(out) < limit and time.monotonic() < deadline:
            for msgs in c.poll(200, max_records=min(50, limit - len(out))).values():
                out.extend(m.value for m in msgs)
        c.close()  # commits what was consumed
        return out

    first = run(150)
    second = run(400 - len(first))
    assert len(first) == 150
    assert sorted(int(v) for v in first + second) == list(range(400))


def test_admin_client_groups_and_offsets(broker_factory):
    b = broker_factory("--partitions", "2")
    topic, group = "adm", new_group()
    produce(b.bootstrap, topic, 10, 2)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    c = consumer(b.bootstrap, group)
    c.subscribe([topic])
    poll_until([c], lambda: partitions_of(c) == {0, 1})
    c.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 4)], asynchronous=False)

    listed = admin.list_consumer_groups().result(10)
    assert group in {g.group_id for g in listed.valid}
    desc = _describe(admin, group)
    assert desc.state.name == "STABLE" and desc.partition_assignor == "range"
    assert len(desc.members) == 1
    assert {tp.partition for tp in desc.members[0].assignment.topic_partitions} == {0, 1}
    from confluent_kafka import ConsumerGroupTopicPartitions

    def offsets() -> dict[int, int]:
        req = [ConsumerGroupTopicPartitions(group)]
        res = admin.list_consumer_group_offsets(req)[group].result(10)
        return {tp.partition: tp.offset for tp in res.topic_partitions}

    assert offsets() == {0: 3, 1: 4}
    # Deleting a live group is refused.
    with pytest.raises(Exception, match="NON_EMPTY_GROUP|not empty|NonEmpty"):
        admin.delete_consumer_groups([group])[group].result(10)
    c.close()
    desc = _describe(admin, group)
    assert desc.state.name == "EMPTY" and desc.members == []
    alter = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 7)])
    admin.alter_consumer_group_offsets([alter])[group].result(10)
    assert offsets() == {0: 7, 1: 4}
    admin.delete_consumer_groups([group])[group].result(10)
    assert group not in {g.group_id for g in admin.list_consumer_groups().result(10).valid}
    assert offsets() in ({}, {0: -1, 1: -1})


def test_offsets_survive_restart_and_sigkill(broker_factory):
    b = broker_factory("--partitions", "2")
    topic, group = "durable", new_group()
    produce(b.bootstrap, topic, 10, 2)

    def commit(offs: dict[int, int]) -> None:
        c = consumer(b.bootstrap, group)  # assign(): simple commits with generation -1
        c.commit(offsets=[TopicPartition(topic, p, o, metadata=f"m{o}") for p, o in offs.items()],
                 asynchronous=False)
        c.close()

    def committed() -> dict[int, tuple[int, str]]:
        c = consumer(b.bootstrap, group)
        res = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        c.close()
        return {tp.partition: (tp.offset, tp.metadata) for tp in res}

    commit({0: 3, 1: 5})
    b.restart()
    assert committed() == {0: (3, "m3"), 1: (5, "m5")}
    for o in (10, 20, 50):
        commit({0: o})
    commit({1: 9})
    b.kill()  # SIGKILL: no shutdown, no fsync
    b.start()
    assert committed() == {0: (50, "m50"), 1: (9, "m9")}


def test_every_version_of_the_group_apis(broker):
    import struct

    from kafka.protocol.admin.groups import (
        DeleteGroupsRequest,
        DeleteGroupsResponse,
        DescribeGroupsRequest,
        DescribeGroupsResponse,
        ListGroupsRequest,
        ListGroupsResponse,
    )
    from kafka.protocol.consumer.group import (
        HeartbeatRequest,
        HeartbeatResponse,
        JoinGroupRequest,
        JoinGroupResponse,
        LeaveGroupRequest,
        LeaveGroupResponse,
        OffsetCommitRequest,
        OffsetCommitResponse,
        OffsetDeleteRequest,
        OffsetDeleteResponse,
        OffsetFetchRequest,
        OffsetFetchResponse,
        SyncGroupRequest,
        SyncGroupResponse,
    )
    from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

    conn = RawConn(broker.port)

    def call(req, resp_cls, v):
        return conn.call(req, resp_cls, v)

    produce(broker.bootstrap, "rv", 1, 1)
    md = call(MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name="rv", topic_id=None)],
                              allow_auto_topic_creation=False), MetadataResponse, 12)
    topic_id = md.topics[0].topic_id
    sub = struct.pack(">hih2si", 0, 1, 2, b"rv", -1)
    OC, OF = OffsetCommitRequest, OffsetFetchRequest
    for v in range(10):
        group = f"rv-{v}"
        join_req = JoinGroupRequest(group_id=group, session_timeout_ms=10_000, rebalance_timeout_ms=10_000,
                                    member_id="", group_instance_id=None, protocol_type="consumer",
                                    protocols=[JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=sub)],
                                    reason=None)
        res = call(join_req, JoinGroupResponse, v)
        if v >= 4:
            assert res.error_code == 79  # MEMBER_ID_REQUIRED
            join_req.member_id = res.member_id
            res = call(join_req, JoinGroupResponse, v)
        assert res.error_code == 0 and res.generation_id == 1 and res.leader == res.member_id, (v, res)
        assert res.protocol_name == "range" and res.members[0].metadata == sub
        me, gen = res.member_id, res.generation_id
        sv = min(v, 5)
        sres = call(SyncGroupRequest(group_id=group, generation_id=gen, member_id=me, group_instance_id=None,
                                     protocol_type="consumer", protocol_name="range",
                                     assignments=[SyncGroupRequest.SyncGroupRequestAssignment(
                                         member_id=me, assignment=b"assigned")]), SyncGroupResponse, sv)
        assert sres.error_code == 0 and sres.assignment == b"assigned"
        hres = call(HeartbeatRequest(group_id=group, generation_id=gen, member_id=me, group_instance_id=None),
                    HeartbeatResponse, min(v, 4))
        assert hres.error_code == 0
        cv = min(max(v + 1, 2), 10)
        for commit_v in {cv, 10 if v == 9 else cv}:
            topic = OC.OffsetCommitRequestTopic(name="rv", topic_id=topic_id, partitions=[
                OC.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
                    partition_index=0, committed_offset=100 + commit_v, committed_leader_epoch=-1,
                    commit_timestamp=-1, committed_metadata=f"v{commit_v}")])
            cres = call(OC(group_id=group, generation_id_or_member_epoch=gen, member_id=me,
                           group_instance_id=None, retention_time_ms=-1, topics=[topic]),
                        OffsetCommitResponse, commit_v)
            assert cres.topics[0].partitions[0].error_code == 0, (commit_v, cres)
        for fetch_v in range(1, 11):
            if fetch_v < 8:
                fres = call(OF(group_id=group, topics=[OF.OffsetFetchRequestTopic(name="rv", partition_indexes=[0])],
                               require_stable=False), OffsetFetchResponse, fetch_v)
                part = fres.topics[0].partitions[0]
            else:
                grp = OF.OffsetFetchRequestGroup(group_id=group, member_id=None, member_epoch=-1, topics=[
                    OF.OffsetFetchRequestGroup.OffsetFetchRequestTopics(name="rv", topic_id=topic_id,
                                                                        partition_indexes=[0])])
                fres = call(OF(groups=[grp], require_stable=False), OffsetFetchResponse, fetch_v)
                part = fres.groups[0].topics[0].partitions[0]
            assert (part.error_code, part.committed_offset) == (0, 100 + max(cv, 10 if v == 9 else cv))
        lv = min(v, 5)
        if lv < 3:
            lres = call(LeaveGroupRequest(group_id=group, member_id=me), LeaveGroupResponse, lv)
            assert lres.error_code == 0
        else:
            lres = call(LeaveGroupRequest(group_id=group, members=[LeaveGroupRequest.MemberIdentity(
                member_id=me, group_instance_id=None, reason=None)]), LeaveGroupResponse, lv)
            assert lres.error_code == 0 and lres.members[0].error_code == 0
    for v in range(6):
        lres = call(ListGroupsRequest(states_filter=["Empty"], types_filter=["classic"]), ListGroupsResponse, v)
        assert {g.group_id for g in lres.groups} >= {f"rv-{i}" for i in range(10)}
    for v in range(7):
        dres = call(DescribeGroupsRequest(groups=["rv-0", "missing"], include_authorized_operations=False),
                    DescribeGroupsResponse, v)
        assert dres.groups[0].group_state == "Empty" and dres.groups[0].protocol_type == "consumer"
        assert dres.groups[1].group_state == "Dead"
    odres = call(OffsetDeleteRequest(group_id="rv-0", topics=[OffsetDeleteRequest.OffsetDeleteRequestTopic(
        name="rv", partitions=[OffsetDeleteRequest.OffsetDeleteRequestTopic.OffsetDeleteRequestPartition(
            partition_index=0)])]), OffsetDeleteResponse, 0)
    assert odres.error_code == 0 and odres.topics[0].partitions[0].error_code == 0
    for v in range(3):
        gres = call(DeleteGroupsRequest(groups_names=[f"rv-{v + 1}", "missing"]), DeleteGroupsResponse, v)
        assert [r.error_code for r in gres.results] == [0, 69]


def test_consumers_started_together_form_one_generation(broker_factory):
    """Two consumers 100 ms apart: one generation, no second rebalance (issue 21, 0102_static_group_rebalance)."""
    b = broker_factory("--partitions", "4")
    topic = "together"
    create_topic(b.bootstrap, topic, 4)
    group = new_group()
    assigned: list[list[tuple[float, set[int]]]] = [[], []]

    def on_assign(i):
        def cb(_c, parts):
            assigned[i].append((time.monotonic(), {p.partition for p in parts}))
        return cb

    started = time.monotonic()
    first = consumer(b.bootstrap, group)
    first.subscribe([topic], on_assign=on_assign(0))
    first.poll(0.1)
    second = consumer(b.bootstrap, group)
    second.subscribe([topic], on_assign=on_assign(1))
    try:
        poll_until([first, second], lambda: assigned[0] and assigned[1], timeout=15)
        poll_until([first, second], lambda: False if time.monotonic() - started < 3 else True, timeout=10)
    finally:
        first.close()
        second.close()
    assert len(assigned[0]) == len(assigned[1]) == 1, assigned  # one generation, no re-assignment
    assert assigned[0][0][1] | assigned[1][0][1] == {0, 1, 2, 3}
    assert not assigned[0][0][1] & assigned[1][0][1]

