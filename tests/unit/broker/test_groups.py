"""The classic group state machine, driven directly with a fake clock and timers."""

from __future__ import annotations

import heapq
import itertools
import struct

import pytest

from chronik.broker.group_state import GroupState, JoinResult
from chronik.broker.groups import GroupCoordinator
from chronik.metadata.offsets import OffsetStore
from chronik.wire.errors import ErrorCode as E

S = GroupState


class FakeTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    def __init__(self) -> None:
        self.now = 100.0
        self.wall = 1_800_000_000_000
        self._heap: list = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def call_later(self, delay, cb):
        t = FakeTimer()
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), t, cb))
        return t

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._heap and self._heap[0][0] <= end:
            when, _, t, cb = heapq.heappop(self._heap)
            self.now = max(self.now, when)
            if not t.cancelled:
                cb()
        self.now = end
        self.wall += int(seconds * 1000)


def subscription(*topics: str) -> bytes:
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


PROTOS = [("range", subscription("t")), ("roundrobin", subscription("t"))]


@pytest.fixture
def sched():
    return FakeScheduler()


@pytest.fixture
def coord(tmp_path, sched):
    return make_coord(tmp_path, sched)


def make_coord(tmp_path, sched, **kw) -> GroupCoordinator:
    store = OffsetStore(tmp_path, clock_ms=lambda: sched.wall)
    return GroupCoordinator(store, sched, wall_ms=lambda: sched.wall, **kw)


class Box:
    """Collects the (single) answer given to a callback."""

    def __init__(self) -> None:
        self.results: list = []

    def __call__(self, res) -> None:
        self.results.append(res)

    @property
    def value(self):
        assert len(self.results) == 1, self.results
        return self.results[0]

    @property
    def done(self) -> bool:
        return bool(self.results)


def join(coord, member_id="", group="g", instance=None, protocols=PROTOS, session=10_000, rebalance=30_000,
         v4=True) -> Box:
    box = Box()
    coord.join(group, member_id, instance, "client", "/127.0.0.1", session, rebalance, "consumer",
               protocols, v4, box)
    return box


def join_new(coord, group="g", **kw) -> Box:
    """The KIP-394 dance: first join hands out an id, second one joins with it."""
    first = join(coord, group=group, **kw)
    assert first.value.error == E.MEMBER_ID_REQUIRED
    return join(coord, member_id=first.value.member_id, group=group, **kw)


def sync(coord, res: JoinResult, assignments=None, group="g", instance=None) -> Box:
    box = Box()
    coord.sync(group, res.generation_id, res.member_id, instance, None, None, assignments or {}, box)
    return box


def stable_pair(coord):
    a = join_new(coord).value
    sync(coord, a, {a.member_id: b"A1"})
    b_box = join_new(coord)
    assert not b_box.done  # waits for the existing member to rejoin
    assert coord.heartbeat("g", a.generation_id, a.member_id, None) == E.REBALANCE_IN_PROGRESS
    a2 = join(coord, member_id=a.member_id).value
    b = b_box.value
    return a2, b


def test_lone_member_is_answered_at_once(coord):
    first = join(coord)
    assert first.value.error == E.MEMBER_ID_REQUIRED
    assert first.value.member_id.startswith("client-")
    res = join(coord, member_id=first.value.member_id).value  # no timer had to fire
    assert res.error == E.NONE and res.generation_id == 1
    assert res.leader == res.member_id and res.protocol_name == "range"
    assert [m[0] for m in res.members] == [res.member_id]
    assert coord.groups["g"].state is S.COMPLETING_REBALANCE
    s = sync(coord, res, {res.member_id: b"assign"}).value
    assert (s.error, s.assignment, s.protocol_name) == (E.NONE, b"assign", "range")
    assert coord.groups["g"].state is S.STABLE
    assert coord.heartbeat("g", 1, res.member_id, None) == E.NONE


def test_v3_join_without_member_id_required(coord):
    res = join(coord, v4=False).value
    assert res.error == E.NONE and res.generation_id == 1


