"""Retention: which of a partition's oldest segments may go, and deleting them.

With ``cleanup.policy`` containing ``delete``, whole segments are deleted
from the oldest while their largest timestamp is older than
``retention.ms`` or the partition is over ``retention.bytes``; the log start
offset moves with them. When that runs is the broker's log manager's
business (chronik.broker.log_manager).
"""

from __future__ import annotations

from dataclasses import dataclass

from chronik.storage.log import PartitionLog

__all__ = ["RetentionConfig", "RetentionResult", "apply_retention", "segments_to_delete"]


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """What retention needs of a topic's configs (metadata's TopicConfig.retention_config())."""

    delete: bool = True  # cleanup.policy includes delete
    retention_ms: int = 604_800_000  # -1: keep forever
    retention_bytes: int = -1  # -1: no size limit


@dataclass
class RetentionResult:
    segments_deleted: int = 0
    bytes_deleted: int = 0
    log_start_offset: int = 0
    reason: str = ""


def segments_to_delete(plog: PartitionLog, cfg: RetentionConfig, now_ms: int) -> tuple[int, str]:
    """How many of the oldest segments retention would delete now, and why."""
    if not cfg.delete:
        return 0, ""
    retention_ms = cfg.retention_ms
    retention_bytes = cfg.retention_bytes
    segs = plog.segments
    by_time = 0
    if retention_ms >= 0:
        last = len(segs) - 1
        for i, seg in enumerate(segs):
            # Like Kafka, a segment's age is its largest record timestamp. An
            # empty sealed segment (left by compaction) holds nothing to keep;
            # an empty active segment is never deleted.
            if seg.size == 0 and i < last:
                by_time += 1
                continue
            if seg.size == 0 or seg.max_timestamp < 0 or now_ms - seg.max_timestamp <= retention_ms:
                break
            by_time += 1
    by_size = 0
    if retention_bytes >= 0:
        excess = sum(s.size for s in segs) - retention_bytes
        # The active segment is not deleted for size: it is where appends go.
        for seg in segs[:-1]:
            if excess - seg.size < 0:
                break
            excess -= seg.size
            by_size += 1
    if by_time >= by_size:
        return by_time, "retention.ms" if by_time else ""
    return by_size, "retention.bytes"


def apply_retention(plog: PartitionLog, cfg: RetentionConfig, now_ms: int) -> RetentionResult:
    count, reason = segments_to_delete(plog, cfg, now_ms)
    gone = plog.delete_oldest_segments(count) if count else []
    return RetentionResult(
        len(gone), sum(s.size for s in gone), plog.log_start_offset, reason if gone else ""
    )
