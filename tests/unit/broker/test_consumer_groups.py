"""The consumer group protocol coordinator (KIP-848), driven directly with a fake clock.

`Client` plays a consumer: it owns what the coordinator last assigned it,
gives up revoked partitions at its next heartbeat, and every step checks
that no partition is owned by two clients (nor by two members server-side).
"""

from __future__ import annotations

import json

import pytest

from chronik.broker.consumer_group_state import GroupState, MemberState
from chronik.broker.consumer_groups import ConsumerGroupCoordinator, HeartbeatIn
from chronik.broker.groups import GroupCoordinator
from chronik.metadata.offsets import OffsetStore
from chronik.wire.errors import ErrorCode as E
from tests.unit.broker.test_groups import FakeScheduler


class World:
    def __init__(self, tmp_path, topics=None, **kw) -> None:
        self.sched = FakeScheduler()
        self.topics: dict[str, int] = dict(topics or {"t": 4})
        self.tmp_path = tmp_path
        self.store = OffsetStore(tmp_path)
        self.classic = GroupCoordinator(self.store, self.sched, wall_ms=lambda: self.sched.wall)
        self.kw = kw
        self.coord = self._coord()
        self.clients: list[Client] = []

    def _coord(self) -> ConsumerGroupCoordinator:
        c = ConsumerGroupCoordinator(self.store, self.sched, lambda: dict(self.topics), classic=self.classic,
                                     wall_ms=lambda: self.sched.wall, **self.kw)
        self.classic.other = c
        return c

    def restart(self) -> None:
        self.sched._heap.clear()  # the old coordinator's timers die with it
        self.store.close()
        self.store = OffsetStore(self.tmp_path)
        self.classic = GroupCoordinator(self.store, self.sched, wall_ms=lambda: self.sched.wall)
        self.coord = self._coord()

    def client(self, member_id: str, topics=("t",), **kw) -> Client:
        c = Client(self, member_id, list(topics), **kw)
        self.clients.append(c)
        return c

    def check_exclusive(self) -> None:
        seen: dict[tuple[str, int], str] = {}
        for c in self.clients:
            for tp in c.owned_set():
                assert tp not in seen, f"{tp} owned by {seen[tp]} and {c.member_id}"
                seen[tp] = c.member_id
        g = self.coord.group("g")
        if g is not None:
            server: dict[tuple[str, int], str] = {}
            for m in g.members.values():
                for t, ps in (*m.assigned.items(), *m.pending_revocation.items()):
                    for p in ps:
                        assert (t, p) not in server
                        server[(t, p)] = m.member_id


class Client:
    def __init__(self, world: World, member_id: str, topics: list[str], instance_id=None, regex=None,
                 assignor=None) -> None:
        self.w = world
        self.member_id = member_id
        self.topics = topics
        self.instance_id = instance_id
        self.regex = regex
        self.assignor = assignor
        self.epoch = 0
        self.owned: dict[str, set[int]] = {}
        self.last = None

    def owned_set(self) -> set[tuple[str, int]]:
        return {(t, p) for t, ps in self.owned.items() for p in ps}

    def beat(self, epoch=None, owned="mine", full=False):
        joining = self.epoch == 0 if epoch is None else epoch == 0
        out = self.w.coord.heartbeat(HeartbeatIn(
            group_id="g", member_id=self.member_id, member_epoch=self.epoch if epoch is None else epoch,
            instance_id=self.instance_id, rebalance_timeout_ms=60_000 if joining or full else -1,
            subscribed_topic_names=self.topics if joining or full else None,
            subscribed_topic_regex=self.regex if joining else None,
            server_assignor=self.assignor if joining else None,
            owned=({} if joining else {t: set(ps) for t, ps in self.owned.items()}) if owned == "mine" else owned,
        ))
        self.last = out
        if out.error == 0:
            self.epoch = out.member_epoch
            if out.assignment is not None:
                # A client revokes what is no longer assigned, then takes the new partitions.
                self.owned = {t: set(ps) for t, ps in out.assignment.items() if ps}
        self.w.check_exclusive()
        return out

    def count(self) -> int:
        return sum(len(ps) for ps in self.owned.values())


def settle(world: World, rounds: int = 6) -> None:
    for _ in range(rounds):
        for c in world.clients:
            c.beat()


def test_first_member_gets_every_partition_in_its_first_heartbeat(tmp_path):
    w = World(tmp_path)
    out = w.client("a").beat()
    assert out.error == 0 and out.member_id == "a" and out.member_epoch == 1
    assert out.assignment == {"t": {0, 1, 2, 3}}
    assert out.heartbeat_interval_ms == 5000
    g = w.coord.group("g")
    assert (g.group_epoch, g.assignment_epoch, g.state) == (1, 1, GroupState.STABLE)


