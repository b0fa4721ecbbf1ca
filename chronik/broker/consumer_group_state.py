"""A consumer group of the KIP-848 protocol: its members, epochs and the reconciliation step.

The model is Kafka's (GroupMetadataManager, ConsumerGroup, CurrentAssignmentBuilder):

    group epoch       bumped when the membership, a subscription or the
                      subscribed topics' metadata change
    assignment epoch  the group epoch the target assignment was computed for
    target assignment what each member should own (the assignor's output)
    member epoch      the epoch of the target a member has reconciled to
    assigned          what a member owns now; `pending_revocation` what it
                      must give up (still owned until it says so)

A partition is owned by at most one member: `ConsumerGroup.owners` maps
each (topic, partition) to its owner and covers both what members own and
what they have yet to revoke; `reconcile()` only hands out partitions
nobody owns. Group states are derived, as in Kafka:

    Empty        no members
    Assigning    group epoch > assignment epoch (a new target is due)
    Reconciling  some member is not yet at the target epoch, or not Stable
    Stable       every member owns exactly its target at the target epoch

Member states (the reconciliation table, `reconcile`):

    STABLE ──new target──▶ UNREVOKED_PARTITIONS ──revocation acked──▶ (next step)
       ▲                     (keeps its epoch)                           │
       └──────────── all target partitions free ◀── UNRELEASED_PARTITIONS┘
                                                    (waits for others)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from chronik.broker.scheduler import LazyDeadline

TopicPartitions = dict[str, set[int]]


class MemberState(enum.Enum):
    STABLE = "stable"
    UNREVOKED_PARTITIONS = "unrevoked_partitions"
    UNRELEASED_PARTITIONS = "unreleased_partitions"


class GroupState(enum.Enum):
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"


LEAVE_EPOCH = -1
STATIC_LEAVE_EPOCH = -2


@dataclass(eq=False)
class ConsumerMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout_ms: int = 300_000
    subscribed_topic_names: list[str] = field(default_factory=list)
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: TopicPartitions = field(default_factory=dict)
    pending_revocation: TopicPartitions = field(default_factory=dict)
    # Loop-side bookkeeping (not persisted).
    session: LazyDeadline | None = None
    revoke: LazyDeadline | None = None  # armed while partitions wait to be revoked

    def to_json(self) -> dict:
        return {
            "member_id": self.member_id, "instance_id": self.instance_id, "rack_id": self.rack_id,
            "client_id": self.client_id, "client_host": self.client_host,
            "rebalance_timeout_ms": self.rebalance_timeout_ms,
            "subscribed_topic_names": self.subscribed_topic_names,
            "subscribed_topic_regex": self.subscribed_topic_regex, "server_assignor": self.server_assignor,
            "member_epoch": self.member_epoch, "previous_member_epoch": self.previous_member_epoch,
            "state": self.state.value, "assigned": tp_to_json(self.assigned),
            "pending_revocation": tp_to_json(self.pending_revocation),
        }

    @classmethod
    def from_json(cls, d: dict) -> ConsumerMember:
        d = dict(d)
        d["state"] = MemberState(d["state"])
        d["assigned"] = tp_from_json(d["assigned"])
        d["pending_revocation"] = tp_from_json(d["pending_revocation"])
        return cls(**d)


def tp_to_json(tps: TopicPartitions) -> dict[str, list[int]]:
    return {t: sorted(ps) for t, ps in sorted(tps.items()) if ps}


def tp_from_json(d: dict[str, list[int]]) -> TopicPartitions:
    return {t: set(ps) for t, ps in d.items() if ps}


def tp_equal(a: TopicPartitions, b: TopicPartitions) -> bool:
    return tp_to_json(a) == tp_to_json(b)


class ConsumerGroup:
    def __init__(self, group_id: str, now_ms: int) -> None:
        self.group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, ConsumerMember] = {}
        self.static_members: dict[str, str] = {}  # instance id -> member id
        self.target: dict[str, TopicPartitions] = {}  # member id -> target partitions
        self.owners: dict[tuple[str, int], str] = {}  # (topic, partition) -> owning member id
        self.metadata: dict[str, int] = {}  # subscribed topic -> partition count, at the last epoch bump
        self.assignor: str | None = None  # the assignor of the last target assignment
        self.state_since_ms = now_ms
        self.deleted = False

    # -- derived state ----------------------------------------------------------------
    @property
    def state(self) -> GroupState:
        if self.deleted:
            return GroupState.DEAD
        if not self.members:
            return GroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return GroupState.ASSIGNING
        for m in self.members.values():
            if m.member_epoch != self.assignment_epoch or m.state is not MemberState.STABLE:
                return GroupState.RECONCILING
        return GroupState.STABLE

    def subscribed_names(self) -> set[str]:
        return {t for m in self.members.values() for t in m.subscribed_topic_names}

    # -- ownership ------------------------------------------------------------------------
    def set_partitions(self, m: ConsumerMember, assigned: TopicPartitions, pending: TopicPartitions) -> None:
        """Replace what `m` owns (assigned + pending revocation), keeping `owners` exact."""
        for t, ps in (*m.assigned.items(), *m.pending_revocation.items()):
            for p in ps:
                if self.owners.get((t, p)) == m.member_id:
                    del self.owners[(t, p)]
        m.assigned = {t: set(ps) for t, ps in assigned.items() if ps}
        m.pending_revocation = {t: set(ps) for t, ps in pending.items() if ps}
        for t, ps in (*m.assigned.items(), *m.pending_revocation.items()):
            for p in ps:
                self.owners[(t, p)] = m.member_id

    def add(self, m: ConsumerMember) -> None:
        self.members[m.member_id] = m
        if m.instance_id is not None:
            self.static_members[m.instance_id] = m.member_id
        for t, ps in (*m.assigned.items(), *m.pending_revocation.items()):
            for p in ps:
                self.owners[(t, p)] = m.member_id

    def remove(self, m: ConsumerMember) -> None:
        self.set_partitions(m, {}, {})
        self.members.pop(m.member_id, None)
        self.target.pop(m.member_id, None)
        if m.instance_id is not None and self.static_members.get(m.instance_id) == m.member_id:
            del self.static_members[m.instance_id]

    # -- persistence ------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "group_epoch": self.group_epoch, "assignment_epoch": self.assignment_epoch,
            "assignor": self.assignor, "metadata": self.metadata,
            "members": [m.to_json() for m in self.members.values()],
            "target": {mid: tp_to_json(tps) for mid, tps in self.target.items()},
        }

    @classmethod
    def from_json(cls, group_id: str, d: dict, now_ms: int) -> ConsumerGroup:
        g = cls(group_id, now_ms)
        g.group_epoch = d["group_epoch"]
        g.assignment_epoch = d["assignment_epoch"]
        g.assignor = d.get("assignor")
        g.metadata = dict(d.get("metadata") or {})
        for md in d["members"]:
            g.add(ConsumerMember.from_json(md))
        g.target = {mid: tp_from_json(tps) for mid, tps in d["target"].items()}
        return g


def owns_any(owned: TopicPartitions | None, partitions: TopicPartitions) -> bool:
    """Does the member still own some of `partitions`? Unknown (None) counts as yes."""
    if owned is None:
        return True
    return any(ps & partitions.get(t, set()) for t, ps in owned.items())


def reconcile(group: ConsumerGroup, m: ConsumerMember, owned: TopicPartitions | None) -> None:
    """One step of KIP-848 reconciliation for `m` towards the group's target (CurrentAssignmentBuilder)."""
    epoch = group.assignment_epoch
    if m.state is MemberState.STABLE:
        if m.member_epoch != epoch:
            _next(group, m, owned, m.member_epoch)
    elif m.state is MemberState.UNREVOKED_PARTITIONS:
        if not owns_any(owned, m.pending_revocation):
            _next(group, m, owned, m.member_epoch)
    else:
        _next(group, m, owned, m.member_epoch)


