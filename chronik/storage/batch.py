"""RecordBatch (magic v2) header access without decoding records.

The broker only ever needs the 61-byte batch header: offsets are assigned by
patching ``baseOffset`` (which lies outside the CRC) and the records stay the
opaque bytes the producer sent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from crc32c import crc32c

__all__ = [
    "ATTRIBUTES_OFFSET",
    "BatchInfo",
    "CorruptBatchError",
    "CRC_OFFSET",
    "HEADER",
    "HEADER_SIZE",
    "LOG_OVERHEAD",
    "MIN_BATCH_LENGTH",
    "patch_base_offset",
    "patch_leader_epoch",
    "read_batch_header",
    "scan_batches",
    "set_log_append_time",
]

# baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
# baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordCount
HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the part not counted by batchLength
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
LEADER_EPOCH_OFFSET = 12
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
MAX_TIMESTAMP_OFFSET = 35

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")


class CorruptBatchError(Exception):
    """A record set is not a well-formed sequence of v2 record batches."""


@dataclass(slots=True)
class BatchInfo:
    position: int
    size: int
    base_offset: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int
    attributes: int

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_MASK)

    @property
    def compression(self) -> int:
        """0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."""
        return self.attributes & COMPRESSION_MASK

    @property
    def timestamp_type(self) -> int:
        """0 CreateTime, 1 LogAppendTime."""
        return (self.attributes & TIMESTAMP_TYPE_MASK) >> 3

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta


def _check_header(h: tuple, position: int, available: int) -> None:
    """Structural checks shared by scanning and header walking.

    ``available`` is how many bytes exist from ``position`` on, so a batch
    that claims to extend past it is reported as truncated.
    """
    if h[3] != 2:
        raise CorruptBatchError(f"batch at position {position}: magic {h[3]}, expected 2")
    length = h[1]
    if length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(
            f"batch at position {position}: batchLength {length} is smaller than a header"
        )
    if LOG_OVERHEAD + length > available:
        raise CorruptBatchError(
            f"batch at position {position}: batchLength {length} runs past the end of the "
            f"data ({available - LOG_OVERHEAD} bytes available)"
        )
    if h[6] < 0:
        raise CorruptBatchError(
            f"batch at position {position}: negative lastOffsetDelta {h[6]}"
        )
    count = h[12]
    if count < 0 or count > h[6] + 1:
        raise CorruptBatchError(
            f"batch at position {position}: recordCount {count} inconsistent with "
            f"lastOffsetDelta {h[6]}"
        )


def scan_batches(buf: bytes | bytearray | memoryview, verify_crc: bool = True) -> list[BatchInfo]:
    """Walk a record set batch by batch; raise CorruptBatchError on anything malformed."""
    mv = memoryview(buf)
    n = len(mv)
    if n == 0:
        raise CorruptBatchError("empty record set")
    unpack = HEADER.unpack_from
    out: list[BatchInfo] = []
    append = out.append
    pos = 0
    while pos < n:
        if n - pos < HEADER_SIZE:
            raise CorruptBatchError(
                f"truncated batch header at position {pos}: {n - pos} bytes, need {HEADER_SIZE}"
            )
        h = unpack(mv, pos)
        length = h[1]
        end = pos + LOG_OVERHEAD + length
        lod = h[6]
        # One combined test on the fast path; _check_header explains a failure.
        if h[3] != 2 or length < MIN_BATCH_LENGTH or end > n or lod < 0 or not (
            0 <= h[12] <= lod + 1
        ):
            _check_header(h, pos, n - pos)
        if verify_crc:
            actual = crc32c(mv[pos + ATTRIBUTES_OFFSET : end])
            if actual != h[4]:
                raise CorruptBatchError(
                    f"batch at position {pos} (baseOffset {h[0]}): CRC mismatch, "
                    f"header says {h[4]:#010x}, data has {actual:#010x}"
                )
        append(BatchInfo(pos, end - pos, h[0], lod, h[7], h[8], h[9], h[10], h[11], h[12], h[5]))
        pos = end
    return out


def read_batch_header(buf: bytes | bytearray | memoryview, position: int = 0) -> BatchInfo:
    """Parse one batch header (no CRC check); the batch body need not be present."""
    if position < 0 or len(buf) - position < HEADER_SIZE:
        raise CorruptBatchError(f"truncated batch header at position {position}")
    h = HEADER.unpack_from(buf, position)
    if h[3] != 2:
        raise CorruptBatchError(f"batch at position {position}: magic {h[3]}, expected 2")
    if h[1] < MIN_BATCH_LENGTH:
        raise CorruptBatchError(f"batch at position {position}: batchLength {h[1]} too small")
    return BatchInfo(
        position, LOG_OVERHEAD + h[1], h[0], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[5]
    )


def patch_base_offset(buf: bytearray | memoryview, position: int, base_offset: int) -> None:
    # baseOffset precedes the CRC-covered range, so no CRC update is needed.
    _INT64.pack_into(buf, position, base_offset)


def patch_leader_epoch(buf: bytearray | memoryview, position: int, epoch: int) -> None:
    # Also outside the CRC; Kafka stamps the leader epoch on every appended batch.
    _INT32.pack_into(buf, position + LEADER_EPOCH_OFFSET, epoch)


def set_log_append_time(buf: bytearray | memoryview, position: int, size: int, ts_ms: int) -> None:
    """Stamp a batch with LogAppendTime the way Kafka does for v2 batches.

    Only maxTimestamp and the timestamp-type bit change: consumers read every
    record's timestamp from maxTimestamp when the bit is set, so the records
    themselves (possibly compressed) stay untouched. Both fields are inside the
    CRC, hence the recompute.
    """
    attrs = _INT16.unpack_from(buf, position + ATTRIBUTES_OFFSET)[0]
    _INT16.pack_into(buf, position + ATTRIBUTES_OFFSET, attrs | TIMESTAMP_TYPE_MASK)
    _INT64.pack_into(buf, position + MAX_TIMESTAMP_OFFSET, ts_ms)
    crc = crc32c(memoryview(buf)[position + ATTRIBUTES_OFFSET : position + size])
    _UINT32.pack_into(buf, position + CRC_OFFSET, crc)