def test_second_member_triggers_rebalance_and_follower_waits_for_leader(coord):
    a, b = stable_pair(coord)
    assert a.generation_id == b.generation_id == 2
    assert a.leader == b.leader == a.member_id  # the old leader stays leader
    assert len(a.members) == 2 and b.members == []
    follower = sync(coord, b)
    assert not follower.done
    leader = sync(coord, a, {a.member_id: b"A", b.member_id: b"B"})
    assert leader.value.assignment == b"A" and follower.value.assignment == b"B"
    assert coord.groups["g"].state is S.STABLE


def test_protocol_selection_and_inconsistent_protocol(coord):
    join_new(coord, protocols=[("range", b""), ("roundrobin", b"")])
    g = coord.groups["g"]
    assert g.protocol_name == "range"
    bad = join(coord, protocols=[("sticky", b"")])
    assert bad.value.error == E.INCONSISTENT_GROUP_PROTOCOL
    assert coord.groups["g"].select_protocol() == "range"
    # Two members prefer roundrobin, one range: the vote picks roundrobin.
    join_new(coord, protocols=[("roundrobin", b""), ("range", b"")])
    join_new(coord, protocols=[("roundrobin", b""), ("range", b"")])
    assert g.select_protocol() == "roundrobin"


def test_session_timeout_evicts_a_silent_member(coord, sched):
    a, b = stable_pair(coord)
    sync(coord, b)
    sync(coord, a, {})
    for _ in range(3):  # a keeps heartbeating, b is silent
        sched.advance(3)
        assert coord.heartbeat("g", a.generation_id, a.member_id, None) == E.NONE
    assert b.member_id in coord.groups["g"].members
    sched.advance(1.5)
    g = coord.groups["g"]
    assert b.member_id not in g.members and g.state is S.PREPARING_REBALANCE
    assert coord.heartbeat("g", a.generation_id, a.member_id, None) == E.REBALANCE_IN_PROGRESS
    res = join(coord, member_id=a.member_id).value
    assert res.generation_id == 3 and [m[0] for m in res.members] == [a.member_id]


def test_rebalance_timeout_drops_members_that_do_not_rejoin(coord, sched):
    a, b = stable_pair(coord)
    sync(coord, b)
    sync(coord, a, {})
    c = join_new(coord, rebalance=20_000)
    # a rejoins, b never does (but heartbeats, so its session is alive).
    a2 = join(coord, member_id=a.member_id, rebalance=20_000)
    for _ in range(9):
        sched.advance(3)
        coord.heartbeat("g", b.generation_id, b.member_id, None)
    assert not a2.done and not c.done
    sched.advance(5)  # the group's rebalance timeout (30 s, b's) passes
    assert a2.value.generation_id == 3 and c.value.generation_id == 3
    assert b.member_id not in coord.groups["g"].members


def test_heartbeat_and_sync_errors(coord):
    a = join_new(coord).value
    assert coord.heartbeat("nope", 1, a.member_id, None) == E.UNKNOWN_MEMBER_ID
    assert coord.heartbeat("g", 1, "ghost", None) == E.UNKNOWN_MEMBER_ID
    assert coord.heartbeat("g", 7, a.member_id, None) == E.ILLEGAL_GENERATION
    assert coord.heartbeat("g", 1, a.member_id, None) == E.NONE  # CompletingRebalance is fine
    bad_gen = Box()
    coord.sync("g", 5, a.member_id, None, None, None, {}, bad_gen)
    assert bad_gen.value.error == E.ILLEGAL_GENERATION
    bad_proto = Box()
    coord.sync("g", 1, a.member_id, None, "consumer", "roundrobin", {}, bad_proto)
    assert bad_proto.value.error == E.INCONSISTENT_GROUP_PROTOCOL
    unknown = join(coord, member_id="ghost")
    assert unknown.value.error == E.UNKNOWN_MEMBER_ID
    assert join(coord, session=1000).value.error == E.INVALID_SESSION_TIMEOUT
    assert join(coord, group="").value.error == E.INVALID_GROUP_ID


def test_pending_sync_is_told_to_rejoin_when_a_rebalance_starts(coord):
    a, b = stable_pair(coord)
    follower = sync(coord, b)
    join_new(coord)  # a third member arrives before the leader synced
    assert follower.value.error == E.REBALANCE_IN_PROGRESS


