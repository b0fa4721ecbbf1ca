"""Config resources shared by DescribeConfigs, AlterConfigs and IncrementalAlterConfigs."""

from __future__ import annotations

from chronik.metadata.configs import TOPIC_CONFIGS, ConfigError, validate_topic_configs
from chronik.wire.errors import ErrorCode, KafkaApiError

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8

# DescribeConfigs ConfigSource values.
DYNAMIC_TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def broker_configs(core) -> list[tuple[str, str, int, str]]:
    """(name, value, source, type) of the broker's configs."""
    c = core.config
    static = STATIC_BROKER_CONFIG
    rows = [
        ("node.id", str(c.node_id), static, "int"),
        ("broker.id", str(c.node_id), static, "int"),
        ("log.dirs", str(core.data_dir), static, "string"),
        ("listeners", f"PLAINTEXT://{c.host}:{c.port}", static, "string"),
        ("advertised.listeners", f"PLAINTEXT://{c.advertised}:{c.port}", static, "string"),
        ("num.partitions", str(c.default_partitions), static, "int"),
        ("auto.create.topics.enable", str(c.auto_create_topics).lower(), static, "boolean"),
        ("socket.request.max.bytes", str(c.max_request_bytes), static, "int"),
        ("default.replication.factor", "1", DEFAULT_CONFIG, "int"),
        ("offsets.topic.replication.factor", "1", DEFAULT_CONFIG, "short"),
        ("group.initial.rebalance.delay.ms", str(c.group_initial_rebalance_delay_ms), static, "int"),
        ("offsets.retention.minutes", str(c.offsets_retention_minutes), static, "int"),
        ("transaction.max.timeout.ms", str(c.transaction_max_timeout_ms), static, "int"),
        ("delete.topic.enable", "true", DEFAULT_CONFIG, "boolean"),
    ]
    # Topic defaults as Kafka names their broker-level counterparts.
    broker_names = {
        "cleanup.policy": "log.cleanup.policy",
        "retention.ms": "log.retention.ms",
        "retention.bytes": "log.retention.bytes",
        "segment.bytes": "log.segment.bytes",
        "segment.ms": "log.roll.ms",
        "max.message.bytes": "message.max.bytes",
        "message.timestamp.type": "log.message.timestamp.type",
        "compression.type": "compression.type",
        "delete.retention.ms": "log.cleaner.delete.retention.ms",
        "min.cleanable.dirty.ratio": "log.cleaner.min.cleanable.ratio",
        "index.interval.bytes": "log.index.interval.bytes",
        "min.insync.replicas": "min.insync.replicas",
    }
    for topic_name, bname in broker_names.items():
        spec = TOPIC_CONFIGS[topic_name]
        rows.append((bname, spec.default, DEFAULT_CONFIG, spec.type))
    return rows


def topic_or_error(core, name: str):
    topic = core.topics.get(name)
    if topic is None:
        raise KafkaApiError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                            f"Topic '{name}' does not exist.")
    return topic


def check_broker_resource(core, name: str) -> None:
    if name not in ("", str(core.config.node_id)):
        raise KafkaApiError(ErrorCode.INVALID_REQUEST, f"Unknown broker id {name!r}")


def apply_incremental(current: dict[str, str], ops) -> dict[str, str]:
    """Return new overrides after SET/DELETE/APPEND/SUBTRACT operations."""
    new = dict(current)
    for name, op, value in ops:
        spec = TOPIC_CONFIGS.get(name)
        if spec is None:
            raise ConfigError(f"Unknown topic config name: {name}")
        if op == SET:
            new[name] = value
        elif op == DELETE:
            new.pop(name, None)
        elif op in (APPEND, SUBTRACT):
            if spec.type != "list":
                raise ConfigError(f"Config {name} is not a list; APPEND/SUBTRACT need a list config")
            items = [x for x in new.get(name, spec.default).split(",") if x]
            values = [x for x in (value or "").split(",") if x]
            if op == APPEND:
                items += [x for x in values if x not in items]
            else:
                items = [x for x in items if x not in values]
            new[name] = ",".join(items)
        else:
            raise KafkaApiError(ErrorCode.INVALID_REQUEST, f"Unknown config operation {op}")
    return validate_topic_configs(new)
