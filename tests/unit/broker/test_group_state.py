"""The classic group's state table and its plain result values."""

from __future__ import annotations

import pytest

from chronik.broker.group_state import (
    TRANSITIONS,
    Event,
    Group,
    GroupState,
    IllegalTransition,
    JoinResult,
    SyncResult,
)
from chronik.wire.errors import ErrorCode as E

S = GroupState


def test_transition_table_is_explicit():
    g = Group("g", 0)
    with pytest.raises(IllegalTransition):
        g.fire(Event.ASSIGNED, 0)
    assert g.fire(Event.REBALANCE, 1) is S.PREPARING_REBALANCE
    assert g.fire(Event.JOINED, 2) is S.COMPLETING_REBALANCE
    assert g.fire(Event.ASSIGNED, 3) is S.STABLE
    assert g.fire(Event.DELETE, 4) is S.DEAD
    assert TRANSITIONS[S.DEAD] == {}
    with pytest.raises(IllegalTransition):
        g.fire(Event.REBALANCE, 5)


def test_results_are_plain_values():
    assert SyncResult(E.NONE).assignment == b""
    assert JoinResult(E.NONE, "m").members == []
