"""CreatePartitions (37), v0-3: grow a topic's partition count."""

from __future__ import annotations

from kafka.protocol.admin.topics import CreatePartitionsResponse

from chronik.wire.errors import ErrorCode

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


def handle(ctx, req):
    core = ctx.core
    results = []
    for t in req.topics:
        code, msg = _check(core, t)
        if code == 0 and not req.validate_only:
            core.add_partitions(t.name, t.count)
        results.append(_Result(name=t.name, error_code=code, error_message=msg))
    return CreatePartitionsResponse(version=ctx.api_version, throttle_time_ms=0, results=results)
