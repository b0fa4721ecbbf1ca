"""Topic configuration: names, defaults, validation, and the typed view parsed once.

Only overrides are stored per topic; DescribeConfigs reports every known
config with its value, its source and whether it is the default, so the
string forms stay (``effective_topic_config``). Everything else reads the
typed ``TopicConfig`` (``TopicConfig.parse(overrides)``) and hands the
storage layer its own small configs (``log_config()``, ``cleaner_config()``,
``retention_config()``): no other module parses numbers out of the strings.

Errors are ``ConfigError`` carrying a Kafka error code as a plain int; this
package knows nothing of the wire, the broker translates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chronik.storage.compaction import CleanerConfig
from chronik.storage.log import LogConfig
from chronik.storage.retention import RetentionConfig

__all__ = [
    "CONFIG_TYPE_IDS",
    "INVALID_CONFIG",
    "TOPIC_CONFIGS",
    "ConfigDef",
    "ConfigError",
    "BROKER_TOPIC_SYNONYMS",
    "TopicConfig",
    "effective_topic_config",
    "validate_topic_configs",
]

# Kafka's INVALID_CONFIG error code, the code of every ConfigError raised here.
INVALID_CONFIG = 40
# flush.messages at or above this means "never flush by count" (its default is Long.MAX_VALUE).
_NEVER = 2**62


class ConfigError(Exception):
    """A config name or value is not acceptable.

    ``code`` is the Kafka error code to answer with, a plain int (Kafka's
    numbering; ``INVALID_CONFIG`` = 40 unless the raiser says otherwise);
    ``message`` is the text for the client.
    """

    def __init__(self, message: str, code: int = INVALID_CONFIG) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _long(lo: int | None = None) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        try:
            v = int(value)
        except ValueError:
            raise ConfigError(f"Invalid value {value!r} for {name}: not an integer") from None
        if lo is not None and v < lo:
            raise ConfigError(f"Invalid value {value} for {name}: must be at least {lo}")
        return str(v)

    return check


def _level(lo: int, hi: int, *also: int) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        v = int(_long()(name, value))
        if not lo <= v <= hi and v not in also:
            raise ConfigError(f"Invalid value {value} for {name}: must be between {lo} and {hi}")
        return str(v)

    return check


def _ratio(name: str, value: str) -> str:
    try:
        v = float(value)
    except ValueError:
        raise ConfigError(f"Invalid value {value!r} for {name}: not a number") from None
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"Invalid value {value} for {name}: must be between 0 and 1")
    return value


def _choice(*options: str, multi: bool = False) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        parts = [p.strip() for p in value.split(",")] if multi else [value.strip()]
        for p in parts:
            if p not in options:
                raise ConfigError(
                    f"Invalid value {value!r} for {name}: must be one of {', '.join(options)}"
                )
        return ",".join(parts)

    return check


def _bool(name: str, value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise ConfigError(f"Invalid value {value!r} for {name}: must be true or false")
    return value.lower()


@dataclass(frozen=True, slots=True)
class ConfigDef:
    name: str
    default: str
    validate: Callable[[str, str], str]
    type: str = "long"  # DescribeConfigs v3+ config_type name
    doc: str = ""


# Kafka's DescribeConfigs ConfigType enum.
CONFIG_TYPE_IDS = {
    "boolean": 1, "string": 2, "int": 3, "short": 4, "long": 5, "double": 6,
    "list": 7, "class": 8, "password": 9,
}

TOPIC_CONFIGS: dict[str, ConfigDef] = {
    c.name: c
    for c in [
        ConfigDef("chronik.search.enable", "false", _bool, "boolean",
                  "index the topic's records for search (chronik.search; off the produce path)"),
        ConfigDef("cleanup.policy", "delete", _choice("delete", "compact", multi=True), "list",
                  "delete old segments, compact by key, or both"),
        ConfigDef("compression.gzip.level", "-1", _level(1, 9, -1), "int",
                  "gzip level when the broker compresses (-1: the codec's default)"),
        ConfigDef("compression.lz4.level", "9", _level(1, 17), "int", "lz4 level when the broker compresses"),
        ConfigDef("compression.zstd.level", "3", _level(-131072, 22), "int",
                  "zstd level when the broker compresses"),
        ConfigDef("compression.type", "producer",
                  _choice("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"), "string",
                  "codec the broker keeps; 'producer' keeps what the producer sent"),
        ConfigDef("delete.retention.ms", "86400000", _long(0), "long",
                  "how long tombstones are kept on a compacted topic"),
        ConfigDef("file.delete.delay.ms", "60000", _long(0)),
        ConfigDef("flush.messages", "9223372036854775807", _long(1)),
        ConfigDef("flush.ms", "9223372036854775807", _long(0)),
        ConfigDef("index.interval.bytes", "4096", _long(0), "int"),
        ConfigDef("max.compaction.lag.ms", "9223372036854775807", _long(1)),
        ConfigDef("max.message.bytes", "1048588", _long(0), "int",
                  "largest record batch the topic accepts"),
        ConfigDef("message.timestamp.type", "CreateTime",
                  _choice("CreateTime", "LogAppendTime"), "string"),
        ConfigDef("message.timestamp.before.max.ms", "9223372036854775807", _long(0)),
        ConfigDef("message.timestamp.after.max.ms", "3600000", _long(0), "long",
                  "how far ahead of the broker's clock a CreateTime timestamp may be (Kafka 4, KIP-937)"),
        ConfigDef("min.cleanable.dirty.ratio", "0.5", _ratio, "double"),
        ConfigDef("min.compaction.lag.ms", "0", _long(0)),
        ConfigDef("min.insync.replicas", "1", _long(1), "int"),
        ConfigDef("preallocate", "false", _bool, "boolean"),
        ConfigDef("retention.bytes", "-1", _long(-1), "long",
                  "size a partition may reach before old segments are deleted (-1: no limit)"),
        ConfigDef("retention.ms", "604800000", _long(-1), "long",
                  "age after which old segments are deleted (-1: forever)"),
        ConfigDef("segment.bytes", "1073741824", _long(14), "int", "size at which a segment rolls"),
        ConfigDef("segment.index.bytes", "10485760", _long(4), "int"),
        ConfigDef("segment.jitter.ms", "0", _long(0)),
        ConfigDef("segment.ms", "604800000", _long(1), "long", "age at which a segment rolls"),
        ConfigDef("unclean.leader.election.enable", "false", _bool, "boolean"),
        # Confluent Server's broker-side schema validation (chronik.registry.validation).
        ConfigDef("confluent.key.schema.validation", "false", _bool, "boolean",
                  "check every record key for a schema id registered under <topic>-key"),
        ConfigDef("confluent.value.schema.validation", "false", _bool, "boolean",
                  "check every record value for a schema id registered under <topic>-value"),
    ]
}


# Kafka's dynamic broker configs that are topic defaults (ServerTopicConfigSynonyms):
# settable with AlterConfigs/IncrementalAlterConfigs on a BROKER resource, per
# broker or cluster-wide (empty name), and applied to every topic at once.
BROKER_TOPIC_SYNONYMS: dict[str, str] = {
    "log.segment.bytes": "segment.bytes",
    "log.roll.ms": "segment.ms",
    "log.roll.jitter.ms": "segment.jitter.ms",
    "log.index.size.max.bytes": "segment.index.bytes",
    "log.flush.interval.messages": "flush.messages",
    "log.flush.interval.ms": "flush.ms",
    "log.retention.bytes": "retention.bytes",
    "log.retention.ms": "retention.ms",
    "message.max.bytes": "max.message.bytes",
    "log.index.interval.bytes": "index.interval.bytes",
    "log.cleaner.delete.retention.ms": "delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms": "min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms": "max.compaction.lag.ms",
    "log.segment.delete.delay.ms": "file.delete.delay.ms",
    "log.cleaner.min.cleanable.ratio": "min.cleanable.dirty.ratio",
    "log.cleanup.policy": "cleanup.policy",
    "unclean.leader.election.enable": "unclean.leader.election.enable",
    "min.insync.replicas": "min.insync.replicas",
    "compression.type": "compression.type",
    "log.preallocate": "preallocate",
    "log.message.timestamp.type": "message.timestamp.type",
    "log.message.timestamp.before.max.ms": "message.timestamp.before.max.ms",
    "log.message.timestamp.after.max.ms": "message.timestamp.after.max.ms",
}
TOPIC_BROKER_SYNONYMS = {topic: broker for broker, topic in BROKER_TOPIC_SYNONYMS.items()}


def validate_broker_configs(configs: Mapping[str, str | None], static: Iterable[str] = ()) -> dict[str, str]:
    """Check dynamic broker config overrides; names Kafka cannot change at run time are refused."""
    fixed = sorted(n for n in configs if n not in BROKER_TOPIC_SYNONYMS)
    if fixed:
        known = set(static)
        unknown = [n for n in fixed if n not in known]
        if unknown:
            raise ConfigError(f"Unknown broker config: {', '.join(unknown)}")
        raise ConfigError(f"Cannot update these configs dynamically: Set({', '.join(fixed)})")
    out = {}
    for name, value in configs.items():
        if value is None:
            continue
        out[name] = TOPIC_CONFIGS[BROKER_TOPIC_SYNONYMS[name]].validate(name, value)
    return out


def broker_topic_defaults(*layers: Mapping[str, str]) -> dict[str, str]:
    """Topic-level defaults from dynamic broker configs; later layers win."""
    out: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            if name in BROKER_TOPIC_SYNONYMS:
                out[BROKER_TOPIC_SYNONYMS[name]] = value
    return out


# Kafka 4's group configs (KIP-848's GroupConfig) for consumer-protocol groups:
# name -> (default broker config, lowest, highest), the bounds being Kafka's
# group.consumer.{min,max}.{session.timeout,heartbeat.interval}.ms defaults.
GROUP_CONFIGS: dict[str, tuple[str, int, int]] = {
    "consumer.session.timeout.ms": ("group.consumer.session.timeout.ms", 45_000, 60_000),
    "consumer.heartbeat.interval.ms": ("group.consumer.heartbeat.interval.ms", 5_000, 15_000),
}


def validate_group_configs(configs: Mapping[str, str | None],
                           broker_defaults: Mapping[str, int] | None = None) -> dict[str, str]:
    """Group config overrides within Kafka's min/max (widened to a broker default set outside them)."""
    out = {}
    for name, value in configs.items():
        bounds = GROUP_CONFIGS.get(name)
        if bounds is None:
            raise ConfigError(f"Unknown group config name: {name}")
        if value is None:
            continue
        v = int(_long()(name, value))
        broker_name, lo, hi = bounds
        default = (broker_defaults or {}).get(name)
        if default is not None:
            lo, hi = min(lo, default), max(hi, default)
        if v < lo:
            raise ConfigError(f"{name} must be greater than or equal to {broker_name.replace('.ms', '')}"
                              f" minimum {lo}")
        if v > hi:
            raise ConfigError(f"{name} must be less than or equal to {broker_name.replace('.ms', '')}"
                              f" maximum {hi}")
        out[name] = str(v)
    return out


