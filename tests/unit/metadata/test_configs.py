"""Topic config validation and incremental alteration."""

from __future__ import annotations

import pytest

from chronik.broker.config_resources import APPEND, DELETE, SET, SUBTRACT, apply_incremental
from chronik.broker.state import topic_name_error
from chronik.metadata.configs import ConfigError, effective_topic_config, validate_topic_configs


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


def test_incremental_operations():
    cur = {"retention.ms": "5"}
    assert apply_incremental(cur, [("retention.ms", DELETE, None)]) == {}
    assert apply_incremental(cur, [("segment.ms", SET, "1000")]) == {"retention.ms": "5", "segment.ms": "1000"}
    assert apply_incremental({}, [("cleanup.policy", APPEND, "compact")])["cleanup.policy"] == "delete,compact"
    assert apply_incremental({"cleanup.policy": "delete,compact"},
                             [("cleanup.policy", SUBTRACT, "delete")])["cleanup.policy"] == "compact"
    with pytest.raises(ConfigError):
        apply_incremental(cur, [("retention.ms", APPEND, "1")])


@pytest.mark.parametrize("name,ok", [("orders", True), ("a.b_c-1", True), ("", False), (".", False),
                                     ("..", False), ("x" * 250, False), ("sp ace", False), ("ü", False)])
def test_topic_names(name, ok):
    assert (topic_name_error(name) is None) == ok
