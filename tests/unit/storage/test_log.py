import os
import struct

import pytest

from chronik.storage.batch import CorruptBatchError, scan_batches, verify_batches
from chronik.storage.log import LogConfig, MessageTooLargeError, OffsetOutOfRangeError, PartitionLog

from .test_support import GZIP, LZ4, NONE, SNAPPY, ZSTD, build_batch, decode, expected


class Clock:
    def __init__(self, now: int = 1_800_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path / "topic-0"


def open_log(path, clock=None, **config):
    return PartitionLog(path, LogConfig(**config), now_ms=clock or Clock())


def read_all(log, start=None, max_bytes=1 << 30):
    """Every record from `start` to the log end, following fetch semantics."""
    offset = log.log_start_offset if start is None else start
    records = []
    while offset < log.log_end_offset:
        res = log.read(offset, max_bytes)
        assert res.data
        got = [r for r in decode(res.data) if r[0] >= offset]
        assert got, f"no progress at {offset}"
        records += got
        offset = got[-1][0] + 1
    return records


def test_new_log_is_empty(log_dir):
    log = open_log(log_dir)
    assert log_dir.is_dir()
    assert (log.log_start_offset, log.log_end_offset) == (0, 0)
    assert (log_dir / "00000000000000000000.log").exists()
    assert log.read(0, 1000).data == b""
    assert log.max_timestamp() == (-1, -1)
    assert log.offset_for_timestamp(0) is None
    log.close()


@pytest.mark.parametrize("compression", [NONE, GZIP, SNAPPY, LZ4, ZSTD])
def test_append_assigns_consecutive_offsets(log_dir, compression):
    log = open_log(log_dir)
    r1 = log.append(bytearray(build_batch(3, compression=compression, prefix="a")))
    assert (r1.base_offset, r1.last_offset, r1.log_append_time) == (0, 2, -1)
    assert r1.log_start_offset == 0
    two = build_batch(2, compression=compression, prefix="b") + build_batch(4, prefix="c")
    r2 = log.append(bytearray(two))
    assert (r2.base_offset, r2.last_offset) == (3, 8)
    assert log.log_end_offset == 9

    records = decode(log.read(0, 1 << 20).data)
    assert [r[0] for r in records] == list(range(9))
    kvs = expected(3, "a") + expected(2, "b") + expected(4, "c")
    assert [(r[2], r[3]) for r in records] == kvs
    assert records[0][4] == [("h", b"a0"), ("n", None)]
    assert records[0][1] == 1_700_000_000_000
    log.close()


def test_append_with_prescanned_batches_updates_them(log_dir):
    log = open_log(log_dir)
    log.append(bytearray(build_batch(5)))
    data = bytearray(build_batch(2) + build_batch(3))
    infos = scan_batches(data)
    log.append(data, infos)
    assert [(b.base_offset, b.last_offset) for b in infos] == [(5, 6), (7, 9)]
    log.close()


def test_append_rejects_corrupt_and_empty(log_dir):
    log = open_log(log_dir)
    data = bytearray(build_batch(3))
    data[-1] ^= 1
    with pytest.raises(CorruptBatchError):
        log.append(data)
    with pytest.raises(CorruptBatchError):
        log.append(bytearray())
    assert log.log_end_offset == 0
    assert log.size_bytes() == 0
    log.close()


def test_message_too_large(log_dir):
    log = open_log(log_dir, max_message_bytes=500)
    log.append(bytearray(build_batch(2, value_size=10)))
    with pytest.raises(MessageTooLargeError):
        log.append(bytearray(build_batch(2, value_size=10) + build_batch(10, value_size=100)))
    assert log.log_end_offset == 2
    log.config = LogConfig(max_message_bytes=10_000)  # AlterConfigs replaces the config
    log.append(bytearray(build_batch(10, value_size=100)))
    assert log.log_end_offset == 12
    log.close()


def test_roll_and_read_across_segments(log_dir):
    log = open_log(log_dir, segment_bytes=2000, index_interval_bytes=100)
    n = 0
    for i in range(40):
        count = 1 + i % 4
        log.append(bytearray(build_batch(count, prefix=f"p{i}-", value_size=40)))
        n += count
    assert len(log.segments) >= 5
    bases = [s.base_offset for s in log.segments]
    assert bases == sorted(bases) and bases[0] == 0
    assert all(s.path.name == f"{s.base_offset:020d}.log" for s in log.segments)
    assert all(s.size <= 2000 for s in log.segments)
    assert log.size_bytes() == sum(os.path.getsize(s.path) for s in log.segments)

    # One big read crosses every segment boundary.
    records = decode(log.read(0, 1 << 20).data)
    assert [r[0] for r in records] == list(range(n))
    # Small reads from every offset start at the batch holding it.
    for offset in range(n):
        res = log.read(offset, 300)
        first = decode(res.data)
        assert first[0][0] <= offset <= first[-1][0]
        assert res.high_watermark == n
    assert [r[0] for r in read_all(log, max_bytes=500)] == list(range(n))
    log.close()


def test_read_returns_whole_batches_within_max_bytes(log_dir):
    log = open_log(log_dir, index_interval_bytes=64)
    sizes = []
    for _ in range(10):
        data = build_batch(3, value_size=30)
        sizes.append(len(data))
        log.append(bytearray(data))
    res = log.read(0, sizes[0] * 3 + 10)
    assert len(res.data) == sizes[0] * 3
    assert len(scan_batches(res.data)) == 3
    res = log.read(7, sizes[0] * 2)  # offset 7 is in the third batch (6..8)
    assert [b.base_offset for b in scan_batches(res.data)] == [6, 9]
    log.close()


def test_read_max_bytes_smaller_than_batch_returns_one_batch(log_dir):
    log = open_log(log_dir)
    big = build_batch(20, value_size=500)
    log.append(bytearray(big + big))
    res = log.read(5, 10)
    assert len(res.data) == len(big)
    assert [r[0] for r in decode(res.data)] == list(range(20))
    res = log.read(20, 0)
    assert [r[0] for r in decode(res.data)] == list(range(20, 40))
    log.close()


def test_read_bounds(log_dir):
    log = open_log(log_dir)
    log.append(bytearray(build_batch(3)))
    res = log.read(3, 1000)
    assert (res.data, res.high_watermark, res.log_start_offset) == (b"", 3, 0)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(4, 1000)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(-1, 1000)
    log.close()


def test_offset_for_timestamp_and_max_timestamp(log_dir):
    log = open_log(log_dir, segment_bytes=600, index_interval_bytes=50)
    # Batch i holds offsets 3i..3i+2 with timestamps 1000*i + 0, 10, 20,
    # except batch 5 which carries the maximum timestamp in its middle record.
    for i in range(12):
        ts = [1000 * i, 1000 * i + 10, 1000 * i + 20]
        if i == 5:
            ts = [5000, 99_000, 5020]
        log.append(bytearray(build_batch(3, timestamps=ts)))
    assert len(log.segments) > 2
    assert log.offset_for_timestamp(0) == (0, 0)
    assert log.offset_for_timestamp(1) == (1, 10)
    assert log.offset_for_timestamp(2015) == (8, 2020)
    assert log.offset_for_timestamp(2021) == (9, 3000)
    assert log.offset_for_timestamp(5001) == (16, 99_000)
    assert log.offset_for_timestamp(11_020) == (16, 99_000)  # earliest offset, not closest ts
    assert log.offset_for_timestamp(99_000) == (16, 99_000)
    assert log.offset_for_timestamp(99_001) is None
    assert log.max_timestamp() == (16, 99_000)

    log.delete_records_before(20)
    assert log.offset_for_timestamp(0) == (20, 6020)
    assert log.max_timestamp() == (35, 11_020)
    log.close()

    log = open_log(log_dir, segment_bytes=600, index_interval_bytes=50)
    assert log.offset_for_timestamp(2015) == (20, 6020)
    assert log.offset_for_timestamp(7000) == (21, 7000)
    assert log.max_timestamp() == (35, 11_020)
    log.close()


@pytest.mark.parametrize("compression", [NONE, LZ4])
def test_log_append_time(log_dir, compression):
    clock = Clock(1_900_000_000_000)
    log = open_log(log_dir, clock, message_timestamp_type="LogAppendTime")
    res = log.append(bytearray(build_batch(3, compression=compression, base_ts=5)))
    assert res.log_append_time == clock.now
    data = log.read(0, 1 << 20).data
    [info] = scan_batches(data)  # verifies the recomputed CRC
    assert info.timestamp_type == 1 and info.max_timestamp == clock.now
    assert [r[1] for r in decode(data)] == [clock.now] * 3
    assert log.max_timestamp() == (0, clock.now)
    assert log.offset_for_timestamp(clock.now) == (0, clock.now)
    log.close()


def test_reopen_keeps_everything(log_dir, caplog):
    log = open_log(log_dir, segment_bytes=3000, index_interval_bytes=200)
    for i in range(30):
        log.append(bytearray(build_batch(2, prefix=f"r{i}-", compression=i % 3)))
    before = read_all(log)
    segs = [(s.base_offset, s.size) for s in log.segments]
    log.close()
    index_files = {p.name: p.read_bytes() for p in log_dir.glob("*index")}

    with caplog.at_level("INFO", logger="chronik.storage"):
        log = open_log(log_dir, segment_bytes=3000, index_interval_bytes=200)
    assert not caplog.records  # a clean reopen repairs nothing
    assert [(s.base_offset, s.size) for s in log.segments] == segs
    assert {p.name: p.read_bytes() for p in log_dir.glob("*index")} == index_files
    assert log.log_end_offset == 60
    assert read_all(log) == before
    r = log.append(bytearray(build_batch(1)))
    assert r.base_offset == 60
    log.close()


def test_sequential_reads_after_roll_and_append(log_dir):
    # Fetches continuing at the previous end (the read-position hint) must stay
    # correct when the log rolls or grows in between.
    log = open_log(log_dir, segment_bytes=400)
    seen = []
    offset = 0
    for i in range(30):
        log.append(bytearray(build_batch(2, prefix=f"s{i}-")))
        while offset < log.log_end_offset:
            got = [r for r in decode(log.read(offset, 150 + 37 * (i % 5)).data) if r[0] >= offset]
            seen += [r[0] for r in got]
            offset = got[-1][0] + 1
    assert seen == list(range(60))
    log.close()


def test_index_files_have_kafka_format(log_dir):
    log = open_log(log_dir, index_interval_bytes=100)
    batch = build_batch(2, value_size=60)
    for _ in range(10):
        log.append(bytearray(batch))
    log.flush()
    seg = log.segments[0]
    raw = seg.index.path.read_bytes()
    entries = list(struct.iter_unpack(">ii", raw))
    # One entry per batch after the first (each batch is > 100 bytes): last offset -> position.
    assert entries == [(2 * i + 1, i * len(batch)) for i in range(1, 10)]
    times = list(struct.iter_unpack(">qi", seg.time_index.path.read_bytes()))
    assert [t for t, _ in times] == sorted({t for t, _ in times})
    log.close()


def test_delete_records_before(log_dir):
    log = open_log(log_dir, segment_bytes=1000)
    for i in range(20):
        log.append(bytearray(build_batch(5, prefix=f"d{i}-")))
    nsegs = len(log.segments)
    with pytest.raises(OffsetOutOfRangeError):
        log.delete_records_before(101)
    assert log.delete_records_before(42) == 42
    assert log.delete_records_before(10) == 42  # never moves backwards
    assert log.log_start_offset == 42
    assert len(log.segments) < nsegs
    assert log.segments[0].base_offset <= 42
    assert not (log_dir / "00000000000000000000.log").exists()
    with pytest.raises(OffsetOutOfRangeError):
        log.read(41, 100)
    assert [r[0] for r in read_all(log)] == list(range(42, 100))
    assert log.append(bytearray(build_batch(1))).log_start_offset == 42
    log.close()

    log = open_log(log_dir, segment_bytes=1000)
    assert (log.log_start_offset, log.log_end_offset) == (42, 101)
    assert log.delete_records_before(101) == 101
    assert log.read(101, 100).data == b""
    log.close()
    log = open_log(log_dir, segment_bytes=1000)
    assert (log.log_start_offset, log.log_end_offset) == (101, 101)
    assert log.append(bytearray(build_batch(2))).base_offset == 101
    log.close()


def test_segment_ms_roll(log_dir):
    clock = Clock()
    log = open_log(log_dir, clock, segment_ms=1000)
    log.append(bytearray(build_batch(1)))
    clock.now += 500
    log.append(bytearray(build_batch(1)))
    assert len(log.segments) == 1
    clock.now += 600
    log.append(bytearray(build_batch(1)))
    assert [s.base_offset for s in log.segments] == [0, 2]
    log.close()


def test_flush_messages_policy(log_dir, monkeypatch):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    log = open_log(log_dir, flush_messages=5)
    log.append(bytearray(build_batch(3)))
    assert not calls
    log.append(bytearray(build_batch(3)))
    assert calls
    log.close()


def test_delete_removes_directory(log_dir):
    log = open_log(log_dir)
    log.append(bytearray(build_batch(3)))
    log.delete()
    assert not log_dir.exists()


# -- a full disk (issue 11, defect 1) --------------------------------------------------


def _failing_writes(monkeypatch, suffixes, partial: bool):
    """Make write_all fail with ENOSPC on files with these suffixes (after half the bytes if `partial`)."""
    import errno

    from chronik.storage import segment as segment_module

    real = segment_module.write_all

    def write_all(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(suffixes):
            if partial:
                os.write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(segment_module, "write_all", write_all)


@pytest.mark.parametrize("partial", [False, True])
def test_a_failed_index_write_never_reuses_an_acknowledged_offset(log_dir, monkeypatch, partial):
    log = open_log(log_dir, index_interval_bytes=1)
    acked = {}
    for i in range(40):
        acked[log.append(bytearray(build_batch(1, prefix=f"{i}:"))).base_offset] = i
    with monkeypatch.context() as m:
        _failing_writes(m, (".index", ".timeindex"), partial)
        for i in range(40, 120):
            res = log.append(bytearray(build_batch(1, prefix=f"{i}:")))
            assert res.base_offset not in acked
            acked[res.base_offset] = i
    assert log.log_end_offset == 120 and sorted(acked) == list(range(120))
    log.append(bytearray(build_batch(1, prefix="120:")))
    log.close()
    reopened = open_log(log_dir, index_interval_bytes=1)
    records = read_all(reopened)
    assert [r[0] for r in records] == list(range(121))
    assert [int(r[2].split(b":")[0]) for r in records] == list(range(121))
    for f in log_dir.glob("*.index"):
        assert f.stat().st_size % 8 == 0
    for f in log_dir.glob("*.timeindex"):
        assert f.stat().st_size % 12 == 0


@pytest.mark.parametrize("partial", [False, True])
def test_a_failed_data_write_leaves_the_log_as_it_was(log_dir, monkeypatch, partial):
    log = open_log(log_dir)
    for i in range(5):
        log.append(bytearray(build_batch(1, prefix=f"{i}:")))
    size = log.size_bytes()
    with monkeypatch.context() as m:
        _failing_writes(m, (".log",), partial)
        with pytest.raises(OSError):
            log.append(bytearray(build_batch(3, prefix="5:")))
    assert (log.log_end_offset, log.size_bytes()) == (5, size)
    assert log.append(bytearray(build_batch(1, prefix="5:"))).base_offset == 5
    assert [r[0] for r in read_all(log)] == list(range(6))


# -- damaged data on disk (issue 11, defect 6) ------------------------------------------


def _damaged_log(log_dir, where: str):
    """A sealed segment of ten one-record batches (and an active one after it);
    then one byte of the sixth batch is flipped on disk."""
    one = len(build_batch(1, prefix="0:"))
    log = open_log(log_dir, segment_bytes=10 * one)
    positions = []
    for i in range(12):
        positions.append(log.size_bytes())
        log.append(bytearray(build_batch(1, prefix=f"{i}:")))
    assert len(log.segments) == 2
    log.close()
    path = sorted(log_dir.glob("*.log"))[0]
    raw = bytearray(path.read_bytes())
    pos = positions[5]
    if where == "record":
        raw[pos + 70] ^= 0xFF  # inside the record: the CRC no longer matches
    else:
        raw[pos + 8] ^= 0x40  # the batchLength field
    path.write_bytes(bytes(raw))
    return open_log(log_dir, segment_bytes=10 * one)


@pytest.mark.parametrize("where", ["record", "length"])
def test_damaged_batches_are_never_served_and_never_a_silent_stop(log_dir, where, caplog):
    log = _damaged_log(log_dir, where)
    res = log.read(0, 1 << 20)
    assert [r[0] for r in decode(res.data)] == [0, 1, 2, 3, 4]  # the sound batches before the damage
    with pytest.raises(CorruptBatchError):
        log.read(5, 1 << 20)
    with pytest.raises(CorruptBatchError):
        log.read(5, 10)
    log.read(0, 1 << 20)
    assert caplog.text.count("damaged data, not served") == 1  # logged once
    try:
        later = log.read(6, 1 << 20).data
    except CorruptBatchError:
        later = b""
    assert verify_batches(later) == (len(later), None)  # whatever is served is sound


def test_a_lazy_log_adopts_files_made_off_the_loop(tmp_path):
    from chronik.storage.log import make_partition_files

    plog = PartitionLog(tmp_path / "t-0", LogConfig(), lazy=True)
    plog.open()
    assert plog.needs_files and not (tmp_path / "t-0").exists()
    directory, segment = plog.files_to_make()
    assert (directory, segment.name) == (tmp_path / "t-0", "00000000000000000000.log")
    make_partition_files(directory, segment)  # the worker's part: paths only
    make_partition_files(directory, segment)  # twice is harmless
    plog.files_made()
    assert not plog.needs_files
    batch = build_batch(3)
    assert plog.append(bytearray(batch)).base_offset == 0
    assert [seg.path for seg in plog.segments] == [segment]
    assert [k for _o, _t, k, _v, _h in decode(plog.read(0, 1 << 20).data)] == [k for _o, _t, k, _v, _h in decode(batch)]
    plog.close()
    again = PartitionLog(tmp_path / "t-0", LogConfig())
    assert again.log_end_offset == 3 and again.recovery_actions == []
    again.close()


def test_made_files_that_vanished_or_hold_data_are_not_adopted(tmp_path):
    from chronik.storage.log import make_partition_files

    gone = PartitionLog(tmp_path / "g-0", LogConfig(), lazy=True)
    gone.open()
    make_partition_files(*gone.files_to_make())
    gone.files_made()
    gone.files_to_make()[1].unlink()  # removed before the first append: created on the spot
    assert gone.append(bytearray(build_batch(1))).base_offset == 0
    gone.close()
    odd = PartitionLog(tmp_path / "o-0", LogConfig(), lazy=True)
    odd.open()
    directory, segment = odd.files_to_make()
    make_partition_files(directory, segment)
    segment.write_bytes(b"not made by us")
    odd.files_made()
    with pytest.raises(FileExistsError):
        odd.append(bytearray(build_batch(1)))  # never appended after bytes of unknown origin
    assert segment.read_bytes() == b"not made by us"
    odd.close()


def test_an_empty_first_segment_made_unannounced_is_adopted(tmp_path):
    from chronik.storage.log import make_partition_files

    plog = PartitionLog(tmp_path / "t-0", LogConfig(), lazy=True)
    plog.open()
    make_partition_files(*plog.files_to_make())  # e.g. for a deleted topic's twin; files_made() never came
    assert plog.append(bytearray(build_batch(2))).base_offset == 0
    assert plog.log_end_offset == 2
    plog.close()
