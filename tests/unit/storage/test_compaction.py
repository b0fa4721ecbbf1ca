import os

import pytest
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from chronik.storage.batch import HEADER, scan_batches
from chronik.storage.compaction import CleanerConfig, clean_log, run_to_completion
from chronik.storage.log import LogConfig, PartitionLog

from .test_support import GZIP, LZ4, NONE, ZSTD, decode

NOW = 1_800_000_000_000


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def keyed_batch(records, *, compression=NONE, pid=-1, epoch=-1, seq=-1, transactional=False):
    """records: (key, value, timestamp) tuples."""
    b = DefaultRecordBatchBuilder(2, compression, transactional, pid, epoch, seq, 1 << 30)
    for i, (k, v, ts) in enumerate(records):
        b.append(i, timestamp=ts, key=k, value=v, headers=[("h", b"x")])
    return bytearray(b.build())


def read_everything(log):
    out = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, 1 << 20).data
        if not data:
            break
        got = [r for r in decode(data) if r[0] >= offset]
        batches = scan_batches(data)
        out += got
        offset = max(batches[-1].last_offset + 1, offset + 1)
    return out


def fill(log, n=10_000, keys=100, per_batch=50, ts=NOW - 10_000, compression=NONE):
    produced = []
    for start in range(0, n, per_batch):
        recs = [
            (f"key-{i % keys}".encode(), f"value-{i}".encode(), ts + i)
            for i in range(start, min(n, start + per_batch))
        ]
        res = log.append(keyed_batch(recs, compression=compression))
        produced += [(res.base_offset + j, *r) for j, r in enumerate(recs)]
    return produced


@pytest.mark.parametrize("compression", [NONE, GZIP, LZ4, ZSTD])
def test_compaction_keeps_latest_per_key_and_offsets(tmp_path, compression):
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=16 * 1024), now_ms=Clock())
    produced = fill(log, compression=compression)
    assert len(log.segments) > 2
    before_end = log.log_end_offset
    stats = run_to_completion(clean_log(log, CleanerConfig(), NOW))
    assert stats.skipped is None
    latest = {}
    for off, k, v, ts in produced:
        latest[k] = (off, v, ts)
    got = read_everything(log)
    active_base = log.segments[-1].base_offset
    cleaned = [r for r in got if r[0] < active_base]
    # In the cleaned part only the latest record of each key (as of the
    # cleaned range; the active segment is never touched) survives.
    latest_cleaned = {}
    for off, k, v, ts in produced:
        if off < active_base:
            latest_cleaned[k] = (off, v, ts)
    assert len(cleaned) == len(latest_cleaned)
    for off, ts, k, v, headers in cleaned:
        assert latest_cleaned[k] == (off, v, ts)
        assert headers == [("h", b"x")]
    # The whole log still yields every key's latest value, at its original offset.
    final = {}
    for off, _ts, k, v, _h in got:
        final[k] = (off, v)
    assert final == {k: (o, v) for k, (o, v, _t) in latest.items()}
    assert log.log_end_offset == before_end
    # The codec is preserved in rewritten batches.
    for seg in log.segments[:-1]:
        data = seg.pread(seg.size, 0)
        for b in scan_batches(data):
            assert b.compression == compression
    log.close()
    # And it all survives a restart.
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=16 * 1024), now_ms=Clock())
    assert read_everything(log) == got
    assert log.recovery_actions == []
    log.close()


def test_tombstones_dropped_after_delete_retention(tmp_path):
    clock = Clock()
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=1024), now_ms=clock)
    for i in range(40):
        log.append(keyed_batch([(f"k{i % 4}".encode(), b"v" * 50, NOW - 1000 + i)]))
    log.append(keyed_batch([(b"k0", None, NOW)]))  # tombstone
    for i in range(30):
        log.append(keyed_batch([(b"other", b"v" * 50, NOW + i)]))
    cfg = CleanerConfig(delete_retention_ms=60_000)
    run_to_completion(clean_log(log, cfg, NOW + 1000, force=True))
    keys = [(r[2], r[3]) for r in read_everything(log)]
    assert (b"k0", None) in keys  # still within delete.retention.ms
    assert sum(1 for k, _ in keys if k == b"k0") == 1
    run_to_completion(clean_log(log, cfg, NOW + 120_000, force=True))
    keys = [r[2] for r in read_everything(log)]
    assert b"k0" not in keys
    assert {b"k1", b"k2", b"k3", b"other"} <= set(keys)
    log.close()


def test_dirty_ratio_and_active_segment_untouched(tmp_path):
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=4096), now_ms=Clock())
    fill(log, n=400, keys=5, per_batch=10)
    active = log.segments[-1]
    active_size = active.size
    stats = run_to_completion(clean_log(log, CleanerConfig(), NOW))
    assert stats.skipped is None
    assert log.segments[-1] is active and active.size == active_size
    # Nothing new: the next round finds no dirty data.
    stats = run_to_completion(clean_log(log, CleanerConfig(), NOW))
    assert stats.skipped == "nothing to clean"
    log.close()


def test_min_compaction_lag(tmp_path):
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=4096), now_ms=Clock())
    fill(log, n=400, keys=5, per_batch=10, ts=NOW - 1000)
    stats = run_to_completion(clean_log(log, CleanerConfig(min_compaction_lag_ms=60_000), NOW))
    assert stats.skipped == "nothing to clean"
    log.close()


