"""The transaction state table and the state log's round trip."""

from __future__ import annotations

import pytest

from chronik.broker.txn_state import TRANSITIONS, IllegalTxnTransition, TxnMetadata, TxnState, TxnStateLog

S = TxnState


def test_a_transaction_goes_round_the_table():
    meta = TxnMetadata("tx", 5, 0, 60_000)
    for state in (S.ONGOING, S.PREPARE_COMMIT, S.COMPLETE_COMMIT, S.ONGOING, S.PREPARE_ABORT,
                  S.COMPLETE_ABORT, S.EMPTY, S.DEAD):
        meta.transition(state)
        assert meta.state is state


@pytest.mark.parametrize("start,bad", [(S.EMPTY, S.PREPARE_COMMIT), (S.ONGOING, S.COMPLETE_COMMIT),
                                       (S.PREPARE_COMMIT, S.ONGOING), (S.ONGOING, S.DEAD),
                                       (S.PREPARE_ABORT, S.COMPLETE_COMMIT)])
def test_illegal_transitions_are_refused(start, bad):
    meta = TxnMetadata("tx", 5, 0, 60_000, state=start)
    with pytest.raises(IllegalTxnTransition):
        meta.transition(bad)
    assert meta.state is start


def test_every_state_has_a_row():
    assert set(TRANSITIONS) == set(TxnState)


def test_state_log_round_trip(tmp_path):
    log = TxnStateLog(tmp_path)
    assert log.load() == {}
    meta = TxnMetadata("tx", 7, 2, 30_000, state=S.ONGOING, partitions={("t", 1)}, groups={"g"},
                       pending_offsets={"g": {("t", 1): (9, "m", 0)}}, first_offsets={("t", 1): 4})
    log.append(meta)
    log.close()
    again = TxnStateLog(tmp_path).load()["tx"]
    assert again == meta
