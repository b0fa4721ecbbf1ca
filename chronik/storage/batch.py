"""RecordBatch (magic v2) header access without decoding records.

The broker only ever needs the 61-byte batch header: offsets are assigned by
patching ``baseOffset`` (which lies outside the CRC) and the records stay the
opaque bytes the producer sent.

Three views of a header, from hot to cold:

* ``HEADER.unpack_from(buf, pos)``: a plain 13-tuple. Hot loops unpack it
  into local names or index it with the ``H_*`` field numbers (never bare
  numbers): ``h[H_BASE_OFFSET] + h[H_LAST_OFFSET_DELTA]``.
* ``BatchInfo``: what ``scan_batches`` returns for a record set (mutable: an
  append stamps the assigned offsets into it).
* ``BatchHeader``: a NamedTuple with field names and helpers, for tools and
  the cleaner where an extra object per batch does not matter.

``*_OFFSET`` names are byte positions inside a batch; ``H_*`` names are
positions in the unpacked tuple.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from crc32c import crc32c

if TYPE_CHECKING:
    from chronik.storage.log import PartitionLog

__all__ = [
    "ATTRIBUTES_OFFSET",
    "BATCH_LENGTH_OFFSET",
    "BatchHeader",
    "BatchInfo",
    "CorruptBatchError",
    "CRC_OFFSET",
    "HEADER",
    "HEADER_SIZE",
    "LEADER_EPOCH_OFFSET",
    "H_ATTRIBUTES",
    "H_BASE_OFFSET",
    "H_BASE_SEQUENCE",
    "H_BASE_TIMESTAMP",
    "H_BATCH_LENGTH",
    "H_CRC",
    "H_LAST_OFFSET_DELTA",
    "H_LEADER_EPOCH",
    "H_MAGIC",
    "H_MAX_TIMESTAMP",
    "H_PRODUCER_EPOCH",
    "H_PRODUCER_ID",
    "H_RECORD_COUNT",
    "LOG_OVERHEAD",
    "MIN_BATCH_LENGTH",
    "patch_base_offset",
    "patch_leader_epoch",
    "iter_batches",
    "read_batch_header",
    "scan_batches",
    "set_log_append_time",
]

# baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
# baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordCount
HEADER = struct.Struct(">qiibIhiqqqhii")
# Field numbers in a HEADER.unpack() tuple (same order as BatchHeader's fields).
(
    H_BASE_OFFSET,
    H_BATCH_LENGTH,
    H_LEADER_EPOCH,
    H_MAGIC,
    H_CRC,
    H_ATTRIBUTES,
    H_LAST_OFFSET_DELTA,
    H_BASE_TIMESTAMP,
    H_MAX_TIMESTAMP,
    H_PRODUCER_ID,
    H_PRODUCER_EPOCH,
    H_BASE_SEQUENCE,
    H_RECORD_COUNT,
) = range(13)
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the part not counted by batchLength
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
BATCH_LENGTH_OFFSET = 8
LEADER_EPOCH_OFFSET = 12
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


class BatchFlags:
    """What a batch's attributes and offsets say, for the header tuple and BatchInfo alike."""

    __slots__ = ()
    base_offset: int
    last_offset_delta: int
    attributes: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

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


class _HeaderFields(NamedTuple):
    base_offset: int
    batch_length: int  # bytes after this field: the batch is LOG_OVERHEAD + batch_length long
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int


class BatchHeader(_HeaderFields, BatchFlags):
    """The 61-byte batch header with names (cold paths: tools, the cleaner)."""

    __slots__ = ()

    @classmethod
    def unpack_from(cls, buf: bytes | bytearray | memoryview, position: int = 0) -> BatchHeader:
        """The header at ``position`` (no checks: see ``read_batch_header`` for those)."""
        return cls._make(HEADER.unpack_from(buf, position))

    @property
    def size(self) -> int:
        """Bytes of the whole batch."""
        return LOG_OVERHEAD + self.batch_length


@dataclass(slots=True)
class BatchInfo(BatchFlags):
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


