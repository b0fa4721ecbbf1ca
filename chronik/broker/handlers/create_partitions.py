"""CreatePartitions (37), v0-3: grow a topic's partition count."""

from __future__ import annotations

from kafka.protocol.admin.topics import CreatePartitionsResponse

from chronik.broker.topics import MAX_PARTITIONS_PER_REQUEST, TOO_MANY_PARTITIONS
from chronik.wire.errors import ErrorCode, KafkaApiError

API_KEY = 37

_Result = CreatePartitionsResponse.CreatePartitionsTopicResult


def _check(core, t) -> tuple[int, str | None]:
    topic = core.topics.get(t.name)
    if topic is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{t.name}' does not exist."
    current = len(topic.partitions)
    if t.count < current:
        return ErrorCode.INVALID_PARTITIONS, (
            f"Topic currently has {current} partitions, which is higher than the requested {t.count}."
        )
    if t.count == current:
        return ErrorCode.INVALID_PARTITIONS, f"Topic already has {current} partitions."
    if t.assignments is not None:
        if len(t.assignments) != t.count - current:
            return ErrorCode.INVALID_REPLICA_ASSIGNMENT, (
                f"Increasing the number of partitions by {t.count - current} but "
                f"{len(t.assignments)} assignments provided."
            )
        node = core.config.node_id
        for a in t.assignments:
            if list(a.broker_ids) != [node]:
                return ErrorCode.INVALID_REPLICA_ASSIGNMENT, (
                    f"Replica assignment {list(a.broker_ids)} is not possible: the only broker is {node}."
                )
    return ErrorCode.NONE, None


def _new_partitions(core, topics) -> int:
    total = 0
    for t in topics:
        topic = core.topics.get(t.name)
        if topic is not None and t.count > len(topic.partitions):
            total += t.count - len(topic.partitions)
    return total


def handle(ctx, req):
    core = ctx.core
    results = []
    # Checked before anything is created, for the whole request, as Kafka's controller does.
    too_many = _new_partitions(core, req.topics) > MAX_PARTITIONS_PER_REQUEST
    for t in req.topics:
        if too_many:
            code, msg = ErrorCode.POLICY_VIOLATION, TOO_MANY_PARTITIONS
        else:
            code, msg = _check(core, t)
        if code == 0 and not req.validate_only:
            try:
                core.add_partitions(t.name, t.count)
            except KafkaApiError as exc:
                code, msg = exc.code, exc.message
        results.append(_Result(name=t.name, error_code=code, error_message=msg))
    return CreatePartitionsResponse(version=ctx.api_version, throttle_time_ms=0, results=results)
