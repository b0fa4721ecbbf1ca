"""On-disk storage: record batch headers, segments and partition logs."""

from chronik.storage.batch import BatchInfo, CorruptBatchError, scan_batches
from chronik.storage.log import (
    AppendResult,
    LogConfig,
    MessageTooLargeError,
    OffsetOutOfRangeError,
    PartitionLog,
    ReadResult,
)
from chronik.storage.recovery import RecoveryResult, recover_segment

__all__ = [
    "AppendResult",
    "BatchInfo",
    "CorruptBatchError",
    "LogConfig",
    "MessageTooLargeError",
    "OffsetOutOfRangeError",
    "PartitionLog",
    "ReadResult",
    "RecoveryResult",
    "recover_segment",
    "scan_batches",
]
