import platform

import pytest

from chronik.broker.allocator import tune_allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_are_applied_on_glibc() -> None:
    assert tune_allocator() is True
    assert tune_allocator() is True  # idempotent: run_broker may be called again in one process