def test_leave_rebalances_and_last_leave_empties(coord):
    a, b = stable_pair(coord)
    sync(coord, b)
    sync(coord, a, {})
    assert coord.leave("g", [(b.member_id, None)]) == [E.NONE]
    assert coord.groups["g"].state is S.PREPARING_REBALANCE
    res = join(coord, member_id=a.member_id).value
    assert res.generation_id == 3
    assert coord.delete_group("g") == E.NON_EMPTY_GROUP
    assert coord.leave("g", [(a.member_id, None), ("ghost", None)]) == [E.NONE, E.UNKNOWN_MEMBER_ID]
    g = coord.groups["g"]
    assert g.state is S.EMPTY and g.generation_id == 4 and g.protocol_type == "consumer"
    assert coord.delete_group("g") == E.NONE
    assert "g" not in coord.groups
    assert coord.delete_group("g") == E.GROUP_ID_NOT_FOUND


def test_static_member_rejoins_without_rebalance(coord):
    a = join(coord, instance="i-a").value  # static members skip MEMBER_ID_REQUIRED
    assert a.error == E.NONE
    sync(coord, a, {a.member_id: b"A"}, instance="i-a")
    b = join(coord, instance="i-b")
    a = join(coord, member_id=a.member_id, instance="i-a").value
    b = b.value
    sync(coord, b, instance="i-b")
    sync(coord, a, {a.member_id: b"A", b.member_id: b"B"}, instance="i-a")
    g = coord.groups["g"]
    gen = g.generation_id
    # b restarts: it has lost its member id and joins with its instance id only.
    b2 = join(coord, instance="i-b").value
    assert b2.error == E.NONE and b2.generation_id == gen and b2.member_id != b.member_id
    assert g.state is S.STABLE and b2.members == []
    assert sync(coord, b2, instance="i-b").value.assignment == b"B"
    # The old incarnation is fenced.
    assert coord.heartbeat("g", gen, b.member_id, "i-b") == E.FENCED_INSTANCE_ID
    assert join(coord, member_id=b.member_id, instance="i-b").value.error == E.FENCED_INSTANCE_ID
    assert coord.check_commit("g", b.member_id, gen, "i-b") == E.FENCED_INSTANCE_ID
    assert coord.validate_member("g", b.member_id, gen, "i-b") == E.FENCED_INSTANCE_ID
    assert coord.validate_member("g", b2.member_id, gen, "i-b") == E.NONE
    # A static leader rejoining gets the roster and is told to skip the assignment.
    a2 = join(coord, instance="i-a").value
    assert a2.leader == a2.member_id and a2.skip_assignment and len(a2.members) == 2
    assert g.generation_id == gen
    # Leaving by instance id.
    assert coord.leave("g", [("", "i-b")]) == [E.NONE]
    assert g.state is S.PREPARING_REBALANCE


def test_commit_checks(coord, sched):
    assert coord.check_commit("simple", "", -1, None) == E.NONE  # assign() consumers
    assert coord.check_commit("fresh", "m", 3, None) == E.ILLEGAL_GENERATION
    a = join_new(coord).value
    assert coord.check_commit("g", a.member_id, 1, None) == E.REBALANCE_IN_PROGRESS
    sync(coord, a, {})
    assert coord.check_commit("g", a.member_id, 1, None) == E.NONE
    assert coord.check_commit("g", "ghost", 1, None) == E.UNKNOWN_MEMBER_ID
    assert coord.check_commit("g", "", -1, None) == E.UNKNOWN_MEMBER_ID
    assert coord.check_commit("g", a.member_id, 0, None) == E.ILLEGAL_GENERATION
    assert coord.check_commit("", "", -1, None) == E.INVALID_GROUP_ID


