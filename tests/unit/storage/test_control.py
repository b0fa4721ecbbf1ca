from kafka.record.default_records import DefaultRecordBatch

from chronik.storage.batch import scan_batches
from chronik.storage.control import (
    ABORT,
    COMMIT,
    COORDINATOR_EPOCH,
    build_marker,
    is_abort_marker,
    marker_type,
)


def test_build_marker_round_trips():
    data = build_marker(7, 3, True, 123)
    (info,) = scan_batches(data)  # CRC checked
    assert info.is_control and info.is_transactional
    assert (info.producer_id, info.producer_epoch, info.base_sequence) == (7, 3, -1)
    assert info.record_count == 1 and info.max_timestamp == 123
    batch = DefaultRecordBatch(bytes(data))
    assert batch.is_control_batch
    (rec,) = list(batch)
    assert rec.commit and rec.timestamp == 123
    assert rec.value == b"\x00\x00" + COORDINATOR_EPOCH.to_bytes(4, "big")


def test_abort_and_commit_markers_are_told_apart():
    abort = build_marker(1, 0, False, 0)
    commit = build_marker(1, 0, True, 0)
    assert is_abort_marker(abort) and not is_abort_marker(commit)
    assert is_abort_marker(memoryview(abort))
    (rec,) = list(DefaultRecordBatch(bytes(abort)))
    assert marker_type(rec.key) == ABORT
    (rec,) = list(DefaultRecordBatch(bytes(commit)))
    assert marker_type(rec.key) == COMMIT


def test_marker_type_of_other_keys():
    assert marker_type(None) is None
    assert marker_type(b"\x00") is None
    assert marker_type(b"\x00\x00\x00\x05") is None
