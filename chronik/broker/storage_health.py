"""Disk trouble (a full disk, a quota, an I/O error): answered, logged once, recovered from.

Writes that fail with an OSError are answered with a Kafka error code (the
caller picks which), never by closing the client's connection. Each kind of
write ("partition log", "committed offsets", ...) logs one line when it
starts failing and one when it works again, however many requests fail in
between, so a full disk cannot flood the log. `healthy` feeds readiness.
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger("chronik.storage_health")

# errnos that mean "the disk", not "a bug"
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG, errno.EMFILE,
                            errno.ENFILE})


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


class StorageHealth:
    def __init__(self) -> None:
        self.failing: dict[str, str] = {}
        self.failures = 0

    @property
    def healthy(self) -> bool:
        return not self.failing

    def failed(self, what: str, exc: OSError) -> None:
        self.failures += 1
        if what not in self.failing:
            reason = exc.strerror or str(exc)
            self.failing[what] = reason
            log.error("writing %s failed: %s; answering KAFKA_STORAGE_ERROR until it works again", what, reason)

    def ok(self, what: str) -> None:
        if what in self.failing:
            del self.failing[what]
            log.warning("writing %s works again", what)
