"""Group commit: answers held per loop turn, one fsync batch in flight, released when it is done."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest

from chronik.broker.group_commit import GroupCommit
from chronik.storage.log import LogConfig, PartitionLog
from tests.unit.storage.test_support import build_batch


class Loop:
    """Stands in for the server: keeps the wakeup callback; `wake()` runs it once the worker signalled."""

    def __init__(self) -> None:
        self.sock = None
        self.callback = None

    def add_wakeup(self, sock, callback) -> None:
        self.sock, self.callback = sock, callback

    def wake(self) -> None:
        select.select([self.sock], [], [])  # blocks until the worker has finished a batch
        self.callback()


class Disk:
    """Records fsynced paths; `gate` holds the worker inside fsync until set; `fail` makes it fail."""

    def __init__(self) -> None:
        self.synced: list[list[Path]] = [[]]
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def __call__(self, path: Path) -> None:
        self.gate.wait()
        if self.fail:
            raise OSError(5, "Input/output error")
        self.synced[-1].append(path)


def _log(tmp_path: Path, name: str, **config) -> PartitionLog:
    return PartitionLog(tmp_path / name, LogConfig(**config))


class Answer:
    def __init__(self, label: str) -> None:
        self.label = label
        self.failed = False


def _failed(answer: Answer) -> Answer:
    answer.failed = True
    return answer


def _track(d, out: list):
    d.on_done = out.append


@pytest.fixture
def rig(tmp_path):
    loop, disk = Loop(), Disk()
    gc = GroupCommit(loop.add_wakeup, sync=disk)
    yield gc, loop, disk
    disk.gate.set()
    gc.close()


def test_answers_of_one_turn_share_one_fsync_batch_and_wait_for_it(tmp_path, rig):
    gc, loop, disk = rig
    a, b = _log(tmp_path, "a-0"), _log(tmp_path, "b-0")
    for plog in (a, b):
        plog.append(bytearray(build_batch(2)))
    done: list = []
    d1 = gc.hold([a], Answer("1"), _failed)
    d2 = gc.hold([a, b], Answer("2"), _failed)
    for d in (d1, d2):
        d.encode = lambda r: r.label
        _track(d, done)
    assert done == [] and gc.waiting == 2
    gc.turn_done()
    loop.wake()
    assert done == ["1", "2"]
    assert gc.batches_total == 1
    # Each log once: its active segment, its directory and (first sync) the data dir.
    synced = disk.synced[0]
    for plog in (a, b):
        assert synced.count(plog.segments[-1].path) == 1
        assert plog.directory in synced
    assert synced.count(tmp_path) == 2
    assert gc.fsyncs_total == len(synced) == 6


def test_a_turn_with_nothing_held_starts_nothing(tmp_path, rig):
    gc, _loop, disk = rig
    gc.turn_done()
    assert gc.batches_total == 0 and disk.synced == [[]]


def test_answers_held_while_a_batch_is_in_flight_go_in_the_next_one(tmp_path, rig):
    gc, loop, disk = rig
    a = _log(tmp_path, "a-0")
    a.append(bytearray(build_batch(1)))
    done: list = []
    disk.gate.clear()  # the first fsync takes a while
    first = gc.hold([a], Answer("first"), _failed)
    first.encode = lambda r: r.label
    _track(first, done)
    gc.turn_done()
    a.append(bytearray(build_batch(1)))
    second = gc.hold([a], Answer("second"), _failed)
    second.encode = lambda r: r.label
    _track(second, done)
    gc.turn_done()  # one batch in flight at a time: this one keeps gathering
    assert done == [] and gc.batches_total == 0
    disk.gate.set()
    loop.wake()  # the first batch completes and the second one starts
    assert done[0] == "first"
    if len(done) == 1:
        loop.wake()
    assert done == ["first", "second"]
    assert gc.batches_total == 2
    # The second sync of the same segment needs no directory fsync.
    assert gc.fsyncs_total == 3 + 1


def test_a_failed_fsync_answers_with_the_failure_response(tmp_path, rig):
    gc, loop, disk = rig
    a = _log(tmp_path, "a-0")
    a.append(bytearray(build_batch(1)))
    disk.fail = True
    d = gc.hold([a], Answer("x"), _failed)
    d.encode = lambda r: r
    got: list = []
    _track(d, got)
    gc.turn_done()
    loop.wake()
    assert got[0].failed and gc.failures_total == 1


def test_sync_plan_covers_rolled_segments_and_new_directories(tmp_path):
    plog = _log(tmp_path, "t-0", segment_bytes=200)
    plog.append(bytearray(build_batch(1)))
    plan = plog.sync_plan(None)
    assert plan.paths == [plog.segments[-1].path, plog.directory, tmp_path]
    active = plog.segments[-1]
    assert (plan.active, plan.size, plan.limit, plan.sealed) == (active.path, active.size, 200, [])
    base = plan.base
    plan = plog.sync_plan(base)
    assert plan.paths == [plog.segments[-1].path]  # nothing new: the active segment only
    old = plog.segments[-1]
    while plog.segments[-1] is old:
        plog.append(bytearray(build_batch(3)))  # until it rolls
    plan = plog.sync_plan(base)
    assert plan.base == plog.segments[-1].base_offset != base
    assert plan.paths[0] == plog.segments[-1].path
    assert old.path in plan.paths and plog.directory in plan.paths and tmp_path not in plan.paths
    # The sealed segment comes with a descriptor of its own for the worker (which closes it).
    [(path, fd, size)] = plan.sealed
    assert path == old.path and size == old.size
    assert os.fstat(fd).st_ino == os.stat(old.path).st_ino and fd != old.fd
    os.close(fd)


class Prealloc:
    """Records what the worker asked of the preallocator, with how many paths were fsynced by then."""

    def __init__(self, disk: Disk) -> None:
        self.asked: list = []
        self.disk = disk
        self.calls = self.bytes = self.trimmed = 0  # the counters GroupCommit.close logs

    def knows(self, path) -> bool:
        return any(a[1] == path for a in self.asked)

    def ensure(self, path, size, limit) -> None:
        self.asked.append(("ensure", path, size, limit, len(self.disk.synced[0])))

    def trim(self, path, fd, size) -> None:
        os.close(fd)
        self.asked.append(("trim", path, size, len(self.disk.synced[0])))


def test_a_new_segment_is_allocated_ahead_before_its_fsync_then_after_the_answers(tmp_path):
    loop, disk = Loop(), Disk()
    pre = Prealloc(disk)
    gc = GroupCommit(loop.add_wakeup, sync=disk, preallocator=pre)
    try:
        plog = _log(tmp_path, "p-0", segment_bytes=300)
        plog.append(bytearray(build_batch(2)))
        done: list = []
        d = gc.hold([plog], Answer("a"), _failed)
        d.encode = lambda r: r.label
        _track(d, done)
        gc.turn_done()
        loop.wake()
        assert done == ["a"]
        gc.close()  # joins the worker: what it does after waking the loop is done
        seg = plog.segments[-1]
        synced = len(disk.synced[0])
        # Before any fsync (its first blocks go to the allocated range), and once the answers are out.
        assert pre.asked == [("ensure", seg.path, seg.size, 300, 0), ("ensure", seg.path, seg.size, 300, synced)]
    finally:
        disk.gate.set()


def test_drain_releases_held_answers_before_shutdown(tmp_path, rig):
    gc, _loop, disk = rig
    a = _log(tmp_path, "a-0")
    a.append(bytearray(build_batch(1)))
    done: list = []
    disk.gate.clear()
    first = gc.hold([a], Answer("in flight"), _failed)
    gc.turn_done()
    second = gc.hold([a], Answer("gathering"), _failed)  # its turn never ended: the loop stopped
    for d in (first, second):
        d.encode = lambda r: r.label
        _track(d, done)
    threading.Timer(0.2, disk.gate.set).start()
    assert gc.drain(timeout=30) == 0
    assert done == ["in flight", "gathering"] and gc.waiting == 0


def test_drain_gives_up_at_its_deadline(tmp_path, rig):
    gc, _loop, disk = rig
    a = _log(tmp_path, "a-0")
    a.append(bytearray(build_batch(1)))
    disk.gate.clear()  # the disk never answers
    d = gc.hold([a], Answer("stuck"), _failed)
    got: list = []
    d.encode = lambda r: r.label
    _track(d, got)
    assert gc.drain(timeout=0.2) == 1
    assert got == []
