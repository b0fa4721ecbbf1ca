"""Sequence tracking of idempotent producers (no broker process)."""

from __future__ import annotations

from pathlib import Path

from chronik.broker.producers import ProducerStateManager
from chronik.metadata.store import MetadataStore
from chronik.storage.batch import BatchInfo
from chronik.wire.errors import ErrorCode


def info(pid: int, epoch: int, seq: int, count: int = 1, offset: int = 0) -> BatchInfo:
    return BatchInfo(position=0, size=100, base_offset=offset, last_offset_delta=count - 1,
                     base_timestamp=0, max_timestamp=0, producer_id=pid, producer_epoch=epoch,
                     base_sequence=seq, record_count=count, attributes=0)


def test_sequence_rules(tmp_path: Path):
    m = ProducerStateManager(MetadataStore(tmp_path))
    assert m.check("t", 0, info(1, 0, 0, 3)) == (ErrorCode.NONE, None)
    m.update("t", 0, info(1, 0, 0, 3), 10)
    code, cached = m.check("t", 0, info(1, 0, 0, 3))
    assert code == ErrorCode.NONE and cached.base_offset == 10
    assert m.check("t", 0, info(1, 0, 4))[0] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert m.check("t", 0, info(1, 0, 3)) == (ErrorCode.NONE, None)
    # Only the last five batches are remembered.
    for i in range(6):
        m.update("t", 0, info(1, 0, 3 + i), 20 + i)
    assert m.check("t", 0, info(1, 0, 0, 3))[0] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert m.check("t", 0, info(1, 0, 8))[1].base_offset == 25
    # Epochs: older is fenced, newer must start at 0.
    m.update("t", 0, info(1, 2, 0), 30)
    assert m.check("t", 0, info(1, 1, 1))[0] == ErrorCode.INVALID_PRODUCER_EPOCH
    assert m.check("t", 0, info(1, 3, 5))[0] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    # Other partitions and producers are independent.
    assert m.check("t", 1, info(1, 0, 77)) == (ErrorCode.NONE, None)
    assert m.check("t", 0, info(2, 0, 77)) == (ErrorCode.NONE, None)


def test_sequence_wraps_at_int32_max(tmp_path: Path):
    m = ProducerStateManager(MetadataStore(tmp_path))
    m.update("t", 0, info(1, 0, 2**31 - 2, 2), 0)
    assert m.check("t", 0, info(1, 0, 0)) == (ErrorCode.NONE, None)


def test_producer_ids_survive_restart_in_blocks(tmp_path: Path):
    s = MetadataStore(tmp_path)
    ids = [s.next_producer_id() for _ in range(3)]
    assert ids == [0, 1, 2]
    s.close()
    s2 = MetadataStore(tmp_path)
    # A restart skips to the next block: never hands out an id twice.
    assert s2.next_producer_id() == 1000