def _check_header(h: tuple, position: int, available: int) -> None:
    """Structural checks shared by scanning and header walking.

    ``available`` is how many bytes exist from ``position`` on, so a batch
    that claims to extend past it is reported as truncated.
    """
    magic = h[H_MAGIC]
    if magic != 2:
        raise CorruptBatchError(f"batch at position {position}: magic {magic}, expected 2")
    length = h[H_BATCH_LENGTH]
    if length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(
            f"batch at position {position}: batchLength {length} is smaller than a header"
        )
    if LOG_OVERHEAD + length > available:
        raise CorruptBatchError(
            f"batch at position {position}: batchLength {length} runs past the end of the "
            f"data ({available - LOG_OVERHEAD} bytes available)"
        )
    lod = h[H_LAST_OFFSET_DELTA]
    if lod < 0:
        raise CorruptBatchError(
            f"batch at position {position}: negative lastOffsetDelta {lod}"
        )
    count = h[H_RECORD_COUNT]
    if count < 0 or count > lod + 1:
        raise CorruptBatchError(
            f"batch at position {position}: recordCount {count} inconsistent with "
            f"lastOffsetDelta {lod}"
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
        # Unpacked into locals: the fastest named access to the fields.
        (
            base_offset, length, _epoch, magic, crc, attributes, lod,
            base_ts, max_ts, producer_id, producer_epoch, base_seq, count,
        ) = unpack(mv, pos)
        end = pos + LOG_OVERHEAD + length
        # One combined test on the fast path; _check_header explains a failure.
        if magic != 2 or length < MIN_BATCH_LENGTH or end > n or lod < 0 or not (
            0 <= count <= lod + 1
        ):
            _check_header(unpack(mv, pos), pos, n - pos)
        if verify_crc:
            actual = crc32c(mv[pos + ATTRIBUTES_OFFSET : end])
            if actual != crc:
                raise CorruptBatchError(
                    f"batch at position {pos} (baseOffset {base_offset}): CRC mismatch, "
                    f"header says {crc:#010x}, data has {actual:#010x}"
                )
        append(BatchInfo(
            pos, end - pos, base_offset, lod, base_ts, max_ts,
            producer_id, producer_epoch, base_seq, count, attributes,
        ))
        pos = end
    return out


_CHECK = struct.Struct(">qiibI")  # baseOffset, batchLength, leader epoch, magic, crc


def verify_batches(data: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, str | None]:
    """Check whole batches from `pos` as a reader would trust them: header, length, magic, CRC.

    Returns the end of the last good batch and, if a damaged one follows,
    what is wrong with it (None when everything up to the end is sound).
    """
    mv = memoryview(data)
    n = len(mv)
    while pos < n:
        if n - pos < HEADER_SIZE:
            return pos, f"truncated batch header at byte {pos}"
        base, length, _epoch, magic, crc = _CHECK.unpack_from(mv, pos)
        if magic != 2:
            return pos, f"batch at byte {pos} (baseOffset {base}): magic {magic}"
        end = pos + LOG_OVERHEAD + length
        if length < MIN_BATCH_LENGTH or end > n:
            return pos, f"batch at byte {pos} (baseOffset {base}): batchLength {length} does not fit"
        if crc32c(mv[pos + ATTRIBUTES_OFFSET:end]) != crc:
            return pos, f"batch at byte {pos} (baseOffset {base}): CRC mismatch"
        pos = end
    return pos, None


def record_timestamps(batch: bytes | bytearray | memoryview) -> list[int]:
    """The timestamp of every record of a batch, in order; decodes every codec."""
    from kafka.record.default_records import DefaultRecordBatch

    return [rec.timestamp for rec in DefaultRecordBatch(bytes(batch))]


def keyless_records(batch: bytes | bytearray | memoryview) -> list[int]:
    """Indexes (within the batch) of the records that have no key; decodes every codec.

    Only compacted topics pay for this: it is the one check that reads records.
    """
    from kafka.record.default_records import DefaultRecordBatch

    return [i for i, rec in enumerate(DefaultRecordBatch(bytes(batch))) if rec.key is None]


def read_batch_header(buf: bytes | bytearray | memoryview, position: int = 0) -> BatchInfo:
    """Parse one batch header (no CRC check); the batch body need not be present."""
    if position < 0 or len(buf) - position < HEADER_SIZE:
        raise CorruptBatchError(f"truncated batch header at position {position}")
    h = BatchHeader.unpack_from(buf, position)
    if h.magic != 2:
        raise CorruptBatchError(f"batch at position {position}: magic {h.magic}, expected 2")
    if h.batch_length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(
            f"batch at position {position}: batchLength {h.batch_length} too small"
        )
    return BatchInfo(
        position, h.size, h.base_offset, h.last_offset_delta, h.base_timestamp, h.max_timestamp,
        h.producer_id, h.producer_epoch, h.base_sequence, h.record_count, h.attributes,
    )


# Bytes read from a log per step of iter_batches.
ITER_CHUNK_BYTES = 4 * 1024 * 1024


def iter_batches(
    plog: PartitionLog,
    from_offset: int,
    end_offset: int | None = None,
    *,
    verify_crc: bool = False,
    chunk_bytes: int = ITER_CHUNK_BYTES,
) -> Iterator[tuple[BatchInfo, memoryview]]:
    """(BatchInfo, batch bytes) of every batch of ``plog`` holding offsets from ``from_offset`` on.

    Reads ``chunk_bytes`` at a time through ``PartitionLog.read``, so it
    starts at the batch containing ``from_offset`` and walks whole batches.
    Stops before the first batch starting at or past ``end_offset`` (default:
    the log end when the walk begins). A ``BatchInfo.position`` is relative
    to its chunk; the memoryview is the batch itself and stays valid.
    Raises CorruptBatchError on a malformed chunk (before yielding any of its
    batches) and OffsetOutOfRangeError when ``from_offset`` is below the log
    start; from the log end on it yields nothing.
    """
    end = plog.log_end_offset if end_offset is None else end_offset
    offset = from_offset
    while offset < end:
        data = plog.read(offset, chunk_bytes).data
        if not data:
            return
        batches = scan_batches(data, verify_crc=verify_crc)
        view = memoryview(data)
        for b in batches:
            if b.base_offset >= end:
                return
            if b.base_offset + b.last_offset_delta >= offset:
                yield b, view[b.position : b.position + b.size]
        offset = batches[-1].last_offset + 1


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
