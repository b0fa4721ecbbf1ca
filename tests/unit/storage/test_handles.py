"""The LRU of open segment files: logs keep working when their descriptors are closed under them."""

from __future__ import annotations

import os

import pytest

from chronik.storage.compaction import CleanerConfig, clean_log, run_to_completion
from chronik.storage.handles import OPEN_FILES, OpenFiles, default_capacity
from chronik.storage.log import LogConfig, PartitionLog

from .test_support import build_batch, decode

CAPACITY = 3


@pytest.fixture
def small_lru():
    before = OPEN_FILES.capacity
    OPEN_FILES.resize(CAPACITY)
    yield OPEN_FILES
    OPEN_FILES.resize(before)


def open_fds(under: os.PathLike) -> int:
    """Descriptors of this process open on files under `under` (other tests' files come and go with GC)."""
    prefix, n = str(under), 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith(prefix)
        except OSError:
            pass
    return n


def records(log: PartitionLog, start: int = 0) -> list[tuple[int, bytes, bytes]]:
    out, offset = [], start
    while offset < log.log_end_offset:
        got = [r for r in decode(log.read(offset, 1 << 20).data) if r[0] >= offset]
        out += [(o, k, v) for o, _ts, k, v, _h in got]
        offset = got[-1][0] + 1
    return out


def test_default_capacity_is_a_share_of_the_limit():
    assert 16 <= default_capacity() <= 1024


def test_evicts_least_recently_used_first():
    class File:
        def __init__(self, name):
            self.name, self.evicted = name, False

        def evict(self):
            self.evicted = True

    lru = OpenFiles(2)
    a, b, c = File("a"), File("b"), File("c")
    lru.opened(a)
    lru.opened(b)
    lru.touch(a)
    lru.opened(c)  # b is the least recently used
    assert (a.evicted, b.evicted, c.evicted) == (False, True, False)
    assert len(lru) == 2 and lru.evictions == 1
    lru.forget(a)
    assert a not in lru and len(lru) == 1


def test_out_of_descriptors_closes_older_files_and_retries(tmp_path, monkeypatch):
    import errno

    lru = OpenFiles(100)
    evicted = []

    class File:
        def evict(self):
            evicted.append(self)

    files = [File() for _ in range(4)]
    for f in files:
        lru.opened(f)
    real_open = os.open
    calls = []

    def emfile_once(path, flags, mode=0o777):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", emfile_once)
    fd = lru.open(tmp_path / "f", os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    assert evicted == files[:2] and len(lru) == 2 and len(calls) == 2


def test_reads_and_writes_across_evictions(tmp_path, small_lru):
    # Small segments: several per log, so reads cross evicted sealed segments too.
    logs = [PartitionLog(tmp_path / f"t-{p}", LogConfig(segment_bytes=400, index_interval_bytes=100))
            for p in range(8)]
    for round_ in range(6):
        for p, log in enumerate(logs):
            log.append(bytearray(build_batch(3, prefix=f"p{p}r{round_}-")))
            assert len(OPEN_FILES) <= CAPACITY
    assert open_fds(tmp_path) <= CAPACITY
    assert OPEN_FILES.evictions > 0
    for p, log in enumerate(logs):
        assert len(log.segments) > 2
        got = records(log)
        assert [o for o, _k, _v in got] == list(range(18))
        assert [k for _o, k, _v in got] == [f"p{p}r{r}-{i}".encode() for r in range(6) for i in range(3)]
        # Index lookups and a read from the middle of an evicted sealed segment.
        assert records(log, 10)[0][0] == 10
        assert log.offset_for_timestamp(0) == (0, 1_700_000_000_000)
        assert log.max_timestamp()[1] == 1_700_000_000_002
    assert open_fds(tmp_path) <= CAPACITY
    for log in logs:
        log.flush()  # fsync through a reopened descriptor
        log.close()
    assert open_fds(tmp_path) == 0 and len(OPEN_FILES) == 0


def test_closed_segments_stay_closed(tmp_path, small_lru):
    log = PartitionLog(tmp_path / "t-0", LogConfig())
    seg = log.segments[-1]
    log.close()
    assert seg.closed and seg.fd == -1
    assert seg not in OPEN_FILES


def test_restart_recovers_evicted_logs(tmp_path, small_lru):
    logs = [PartitionLog(tmp_path / f"t-{p}", LogConfig(segment_bytes=600)) for p in range(6)]
    for p, log in enumerate(logs):
        log.append(bytearray(build_batch(4, prefix=f"p{p}-")))
    # A crash leaves the files as they are: reopen without closing the old logs.
    again = [PartitionLog(tmp_path / f"t-{p}", LogConfig(segment_bytes=600), lazy=True) for p in range(6)]
    assert not any(log.opened for log in again)
    for p, log in enumerate(again):
        assert [k for _o, k, _v in records(log)] == [f"p{p}-{i}".encode() for i in range(4)]
        assert log.append(bytearray(build_batch(1, prefix="more"))).base_offset == 4
    for log in logs + again:
        log.close()


def test_compaction_and_retention_with_evicted_segments(tmp_path, small_lru):
    cfg = LogConfig(segment_bytes=400, index_interval_bytes=100)
    log = PartitionLog(tmp_path / "c-0", cfg)
    others = [PartitionLog(tmp_path / f"o-{p}", cfg) for p in range(4)]
    for _ in range(5):
        log.append(bytearray(build_batch(3, prefix="same")))  # keys repeat: compactable
        for o in others:
            o.append(bytearray(build_batch(2)))  # keeps evicting the compacted log's files
    stats = run_to_completion(clean_log(log, CleanerConfig(min_cleanable_dirty_ratio=0.0), now_ms=2**62))
    assert stats.records_kept < stats.records_read
    got = records(log, log.log_start_offset)
    assert len(got) < 15
    assert {k: o for o, k, _v in got} == {b"same0": 12, b"same1": 13, b"same2": 14}  # latest per key
    gone = log.delete_oldest_segments(1)
    assert gone and all(seg.closed for seg in gone)
    assert records(log, log.log_start_offset)
    for x in [log, *others]:
        x.close()


def test_lazy_log_touches_the_disk_on_first_use(tmp_path):
    calls = []
    log = PartitionLog(tmp_path / "lazy-0", LogConfig(), lazy=True, on_open=calls.append)
    assert not (tmp_path / "lazy-0").exists() and not log.opened
    assert log.log_end_offset == 0 and log.read(0, 100).data == b""
    assert log.opened and calls == [log]
    # Reads, offset lookups and housekeeping of a never-written log create nothing.
    assert log.offset_for_timestamp(0) is None and log.max_timestamp() == (-1, -1)
    assert not log.roll_if_due() and log.delete_oldest_segments(1) == []
    log.flush()
    assert not (tmp_path / "lazy-0").exists()
    assert log.append(bytearray(build_batch(2))).base_offset == 0
    assert (tmp_path / "lazy-0" / f"{0:020d}.log").exists()
    log.log_start_offset  # noqa: B018 - opening is once only
    assert calls == [log]
    log.close()
    again = PartitionLog(tmp_path / "lazy-0", LogConfig(), lazy=True)
    assert again.log_end_offset == 2
    again.close()


def test_a_failed_open_is_tried_again(tmp_path):
    (tmp_path / "blocked").write_text("a file where the directory should be")
    log = PartitionLog(tmp_path / "blocked" / "t-0", LogConfig(), lazy=True)
    with pytest.raises(OSError):
        log.log_end_offset  # noqa: B018
    assert not log.opened
    (tmp_path / "blocked").unlink()
    assert log.log_end_offset == 0 and log.opened
    log.close()
