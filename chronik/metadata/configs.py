"""Topic and broker configuration: names, defaults, validation.

Only overrides are stored per topic; DescribeConfigs reports every known
config with its value, its source and whether it is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chronik.wire.errors import ErrorCode, KafkaApiError


class ConfigError(KafkaApiError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_CONFIG, message)


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
        ConfigDef("cleanup.policy", "delete", _choice("delete", "compact", multi=True), "list",
                  "delete old segments, compact by key, or both"),
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
        ConfigDef("message.timestamp.after.max.ms", "9223372036854775807", _long(0)),
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
    ]
}


def validate_topic_configs(configs: dict[str, str | None]) -> dict[str, str]:
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


def effective_topic_config(overrides: dict[str, str]) -> dict[str, str]:
    return {name: overrides.get(name, spec.default) for name, spec in TOPIC_CONFIGS.items()}