def test_empty_member_id_gets_one_in_v0(tmp_path):
    w = World(tmp_path)
    out = w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="", member_epoch=0, rebalance_timeout_ms=1000,
                                        subscribed_topic_names=["t"], owned={}, api_version=0))
    assert out.error == 0 and out.member_id


def test_second_member_waits_for_revocation_then_gets_half(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a"), w.client("b")
    a.beat()
    out = b.beat()
    assert out.member_epoch == 2 and out.assignment == {}  # its partitions are still a's
    g = w.coord.group("g")
    assert g.members["b"].state is MemberState.UNRELEASED_PARTITIONS
    assert g.state is GroupState.RECONCILING
    out = a.beat(owned=None)  # a heartbeat that does not say what a owns: a must revoke first
    assert out.member_epoch == 1 and a.count() == 2
    assert g.members["a"].state is MemberState.UNREVOKED_PARTITIONS
    b.beat()
    assert b.count() == 0  # still owned by a until a acknowledges
    a.beat()  # acknowledges: owns only its 2
    assert a.epoch == 2 and g.members["a"].state is MemberState.STABLE
    b.beat()
    assert b.count() == 2 and b.epoch == 2
    assert g.state is GroupState.STABLE
    assert a.owned_set().isdisjoint(b.owned_set())


@pytest.mark.parametrize("assignor", ["uniform", "range"])
def test_third_member_moves_partitions_incrementally(tmp_path, assignor):
    w = World(tmp_path, topics={"t": 6})
    cs = [w.client(x, assignor=assignor) for x in "abc"]
    cs[0].beat()
    cs[1].beat()
    settle(w)
    cs[2].beat()
    settle(w)
    assert sorted(c.count() for c in cs) == [2, 2, 2]
    assert w.coord.group("g").state is GroupState.STABLE
    assert w.coord.group("g").assignor == assignor


def test_epoch_fencing(tmp_path):
    w = World(tmp_path)
    a = w.client("a")
    a.beat()
    assert a.beat(epoch=5).error == E.FENCED_MEMBER_EPOCH
    b = w.client("b")
    b.beat()
    settle(w)
    assert a.epoch == 2
    # The previous epoch with a subset of the assignment: the answer was lost, accepted.
    assert a.beat(epoch=1, owned={"t": set(list(a.owned["t"])[:1])}).error == 0
    assert a.beat(epoch=0 + 1, owned={"t": {0, 1, 2, 3}}).error == E.FENCED_MEMBER_EPOCH
    out = w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="zz", member_epoch=3))
    assert out.error == E.UNKNOWN_MEMBER_ID
    out = w.coord.heartbeat(HeartbeatIn(group_id="nope", member_id="zz", member_epoch=3))
    assert out.error == E.GROUP_ID_NOT_FOUND


def test_fenced_member_rejoins_with_epoch_zero(tmp_path):
    w = World(tmp_path)
    a = w.client("a")
    a.beat()
    a.owned = {}
    out = a.beat(epoch=0)
    assert out.error == 0 and out.assignment == {"t": {0, 1, 2, 3}}


def test_session_timeout_evicts_and_partitions_move(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a"), w.client("b")
    a.beat()
    b.beat()
    settle(w)
    w.clients.remove(b)  # b dies (SIGKILL): silent from now on
    for _ in range(10):  # a keeps heartbeating
        w.sched.advance(5)
        a.beat()
    g = w.coord.group("g")
    assert "b" not in g.members
    a.beat()
    assert a.count() == 4


def test_rebalance_timeout_fences_a_member_that_does_not_revoke(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a"), w.client("b")
    a.beat()
    b.beat()
    a.beat(owned=None)  # told to revoke 2
    g = w.coord.group("g")
    assert g.members["a"].state is MemberState.UNREVOKED_PARTITIONS
    w.clients.remove(a)  # a is stuck (a poll loop that never returns)
    for _ in range(13):  # heartbeats without acknowledging, for longer than the 60 s rebalance timeout
        w.sched.advance(5)
        w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="a", member_epoch=a.epoch))
        b.beat()
    assert "a" not in g.members
    assert b.count() == 4


