"""Config resources: incremental alteration of topic and broker scopes."""

from __future__ import annotations

import pytest

from chronik.broker.config_resources import APPEND, DELETE, SET, SUBTRACT, apply_incremental
from chronik.metadata.configs import ConfigError


def test_incremental_operations():
    cur = {"retention.ms": "5"}
    assert apply_incremental(cur, [("retention.ms", DELETE, None)]) == {}
    assert apply_incremental(cur, [("segment.ms", SET, "1000")]) == {"retention.ms": "5", "segment.ms": "1000"}
    assert apply_incremental({}, [("cleanup.policy", APPEND, "compact")])["cleanup.policy"] == "delete,compact"
    assert apply_incremental({"cleanup.policy": "delete,compact"},
                             [("cleanup.policy", SUBTRACT, "delete")])["cleanup.policy"] == "compact"
    with pytest.raises(ConfigError):
        apply_incremental(cur, [("retention.ms", APPEND, "1")])


def test_incremental_operations_on_a_broker_scope():
    cur = {"log.retention.ms": "5"}
    assert apply_incremental(cur, [("log.retention.ms", DELETE, None)], broker=True) == {}
    assert apply_incremental(cur, [("log.cleanup.policy", APPEND, "compact")], broker=True) == {
        "log.retention.ms": "5", "log.cleanup.policy": "delete,compact"}
    with pytest.raises(ConfigError, match="dynamically"):
        apply_incremental(cur, [("num.partitions", SET, "3")], broker=True, static=("num.partitions",))
