"""Disk trouble is logged once per kind of write, and its recovery once."""

from __future__ import annotations

import errno

from chronik.broker.storage_health import StorageHealth, is_storage_error


def test_one_line_per_condition(caplog):
    health = StorageHealth()
    full = OSError(errno.ENOSPC, "No space left on device")
    for _ in range(50):
        health.failed("partition logs", full)
    health.failed("committed offsets", full)
    assert not health.healthy and health.failures == 51
    assert caplog.text.count("writing partition logs failed") == 1
    health.ok("partition logs")
    health.ok("partition logs")
    assert caplog.text.count("writing partition logs works again") == 1
    health.ok("committed offsets")
    assert health.healthy


def test_which_errors_are_the_disks():
    assert is_storage_error(OSError(errno.ENOSPC, "full"))
    assert is_storage_error(OSError(errno.EIO, "io"))
    assert not is_storage_error(OSError(errno.ECONNRESET, "reset"))
    assert not is_storage_error(ValueError("bug"))