def test_leave_hands_over_at_the_next_heartbeat(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a"), w.client("b")
    a.beat()
    b.beat()
    settle(w)
    out = a.beat(epoch=-1)
    assert out.error == 0 and out.member_epoch == -1
    a.owned = {}
    b.beat()
    assert b.count() == 4


def test_static_member_comes_back_with_its_assignment(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a", instance_id="ia"), w.client("b")
    a.beat()
    b.beat()
    settle(w)
    mine = a.owned_set()
    epoch = a.epoch
    assert a.beat(epoch=-2).member_epoch == -2
    # Another process with the same instance id while the first is alive: refused.
    imp = w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="x", member_epoch=0, instance_id="ib",
                                        rebalance_timeout_ms=1000, subscribed_topic_names=["t"], owned={}))
    assert imp.error == 0  # a different instance id is just a new member
    w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="x", member_epoch=-1))
    a2 = Client(w, "a2", ["t"], instance_id="ia")
    w.clients.remove(a)
    w.clients.append(a2)
    out = a2.beat()
    assert out.error == 0 and out.member_epoch >= epoch
    settle(w)
    assert a2.owned_set() == mine or a2.count() == 2
    dup = w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="a3", member_epoch=0, instance_id="ia",
                                        rebalance_timeout_ms=1000, subscribed_topic_names=["t"], owned={}))
    assert dup.error == E.UNRELEASED_INSTANCE_ID
    fenced = w.coord.heartbeat(HeartbeatIn(group_id="g", member_id="a", member_epoch=a2.epoch, instance_id="ia"))
    assert fenced.error == E.FENCED_INSTANCE_ID


def test_regex_subscription_picks_up_a_new_topic(tmp_path):
    w = World(tmp_path, topics={"orders-1": 2, "other": 2})
    a = w.client("a", topics=(), regex="orders-.*")
    out = a.beat()
    assert out.assignment == {"orders-1": {0, 1}}
    w.topics["orders-2"] = 3
    out = a.beat()
    assert out.assignment == {"orders-1": {0, 1}, "orders-2": {0, 1, 2}}
    del w.topics["orders-1"]
    w.coord.on_topic_deleted("orders-1")
    a.beat()
    assert a.owned == {"orders-2": {0, 1, 2}}


def test_a_pathological_regex_does_not_stall(tmp_path):
    import time

    w = World(tmp_path, topics={"a" * 200 + "b": 1, "aaa": 1})
    t0 = time.perf_counter()
    out = w.client("x", topics=(), regex="(a+)+$").beat()
    assert time.perf_counter() - t0 < 0.5
    assert out.assignment == {"aaa": {0}}


def test_invalid_requests(tmp_path):
    w = World(tmp_path)
    hb = w.coord.heartbeat
    assert hb(HeartbeatIn(group_id="", member_id="a", member_epoch=0)).error == E.INVALID_REQUEST
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=0, subscribed_topic_names=["t"],
                          owned={})).error == E.INVALID_REQUEST  # no rebalance timeout
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=0, rebalance_timeout_ms=1,
                          subscribed_topic_names=["t"], server_assignor="sticky",
                          owned={})).error == E.UNSUPPORTED_ASSIGNOR
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=0, rebalance_timeout_ms=1,
                          subscribed_topic_regex="(", owned={})).error == E.INVALID_REGULAR_EXPRESSION
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=-3)).error == E.INVALID_REQUEST
    # RE2 (as Kafka's RE2J): no lookarounds, and no catastrophic backtracking on the loop.
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=0, rebalance_timeout_ms=1,
                          subscribed_topic_regex="(?=a)b", owned={})).error == E.INVALID_REGULAR_EXPRESSION
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=0, rebalance_timeout_ms=1,
                          subscribed_topic_names=["t"])).error == E.INVALID_REQUEST  # owned partitions null
    assert hb(HeartbeatIn(group_id="g", member_id="a", member_epoch=0, rebalance_timeout_ms=1,
                          owned={})).error == E.INVALID_REQUEST  # no subscription at all
    assert hb(HeartbeatIn(group_id="g", member_id="", member_epoch=0, rebalance_timeout_ms=1,
                          subscribed_topic_names=["t"], owned={})).error == E.INVALID_REQUEST  # v1: id required
    v0 = hb(HeartbeatIn(group_id="g", member_id="", member_epoch=0, rebalance_timeout_ms=1,
                        subscribed_topic_names=[], owned={}, api_version=0))
    assert v0.error == 0 and v0.member_id and v0.assignment == {}  # v0: the coordinator names it