def test_last_batch_of_producer_kept_empty(tmp_path):
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=1024), now_ms=Clock())
    log.append(keyed_batch([(b"a", b"1", NOW)], pid=7, epoch=3, seq=0))
    log.append(keyed_batch([(b"a", b"2", NOW)], pid=8, epoch=0, seq=0))
    for i in range(40):
        log.append(keyed_batch([(b"a", b"x" * 60, NOW + i)]))
    run_to_completion(clean_log(log, CleanerConfig(), NOW, force=True))
    first = log.segments[0]
    batches = scan_batches(first.pread(first.size, 0))
    by_pid = {b.producer_id: b for b in batches if b.producer_id >= 0}
    assert by_pid[7].record_count == 0 and by_pid[7].producer_epoch == 3
    assert by_pid[7].base_offset == 0 and by_pid[7].last_offset == 0
    assert by_pid[8].record_count == 0
    log.close()


def test_aborted_records_dropped_markers_kept(tmp_path):
    import struct

    from chronik.storage.control import build_marker

    d = tmp_path / "t-0"
    log = PartitionLog(d, LogConfig(segment_bytes=1024), now_ms=Clock())
    log.append(keyed_batch([(b"t", b"aborted", NOW)], pid=5, epoch=0, seq=0, transactional=True))
    marker = log.append(build_marker(5, 0, False, NOW))
    (d / "aborted.txnindex").write_bytes(struct.pack(">qqq", 5, 0, marker.base_offset))
    log.append(keyed_batch([(b"t", b"committed", NOW)], pid=5, epoch=0, seq=1, transactional=True))
    log.append(build_marker(5, 0, True, NOW))
    for i in range(30):
        log.append(keyed_batch([(b"o", b"x" * 60, NOW + i)]))
    stats = run_to_completion(clean_log(log, CleanerConfig(), NOW, force=True))
    assert stats.aborted_dropped == 1
    values = [r[3] for r in read_everything(log) if r[2] == b"t"]
    assert values == [b"committed"]
    seg = log.segments[0]
    controls = [b for b in scan_batches(seg.pread(seg.size, 0)) if b.is_control]
    assert len(controls) == 2
    log.close()


def test_interrupted_swap_completed_at_open(tmp_path):
    d = tmp_path / "t-0"
    log = PartitionLog(d, LogConfig(segment_bytes=4096), now_ms=Clock())
    fill(log, n=400, keys=5, per_batch=10)
    expected_latest = {r[2]: r[3] for r in read_everything(log)}
    gen = clean_log(log, CleanerConfig(), NOW)
    # Run until the first .swap exists, then "crash" before it is swapped in.
    swap = None
    for _ in gen:
        found = list(d.glob("*.swap"))
        if found:
            swap = found[0]
            break
    assert swap is not None or not list(d.glob("*.cleaned"))
    log.close()
    (d / "00000000000000000000.log.cleaned").write_bytes(b"half")
    log = PartitionLog(d, LogConfig(segment_bytes=4096), now_ms=Clock())
    assert not list(d.glob("*.swap")) and not list(d.glob("*.cleaned"))
    records = read_everything(log)
    assert {r[2]: r[3] for r in records} == expected_latest
    offsets = [r[0] for r in records]
    assert offsets == sorted(set(offsets))
    log.close()


def test_rebuilt_batch_header_fields(tmp_path):
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=1024), now_ms=Clock())
    log.append(keyed_batch([(b"a", b"1", NOW), (b"b", b"1", NOW + 5), (b"a", b"2", NOW + 7)],
                           pid=3, epoch=1, seq=10))
    for i in range(30):
        log.append(keyed_batch([(b"o", b"x" * 60, NOW + i)]))
    run_to_completion(clean_log(log, CleanerConfig(), NOW, force=True))
    seg = log.segments[0]
    raw = seg.pread(seg.size, 0)
    h = HEADER.unpack_from(raw)
    assert (h[0], h[6], h[9], h[10], h[11], h[12]) == (0, 2, 3, 1, 10, 2)
    recs = [(r.offset, r.key, r.value, r.timestamp) for r in DefaultRecordBatch(raw[: 12 + h[1]])]
    assert recs == [(1, b"b", b"1", NOW + 5), (2, b"a", b"2", NOW + 7)]
    assert os.path.exists(seg.index.path)
    log.close()


def test_max_compaction_lag_makes_cleaning_due_below_the_dirty_ratio(tmp_path):
    from chronik.storage.compaction import cleaning_due

    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=4096), now_ms=Clock())
    fill(log, n=400, keys=400, per_batch=10, ts=NOW - 100_000)
    run_to_completion(clean_log(log, CleanerConfig(), NOW))
    # A little new dirty data: far below a 0.9 dirty ratio.
    fill(log, n=200, keys=400, per_batch=10, ts=NOW - 50_000)
    strict = CleanerConfig(min_cleanable_dirty_ratio=0.9)
    assert not cleaning_due(log, strict, NOW)
    lagging = CleanerConfig(min_cleanable_dirty_ratio=0.9, max_compaction_lag_ms=10_000)
    assert cleaning_due(log, lagging, NOW)
    assert not cleaning_due(log, CleanerConfig(min_cleanable_dirty_ratio=0.9, max_compaction_lag_ms=10**9), NOW)
    log.close()
