"""FileMaker: a partition's first files made by a worker; the waiting requests run again, in order."""

from __future__ import annotations

import threading

import pytest

from chronik.broker.file_maker import FileMaker
from chronik.broker.purgatory import Deferred
from chronik.storage.log import LogConfig, PartitionLog, make_partition_files
from tests.unit.broker.test_group_commit import Loop
from tests.unit.storage.test_support import build_batch


class Maker:
    """make_partition_files behind a gate; records what it made, or fails on demand."""

    def __init__(self) -> None:
        self.made: list = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def __call__(self, directory, segment) -> None:
        self.gate.wait()
        if self.fail:
            raise OSError(28, "No space left on device")
        make_partition_files(directory, segment)
        self.made.append(segment)


@pytest.fixture
def rig():
    loop, maker = Loop(), Maker()
    fm = FileMaker(loop.add_wakeup, make=maker)
    yield fm, loop, maker
    maker.gate.set()
    fm.close()


def _lazy(tmp_path, name: str) -> PartitionLog:
    plog = PartitionLog(tmp_path / name, LogConfig(), lazy=True)
    plog.open()
    return plog


def test_requests_wait_for_the_files_then_run_in_order_and_append(tmp_path, rig):
    fm, loop, maker = rig
    a, b = _lazy(tmp_path, "a-0"), _lazy(tmp_path, "b-0")
    maker.gate.clear()
    order: list = []

    def request(label, logs):
        def run():
            for plog in logs:
                plog.append(bytearray(build_batch(1)))
            order.append(label)
            return label
        return run

    answers: list = []
    d1 = fm.defer([a], request("first", [a]))
    d2 = fm.defer([a, b], request("second", [a, b]))  # a again: one creation, served after the first
    for d in (d1, d2):
        d.encode = lambda r: [r]
        d.on_done = answers.append
    assert fm.waiting == 2 and order == [] and maker.made == []
    maker.gate.set()
    while answers != [["first"], ["second"]]:
        loop.wake()
    assert order == ["first", "second"] and fm.made_total == 2 and fm.waiting == 0
    assert sorted(p.name for p in maker.made) == ["00000000000000000000.log"] * 2
    assert a.log_end_offset == 2 and b.log_end_offset == 1
    assert not a.needs_files and not b.needs_files
    assert [s.path for s in a.segments] == [tmp_path / "a-0" / "00000000000000000000.log"]


def test_a_failed_creation_lets_the_append_try_and_report(tmp_path, rig):
    fm, loop, maker = rig
    a = _lazy(tmp_path, "a-0")
    maker.fail = True
    ran: list = []
    d = fm.defer([a], lambda: ran.append(a.needs_files) or "answered")
    got: list = []
    d.encode = lambda r: r
    d.on_done = got.append
    loop.wake()
    assert got == ["answered"] and ran == [True]  # still no files: the append makes (or fails) them itself
    assert fm.failed_total == 1


def test_acks_0_and_held_answers_pass_through(tmp_path, rig):
    fm, loop, _maker = rig
    a, b = _lazy(tmp_path, "a-0"), _lazy(tmp_path, "b-0")
    nothing = fm.defer([a], lambda: None)  # acks=0: no answer at all
    nothing.encode = lambda r: ["encoded"]
    sent: list = []
    nothing.on_done = sent.append
    inner = Deferred(lambda _e: None, float("inf"), ())
    held = fm.defer([b], lambda: inner)  # a group commit holds the re-run's answer
    held.encode = lambda r: [r]
    held.on_done = sent.append
    while fm.waiting:
        loop.wake()
    assert sent == [None]
    inner.complete("durable")
    assert sent == [None, ["durable"]]
