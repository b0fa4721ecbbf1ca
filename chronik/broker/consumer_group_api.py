"""The consumer group coordinator's inputs and outputs as plain values, and request validation.

The ConsumerGroupHeartbeat handler turns the request into a `HeartbeatIn`
(topic names, not ids) and the coordinator answers a `HeartbeatOut`;
`validate` is Kafka's check of a heartbeat before any state is touched
(INVALID_REQUEST, UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chronik.broker.consumer_group_state import LEAVE_EPOCH, STATIC_LEAVE_EPOCH, TopicPartitions
from chronik.wire.errors import ErrorCode


@dataclass(slots=True)
class HeartbeatIn:
    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: list[str] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned: TopicPartitions | None = None
    client_id: str = ""
    client_host: str = ""
    api_version: int = 1


@dataclass(slots=True)
class HeartbeatOut:
    error: int
    message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: TopicPartitions | None = None


class HeartbeatError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validate(hb: HeartbeatIn, assignors: tuple[str, ...], regex: Callable[[str], object | None]) -> None:
    """Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid: HeartbeatError for a bad request."""

    def bad(msg: str) -> HeartbeatError:
        return HeartbeatError(ErrorCode.INVALID_REQUEST, msg)

    # Kafka 4.x's order and messages; v1 (KIP-1082) requires a client-generated member id.
    if hb.api_version >= 1 or hb.member_epoch > 0 or hb.member_epoch == LEAVE_EPOCH:
        if not hb.member_id:
            raise bad("MemberId can't be empty.")
    if not hb.group_id:
        raise bad("GroupId can't be empty.")
    if hb.instance_id == "":
        raise bad("InstanceId can't be empty.")
    if hb.rack_id == "":
        raise bad("RackId can't be empty.")
    if hb.member_epoch == 0:
        if hb.rebalance_timeout_ms == -1:
            raise bad("RebalanceTimeoutMs must be provided in first request.")
        if hb.owned is None or hb.owned:
            raise bad("TopicPartitions must be empty when (re-)joining.")
        # Empty names or an empty regex: a member subscribed to nothing, but a member.
        if hb.subscribed_topic_names is None and hb.subscribed_topic_regex is None:
            raise bad("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
    elif hb.member_epoch == STATIC_LEAVE_EPOCH:
        if hb.instance_id is None:
            raise bad("InstanceId can't be null.")
    elif hb.member_epoch < STATIC_LEAVE_EPOCH:
        raise bad("MemberEpoch is invalid.")
    if hb.server_assignor is not None and hb.server_assignor not in assignors:
        raise HeartbeatError(ErrorCode.UNSUPPORTED_ASSIGNOR,
                             f"ServerAssignor {hb.server_assignor} is not supported. "
                             f"Supported assignors: {', '.join(assignors)}.")
    if hb.subscribed_topic_regex is not None and regex(hb.subscribed_topic_regex) is None:
        raise HeartbeatError(ErrorCode.INVALID_REGULAR_EXPRESSION,
                             f"SubscribedTopicRegex {hb.subscribed_topic_regex} is not a valid regular expression.")
