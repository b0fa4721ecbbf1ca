import time

from chronik.clock import monotonic, wall_ms


def test_wall_ms_is_epoch_milliseconds():
    before = time.time_ns() // 1_000_000
    now = wall_ms()
    after = time.time_ns() // 1_000_000
    assert isinstance(now, int)
    assert before <= now <= after


def test_monotonic_never_goes_back():
    a = monotonic()
    b = monotonic()
    assert b >= a
