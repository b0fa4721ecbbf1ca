"""Coordinator of the consumer group protocol (KIP-848): ConsumerGroupHeartbeat and friends.

Sans-IO like the classic coordinator (chronik.broker.groups), beside which
it lives on the core as `core.consumer_groups`. One heartbeat runs Kafka's
three steps (GroupMetadataManager.consumerGroupHeartbeat):

1. update the member (join, subscription, static identity); bump the group
   epoch if membership, a subscription or the subscribed topics changed;
2. if the group epoch is ahead of the assignment epoch, run the assignor
   (`uniform` default, `range`) for a new target assignment;
3. reconcile the member one step towards its target (consumer_group_state):
   revoke first, hand out only partitions nobody owns.

Timers: a member that does not heartbeat within the session timeout
(`group.consumer.session.timeout.ms`, 45 s) is fenced; one that does not
revoke within its rebalance timeout (the client's max.poll.interval.ms) too.
Both are lazy single timers per member, as in the classic coordinator.

Groups and types: a group id is either a classic group (the classic
coordinator's) or a consumer group (this one's). An empty group of one
type is taken over by a member of the other; a non-empty one is refused
with GROUP_ID_NOT_FOUND ("Group g is not a consumer group"), which is
Kafka 4.x with `group.consumer.migration.policy=disabled` (Chronik does not
do the online upgrade/downgrade of non-empty groups).

State is written to the committed-offsets log (as one JSON record per group,
whole) whenever epochs, members or assignments change, so a restart keeps
epochs and assignments: members then carry on with their epochs, or are
fenced by their session timeout like after a coordinator failover in Kafka.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from chronik import clock
from chronik.broker.assignors import ASSIGNORS
from chronik.broker.consumer_group_api import HeartbeatError, HeartbeatIn, HeartbeatOut, validate
from chronik.broker.consumer_group_state import (
    LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
    ConsumerGroup,
    ConsumerMember,
    GroupState,
    MemberState,
    reconcile,
    tp_equal,
)
from chronik.broker.scheduler import LazyDeadline, Scheduler
from chronik.metadata.offsets import OffsetStore
from chronik.wire.errors import ErrorCode

log = logging.getLogger("chronik.consumer_groups")



def _re2() -> tuple[Any, Any]:
    """google-re2 and its options, imported by the first regex subscription rather than at start-up."""
    import re2

    options = re2.Options()
    options.log_errors = False  # a bad pattern is the client's error, answered INVALID_REGULAR_EXPRESSION
    return re2, options


class ConsumerGroupCoordinator:
    def __init__(
        self,
        offsets: OffsetStore,
        scheduler: Scheduler,
        topic_partitions: Callable[[], dict[str, int]],
        classic: object | None = None,
        session_timeout_ms: int = 45_000,
        heartbeat_interval_ms: int = 5_000,
        assignors: tuple[str, ...] = ("uniform", "range"),
        max_size: int = 0,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        self.offsets = offsets
        self.sched = scheduler
        self.topic_partitions = topic_partitions
        self.classic = classic
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        # Per-group configs (consumer.session.timeout.ms, ...), set by IncrementalAlterConfigs.
        self.group_configs: dict[str, dict[str, str]] = {}
        unknown = [a for a in assignors if a not in ASSIGNORS]
        if unknown or not assignors:
            raise ValueError(f"unknown assignor(s) {unknown}; known: {', '.join(ASSIGNORS)}")
        self.assignors = tuple(assignors)
        self.max_size = max_size
        self.wall_ms = wall_ms or clock.wall_ms
        self.groups: dict[str, ConsumerGroup] = {}
        self._regex_cache: dict[str, object | None] = {}
        for gid, data in offsets.group_states().items():
            try:
                g = ConsumerGroup.from_json(gid, json.loads(data), self.wall_ms())
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("consumer group %s: stored state unreadable (%s); starting it empty", gid, exc)
                continue
            self.groups[gid] = g
            for m in g.members.values():
                self._touch(g, m)  # members must heartbeat again within a session timeout
                if m.state is MemberState.UNREVOKED_PARTITIONS:
                    self._arm_revoke(g, m)
        if classic is not None:
            for gid in self.groups:
                classic.groups.pop(gid, None)  # type: ignore[attr-defined]

    # -- lookups ------------------------------------------------------------------
    def owns(self, group_id: str) -> bool:
        return group_id in self.groups

    def group(self, group_id: str) -> ConsumerGroup | None:
        return self.groups.get(group_id)

    def list_groups(self) -> list[ConsumerGroup]:
        return list(self.groups.values())

    # -- persistence --------------------------------------------------------------
    def _save(self, g: ConsumerGroup) -> None:
        self.offsets.put_group_state(g.group_id, json.dumps(g.to_json(), separators=(",", ":")).encode())

    # -- timers ---------------------------------------------------------------------
    def _config(self, group_id: str, name: str, default: int) -> int:
        value = self.group_configs.get(group_id, {}).get(name)
        return int(value) if value is not None else default

    def _touch(self, g: ConsumerGroup, m: ConsumerMember) -> None:
        if m.session is None:
            m.session = LazyDeadline(self.sched, lambda: self._session_expired(g, m))
        m.session.push(self._config(g.group_id, "consumer.session.timeout.ms", self.session_timeout_ms) / 1000.0)

    def _session_expired(self, g: ConsumerGroup, m: ConsumerMember) -> None:
        if g.members.get(m.member_id) is not m:
            return
        log.info("consumer group %s: member %s session expired", g.group_id, m.member_id)
        self._fence(g, m)

    def _arm_revoke(self, g: ConsumerGroup, m: ConsumerMember) -> None:
        if m.revoke is None:
            m.revoke = LazyDeadline(self.sched, lambda: self._revoke_expired(g, m))
        m.revoke.arm(m.rebalance_timeout_ms / 1000.0)

    def _revoke_expired(self, g: ConsumerGroup, m: ConsumerMember) -> None:
        if g.members.get(m.member_id) is not m:
            return
        log.info("consumer group %s: member %s did not revoke within its rebalance timeout",
                 g.group_id, m.member_id)
        self._fence(g, m)

    @staticmethod
    def _disarm_revoke(m: ConsumerMember) -> None:
        if m.revoke is not None:
            m.revoke.clear()

    def _cancel_timers(self, m: ConsumerMember) -> None:
        for deadline in (m.session, m.revoke):
            if deadline is not None:
                deadline.clear()

    def _fence(self, g: ConsumerGroup, m: ConsumerMember) -> None:
        """Remove a member (timeout or leave): its partitions are free, the group epoch moves."""
        self._cancel_timers(m)
        g.remove(m)
        self._bump(g)
        self._maybe_assign(g)
        self._save(g)

    # -- epochs and assignment ---------------------------------------------------------
    def _bump(self, g: ConsumerGroup) -> None:
        g.group_epoch += 1
        if not g.members:
            g.state_since_ms = self.wall_ms()

    def _regex(self, pattern: str) -> Any:
        """Subscription regexes are RE2 (google-re2), like Kafka's RE2J: linear time, so a
        pathological pattern cannot stall the loop; RE2 refuses what it cannot match that way."""
        if pattern not in self._regex_cache:
            re2, options = _re2()
            try:
                self._regex_cache[pattern] = re2.compile(pattern, options)
            except re2.error:
                self._regex_cache[pattern] = None
        return self._regex_cache[pattern]

    def _subscribed(self, m: ConsumerMember, topics: dict[str, int]) -> set[str]:
        subs = {t for t in m.subscribed_topic_names if t in topics}
        if m.subscribed_topic_regex:
            rx = self._regex(m.subscribed_topic_regex)
            if rx is not None:
                subs.update(t for t in topics if rx.fullmatch(t) and not t.startswith("__"))
        return subs

    def _metadata(self, g: ConsumerGroup, topics: dict[str, int]) -> dict[str, int]:
        """Subscribed topic -> partitions: one pass over the topics per distinct regex (run every heartbeat)."""
        subscribed = {t for m in g.members.values() for t in m.subscribed_topic_names if t in topics}
        for pattern in {m.subscribed_topic_regex for m in g.members.values() if m.subscribed_topic_regex}:
            rx = self._regex(pattern)
            if rx is not None:
                subscribed.update(t for t in topics if not t.startswith("__") and rx.fullmatch(t))
        return {t: topics[t] for t in sorted(subscribed)}

    def _assignor_name(self, g: ConsumerGroup) -> str:
        """The most popular assignor among the members, else the broker's default (Kafka's rule)."""
        votes: dict[str, int] = {}
        for m in g.members.values():
            if m.server_assignor:
                votes[m.server_assignor] = votes.get(m.server_assignor, 0) + 1
        if not votes:
            return self.assignors[0]
        return max(sorted(votes), key=lambda a: votes[a])

    def _maybe_assign(self, g: ConsumerGroup) -> None:
        if g.group_epoch <= g.assignment_epoch:
            return
        topics = self.topic_partitions()
        subs = {mid: self._subscribed(m, topics) for mid, m in g.members.items()}
        name = self._assignor_name(g)
        g.target = ASSIGNORS[name](subs, topics, g.target)
        g.assignor = name
        g.assignment_epoch = g.group_epoch
        log.info("consumer group %s: epoch %d, %s assignment for %d member(s)",
                 g.group_id, g.group_epoch, name, len(g.members))

    def refresh(self, g: ConsumerGroup) -> bool:
        """New or deleted subscribed topics, or new partitions: bump the epoch (Kafka's metadata refresh)."""
        meta = self._metadata(g, self.topic_partitions())
        if meta != g.metadata:
            g.metadata = meta
            self._bump(g)
            return True
        return False

    # -- ConsumerGroupHeartbeat ------------------------------------------------------------
    def heartbeat(self, hb: HeartbeatIn) -> HeartbeatOut:
        try:
            return self._heartbeat(hb)
        except HeartbeatError as exc:
            return HeartbeatOut(exc.code, exc.message)  # Kafka answers errors without a member id

    def _get_or_create(self, group_id: str, create: bool) -> ConsumerGroup:
        g = self.groups.get(group_id)
        if g is not None:
            return g
        classic = self.classic
        cg = getattr(classic, "groups", {}).get(group_id) if classic is not None else None
        if cg is not None and (cg.members or cg.pending):
            raise HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group.")
        if not create:
            raise HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, f"Consumer group {group_id} not found.")
        if cg is not None:
            # An empty classic group becomes a consumer group; its committed offsets stay.
            log.info("group %s: empty classic group converted to a consumer group", group_id)
            classic.groups.pop(group_id, None)  # type: ignore[union-attr]
        g = self.groups[group_id] = ConsumerGroup(group_id, self.wall_ms())
        return g

    def _heartbeat(self, hb: HeartbeatIn) -> HeartbeatOut:
        validate(hb, self.assignors, self._regex)
        if hb.member_epoch in (LEAVE_EPOCH, STATIC_LEAVE_EPOCH):
            return self._leave(hb)
        joining = hb.member_epoch == 0
        g = self._get_or_create(hb.group_id, joining)
        member_id = hb.member_id or str(uuid.uuid4())
        if self.max_size and len(g.members) >= self.max_size and member_id not in g.members:
            raise HeartbeatError(ErrorCode.GROUP_MAX_SIZE_REACHED,
                                 f"The consumer group has reached its maximum capacity of {self.max_size} members.")
        bump = replaced = False
        m = g.members.get(member_id)
        if hb.instance_id is not None:
            holder_id = g.static_members.get(hb.instance_id)
            holder = g.members.get(holder_id) if holder_id else None
            if joining:
                if holder is None:
                    pass
                elif holder.member_epoch == STATIC_LEAVE_EPOCH:
                    m = self._replace_static(g, holder, member_id)
                    replaced = True
                elif holder.member_id != member_id:
                    raise HeartbeatError(ErrorCode.UNRELEASED_INSTANCE_ID,
                                         f"Static member {member_id} with instance id {hb.instance_id} cannot "
                                         f"join the group because the instance id is owned by "
                                         f"{holder.member_id} member.")
            else:
                if holder is None:
                    raise HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {hb.instance_id} is unknown.")
                if holder.member_id != member_id:
                    raise HeartbeatError(ErrorCode.FENCED_INSTANCE_ID,
                                         f"Static member {member_id} with instance id {hb.instance_id} was fenced "
                                         f"by member {holder.member_id}.")
        if m is None:
            if not joining:
                raise HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, f"Member {member_id} is not a member of the group.")
            m = ConsumerMember(member_id=member_id, instance_id=hb.instance_id)
            g.add(m)
            bump = True
            log.info("consumer group %s: member %s joined", g.group_id, member_id)
        elif joining and not replaced:
            # A rejoin (after fencing, or a lost answer): the client owns nothing now.
            g.set_partitions(m, {}, {})
            m.state = MemberState.STABLE
            m.member_epoch, m.previous_member_epoch = 0, m.member_epoch
            self._disarm_revoke(m)
        elif not joining:
            self._check_epoch(m, hb)
        old_assigned = {t: set(ps) for t, ps in m.assigned.items()}
        old_epoch = m.member_epoch
        old_json = m.to_json()
        # 1. the member's new settings
        if hb.instance_id is not None:
            m.instance_id = hb.instance_id
        if hb.rack_id is not None:
            m.rack_id = hb.rack_id
        if hb.rebalance_timeout_ms != -1:
            m.rebalance_timeout_ms = hb.rebalance_timeout_ms
        if hb.server_assignor is not None and hb.server_assignor != m.server_assignor:
            m.server_assignor = hb.server_assignor
            bump = True
        if hb.subscribed_topic_names is not None and sorted(hb.subscribed_topic_names) != m.subscribed_topic_names:
            m.subscribed_topic_names = sorted(set(hb.subscribed_topic_names))
            bump = True
        if hb.subscribed_topic_regex is not None:
            regex = hb.subscribed_topic_regex or None
            if regex != m.subscribed_topic_regex:
                m.subscribed_topic_regex = regex
                bump = True
        m.client_id, m.client_host = hb.client_id, hb.client_host
        group_epoch = g.group_epoch
        if bump:
            g.metadata = self._metadata(g, self.topic_partitions())
            self._bump(g)
        else:
            self.refresh(g)
        # 2. a new target assignment if the group epoch moved
        self._maybe_assign(g)
        # 3. one reconciliation step
        reconcile(g, m, hb.owned)
        if m.state is MemberState.UNREVOKED_PARTITIONS:
            self._arm_revoke(g, m)
        else:
            self._disarm_revoke(m)
        self._touch(g, m)
        if g.group_epoch != group_epoch or m.to_json() != old_json:
            self._save(g)
        full = joining or (hb.rebalance_timeout_ms != -1 and hb.subscribed_topic_names is not None
                           and hb.owned is not None)
        changed = not tp_equal(old_assigned, m.assigned) or old_epoch != m.member_epoch
        return HeartbeatOut(
            ErrorCode.NONE, member_id=m.member_id, member_epoch=m.member_epoch,
            heartbeat_interval_ms=self._config(g.group_id, "consumer.heartbeat.interval.ms",
                                               self.heartbeat_interval_ms),
            assignment={t: set(ps) for t, ps in m.assigned.items()} if full or changed else None,
        )

    def _check_epoch(self, m: ConsumerMember, hb: HeartbeatIn) -> None:
        got = hb.member_epoch
        if got > m.member_epoch:
            raise HeartbeatError(ErrorCode.FENCED_MEMBER_EPOCH,
                                 f"The consumer group member has a greater member epoch ({got}) than the one known "
                                 f"by the group coordinator ({m.member_epoch}). The member must abandon all its "
                                 "partitions and rejoin.")
        if got < m.member_epoch:
            subset = hb.owned is not None and all(
                ps <= m.assigned.get(t, set()) for t, ps in hb.owned.items())
            if got != m.previous_member_epoch or not subset:
                raise HeartbeatError(ErrorCode.FENCED_MEMBER_EPOCH,
                                     f"The consumer group member has a smaller member epoch ({got}) than the one "
                                     f"known by the group coordinator ({m.member_epoch}). The member must abandon "
                                     "all its partitions and rejoin.")

    def _replace_static(self, g: ConsumerGroup, old: ConsumerMember, new_id: str) -> ConsumerMember:
        """A static member back under a new member id takes over the old one's assignment and epoch."""
        self._cancel_timers(old)
        assigned = old.assigned
        pending = old.pending_revocation
        target = g.target.pop(old.member_id, None)
        g.remove(old)
        m = ConsumerMember(**{**old.to_json(), "member_id": new_id, "state": old.state,
                              "assigned": {}, "pending_revocation": {}})
        m.member_epoch = old.previous_member_epoch if old.member_epoch == STATIC_LEAVE_EPOCH else old.member_epoch
        g.add(m)
        g.set_partitions(m, assigned, pending)
        if target is not None:
            g.target[new_id] = target
        log.info("consumer group %s: static member %s is back as %s", g.group_id, old.instance_id, new_id)
        return m

    def _leave(self, hb: HeartbeatIn) -> HeartbeatOut:
        g = self.groups.get(hb.group_id)
        if g is None:
            raise HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, f"Consumer group {hb.group_id} not found.")
        m = g.members.get(hb.member_id)
        if hb.instance_id is not None:
            holder_id = g.static_members.get(hb.instance_id)
            if holder_id is None:
                raise HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {hb.instance_id} is unknown.")
            if holder_id != hb.member_id:
                raise HeartbeatError(ErrorCode.FENCED_INSTANCE_ID,
                                     f"Static member {hb.member_id} with instance id {hb.instance_id} was fenced "
                                     f"by member {holder_id}.")
        if m is None:
            raise HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, f"Member {hb.member_id} is not a member of the group.")
        if hb.member_epoch == STATIC_LEAVE_EPOCH:
            # A static member going away for a while keeps its assignment until its session times out.
            log.info("consumer group %s: static member %s left temporarily", g.group_id, m.instance_id)
            if m.member_epoch != STATIC_LEAVE_EPOCH:
                m.previous_member_epoch, m.member_epoch = m.member_epoch, STATIC_LEAVE_EPOCH
            self._save(g)
        else:
            log.info("consumer group %s: member %s left", g.group_id, m.member_id)
            self._fence(g, m)
        return HeartbeatOut(ErrorCode.NONE, member_id=hb.member_id, member_epoch=hb.member_epoch,
                            heartbeat_interval_ms=0)

    # -- offsets ------------------------------------------------------------------------------
    def check_commit(self, group_id: str, member_id: str, member_epoch: int, api_version: int | None = None) -> int:
        """OffsetCommit/TxnOffsetCommit into a consumer group (Kafka's ConsumerGroup.validateOffsetCommit).

        `api_version` is OffsetCommit's (None for TxnOffsetCommit): a consumer-protocol
        member must commit with v9+, which carries the member epoch.
        """
        g = self.groups[group_id]
        if member_epoch < 0 and not g.members:
            return ErrorCode.NONE  # an admin or assign() commit into an empty group
        m = g.members.get(member_id)
        if m is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if api_version is not None and api_version < 9:
            return ErrorCode.UNSUPPORTED_VERSION
        if member_epoch != m.member_epoch:
            return ErrorCode.STALE_MEMBER_EPOCH
        return ErrorCode.NONE

    def check_fetch(self, group_id: str, member_id: str | None, member_epoch: int) -> int:
        """OffsetFetch v9+ with a member id and epoch (Kafka's validateOffsetFetch)."""
        g = self.groups[group_id]
        if member_epoch < 0 and not member_id:
            return ErrorCode.NONE
        m = g.members.get(member_id or "")
        if m is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if member_epoch != m.member_epoch:
            return ErrorCode.STALE_MEMBER_EPOCH
        return ErrorCode.NONE

    # -- admin --------------------------------------------------------------------------------
    def delete_group(self, group_id: str) -> int:
        g = self.groups[group_id]
        if g.members:
            return ErrorCode.NON_EMPTY_GROUP
        self.drop(group_id)
        self.offsets.delete_group(group_id)
        return ErrorCode.NONE

    def drop(self, group_id: str) -> None:
        """Forget a group (deleted, or an empty one taken over by a classic member)."""
        g = self.groups.pop(group_id, None)
        if g is not None:
            g.deleted = True
            self.offsets.put_group_state(group_id, None)

    def take_over_for_classic(self, group_id: str) -> int:
        """A classic JoinGroup for a group id: an empty consumer group is converted, a live one refused."""
        g = self.groups.get(group_id)
        if g is None:
            return ErrorCode.NONE
        if g.members:
            return ErrorCode.GROUP_ID_NOT_FOUND
        log.info("group %s: empty consumer group converted to a classic group", group_id)
        self.drop(group_id)
        return ErrorCode.NONE

    def subscribed_topics(self, group_id: str) -> set[str]:
        g = self.groups[group_id]
        return set(g.metadata) | g.subscribed_names()

    def on_topic_deleted(self, topic: str) -> None:
        for g in self.groups.values():
            if topic in g.metadata and self.refresh(g):
                self._maybe_assign(g)
                self._save(g)

    def expire(self, retention_ms: int) -> None:
        """Empty consumer groups whose offsets are all gone (or older than the retention) are deleted."""
        now = self.wall_ms()
        for g in list(self.groups.values()):
            if g.members or now - g.state_since_ms < retention_ms:
                continue
            offs = self.offsets.group_offsets(g.group_id)
            if not offs or now - max(c.commit_ts_ms for c in offs.values()) >= retention_ms:
                self.drop(g.group_id)
                self.offsets.delete_group(g.group_id)

    def states(self) -> dict[str, GroupState]:
        return {gid: g.state for gid, g in self.groups.items()}
