"""A consumer group protocol (KIP-848) member for `chronik consume --group-protocol consumer`.

kafka-python has no KIP-848 consumer, so the CLI does the member's part
itself, on kafka-python's network client: ConsumerGroupHeartbeat every
heartbeat interval; an assignment from the coordinator is applied with
`assign()` after committing what was read from the partitions given up
(KIP-848: revoke, commit, then acknowledge with the next heartbeat, sent at
once); commits are OffsetCommit v9 with the member id and epoch. Fencing
(FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) drops every partition and rejoins
with epoch 0, as the Java client does. Works against Kafka 4.x too.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from chronik.cli.state import CliError

FENCED = {110, 25}  # FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID
RETRIABLE = {14, 15, 16}  # COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
REBALANCE_TIMEOUT_MS = 300_000


class GroupMember:
    def __init__(self, consumer: Any, group: str, topics: list[str], assignor: str | None = None) -> None:
        self.c = consumer
        self.group = group
        self.topics = topics
        self.assignor = assignor
        self.member_id = str(uuid.uuid4())
        self.epoch = 0
        self.owned: set[Any] = set()
        self.interval = 0.5
        self.next_beat = 0.0
        self.coordinator: int | None = None
        for t in topics:
            consumer.partitions_for_topic(t)  # metadata (and topic ids) for the subscribed topics

    # -- requests ---------------------------------------------------------------------
    def _send(self, request: Any, coordinator: bool = True) -> Any:
        manager = self.c._client._manager
        if coordinator and self.coordinator is None:
            self.coordinator = self._find_coordinator()

        async def go() -> Any:
            return await manager.send(request, node_id=self.coordinator if coordinator else None)

        return manager.run(go)

    def _find_coordinator(self) -> int:
        from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest

        resp = self._send(FindCoordinatorRequest(version=3, key=self.group, key_type=0), coordinator=False)
        if resp.error_code:
            raise CliError(f"no coordinator for group {self.group!r} (error {resp.error_code})")
        return resp.node_id

    # -- the member's loop ----------------------------------------------------------------
    def poll(self, processed: dict[Any, int]) -> None:
        """Heartbeat when due; apply a new assignment (committing `processed` offsets of revoked partitions)."""
        if time.monotonic() < self.next_beat:
            return
        from kafka.structs import TopicPartition

        from chronik.wire.kip848 import ConsumerGroupHeartbeatRequest

        joining = self.epoch == 0
        cluster = self.c._client.cluster
        owned: dict[Any, list[int]] = {}
        for tp in self.owned:
            tid = cluster.topic_id(tp.topic)
            if tid is not None:
                owned.setdefault(tid, []).append(tp.partition)
        req = ConsumerGroupHeartbeatRequest(
            version=0, group_id=self.group, member_id=self.member_id, member_epoch=self.epoch,
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS if joining else -1,
            subscribed_topic_names=self.topics if joining else None,
            server_assignor=self.assignor if joining else None,
            topic_partitions=[ConsumerGroupHeartbeatRequest.TopicPartitions(topic_id=t, partitions=sorted(ps))
                              for t, ps in owned.items()],
        )
        resp = self._send(req)
        self.next_beat = time.monotonic() + self.interval
        if resp.error_code in RETRIABLE:
            self.coordinator = None
            return
        if resp.error_code in FENCED:
            self._apply(set(), processed, commit=False)
            self.epoch = 0
            self.next_beat = 0.0
            return
        if resp.error_code:
            raise CliError(f"group {self.group!r}: heartbeat failed: {resp.error_message or resp.error_code}")
        if resp.member_id:
            self.member_id = resp.member_id
        self.epoch = resp.member_epoch
        self.interval = max(resp.heartbeat_interval_ms, 100) / 1000.0
        self.next_beat = time.monotonic() + self.interval
        if resp.assignment is not None:
            new = set()
            unknown = False
            for tp in resp.assignment.topic_partitions:
                name = cluster.topic_name_for_id(tp.topic_id)
                if name is None:
                    unknown = True
                    continue
                new |= {TopicPartition(name, p) for p in tp.partitions}
            if unknown:
                cluster.request_update()
            if self.owned - new:
                self.next_beat = 0.0  # acknowledge the revocation at once
            self._apply(new, processed, commit=True)

    def _apply(self, new: set[Any], processed: dict[Any, int], commit: bool) -> None:
        revoked = self.owned - new
        if revoked and commit:
            self.commit({tp: off for tp, off in processed.items() if tp in revoked})
        for tp in revoked:
            processed.pop(tp, None)
        if new != self.owned:
            self.c.assign(sorted(new, key=lambda tp: (tp.topic, tp.partition)))
        self.owned = new

    def commit(self, offsets: dict[Any, int]) -> None:
        """OffsetCommit v9 with this member's id and epoch."""
        if not offsets:
            return
        from kafka.protocol.consumer.group import OffsetCommitRequest

        T = OffsetCommitRequest.OffsetCommitRequestTopic
        P = T.OffsetCommitRequestPartition
        by_topic: dict[str, list[Any]] = {}
        for tp, off in offsets.items():
            by_topic.setdefault(tp.topic, []).append(
                P(partition_index=tp.partition, committed_offset=off, committed_leader_epoch=-1,
                  committed_metadata=""))
        req = OffsetCommitRequest(version=9, group_id=self.group, generation_id_or_member_epoch=self.epoch,
                                  member_id=self.member_id, group_instance_id=None,
                                  topics=[T(name=t, partitions=ps) for t, ps in by_topic.items()])
        resp = self._send(req)
        codes = {p.error_code for t in resp.topics for p in t.partitions} - {0}
        if codes:
            raise CliError(f"group {self.group!r}: commit failed (error {sorted(codes)})")

    def leave(self) -> None:
        from chronik.wire.kip848 import ConsumerGroupHeartbeatRequest

        if self.epoch <= 0:
            return
        try:
            self._send(ConsumerGroupHeartbeatRequest(version=0, group_id=self.group, member_id=self.member_id,
                                                     member_epoch=-1))
        except Exception:  # noqa: BLE001 - best effort on the way out; the session timeout does the rest
            pass
