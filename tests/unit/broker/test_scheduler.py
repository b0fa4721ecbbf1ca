"""LazyDeadline: one timer however often the deadline moves; fires once, at the last deadline."""

from __future__ import annotations

from chronik.broker.scheduler import LazyDeadline
from tests.unit.broker.test_groups import FakeScheduler


def make() -> tuple[FakeScheduler, LazyDeadline, list[float]]:
    sched = FakeScheduler()
    fired: list[float] = []
    return sched, LazyDeadline(sched, lambda: fired.append(sched.now)), fired


def test_pushes_later_keep_one_timer_and_expire_at_the_last_deadline() -> None:
    sched, d, fired = make()
    for _ in range(100):
        d.push(10.0)
        sched.advance(1.0)
    assert len(sched._heap) == 1
    sched.advance(8.5)  # the last push was at 199
    assert fired == []
    sched.advance(1.0)
    assert fired == [209.0] and not d.armed


def test_push_sooner_rearms_at_once() -> None:
    sched, d, fired = make()
    d.push(30.0)
    d.push(5.0)
    sched.advance(5.0)
    assert fired == [105.0]
    sched.advance(60.0)
    assert fired == [105.0]


def test_arm_keeps_an_existing_deadline_and_clear_disarms() -> None:
    sched, d, fired = make()
    d.arm(10.0)
    sched.advance(5.0)
    d.arm(10.0)  # already armed: still due at 110
    sched.advance(5.0)
    assert fired == [110.0]
    d.arm(10.0)
    d.clear()
    sched.advance(20.0)
    assert fired == [110.0] and not d.armed
    d.arm(1.0)  # usable again after clear()
    sched.advance(1.0)
    assert fired == [110.0, 131.0]