def _next(group: ConsumerGroup, m: ConsumerMember, owned: TopicPartitions | None, epoch_if_revoking: int) -> None:
    target = group.target.get(m.member_id, {})
    epoch = group.assignment_epoch
    keep: TopicPartitions = {}
    revoke: TopicPartitions = {}
    assign: TopicPartitions = {}
    unreleased = False
    for t in set(target) | set(m.assigned):
        want = target.get(t, set())
        have = m.assigned.get(t, set())
        keep[t] = have & want
        revoke[t] = have - want
        free = set()
        for p in want - have:
            holder = group.owners.get((t, p))
            if holder is None or holder == m.member_id and p not in m.pending_revocation.get(t, ()):
                free.add(p)
            else:
                unreleased = True
        assign[t] = free
    keep = {t: ps for t, ps in keep.items() if ps}
    revoke = {t: ps for t, ps in revoke.items() if ps}
    if revoke and owns_any(owned, revoke):
        # Revoke first: the member keeps its epoch until it has let go.
        group.set_partitions(m, keep, revoke)
        m.state = MemberState.UNREVOKED_PARTITIONS
        _set_epoch(m, epoch_if_revoking)
        return
    new = {t: keep.get(t, set()) | assign.get(t, set()) for t in set(keep) | set(assign)}
    group.set_partitions(m, new, {})
    m.state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
    _set_epoch(m, epoch)


def _set_epoch(m: ConsumerMember, epoch: int) -> None:
    if m.member_epoch != epoch:
        m.previous_member_epoch = m.member_epoch
        m.member_epoch = epoch
