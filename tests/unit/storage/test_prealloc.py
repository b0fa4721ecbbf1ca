"""Preallocation past the end of active segments: the size stays the log end; sealed tails are given back."""

from __future__ import annotations

import errno
import os
import sys

import pytest

from chronik.storage import prealloc
from chronik.storage.log import LogConfig, PartitionLog
from chronik.storage.prealloc import MAX_AHEAD, MIN_AHEAD, Preallocator, ahead_for
from tests.unit.storage.test_support import build_batch, decode

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fallocate is Linux-only")


def _allocated(path) -> int:
    return os.stat(path).st_blocks * 512


def test_ahead_grows_with_the_segment_within_bounds():
    assert ahead_for(0) == MIN_AHEAD
    assert ahead_for(8 * MIN_AHEAD) == MIN_AHEAD
    assert ahead_for(16 * 2**20) == 2 * 2**20
    assert ahead_for(2**30) == MAX_AHEAD


@linux_only
def test_ensure_allocates_past_the_end_without_changing_the_size(tmp_path):
    path = tmp_path / "00000000000000000000.log"
    path.write_bytes(b"x" * 5000)
    pre = Preallocator()
    pre.ensure(path, 5000, 2**30)
    assert pre.enabled and pre.calls == 1
    assert os.path.getsize(path) == 5000  # the log end, as readers and recovery see it
    assert _allocated(path) >= 5000 + MIN_AHEAD - 4096
    assert path.read_bytes() == b"x" * 5000
    # Enough is ahead: nothing to do until half of it is used.
    pre.ensure(path, 5000 + MIN_AHEAD // 4, 2**30)
    assert pre.calls == 1
    pre.ensure(path, 5000 + MIN_AHEAD, 2**30)
    assert pre.calls == 2


@linux_only
def test_ensure_never_allocates_past_segment_bytes(tmp_path):
    path = tmp_path / "00000000000000000000.log"
    path.write_bytes(b"y" * 1000)
    pre = Preallocator()
    pre.ensure(path, 1000, 64 * 1024)
    assert _allocated(path) <= 64 * 1024 + 4096  # (a block of extent tree at most)
    pre.ensure(path, 64 * 1024, 64 * 1024)  # full: nothing left to allocate
    assert pre.calls == 1


@linux_only
def test_a_restarted_worker_sees_what_is_allocated_already(tmp_path):
    path = tmp_path / "00000000000000000000.log"
    path.write_bytes(b"z" * 100)
    Preallocator().ensure(path, 100, 2**30)
    again = Preallocator()
    again.ensure(path, 100, 2**30)
    assert again.calls == 0


def test_ensure_on_a_missing_file_does_nothing(tmp_path):
    pre = Preallocator()
    pre.ensure(tmp_path / "gone.log", 0, 2**30)
    assert pre.calls == 0 and pre.enabled


def test_no_fallocate_turns_preallocation_off_quietly(tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(prealloc, "fallocate_keep_size", unsupported)
    path = tmp_path / "a.log"
    path.write_bytes(b"a" * 10)
    pre = Preallocator()
    pre.ensure(path, 10, 2**30)
    assert not pre.enabled and pre.calls == 0
    assert path.read_bytes() == b"a" * 10


@linux_only
def test_trim_gives_back_a_sealed_tail_and_keeps_every_byte(tmp_path):
    path = tmp_path / "00000000000000000000.log"
    data = os.urandom(3000)
    path.write_bytes(data)
    pre = Preallocator()
    pre.ensure(path, 3000, 2**30)
    assert _allocated(path) > 64 * 1024
    pre.trim(path, os.open(path, os.O_RDWR | os.O_APPEND), 3000)  # a dup of the segment's own, in the broker
    assert pre.trimmed == 1
    assert path.read_bytes() == data
    assert _allocated(path) <= 8192


@linux_only
def test_trim_leaves_a_file_of_another_size_alone(tmp_path):
    path = tmp_path / "00000000000000000000.log"
    path.write_bytes(b"q" * 4000)
    pre = Preallocator()
    pre.ensure(path, 4000, 2**30)
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    pre.trim(path, fd, 3000)  # not the size the loop sealed: never cut anything
    assert pre.trimmed == 0 and path.read_bytes() == b"q" * 4000
    with pytest.raises(OSError):
        os.fstat(fd)  # closed all the same


@linux_only
def test_a_log_reopened_over_preallocated_segments_keeps_offsets_and_records(tmp_path):
    cfg = LogConfig(segment_bytes=600)
    plog = PartitionLog(tmp_path / "t-0", cfg)
    pre = Preallocator()
    sent = []
    for i in range(12):
        batch = build_batch(2, prefix=f"r{i}-")
        plog.append(bytearray(batch))
        sent.append(batch)
        active = plog.segments[-1]
        pre.ensure(active.path, active.size, cfg.segment_bytes)  # as the worker does between turns
    assert len(plog.segments) > 1
    ends = [(seg.path, seg.size) for seg in plog.segments]
    end = plog.log_end_offset
    plog.close()  # as after a crash: nothing trimmed, tails allocated past the ends
    assert all(os.path.getsize(p) == size for p, size in ends)
    again = PartitionLog(tmp_path / "t-0", cfg)
    assert again.recovery_actions == []
    assert again.log_end_offset == end
    got = decode(again.read(0, 1 << 20).data)
    want = [r for i, b in enumerate(sent) for r in decode(b)]
    assert [(k, v) for _o, _t, k, v, _h in got] == [(k, v) for _o, _t, k, v, _h in want]
    assert [o for o, *_ in got] == list(range(end))
    again.append(bytearray(build_batch(1, prefix="after")))
    assert again.log_end_offset == end + 1
    again.close()
