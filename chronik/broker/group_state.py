"""A classic consumer group and its members, and the group state table.

The group lifecycle is an explicit table, `TRANSITIONS`, in the style of
h11's `_state.py`: every state change goes through `Group.fire(event)`,
which refuses an event the table does not list for the current state.

    Empty ──REBALANCE──▶ PreparingRebalance ──JOINED──▶ CompletingRebalance
      ▲                    │   ▲      ▲                    │        │
      └──────ALL_GONE──────┘   │      └────REBALANCE───────┘     ASSIGNED
                               └────────REBALANCE───────── Stable ◀─┘
    any ──DELETE──▶ Dead
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from chronik.broker.scheduler import LazyDeadline

log = logging.getLogger("chronik.groups")


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


class Event(Enum):
    REBALANCE = "rebalance"  # membership or subscriptions changed
    JOINED = "joined"  # join phase over with members left: leader must assign
    ALL_GONE = "all_gone"  # join phase over and nobody is left
    ASSIGNED = "assigned"  # the leader's SyncGroup arrived
    DELETE = "delete"  # DeleteGroups, or expiry of an empty group's offsets


S = GroupState
TRANSITIONS: dict[GroupState, dict[Event, GroupState]] = {
    S.EMPTY: {Event.REBALANCE: S.PREPARING_REBALANCE, Event.DELETE: S.DEAD},
    S.PREPARING_REBALANCE: {
        Event.REBALANCE: S.PREPARING_REBALANCE,
        Event.JOINED: S.COMPLETING_REBALANCE,
        Event.ALL_GONE: S.EMPTY,
        Event.DELETE: S.DEAD,
    },
    S.COMPLETING_REBALANCE: {
        Event.REBALANCE: S.PREPARING_REBALANCE,
        Event.ASSIGNED: S.STABLE,
        Event.DELETE: S.DEAD,
    },
    S.STABLE: {Event.REBALANCE: S.PREPARING_REBALANCE, Event.DELETE: S.DEAD},
    S.DEAD: {},
}


class IllegalTransition(RuntimeError):
    pass


@dataclass(slots=True)
class JoinResult:
    error: int
    member_id: str
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    skip_assignment: bool = False


@dataclass(slots=True)
class SyncResult:
    error: int
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


JoinCallback = Callable[[JoinResult], None]
SyncCallback = Callable[[SyncResult], None]


@dataclass(eq=False, slots=True)
class Member:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    awaiting_join: JoinCallback | None = None
    awaiting_sync: SyncCallback | None = None
    session: LazyDeadline | None = None  # set by the first heartbeat or join
    is_new: bool = False  # joined but never received a JoinGroup answer

    def metadata_for(self, protocol: str | None) -> bytes:
        for name, meta in self.protocols:
            if name == protocol:
                return meta
        return b""


class Group:
    def __init__(self, group_id: str, now_ms: int) -> None:
        self.group_id = group_id
        self.state = GroupState.EMPTY
        self.generation_id = 0
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.leader_id: str | None = None
        self.members: dict[str, Member] = {}
        self.static_members: dict[str, str] = {}  # group.instance.id -> member id
        self.pending: dict[str, Any] = {}  # member ids handed out with MEMBER_ID_REQUIRED -> timer
        self.rebalance_timer: Any = None
        self.initial_delay = False
        # Kafka's InitialDelayedJoin: a member that joins during the initial
        # delay extends it by another delay, up to the rebalance timeout.
        self.new_member_added = False
        self.delay_remaining_ms = 0
        self.state_since_ms = now_ms

    def fire(self, event: Event, now_ms: int) -> GroupState:
        try:
            new = TRANSITIONS[self.state][event]
        except KeyError:
            raise IllegalTransition(f"group {self.group_id}: {event.value} in state {self.state.value}") from None
        if new is not self.state:
            log.debug("group %s: %s -> %s", self.group_id, self.state.value, new.value)
            self.state = new
            self.state_since_ms = now_ms
        return new

    def is_(self, *states: GroupState) -> bool:
        return self.state in states

    def all_joined(self) -> bool:
        return not self.pending and all(m.awaiting_join is not None for m in self.members.values())

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def select_protocol(self) -> str | None:
        """Kafka's rule: among protocols every member supports, each member votes for its favourite."""
        if not self.members:
            return None
        common: set[str] | None = None
        for m in self.members.values():
            names = {n for n, _ in m.protocols}
            common = names if common is None else common & names
        if not common:
            return None
        votes: Counter[str] = Counter()
        for m in self.members.values():
            votes[next(n for n, _ in m.protocols if n in common)] += 1
        return votes.most_common(1)[0][0]

    def supports(self, member_id: str, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        others = [m for mid, m in self.members.items() if mid != member_id]
        if not others:
            return bool(protocol_type) and bool(protocols)
        if protocol_type != self.protocol_type:
            return False
        names = {n for n, _ in protocols}
        for m in others:
            names &= {n for n, _ in m.protocols}
        return bool(names)

    def fenced(self, member_id: str, instance_id: str | None) -> bool:
        """A static member id that is not the current holder of its instance id."""
        if instance_id is None:
            return False
        holder = self.static_members.get(instance_id)
        return holder is not None and holder != member_id

    def subscribed_topics(self) -> set[str] | None:
        """Topics the members subscribe to (consumer protocol), None if not decodable."""
        if self.protocol_type != "consumer" or self.protocol_name is None:
            return None
        topics: set[str] = set()
        for m in self.members.values():
            parsed = parse_subscription(m.metadata_for(self.protocol_name))
            if parsed is None:
                return None
            topics.update(parsed)
        return topics


def parse_subscription(data: bytes) -> list[str] | None:
    """Topic names from a ConsumerProtocolSubscription (any version: they all start the same)."""
    try:
        pos = 2  # int16 version
        (n,) = struct.unpack_from(">i", data, pos)
        pos += 4
        topics = []
        for _ in range(max(n, 0)):
            (ln,) = struct.unpack_from(">h", data, pos)
            pos += 2
            topics.append(data[pos : pos + ln].decode())
            pos += ln
        return topics
    except (struct.error, UnicodeDecodeError):
        return None


@dataclass(slots=True)
class GroupSummary:
    group_id: str
    state: str
    protocol_type: str
    protocol_name: str
    members: list[tuple[Member, bytes, bytes]]  # member, metadata, assignment
