"""Group coordinator for the classic consumer-group protocol (JoinGroup/SyncGroup).

Sans-IO: the coordinator never sees a socket or a request object. Handlers
call it with plain values; answers that must wait (a join until every
member has rejoined, a follower's sync until the leader has sent the
assignment) are given a callback, which the handler wires to a `Deferred`
in the loop's purgatory. Time comes from a scheduler with `clock()` and
`call_later(delay, fn)` (the server in production, a fake in unit tests).

The group, its members and the state table are in group_state. This module
is long (~600 lines) because the classic protocol's join/sync/heartbeat/leave
rules with static membership are one piece of logic; splitting them would
scatter the rebalance rules over files.

Behaviour follows Apache Kafka's classic coordinator where the issue is
silent (error codes and their order, static membership, which members a
join waits for). Differences, on purpose, for a dev broker:
- the first join of an Empty group completes as soon as every known member
  has rejoined (group.initial.rebalance.delay.ms defaults to 0), so a lone
  consumer is assigned within one round trip;
- session timers are lazy: a heartbeat only moves a deadline; the single
  timer per member re-arms itself when it fires early, so heartbeats do not
  pile cancelled timers into the loop's heap.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from chronik import clock
from chronik.broker.group_state import (
    Event,
    Group,
    GroupSummary,
    JoinCallback,
    JoinResult,
    Member,
    S,
    SyncCallback,
    SyncResult,
)
from chronik.broker.scheduler import LazyDeadline, Scheduler
from chronik.metadata.offsets import OffsetStore
from chronik.wire.errors import ErrorCode

log = logging.getLogger("chronik.groups")

# Kafka's group.min/max.session.timeout.ms defaults.
MIN_SESSION_TIMEOUT_MS = 6_000
MAX_SESSION_TIMEOUT_MS = 1_800_000
# offset.metadata.max.bytes
MAX_METADATA_BYTES = 4096


class GroupCoordinator:
    def __init__(
        self,
        offsets: OffsetStore,
        scheduler: Scheduler,
        initial_rebalance_delay_ms: int = 0,
        offsets_retention_ms: int = 7 * 24 * 3600 * 1000,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        self.offsets = offsets
        self.sched = scheduler
        self.initial_rebalance_delay_ms = initial_rebalance_delay_ms
        self.offsets_retention_ms = offsets_retention_ms
        self.wall_ms = wall_ms or clock.wall_ms
        self.groups: dict[str, Group] = {}
        # The consumer-protocol (KIP-848) coordinator, set by the core: group ids it
        # owns are not classic groups here (see chronik.broker.consumer_groups).
        self.other: Any = None
        # Groups that only exist through committed offsets (after a restart,
        # or written by the transaction coordinator) show up as Empty.
        for gid in offsets.groups():
            self.groups[gid] = Group(gid, self.wall_ms())

    # -- helpers ------------------------------------------------------------
    def _claimed(self, group_id: str) -> bool:
        return self.other is not None and self.other.owns(group_id)

    def _group(self, group_id: str) -> Group | None:
        g = self.groups.get(group_id)
        if g is None and self.offsets.has_group(group_id) and not self._claimed(group_id):
            g = self.groups[group_id] = Group(group_id, self.wall_ms())
        return g

    def _new_member_id(self, client_id: str, instance_id: str | None) -> str:
        return f"{instance_id or client_id}-{uuid.uuid4()}"

    def _touch(self, group: Group, member: Member) -> None:
        if member.session is None:
            member.session = LazyDeadline(self.sched, lambda: self._session_expired(group, member))
        member.session.push(member.session_timeout_ms / 1000.0)

    def _session_expired(self, group: Group, member: Member) -> None:
        if group.members.get(member.member_id) is not member:
            return
        if member.awaiting_join is not None or member.awaiting_sync is not None:
            # Kafka counts a member parked in a join or sync as alive.
            self._touch(group, member)
            return
        log.info("group %s: member %s session expired", group.group_id, member.member_id)
        self._remove_member(group, member, "session timeout")

    def _add_pending(self, group: Group, member_id: str, session_timeout_ms: int) -> None:
        def expire() -> None:
            if group.pending.pop(member_id, None) is not None and group.is_(S.PREPARING_REBALANCE):
                self._maybe_complete_join(group)

        group.pending[member_id] = self.sched.call_later(session_timeout_ms / 1000.0, expire)

    # -- rebalance machinery --------------------------------------------------
    def _prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.is_(S.PREPARING_REBALANCE):
            return
        if group.is_(S.COMPLETING_REBALANCE):
            for m in group.members.values():
                m.assignment = b""
                cb, m.awaiting_sync = m.awaiting_sync, None
                if cb is not None:
                    cb(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
        initial = group.is_(S.EMPTY)
        group.fire(Event.REBALANCE, self.wall_ms())
        log.info("group %s: preparing rebalance (%s), generation %d", group.group_id, reason, group.generation_id)
        if initial and self.initial_rebalance_delay_ms > 0:
            group.initial_delay = True
            group.new_member_added = False
            delay_ms = min(self.initial_rebalance_delay_ms, max(group.max_rebalance_timeout_ms(), 1))
            group.delay_remaining_ms = max(group.max_rebalance_timeout_ms() - delay_ms, 0)
        else:
            group.initial_delay = False
            delay_ms = group.max_rebalance_timeout_ms()
        self._arm_rebalance_timer(group, delay_ms)
        self._maybe_complete_join(group)

    def _arm_rebalance_timer(self, group: Group, delay_ms: int) -> None:
        if group.rebalance_timer is not None:
            group.rebalance_timer.cancel()

        def fire() -> None:
            group.rebalance_timer = None
            if not group.is_(S.PREPARING_REBALANCE):
                return
            if group.initial_delay:
                if group.new_member_added and group.delay_remaining_ms > 0:
                    # Someone joined during the delay: wait one more, as Kafka does.
                    group.new_member_added = False
                    delay = min(self.initial_rebalance_delay_ms, group.delay_remaining_ms)
                    group.delay_remaining_ms -= delay
                    self._arm_rebalance_timer(group, delay)
                    return
                group.initial_delay = False
                if not group.all_joined():
                    # The delay is over; give stragglers the rest of the rebalance timeout.
                    rest = group.max_rebalance_timeout_ms() - self.initial_rebalance_delay_ms
                    if rest > 0:
                        self._arm_rebalance_timer(group, rest)
                        return
            self._complete_join(group)

        group.rebalance_timer = self.sched.call_later(delay_ms / 1000.0, fire)

    def _maybe_complete_join(self, group: Group) -> None:
        if group.is_(S.PREPARING_REBALANCE) and not group.initial_delay and group.all_joined():
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        if group.rebalance_timer is not None:
            group.rebalance_timer.cancel()
            group.rebalance_timer = None
        for m in [m for m in group.members.values() if m.awaiting_join is None]:
            log.info("group %s: member %s did not rejoin in time", group.group_id, m.member_id)
            self._drop(group, m)
        for timer in group.pending.values():
            timer.cancel()
        group.pending.clear()
        group.generation_id += 1
        if not group.members:
            group.protocol_name = None
            group.leader_id = None
            group.fire(Event.ALL_GONE, self.wall_ms())
            return
        group.protocol_name = group.select_protocol()
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        group.fire(Event.JOINED, self.wall_ms())
        log.info(
            "group %s: generation %d with %d member(s), protocol %s, leader %s",
            group.group_id, group.generation_id, len(group.members), group.protocol_name, group.leader_id,
        )
        roster = [(m.member_id, m.instance_id, m.metadata_for(group.protocol_name)) for m in group.members.values()]
        for m in list(group.members.values()):
            cb, m.awaiting_join = m.awaiting_join, None
            m.is_new = False
            self._touch(group, m)
            if cb is not None:
                cb(self._join_result(group, m, roster if m.member_id == group.leader_id else []))

    def _join_result(self, group: Group, m: Member, roster: list, skip: bool = False) -> JoinResult:
        return JoinResult(
            error=ErrorCode.NONE, member_id=m.member_id, generation_id=group.generation_id,
            protocol_type=group.protocol_type, protocol_name=group.protocol_name,
            leader=group.leader_id or "", members=roster, skip_assignment=skip,
        )

    def _drop(self, group: Group, member: Member) -> None:
        """Take a member out without any rebalance decision."""
        group.members.pop(member.member_id, None)
        if member.instance_id is not None and group.static_members.get(member.instance_id) == member.member_id:
            del group.static_members[member.instance_id]
        if member.session is not None:
            member.session.clear()
        if group.leader_id == member.member_id:
            group.leader_id = next(iter(group.members), None)

    def _remove_member(self, group: Group, member: Member, reason: str) -> None:
        self._drop(group, member)
        cb, member.awaiting_join = member.awaiting_join, None
        if cb is not None:
            cb(JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, member.member_id))
        scb, member.awaiting_sync = member.awaiting_sync, None
        if scb is not None:
            scb(SyncResult(ErrorCode.UNKNOWN_MEMBER_ID))
        if group.is_(S.STABLE, S.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, f"member {member.member_id} left: {reason}")
        elif group.is_(S.PREPARING_REBALANCE):
            self._maybe_complete_join(group)

    # -- JoinGroup ------------------------------------------------------------
    def join(
        self,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: list[tuple[str, bytes]],
        require_known_member_id: bool,
        callback: JoinCallback,
    ) -> None:
        """Answer now or later through `callback` (exactly once)."""
        def fail(code: int) -> None:
            callback(JoinResult(code, member_id))

        if not group_id:
            return fail(ErrorCode.INVALID_GROUP_ID)
        if self.other is not None:
            # An empty consumer group is converted; a live one refused (GROUP_ID_NOT_FOUND).
            code = self.other.take_over_for_classic(group_id)
            if code:
                return fail(code)
        if not MIN_SESSION_TIMEOUT_MS <= session_timeout_ms <= MAX_SESSION_TIMEOUT_MS:
            return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
        if rebalance_timeout_ms < 0:
            rebalance_timeout_ms = session_timeout_ms  # v0 has no rebalance timeout
        group = self._group(group_id)
        if group is None:
            if member_id:
                return fail(ErrorCode.UNKNOWN_MEMBER_ID)
            group = self.groups[group_id] = Group(group_id, self.wall_ms())
        if group.is_(S.DEAD):
            return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if not group.supports(member_id, protocol_type, protocols):
            return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

        spec = dict(
            client_id=client_id, client_host=client_host, session_timeout_ms=session_timeout_ms,
            rebalance_timeout_ms=rebalance_timeout_ms, protocol_type=protocol_type, protocols=protocols,
        )
        if not member_id:
            if instance_id is not None and instance_id in group.static_members:
                return self._rejoin_static(group, instance_id, spec, callback)
            new_id = self._new_member_id(client_id, instance_id)
            if require_known_member_id and instance_id is None:
                # KIP-394: hand out the id first so a client that dies now leaves no ghost member.
                self._add_pending(group, new_id, session_timeout_ms)
                return callback(JoinResult(ErrorCode.MEMBER_ID_REQUIRED, new_id))
            return self._add_member(group, new_id, instance_id, spec, callback)

        if member_id in group.pending:
            group.pending.pop(member_id).cancel()
            return self._add_member(group, member_id, instance_id, spec, callback)
        if group.fenced(member_id, instance_id):
            return fail(ErrorCode.FENCED_INSTANCE_ID)
        member = group.members.get(member_id)
        if member is None or group.is_(S.EMPTY):
            return fail(ErrorCode.UNKNOWN_MEMBER_ID)
        self._rejoin_known(group, member, spec, callback)

    def _add_member(self, group: Group, member_id: str, instance_id: str | None, spec: dict,
                    callback: JoinCallback) -> None:
        if not group.members:
            group.protocol_type = spec["protocol_type"]
        m = Member(member_id=member_id, instance_id=instance_id, **spec)
        m.awaiting_join = callback
        m.is_new = True
        group.members[member_id] = m
        if instance_id is not None:
            group.static_members[instance_id] = member_id
        self._touch(group, m)
        if group.is_(S.PREPARING_REBALANCE):
            if group.initial_delay:
                group.new_member_added = True
            self._maybe_complete_join(group)
        else:
            self._prepare_rebalance(group, f"member {member_id} joined")

    def _update(self, m: Member, spec: dict) -> bool:
        """Apply a rejoin's settings; True if the subscription changed."""
        changed = m.protocols != spec["protocols"]
        for k, v in spec.items():
            setattr(m, k, v)
        return changed

    def _rejoin_known(self, group: Group, m: Member, spec: dict, callback: JoinCallback) -> None:
        if group.is_(S.PREPARING_REBALANCE):
            self._park_join(m, callback)
            self._update(m, spec)
            self._touch(group, m)
            self._maybe_complete_join(group)
            return
        changed = self._update(m, spec)
        self._touch(group, m)
        if group.is_(S.COMPLETING_REBALANCE) and not changed:
            # The member lost our join answer; repeat it.
            roster = self._roster(group) if m.member_id == group.leader_id else []
            return callback(self._join_result(group, m, roster))
        if group.is_(S.STABLE) and not changed and m.member_id != group.leader_id:
            return callback(self._join_result(group, m, []))
        self._park_join(m, callback)
        self._prepare_rebalance(group, f"member {m.member_id} rejoined")

    def _park_join(self, m: Member, callback: JoinCallback) -> None:
        old, m.awaiting_join = m.awaiting_join, callback
        if old is not None and old is not callback:
            old(JoinResult(ErrorCode.REBALANCE_IN_PROGRESS, m.member_id))

    def _roster(self, group: Group) -> list[tuple[str, str | None, bytes]]:
        return [(m.member_id, m.instance_id, m.metadata_for(group.protocol_name)) for m in group.members.values()]

    def _rejoin_static(self, group: Group, instance_id: str, spec: dict, callback: JoinCallback) -> None:
        """KIP-345: a restarted static member takes over its old slot under a new member id."""
        old_id = group.static_members[instance_id]
        m = group.members[old_id]
        new_id = self._new_member_id(spec["client_id"], instance_id)
        cb, m.awaiting_join = m.awaiting_join, None
        if cb is not None:
            cb(JoinResult(ErrorCode.FENCED_INSTANCE_ID, old_id))
        scb, m.awaiting_sync = m.awaiting_sync, None
        if scb is not None:
            scb(SyncResult(ErrorCode.FENCED_INSTANCE_ID))
        del group.members[old_id]
        m.member_id = new_id
        group.members[new_id] = m
        group.static_members[instance_id] = new_id
        if group.leader_id == old_id:
            group.leader_id = new_id
        self._update(m, spec)
        self._touch(group, m)
        log.info("group %s: static member %s replaced %s by %s", group.group_id, instance_id, old_id, new_id)
        if group.is_(S.STABLE) and group.select_protocol() == group.protocol_name:
            # No rebalance: the member gets its old assignment back from SyncGroup.
            leader = new_id == group.leader_id
            return callback(self._join_result(group, m, self._roster(group) if leader else [], skip=leader))
        m.awaiting_join = callback
        if group.is_(S.PREPARING_REBALANCE):
            self._maybe_complete_join(group)
        else:
            self._prepare_rebalance(group, f"static member {instance_id} rejoined")

    # -- SyncGroup ------------------------------------------------------------
    def sync(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
        callback: SyncCallback,
    ) -> None:
        group = self.groups.get(group_id)
        if group is None or member_id not in group.members and not group.fenced(member_id, instance_id):
            return callback(SyncResult(ErrorCode.UNKNOWN_MEMBER_ID))
        if group.is_(S.DEAD):
            return callback(SyncResult(ErrorCode.COORDINATOR_NOT_AVAILABLE))
        if group.fenced(member_id, instance_id):
            return callback(SyncResult(ErrorCode.FENCED_INSTANCE_ID))
        if generation_id != group.generation_id:
            return callback(SyncResult(ErrorCode.ILLEGAL_GENERATION))
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
            protocol_name is not None and protocol_name != group.protocol_name
        ):
            return callback(SyncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
        if group.is_(S.EMPTY):
            return callback(SyncResult(ErrorCode.UNKNOWN_MEMBER_ID))
        if group.is_(S.PREPARING_REBALANCE):
            return callback(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
        m = group.members[member_id]
        self._touch(group, m)
        if group.is_(S.STABLE):
            return callback(self._sync_result(group, m))
        # CompletingRebalance: park until the leader's assignment arrives.
        old, m.awaiting_sync = m.awaiting_sync, callback
        if old is not None:
            old(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
        if member_id == group.leader_id:
            for mem in group.members.values():
                mem.assignment = assignments.get(mem.member_id, b"")
            group.fire(Event.ASSIGNED, self.wall_ms())
            log.info("group %s: stable at generation %d", group.group_id, group.generation_id)
            for mem in group.members.values():
                cb, mem.awaiting_sync = mem.awaiting_sync, None
                if cb is not None:
                    cb(self._sync_result(group, mem))

    def _sync_result(self, group: Group, m: Member) -> SyncResult:
        return SyncResult(ErrorCode.NONE, group.protocol_type, group.protocol_name, m.assignment)

    # -- Heartbeat / LeaveGroup ------------------------------------------------
    def heartbeat(self, group_id: str, generation_id: int, member_id: str, instance_id: str | None) -> int:
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if group.is_(S.DEAD):
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if group.fenced(member_id, instance_id):
            return ErrorCode.FENCED_INSTANCE_ID
        m = group.members.get(member_id)
        if m is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if generation_id != group.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        if group.is_(S.EMPTY):
            return ErrorCode.UNKNOWN_MEMBER_ID
        self._touch(group, m)
        if group.is_(S.PREPARING_REBALANCE):
            return ErrorCode.REBALANCE_IN_PROGRESS
        return ErrorCode.NONE

    def leave(self, group_id: str, members: list[tuple[str, str | None]]) -> list[int]:
        """One error code per (member_id, instance_id); an empty member id with an instance id is allowed."""
        group = self.groups.get(group_id)
        if group is None or group.is_(S.DEAD):
            return [ErrorCode.UNKNOWN_MEMBER_ID] * len(members)
        codes = []
        for member_id, instance_id in members:
            if instance_id is not None:
                holder = group.static_members.get(instance_id)
                if holder is None:
                    codes.append(ErrorCode.UNKNOWN_MEMBER_ID)
                    continue
                if member_id and holder != member_id:
                    codes.append(ErrorCode.FENCED_INSTANCE_ID)
                    continue
                member_id = holder
            if member_id in group.pending:
                group.pending.pop(member_id).cancel()
                codes.append(ErrorCode.NONE)
                if group.is_(S.PREPARING_REBALANCE):
                    self._maybe_complete_join(group)
                continue
            m = group.members.get(member_id)
            if m is None:
                codes.append(ErrorCode.UNKNOWN_MEMBER_ID)
                continue
            log.info("group %s: member %s left", group.group_id, member_id)
            self._remove_member(group, m, "LeaveGroup")
            codes.append(ErrorCode.NONE)
        return codes

    # -- offsets --------------------------------------------------------------
    def validate_member(
        self, group_id: str, member_id: str, generation_id: int, group_instance_id: str | None = None
    ) -> int:
        """For TxnOffsetCommit: may this member write offsets for this generation?"""
        if self._claimed(group_id):
            return self.other.check_commit(group_id, member_id, generation_id)
        group = self._group(group_id)
        if group is None:
            return ErrorCode.NONE if generation_id < 0 and not member_id else ErrorCode.ILLEGAL_GENERATION
        return self._check_commit(group, member_id, generation_id, group_instance_id, transactional=True)

    def _check_commit(self, group: Group, member_id: str, generation_id: int, instance_id: str | None,
                      transactional: bool) -> int:
        if group.is_(S.DEAD):
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if generation_id >= 0 or member_id or instance_id is not None:
            if group.fenced(member_id, instance_id):
                return ErrorCode.FENCED_INSTANCE_ID
            if member_id and member_id not in group.members:
                return ErrorCode.UNKNOWN_MEMBER_ID
            if generation_id != group.generation_id:
                return ErrorCode.ILLEGAL_GENERATION
            if not transactional and group.is_(S.COMPLETING_REBALANCE):
                return ErrorCode.REBALANCE_IN_PROGRESS
        elif not transactional and not group.is_(S.EMPTY):
            # A simple (assign()) commit into a group that has live members.
            return ErrorCode.UNKNOWN_MEMBER_ID
        return ErrorCode.NONE

    def check_commit(self, group_id: str, member_id: str, generation_id: int, instance_id: str | None,
                     api_version: int = 9) -> int:
        """OffsetCommit's group-level check; creates the group for simple commits."""
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID
        if self._claimed(group_id):
            return self.other.check_commit(group_id, member_id, generation_id, api_version)
        group = self._group(group_id)
        if group is None:
            if generation_id >= 0:
                return ErrorCode.ILLEGAL_GENERATION
            group = self.groups[group_id] = Group(group_id, self.wall_ms())
            return ErrorCode.NONE
        code = self._check_commit(group, member_id, generation_id, instance_id, transactional=False)
        if code == ErrorCode.NONE and member_id:
            m = group.members.get(member_id)
            if m is not None:
                self._touch(group, m)
        return code

    def check_fetch(self, group_id: str, member_id: str | None, member_epoch: int) -> int:
        """OffsetFetch v9+: member epochs are only checked for consumer-protocol groups (as Kafka)."""
        if self._claimed(group_id):
            return self.other.check_fetch(group_id, member_id, member_epoch)
        return ErrorCode.NONE

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[int, list[int]]:
        if self._claimed(group_id):
            g = self.other.group(group_id)
            subscribed = self.other.subscribed_topics(group_id) if g.members else set()
            codes = [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC if t in subscribed else ErrorCode.NONE
                     for t, _ in partitions]
            self.offsets.delete(group_id, [tp for tp, c in zip(partitions, codes, strict=True) if not c])
            return ErrorCode.NONE, codes
        group = self._group(group_id)
        if group is None:
            return ErrorCode.GROUP_ID_NOT_FOUND, []
        if group.is_(S.DEAD):
            return ErrorCode.GROUP_ID_NOT_FOUND, []
        subscribed: set[str] = set()
        if not group.is_(S.EMPTY):
            topics = group.subscribed_topics()
            if topics is None:
                return ErrorCode.NON_EMPTY_GROUP, []
            subscribed = topics
        codes = []
        deletable = []
        for topic, partition in partitions:
            if topic in subscribed:
                codes.append(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC)
            else:
                codes.append(ErrorCode.NONE)
                deletable.append((topic, partition))
        self.offsets.delete(group_id, deletable)
        return ErrorCode.NONE, codes

    # -- admin ----------------------------------------------------------------
    def list_groups(self) -> list[Group]:
        for gid in self.offsets.groups():
            self._group(gid)
        return [g for g in self.groups.values() if not g.is_(S.DEAD)]

    def describe(self, group_id: str) -> GroupSummary | None:
        group = self._group(group_id)
        if group is None or group.is_(S.DEAD):
            return None
        stable = group.is_(S.STABLE)
        members = [
            (m, m.metadata_for(group.protocol_name) if stable else b"", m.assignment if stable else b"")
            for m in group.members.values()
        ]
        return GroupSummary(
            group.group_id, group.state.value, group.protocol_type or "",
            (group.protocol_name or "") if stable else "", members,
        )

    def delete_group(self, group_id: str) -> int:
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID
        if self._claimed(group_id):
            return self.other.delete_group(group_id)
        group = self._group(group_id)
        if group is None or group.is_(S.DEAD):
            return ErrorCode.GROUP_ID_NOT_FOUND
        if not group.is_(S.EMPTY):
            return ErrorCode.NON_EMPTY_GROUP
        self._kill(group)
        return ErrorCode.NONE

    def _kill(self, group: Group) -> None:
        group.fire(Event.DELETE, self.wall_ms())
        self.offsets.delete_group(group.group_id)
        del self.groups[group.group_id]

    # -- housekeeping -----------------------------------------------------------
    def expire_offsets(self) -> int:
        """offsets.retention.minutes: drop offsets of groups that stayed empty that long."""
        now = self.wall_ms()
        retention = self.offsets_retention_ms
        dropped = 0
        for group in self.list_groups():
            if not group.is_(S.EMPTY):
                continue
            offs = self.offsets.group_offsets(group.group_id)
            if group.protocol_type:
                # A consumer group: its offsets age from the moment it became empty.
                last = max([group.state_since_ms, *(c.commit_ts_ms for c in offs.values())])
                stale = list(offs) if now - last >= retention else []
            else:
                # Simple (assign()) commits age one by one.
                stale = [tp for tp, c in offs.items() if now - c.commit_ts_ms >= retention]
            if stale:
                dropped += len(stale)
                self.offsets.delete(group.group_id, stale)
            if not self.offsets.has_group(group.group_id) and not group.pending:
                self._kill(group)
        return dropped

    def on_topic_deleted(self, topic: str) -> None:
        self.offsets.delete_topic(topic)
