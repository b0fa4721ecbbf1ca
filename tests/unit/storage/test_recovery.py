import os

import pytest

from chronik.storage.log import LogConfig, PartitionLog
from chronik.storage.recovery import recover_segment

from .test_support import GZIP, build_batch, decode


def open_log(path, **config):
    return PartitionLog(path, LogConfig(**config), now_ms=lambda: 1_800_000_000_000)


def fill(path, batches=20, **config):
    """A closed log of `batches` 3-record batches; returns the batch sizes."""
    log = open_log(path, **config)
    sizes = []
    for i in range(batches):
        data = build_batch(3, prefix=f"b{i}-", value_size=40, compression=GZIP if i % 2 else 0)
        sizes.append(len(data))
        log.append(bytearray(data))
    log.close()
    return sizes


def all_offsets(log):
    return [r[0] for r in decode(log.read(log.log_start_offset, 1 << 30).data)]


def active_log_file(path):
    return sorted(path.glob("*.log"))[-1]


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path / "t-3"


@pytest.mark.parametrize("cut", [1, 30, 61, 70])
def test_truncated_mid_batch_is_recovered(log_dir, caplog, cut):
    sizes = fill(log_dir, index_interval_bytes=150)
    f = active_log_file(log_dir)
    os.truncate(f, os.path.getsize(f) - cut)
    with caplog.at_level("WARNING", logger="chronik.storage"):
        log = open_log(log_dir, index_interval_bytes=150)
    assert len(caplog.records) == 1 and "truncated" in caplog.text
    assert log.log_end_offset == 57
    assert os.path.getsize(f) == sum(sizes[:-1])
    assert all_offsets(log) == list(range(57))
    assert log.append(bytearray(build_batch(2))).base_offset == 57
    assert all_offsets(log) == list(range(59))
    log.close()
    log = open_log(log_dir, index_interval_bytes=150)
    assert log.log_end_offset == 59
    log.close()


def test_flipped_byte_in_last_batch_is_dropped(log_dir, caplog):
    sizes = fill(log_dir, index_interval_bytes=150)
    f = active_log_file(log_dir)
    with open(f, "r+b") as fh:
        fh.seek(sum(sizes[:-1]) + 80)
        b = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([b[0] ^ 0x40]))
    with caplog.at_level("WARNING", logger="chronik.storage"):
        log = open_log(log_dir, index_interval_bytes=150)
    assert "CRC" in caplog.text
    assert log.log_end_offset == 57
    assert all_offsets(log) == list(range(57))
    assert log.append(bytearray(build_batch(1))).base_offset == 57
    log.close()


def test_corrupt_indexed_batch_forces_full_rebuild(log_dir):
    # With a huge interval only the batch at the last index entry and later are checked;
    # damaging the indexed batch itself must still be caught.
    sizes = fill(log_dir, index_interval_bytes=1)
    log = open_log(log_dir, index_interval_bytes=1)
    seg = log.segments[-1]
    last_pos = seg.index.positions[-1]
    log.close()
    assert last_pos == sum(sizes[:-1])
    f = active_log_file(log_dir)
    with open(f, "r+b") as fh:
        fh.seek(last_pos + 100)
        fh.write(b"\x00\x01\x02")
    log = open_log(log_dir, index_interval_bytes=1)
    assert log.log_end_offset == 57
    assert list(log.segments[-1].index.positions)[-1] == sum(sizes[:-2])
    log.close()


def test_garbage_tail_after_valid_batches(log_dir):
    fill(log_dir, batches=5)
    f = active_log_file(log_dir)
    with open(f, "ab") as fh:
        fh.write(b"\x00" * 5000)
    log = open_log(log_dir)
    assert log.log_end_offset == 15
    assert all_offsets(log) == list(range(15))
    log.close()


def test_whole_active_segment_torn(log_dir):
    fill(log_dir, batches=10, segment_bytes=700)
    f = active_log_file(log_dir)
    base = int(f.stem)
    assert base > 0
    os.truncate(f, 20)
    log = open_log(log_dir, segment_bytes=700)
    assert log.log_end_offset == base
    assert all_offsets(log) == list(range(base))
    log.close()


