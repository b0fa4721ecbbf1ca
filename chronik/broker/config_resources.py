"""Config resources shared by DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.

Topic configs are per topic. Broker configs are either static (the command
line of `chronik integrated`; read-only) or dynamic: the topic defaults Kafka
lets AlterConfigs change at run time (`log.retention.ms`, `message.max.bytes`,
...), set per broker (resource name "0") or cluster-wide (empty name),
persisted in meta.json and applied to every topic at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chronik.metadata.configs import (
    BROKER_TOPIC_SYNONYMS,
    TOPIC_CONFIGS,
    ConfigError,
    validate_broker_configs,
    validate_group_configs,
    validate_topic_configs,
)
from chronik.wire.errors import ErrorCode, KafkaApiError

TOPIC, BROKER, BROKER_LOGGER, GROUP = 2, 4, 8, 32

# DescribeConfigs ConfigSource values.
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
GROUP_CONFIG = 8

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3

# (name, value, source, type, read only)
ConfigRow = tuple[str, str, int, str, bool]


def static_broker_configs(core) -> list[ConfigRow]:
    c = core.config
    static = STATIC_BROKER_CONFIG
    return [
        ("node.id", str(c.node_id), static, "int", True),
        ("broker.id", str(c.node_id), static, "int", True),
        ("log.dirs", str(core.data_dir), static, "string", True),
        ("listeners", f"PLAINTEXT://{c.host}:{c.port}", static, "string", True),
        ("advertised.listeners", f"PLAINTEXT://{c.advertised}:{c.port}", static, "string", True),
        ("num.partitions", str(c.default_partitions), static, "int", True),
        ("auto.create.topics.enable", str(c.auto_create_topics).lower(), static, "boolean", True),
        ("socket.request.max.bytes", str(c.max_request_bytes), static, "int", True),
        ("default.replication.factor", "1", DEFAULT_CONFIG, "int", True),
        ("offsets.topic.replication.factor", "1", DEFAULT_CONFIG, "short", True),
        ("group.initial.rebalance.delay.ms", str(c.group_initial_rebalance_delay_ms), static, "int", True),
        ("offsets.retention.minutes", str(c.offsets_retention_minutes), static, "int", True),
        ("offsets.retention.check.interval.ms", str(c.offsets_retention_check_interval_ms), static, "long", True),
        ("transaction.max.timeout.ms", str(c.transaction_max_timeout_ms), static, "int", True),
        ("log.retention.check.interval.ms", str(c.log_retention_check_interval_ms), static, "long", True),
        ("delete.topic.enable", "true", DEFAULT_CONFIG, "boolean", True),
    ]


def dynamic_source(core, broker_name: str) -> tuple[str, int] | None:
    """(value, source) of a dynamic broker config that is set, the broker's own first."""
    own = core.broker_configs.get(str(core.config.node_id), {})
    if broker_name in own:
        return own[broker_name], DYNAMIC_BROKER_CONFIG
    cluster = core.broker_configs.get("", {})
    if broker_name in cluster:
        return cluster[broker_name], DYNAMIC_DEFAULT_BROKER_CONFIG
    return None


def broker_configs(core, scope: str) -> list[ConfigRow]:
    """The configs of a broker resource: "" is the cluster-wide dynamic default alone."""
    if scope == "":
        return [(name, value, DYNAMIC_DEFAULT_BROKER_CONFIG, TOPIC_CONFIGS[BROKER_TOPIC_SYNONYMS[name]].type, False)
                for name, value in sorted(core.broker_configs.get("", {}).items())]
    rows = static_broker_configs(core)
    for name, topic_name in BROKER_TOPIC_SYNONYMS.items():
        spec = TOPIC_CONFIGS[topic_name]
        value, source = dynamic_source(core, name) or (spec.default, DEFAULT_CONFIG)
        rows.append((name, value, source, spec.type, False))
    return rows


def topic_or_error(core, name: str):
    topic = core.topics.get(name)
    if topic is None:
        raise KafkaApiError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                            f"Topic '{name}' does not exist.")
    return topic


def check_broker_resource(core, name: str) -> str:
    """The scope a broker resource name means: "" (cluster default) or this broker's id."""
    if name not in ("", str(core.config.node_id)):
        raise KafkaApiError(ErrorCode.INVALID_REQUEST, f"Unknown broker id {name!r}")
    return name


def _spec_of(name: str, broker: bool) -> Any:
    if broker:
        topic_name = BROKER_TOPIC_SYNONYMS.get(name)
        return TOPIC_CONFIGS[topic_name] if topic_name else None
    return TOPIC_CONFIGS.get(name)


def apply_incremental(current: dict[str, str], ops, broker: bool = False,
                      static: tuple[str, ...] = ()) -> dict[str, str]:
    """Return new overrides after SET/DELETE/APPEND/SUBTRACT operations."""
    validate: Callable[..., dict[str, str]] = (
        (lambda c: validate_broker_configs(c, static)) if broker else validate_topic_configs)
    new = dict(current)
    for name, op, value in ops:
        spec = _spec_of(name, broker)
        if spec is None:
            validate({name: value})  # the right "unknown"/"not dynamic" error
            raise ConfigError(f"Unknown config name: {name}")
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
    return validate(new)


def static_names(core) -> tuple[str, ...]:
    return tuple(row[0] for row in static_broker_configs(core))


def group_configs(core, group_id: str) -> list[ConfigRow]:
    """A group's configs (they exist whether or not the group does, as in Kafka)."""
    own = core.consumer_groups.group_configs.get(group_id, {})
    defaults = core.group_config_defaults()
    rows = []
    for name, default in defaults.items():
        if name in own:
            rows.append((name, own[name], GROUP_CONFIG, "int", False))
        else:
            rows.append((name, str(default), DEFAULT_CONFIG, "int", False))
    return rows


def apply_group_incremental(core, current: dict[str, str], ops) -> dict[str, str]:
    new = dict(current)
    for name, op, value in ops:
        if op == SET:
            new[name] = value
        elif op == DELETE:
            new.pop(name, None)
        else:
            raise ConfigError(f"Config {name} is not a list; APPEND/SUBTRACT need a list config")
    return validate_group_configs(new, core.group_config_defaults())