def test_describe_and_list(coord):
    a = join_new(coord).value
    d = coord.describe("g")
    assert d.state == "CompletingRebalance" and d.protocol_name == "" and d.members[0][2] == b""
    sync(coord, a, {a.member_id: b"X"})
    d = coord.describe("g")
    assert (d.state, d.protocol_type, d.protocol_name) == ("Stable", "consumer", "range")
    assert d.members[0][1] == PROTOS[0][1] and d.members[0][2] == b"X"
    assert coord.describe("nope") is None
    coord.offsets.commit("txn-only", {("t", 0): (1, None, -1)})
    assert {g.group_id: g.state.value for g in coord.list_groups()} == {"g": "Stable", "txn-only": "Empty"}


def test_offset_delete_refuses_subscribed_topics(coord):
    a = join_new(coord).value
    sync(coord, a, {})
    coord.offsets.commit("g", {("t", 0): (1, None, -1), ("u", 0): (2, None, -1)})
    code, codes = coord.delete_offsets("g", [("t", 0), ("u", 0)])
    assert code == E.NONE and codes == [E.GROUP_SUBSCRIBED_TO_TOPIC, E.NONE]
    assert coord.offsets.fetch("g", "u", 0) is None and coord.offsets.fetch("g", "t", 0) is not None
    assert coord.delete_offsets("nope", [("t", 0)])[0] == E.GROUP_ID_NOT_FOUND


def test_offsets_expire_once_the_group_stays_empty(tmp_path, sched):
    coord = make_coord(tmp_path, sched, offsets_retention_ms=60_000)
    a = join_new(coord, session=1_800_000).value
    sync(coord, a, {})
    coord.offsets.commit("g", {("t", 0): (1, None, -1)})
    coord.offsets.commit("simple", {("t", 0): (1, None, -1)})
    sched.advance(50)
    coord.offsets.commit("simple", {("t", 1): (1, None, -1)})
    sched.advance(50)  # a stable group never expires, whatever its age
    assert coord.expire_offsets() == 1  # simple group: only the old partition
    assert coord.offsets.fetch("g", "t", 0) is not None
    coord.leave("g", [(a.member_id, None)])
    sched.advance(59)
    coord.expire_offsets()
    assert coord.offsets.fetch("g", "t", 0) is not None
    sched.advance(2)
    coord.expire_offsets()
    assert coord.offsets.fetch("g", "t", 0) is None and "g" not in coord.groups
    sched.advance(60)
    coord.expire_offsets()
    assert "simple" not in coord.groups


def test_initial_rebalance_delay_extends_while_members_keep_joining(tmp_path, sched):
    """Kafka's InitialDelayedJoin: each member that joins during the delay buys another one."""
    coord = make_coord(tmp_path, sched, initial_rebalance_delay_ms=3000)
    a = join_new(coord)
    b = join_new(coord)
    assert not a.done and not b.done
    sched.advance(3)
    assert not a.done  # b joined during the first delay
    sched.advance(3)
    assert a.value.generation_id == b.value.generation_id == 1 and len(a.value.members) == 2


def test_a_lone_member_waits_one_delay_and_members_100ms_apart_share_a_generation(tmp_path, sched):
    coord = make_coord(tmp_path, sched, initial_rebalance_delay_ms=200)
    lone = join_new(coord, group="lone")
    sched.advance(0.199)
    assert not lone.done
    sched.advance(0.002)
    assert lone.value.generation_id == 1
    first = join_new(coord)
    sched.advance(0.1)
    second = join_new(coord)
    sched.advance(0.5)
    assert first.value.generation_id == second.value.generation_id == 1
    assert len(first.value.members or second.value.members) == 2


def test_pending_member_id_expires(coord, sched):
    first = join(coord)
    assert first.value.member_id in coord.groups["g"].pending
    sched.advance(11)
    assert not coord.groups["g"].pending
    assert join(coord, member_id=first.value.member_id).value.error == E.UNKNOWN_MEMBER_ID


def test_restart_keeps_groups_with_offsets(tmp_path, sched):
    coord = make_coord(tmp_path, sched)
    coord.offsets.commit("g", {("t", 0): (42, "m", 1)})
    coord.offsets.close()
    coord2 = make_coord(tmp_path, sched)
    assert coord2.describe("g").state == "Empty"
    assert coord2.offsets.fetch("g", "t", 0)[:3] == (42, "m", 1)