def validate_topic_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    """Check names and values; return the normalised overrides."""
    out: dict[str, str] = {}
    for name, value in configs.items():
        spec = TOPIC_CONFIGS.get(name)
        if spec is None:
            raise ConfigError(f"Unknown topic config name: {name}")
        if value is None:
            raise ConfigError(f"Null value not supported for topic config {name}")
        out[name] = spec.validate(name, value)
    return out


def effective_topic_config(overrides: Mapping[str, str]) -> dict[str, str]:
    """Every topic config as a string: the override, else the default (DescribeConfigs)."""
    return {name: overrides.get(name, spec.default) for name, spec in TOPIC_CONFIGS.items()}


def _typed(spec: ConfigDef, value: str) -> Any:
    if spec.type in ("long", "int", "short"):
        return int(value)
    if spec.type == "double":
        return float(value)
    if spec.type == "boolean":
        return value == "true"
    if spec.type == "list":
        return tuple(value.split(","))
    return value


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """Every topic config, typed: one field per name in TOPIC_CONFIGS ('.' -> '_')."""

    chronik_search_enable: bool = False
    cleanup_policy: tuple[str, ...] = ("delete",)
    compression_gzip_level: int = -1
    compression_lz4_level: int = 9
    compression_zstd_level: int = 3
    compression_type: str = "producer"
    delete_retention_ms: int = 86_400_000
    file_delete_delay_ms: int = 60_000
    flush_messages: int = 2**63 - 1
    flush_ms: int = 2**63 - 1
    index_interval_bytes: int = 4096
    max_compaction_lag_ms: int = 2**63 - 1
    max_message_bytes: int = 1_048_588
    message_timestamp_type: str = "CreateTime"
    message_timestamp_before_max_ms: int = 2**63 - 1
    message_timestamp_after_max_ms: int = 3_600_000
    min_cleanable_dirty_ratio: float = 0.5
    min_compaction_lag_ms: int = 0
    min_insync_replicas: int = 1
    preallocate: bool = False
    retention_bytes: int = -1
    retention_ms: int = 604_800_000
    segment_bytes: int = 1_073_741_824
    segment_index_bytes: int = 10_485_760
    segment_jitter_ms: int = 0
    segment_ms: int = 604_800_000
    unclean_leader_election_enable: bool = False
    confluent_key_schema_validation: bool = False
    confluent_value_schema_validation: bool = False

    @classmethod
    def parse(cls, overrides: Mapping[str, str | None]) -> TopicConfig:
        """Validate ``overrides`` (raises ConfigError) and type every config, defaults included."""
        valid = validate_topic_configs(overrides)
        return cls(**{
            name.replace(".", "_"): _typed(spec, valid.get(name, spec.default))
            for name, spec in TOPIC_CONFIGS.items()
        })

    # -- cleanup.policy -------------------------------------------------------------
    @property
    def delete(self) -> bool:
        """cleanup.policy includes delete: retention removes old segments."""
        return "delete" in self.cleanup_policy

    @property
    def compact(self) -> bool:
        """cleanup.policy includes compact: the log cleaner keeps the latest record per key."""
        return "compact" in self.cleanup_policy

    # -- the storage layer's configs ---------------------------------------------------
    def log_config(self) -> LogConfig:
        flush = self.flush_messages
        return LogConfig(
            segment_bytes=self.segment_bytes,
            segment_ms=self.segment_ms,
            index_interval_bytes=self.index_interval_bytes,
            max_message_bytes=self.max_message_bytes,
            message_timestamp_type=self.message_timestamp_type,
            flush_messages=None if flush >= _NEVER else flush,
        )

    def cleaner_config(self) -> CleanerConfig:
        return CleanerConfig(
            delete_retention_ms=self.delete_retention_ms,
            min_cleanable_dirty_ratio=self.min_cleanable_dirty_ratio,
            min_compaction_lag_ms=self.min_compaction_lag_ms,
            max_compaction_lag_ms=self.max_compaction_lag_ms,
            segment_bytes=self.segment_bytes,
        )

    def retention_config(self) -> RetentionConfig:
        return RetentionConfig(
            delete=self.delete, retention_ms=self.retention_ms, retention_bytes=self.retention_bytes
        )


