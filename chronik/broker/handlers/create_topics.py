"""CreateTopics (19), v2-7: partitions, configs, validate_only.

This is a single-node broker: replication factor must be -1 or 1, and an
explicit replica assignment may only name this broker, one replica each.
"""

from __future__ import annotations

from kafka.protocol.admin.topics import CreateTopicsResponse

from chronik.broker.topics import MAX_PARTITIONS_PER_REQUEST, TOO_MANY_PARTITIONS
from chronik.metadata.configs import TOPIC_CONFIGS, ConfigError
from chronik.wire.errors import ErrorCode, KafkaApiError

API_KEY = 19

_Result = CreateTopicsResponse.CreatableTopicResult
_Config = _Result.CreatableTopicConfigs
SOURCE_TOPIC, SOURCE_DEFAULT = 1, 5


def _check_assignment(ct, node: int) -> int:
    if not ct.assignments:
        return ct.num_partitions
    if ct.num_partitions not in (-1, len(ct.assignments)) or ct.replication_factor not in (-1,):
        raise KafkaApiError(
            ErrorCode.INVALID_REQUEST,
            "Both numPartitions or replicationFactor and replicasAssignments were set.",
        )
    indexes = sorted(a.partition_index for a in ct.assignments)
    if indexes != list(range(len(indexes))):
        raise KafkaApiError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                            "Partitions must be numbered consecutively from 0.")
    for a in ct.assignments:
        if list(a.broker_ids) != [node]:
            raise KafkaApiError(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                f"Replica assignment {list(a.broker_ids)} is not possible: the only broker is {node}.",
            )
    return len(ct.assignments)


def check_one(core, ct) -> tuple[int, dict[str, str | None], dict[str, str]]:
    """(partitions, configs as sent, overrides as stored) of a topic to create, or KafkaApiError."""
    node = core.config.node_id
    num = _check_assignment(ct, node)
    if num == -1:
        num = core.config.default_partitions
    if ct.replication_factor not in (-1, 1) and not ct.assignments:
        raise KafkaApiError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"Replication factor {ct.replication_factor} is larger than the number of brokers (1).",
        )
    configs = {c.name: c.value for c in ct.configs}
    return num, configs, core.check_new_topic(ct.name, num, configs)


def handle(ctx, req):
    core = ctx.core
    v = ctx.api_version
    seen: dict[str, int] = {}
    requested = 0
    for ct in req.topics:
        seen[ct.name] = seen.get(ct.name, 0) + 1
        requested += len(ct.assignments) if ct.assignments else (
            ct.num_partitions if ct.num_partitions > 0 else core.config.default_partitions)
    # Kafka's controller refuses the whole request before creating anything.
    too_many = requested > MAX_PARTITIONS_PER_REQUEST
    # Per topic: (partitions, overrides) once checked, or the error.
    outcome: list[tuple[int, dict[str, str]] | KafkaApiError | ConfigError] = []
    to_create: list[tuple[str, int, dict[str, str | None]]] = []
    for ct in req.topics:
        try:
            if too_many:
                raise KafkaApiError(ErrorCode.POLICY_VIOLATION, TOO_MANY_PARTITIONS)
            if seen[ct.name] > 1:
                raise KafkaApiError(ErrorCode.INVALID_REQUEST,
                                    f"Create topics request contains {ct.name} more than once.")
            num, configs, overrides = check_one(core, ct)
        except (KafkaApiError, ConfigError) as exc:
            outcome.append(exc)
            continue
        outcome.append((num, overrides))
        to_create.append((ct.name, num, configs))
    # All topics of the request in one metadata write.
    created = iter(core.create_topics(to_create) if to_create and not req.validate_only else ())
    results = []
    for ct, out in zip(req.topics, outcome, strict=True):
        topic_id, num, configs_out = None, -1, None
        if not isinstance(out, tuple):
            code, msg = out.code, out.message
        else:
            code, msg = ErrorCode.NONE, None
            if not req.validate_only:
                topic = next(created)
                if isinstance(topic, KafkaApiError):
                    code, msg = topic.code, topic.message
                else:
                    topic_id = topic.topic_id
        if code == 0:
            num, overrides = out  # type: ignore[misc]
            configs_out = [
                _Config(name=n, value=overrides.get(n, spec.default), read_only=False,
                        config_source=SOURCE_TOPIC if n in overrides else SOURCE_DEFAULT,
                        is_sensitive=False)
                for n, spec in TOPIC_CONFIGS.items()
            ]
        results.append(
            _Result(
                name=ct.name,
                topic_id=topic_id,
                error_code=code,
                error_message=msg,
                num_partitions=num if code == 0 else -1,
                replication_factor=1 if code == 0 else -1,
                configs=configs_out if code == 0 else None,
            )
        )
    return CreateTopicsResponse(version=v, throttle_time_ms=0, topics=results)