def test_offset_commit_and_fetch_fencing(tmp_path):
    w = World(tmp_path)
    a = w.client("a")
    a.beat()
    assert w.classic.check_commit("g", "a", a.epoch, None) == E.NONE
    assert w.classic.check_commit("g", "a", a.epoch + 1, None) == E.STALE_MEMBER_EPOCH
    assert w.classic.check_commit("g", "nobody", 1, None) == E.UNKNOWN_MEMBER_ID
    assert w.classic.check_commit("g", "", -1, None) == E.UNKNOWN_MEMBER_ID  # live members: no simple commits
    assert w.classic.check_commit("g", "a", a.epoch, None, api_version=8) == E.UNSUPPORTED_VERSION
    assert w.classic.validate_member("g", "a", a.epoch) == E.NONE
    assert w.classic.check_fetch("g", "a", a.epoch) == E.NONE
    assert w.classic.check_fetch("g", "a", 0) == E.STALE_MEMBER_EPOCH
    assert w.classic.check_fetch("g", None, -1) == E.NONE
    a.beat(epoch=-1)
    assert w.classic.check_commit("g", "", -1, None) == E.NONE


def test_state_survives_a_restart(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a"), w.client("b")
    a.beat()
    b.beat()
    settle(w)
    g = w.coord.group("g")
    before = json.dumps(g.to_json(), sort_keys=True)
    w.restart()
    g2 = w.coord.group("g")
    assert json.dumps(g2.to_json(), sort_keys=True) == before
    assert a.beat().error == 0 and a.count() == 2  # carries on with its epoch
    # A member that does not come back is fenced after the session timeout.
    w.clients.remove(b)
    for _ in range(10):
        w.sched.advance(5)
        a.beat()
    assert "b" not in w.coord.group("g").members


def test_group_types_conversion(tmp_path):
    w = World(tmp_path)
    results = []
    w.classic.join("c", "", None, "cl", "/h", 10_000, 10_000, "consumer", [("range", b"")], False, results.append)
    assert results[-1].error == 0
    out = w.coord.heartbeat(HeartbeatIn(group_id="c", member_id="a", member_epoch=0, rebalance_timeout_ms=1,
                                        subscribed_topic_names=["t"], owned={}))
    assert out.error == E.GROUP_ID_NOT_FOUND and "not a consumer group" in out.message
    # A live consumer group refuses classic members; an empty one is converted.
    a = w.client("a")
    a.beat()
    w.classic.join("g", "", None, "cl", "/h", 10_000, 10_000, "consumer", [("range", b"")], False, results.append)
    assert results[-1].error == E.GROUP_ID_NOT_FOUND
    a.beat(epoch=-1)
    w.classic.join("g", "", None, "cl", "/h", 10_000, 10_000, "consumer", [("range", b"")], False, results.append)
    assert results[-1].error == 0 and not w.coord.owns("g")


def test_delete_and_list(tmp_path):
    w = World(tmp_path)
    a = w.client("a")
    a.beat()
    assert w.classic.delete_group("g") == E.NON_EMPTY_GROUP
    assert [g.group_id for g in w.coord.list_groups()] == ["g"]
    assert [g.group_id for g in w.classic.list_groups()] == []
    a.beat(epoch=-1)
    assert w.coord.group("g").state is GroupState.EMPTY
    assert w.classic.delete_group("g") == E.NONE
    assert w.coord.group("g") is None
    w.restart()
    assert w.coord.group("g") is None


def test_group_max_size(tmp_path):
    w = World(tmp_path, max_size=2)
    a, b, c = w.client("a"), w.client("b"), w.client("c")
    assert a.beat().error == 0 and b.beat().error == 0
    assert c.beat().error == E.GROUP_MAX_SIZE_REACHED
    assert a.beat().error == 0  # members already in are not refused


def test_static_member_that_does_not_come_back_is_fenced_by_its_session_timeout(tmp_path):
    w = World(tmp_path)
    a, b = w.client("a", instance_id="ia"), w.client("b")
    a.beat()
    b.beat()
    settle(w)
    a.beat(epoch=-2)
    w.clients.remove(a)
    b.beat()
    assert b.count() == 2  # a's partitions stay a's while it may come back
    for _ in range(10):
        w.sched.advance(5)
        b.beat()
    assert "a" not in w.coord.group("g").members and b.count() == 4


def test_a_subscribed_topic_created_later_is_assigned(tmp_path):
    w = World(tmp_path, topics={})
    a = w.client("a", topics=("later",))
    assert a.beat().assignment == {}
    w.topics["later"] = 2
    a.beat()
    assert a.owned == {"later": {0, 1}}
    w.topics["later"] = 3  # partitions added
    a.beat()
    assert a.owned == {"later": {0, 1, 2}}


def test_the_most_wanted_assignor_wins(tmp_path):
    w = World(tmp_path)
    w.client("a", assignor="range").beat()
    w.client("b", assignor="range").beat()
    w.client("c").beat()
    assert w.coord.group("g").assignor == "range"
