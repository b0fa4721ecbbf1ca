"""The purgatory: parked operations answer on notify, at their deadline, or with their failure."""

from __future__ import annotations

from chronik.broker.purgatory import Deferred, Purgatory


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def _parked(p: Purgatory, clock: Clock, answer: list, keys=("k",), timeout: float = 1.0):
    got: list = []

    def try_complete(expired: bool):
        return ("expired" if expired else answer[0]) if (expired or answer) else None

    d = Deferred(try_complete, clock() + timeout, keys)
    d.on_done = got.append
    p.add(d)
    return d, got


def test_notify_completes_only_when_the_answer_is_ready():
    clock = Clock()
    p = Purgatory(clock)
    answer: list = []
    d, got = _parked(p, clock, answer)
    p.notify("k")
    assert got == [] and not d.done
    answer.append("ready")
    p.notify("other")
    assert got == []
    p.notify("k")
    assert got == ["ready"] and d.done
    p.notify("k")
    assert got == ["ready"]  # answered once


def test_deadline_answers_with_expired_and_next_deadline_moves_on():
    clock = Clock()
    p = Purgatory(clock)
    d1, got1 = _parked(p, clock, [], timeout=1.0)
    d2, got2 = _parked(p, clock, [], timeout=3.0)
    assert p.next_deadline() == 11.0
    clock.now = 11.5
    p.expire()
    assert got1 == ["expired"] and got2 == []
    assert p.next_deadline() == 13.0


def test_a_failing_operation_answers_with_its_failure():
    clock = Clock()
    p = Purgatory(clock)
    got: list = []

    def boom(expired: bool):
        raise RuntimeError("bug")

    d = Deferred(boom, clock() + 1, ["k"])
    d.failure = lambda: "failure answer"
    d.on_done = got.append
    p.add(d)
    p.notify("k")
    assert got == ["failure answer"]


def test_cancel_all_drops_everything():
    clock = Clock()
    p = Purgatory(clock)
    d, got = _parked(p, clock, [])
    p.cancel_all()
    clock.now = 100
    p.expire()
    assert got == [] and p.next_deadline() is None


def test_cancel_owner_drops_only_that_connections_operations():
    clock = Clock()
    p = Purgatory(clock)
    got: list = []
    mine = [Deferred(lambda e: "x", clock() + 5, ["k"], owner=1) for _ in range(3)]
    theirs = Deferred(lambda e: "y", clock() + 5, ["k"], owner=2)
    for d in (*mine, theirs):
        d.on_done = got.append
        p.add(d)
    assert len(p) == 4
    assert p.cancel_owner(1) == 3 and p.cancel_owner(1) == 0
    assert len(p) == 1
    p.notify("k")
    assert got == ["y"]
