"""The core's typed interface: what its pipelines answer, and how listeners plug in."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from chronik.storage.batch import BatchInfo
from chronik.storage.log import AppendResult
from chronik.storage.txn_index import AbortedEntry
from chronik.wire.errors import ErrorCode


class AppendListener(Protocol):
    def on_append(self, topic: str, partition: int, batches: list[BatchInfo], result: AppendResult) -> None: ...


class TopicListener(Protocol):
    def on_topic_deleted(self, topic: str) -> None: ...


class Origin(enum.Enum):
    """Who writes: a client (every check applies) or the broker itself (control markers)."""

    CLIENT = "client"
    COORDINATOR = "coordinator"


@dataclass(slots=True)
class AppendOutcome:
    error: ErrorCode = ErrorCode.NONE
    base_offset: int = -1
    log_append_time: int = -1
    log_start_offset: int = -1
    message: str | None = None
    batches: list[BatchInfo] | None = None
    # (record index in its batch, why) for records refused one by one (INVALID_RECORD)
    record_errors: list[tuple[int, str]] | None = None


@dataclass(slots=True)
class ReadOutcome:
    error: ErrorCode
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    data: Any = b""
    aborted: list[AbortedEntry] | None = None
