"""Topic config validation and incremental alteration."""

from __future__ import annotations

from dataclasses import fields

import pytest

from chronik.metadata.configs import (
    BROKER_TOPIC_SYNONYMS,
    INVALID_CONFIG,
    TOPIC_CONFIGS,
    ConfigError,
    TopicConfig,
    broker_topic_defaults,
    effective_topic_config,
    validate_broker_configs,
    validate_topic_configs,
)
from chronik.storage.compaction import CleanerConfig
from chronik.storage.log import LogConfig
from chronik.storage.retention import RetentionConfig


def test_valid_configs_are_normalised():
    out = validate_topic_configs({"retention.ms": "0100", "cleanup.policy": "compact, delete",
                                  "min.cleanable.dirty.ratio": "0.3"})
    assert out == {"retention.ms": "100", "cleanup.policy": "compact,delete",
                   "min.cleanable.dirty.ratio": "0.3"}


@pytest.mark.parametrize("name,value", [
    ("retention.ms", "soon"), ("retention.ms", "-5"), ("segment.bytes", "1"),
    ("cleanup.policy", "shred"), ("min.cleanable.dirty.ratio", "2"),
    ("message.timestamp.type", "Now"), ("no.such.config", "1"), ("retention.bytes", None),
])
def test_invalid_configs(name, value):
    with pytest.raises(ConfigError):
        validate_topic_configs({name: value})


def test_effective_config_has_every_default():
    eff = effective_topic_config({"retention.ms": "5"})
    assert eff["retention.ms"] == "5" and eff["segment.bytes"] == "1073741824"


# -- TopicConfig: typed, parsed once -----------------------------------------------------

def test_topic_config_has_a_field_per_config_and_defaults_match():
    assert [f.name for f in fields(TopicConfig)] == [n.replace(".", "_") for n in TOPIC_CONFIGS]
    assert TopicConfig.parse({}) == TopicConfig()


def test_topic_config_types_every_value():
    cfg = TopicConfig.parse({
        "cleanup.policy": "compact, delete", "retention.ms": "0100", "min.cleanable.dirty.ratio": "0.25",
        "preallocate": "TRUE", "message.timestamp.type": "LogAppendTime", "flush.messages": "10",
    })
    assert cfg.cleanup_policy == ("compact", "delete") and cfg.compact and cfg.delete
    assert cfg.retention_ms == 100 and cfg.min_cleanable_dirty_ratio == 0.25
    assert cfg.preallocate is True and cfg.message_timestamp_type == "LogAppendTime"
    assert cfg.segment_bytes == 1073741824 and cfg.max_compaction_lag_ms == 2**63 - 1
    only_compact = TopicConfig.parse({"cleanup.policy": "compact"})
    assert only_compact.compact and not only_compact.delete


def test_topic_config_validates():
    with pytest.raises(ConfigError) as info:
        TopicConfig.parse({"retention.ms": "soon"})
    assert info.value.code == INVALID_CONFIG == 40
    assert "retention.ms" in info.value.message and str(info.value) == info.value.message
    with pytest.raises(ConfigError):
        TopicConfig.parse({"no.such.config": "1"})


def test_config_error_is_not_a_wire_error():
    assert ConfigError.__mro__[1] is Exception
    assert ConfigError("x", code=44).code == 44


def test_storage_configs():
    cfg = TopicConfig.parse({
        "segment.bytes": "2048", "segment.ms": "1000", "max.message.bytes": "100",
        "flush.messages": "5", "retention.bytes": "10", "retention.ms": "-1",
        "cleanup.policy": "compact", "delete.retention.ms": "7", "min.compaction.lag.ms": "3",
    })
    assert cfg.log_config() == LogConfig(
        segment_bytes=2048, segment_ms=1000, index_interval_bytes=4096, max_message_bytes=100,
        message_timestamp_type="CreateTime", flush_messages=5,
    )
    assert TopicConfig().log_config().flush_messages is None  # Long.MAX_VALUE: never by count
    assert cfg.retention_config() == RetentionConfig(delete=False, retention_ms=-1, retention_bytes=10)
    assert cfg.cleaner_config() == CleanerConfig(
        delete_retention_ms=7, min_cleanable_dirty_ratio=0.5, min_compaction_lag_ms=3,
        max_compaction_lag_ms=2**63 - 1, segment_bytes=2048,
    )


# -- dynamic broker configs ----------------------------------------------------------------

def test_broker_synonyms_name_real_topic_configs():
    assert set(BROKER_TOPIC_SYNONYMS.values()) <= set(TOPIC_CONFIGS)


def test_broker_configs_are_validated_and_static_ones_refused():
    assert validate_broker_configs({"log.retention.ms": "1000", "log.cleanup.policy": None}) == {
        "log.retention.ms": "1000"}
    with pytest.raises(ConfigError, match="log.retention.ms"):
        validate_broker_configs({"log.retention.ms": "soon"})
    with pytest.raises(ConfigError, match=r"Cannot update these configs dynamically: Set\(num.partitions\)"):
        validate_broker_configs({"num.partitions": "3"}, static=("num.partitions",))
    with pytest.raises(ConfigError, match="Unknown broker config"):
        validate_broker_configs({"no.such.config": "1"})


def test_broker_topic_defaults_layer():
    assert broker_topic_defaults({"log.retention.ms": "1", "message.max.bytes": "9"},
                                 {"log.retention.ms": "2"}) == {"retention.ms": "2", "max.message.bytes": "9"}


def test_group_configs_within_kafkas_bounds():
    from chronik.metadata.configs import validate_group_configs

    assert validate_group_configs({"consumer.session.timeout.ms": "50000"}) == {"consumer.session.timeout.ms": "50000"}
    with pytest.raises(ConfigError, match="greater than or equal"):
        validate_group_configs({"consumer.session.timeout.ms": "1000"})
    with pytest.raises(ConfigError, match="less than or equal"):
        validate_group_configs({"consumer.heartbeat.interval.ms": "20000"})
    # A broker default set outside Kafka's bounds (tests use 3 s) widens them.
    assert validate_group_configs({"consumer.session.timeout.ms": "3000"},
                                  {"consumer.session.timeout.ms": 3000}) == {"consumer.session.timeout.ms": "3000"}
    with pytest.raises(ConfigError, match="Unknown group config"):
        validate_group_configs({"share.record.lock.duration.ms": "1"})