@pytest.mark.parametrize("suffix", [".index", ".timeindex"])
def test_deleted_indexes_are_rebuilt(log_dir, suffix, caplog):
    fill(log_dir, batches=30, segment_bytes=2000, index_interval_bytes=100)
    originals = {p.name: p.read_bytes() for p in log_dir.glob(f"*{suffix}")}
    assert len(originals) > 2 and any(originals.values())
    for p in log_dir.glob(f"*{suffix}"):
        p.unlink()
    with caplog.at_level("WARNING", logger="chronik.storage"):
        log = open_log(log_dir, segment_bytes=2000, index_interval_bytes=100)
    assert "rebuilt" in caplog.text
    rebuilt = {p.name: p.read_bytes() for p in log_dir.glob(f"*{suffix}")}
    assert rebuilt == originals
    assert all_offsets(log) == list(range(90))
    assert log.max_timestamp()[0] >= 0
    log.close()


def test_garbage_index_is_rebuilt(log_dir):
    fill(log_dir, batches=30, index_interval_bytes=100)
    index = next(log_dir.glob("*.index"))
    original = index.read_bytes()
    index.write_bytes(b"\x00\x00\x00\x07\x7f\xff\xff\xff" + b"\x01" * 3)
    log = open_log(log_dir, index_interval_bytes=100)
    assert index.read_bytes() == original
    assert all_offsets(log) == list(range(90))
    log.close()


def test_missing_index_entries_after_crash_are_added(log_dir):
    fill(log_dir, batches=30, index_interval_bytes=100)
    index = next(log_dir.glob("*.index"))
    original = index.read_bytes()
    # A kill between the log write and the index write loses the newest entries.
    index.write_bytes(original[:-24])
    log = open_log(log_dir, index_interval_bytes=100)
    assert index.read_bytes() == original
    log.close()


def test_unclosed_log_is_recovered(log_dir, tmp_path):
    # Like a kill -9: everything appended was write()-n, the in-memory index
    # tail was not; the next open re-derives it.
    log = open_log(log_dir, index_interval_bytes=10)
    for i in range(200):
        log.append(bytearray(build_batch(1 + i % 3, prefix=f"u{i}-")))
    end = log.log_end_offset
    expected_index = log.segments[-1].index.to_bytes()
    expected_time = log.segments[-1].time_index.to_bytes()
    assert len(next(log_dir.glob("*.index")).read_bytes()) < len(expected_index)
    reopened = open_log(log_dir, index_interval_bytes=10)
    assert reopened.log_end_offset == end
    assert next(log_dir.glob("*.index")).read_bytes() == expected_index
    assert next(log_dir.glob("*.timeindex")).read_bytes() == expected_time
    assert all_offsets(reopened) == list(range(end))
    reopened.close()
    log.close()


def test_recover_segment_tool(log_dir):
    sizes = fill(log_dir, batches=8)
    f = active_log_file(log_dir)
    os.truncate(f, os.path.getsize(f) - 5)
    result = recover_segment(f, full=True)
    assert result.repaired
    assert result.truncated_bytes == sizes[-1] - 5
    assert result.next_offset == 21
    assert result.batches_verified == 7
    again = recover_segment(f, full=True)
    assert not again.repaired and again.batches_verified == 7


def test_index_past_truncated_tail_is_fixed_on_disk(log_dir, caplog):
    sizes = fill(log_dir, batches=20, index_interval_bytes=100)
    f = active_log_file(log_dir)
    # Lose the last three batches and half of the one before (a power loss, say).
    os.truncate(f, sum(sizes[:16]) + sizes[16] // 2)
    log = open_log(log_dir, index_interval_bytes=100)
    assert log.log_end_offset == 48
    seg = log.segments[-1]
    assert max(seg.index.positions) < seg.size
    assert seg.index.path.read_bytes() == seg.index.to_bytes()
    log.close()
    caplog.clear()
    with caplog.at_level("WARNING", logger="chronik.storage"):
        log = open_log(log_dir, index_interval_bytes=100)
    assert not caplog.records
    assert all_offsets(log) == list(range(48))
    log.close()
