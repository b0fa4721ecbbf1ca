"""Re-encode a record batch keeping only some of its records (the log cleaner's output).

Offsets never change: the new batch keeps its base offset, last offset
delta, leader epoch, producer id, epoch and base sequence, and its codec
(even where compression does not pay: the producer chose it). A batch
emptied of every record is kept as a bare header so that the producer's
sequence state can still be rebuilt from the log.
"""

from __future__ import annotations

import struct

from crc32c import crc32c
from kafka.codec import gzip_encode, lz4_encode, snappy_encode, zstd_encode
from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.storage.batch import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    CRC_OFFSET,
    HEADER,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    TRANSACTIONAL_MASK,
    BatchHeader,
)
from chronik.storage.segment import INT32_MAX

__all__ = ["rebuild_batch"]

_UINT32 = struct.Struct(">I")


class _KeepCodecBuilder(DefaultRecordBatchBuilder):
    """A builder that always applies the batch's codec.

    kafka-python falls back to no compression when it does not shrink the
    data; a compacted batch should keep the codec its producer chose.
    """

    def _maybe_compress(self) -> bool:
        codec = self._compression_type
        if codec == self.CODEC_NONE:
            return False
        self._assert_has_codec(codec)
        size = self.HEADER_STRUCT.size
        data = bytes(self._buffer[size:])
        encode = {
            self.CODEC_GZIP: gzip_encode,
            self.CODEC_SNAPPY: snappy_encode,
            self.CODEC_LZ4: lz4_encode,
            self.CODEC_ZSTD: zstd_encode,
        }[codec]
        compressed = encode(data)
        del self._buffer[size:]
        self._buffer += compressed
        return True


def _finish_header(buf: bytearray, h: BatchHeader, count: int, attributes: int, max_ts: int) -> None:
    # Fields the builder cannot know: the batch's place in the log and its
    # producer bookkeeping; then the CRC over the final bytes.
    first_ts = BatchHeader.unpack_from(buf).base_timestamp if count else h.base_timestamp
    HEADER.pack_into(
        buf, 0,
        h.base_offset, len(buf) - LOG_OVERHEAD, h.partition_leader_epoch, 2, 0, attributes,
        h.last_offset_delta, first_ts, max_ts, h.producer_id, h.producer_epoch, h.base_sequence,
        count,
    )
    _UINT32.pack_into(buf, CRC_OFFSET, crc32c(memoryview(buf)[ATTRIBUTES_OFFSET:]))


def rebuild_batch(h: BatchHeader, kept: list) -> bytearray:
    """The batch of header ``h`` holding only the ``kept`` records (kafka-python record objects)."""
    attrs = h.attributes
    if not kept:
        # An empty batch: only the header, to keep the producer's sequence state.
        buf = bytearray(HEADER_SIZE)
        _finish_header(buf, h, 0, attrs & ~COMPRESSION_MASK, h.max_timestamp)
        return buf
    builder = _KeepCodecBuilder(
        magic=2,
        compression_type=attrs & COMPRESSION_MASK,
        is_transactional=bool(attrs & TRANSACTIONAL_MASK),
        producer_id=h.producer_id,
        producer_epoch=h.producer_epoch,
        base_sequence=h.base_sequence,
        batch_size=INT32_MAX,
    )
    base = h.base_offset
    log_append = bool(attrs & TIMESTAMP_TYPE_MASK)
    max_ts = -1
    for r in kept:
        ts = r.timestamp
        if ts > max_ts:
            max_ts = ts
        builder.append(r.offset - base, timestamp=ts, key=r.key, value=r.value, headers=r.headers)
    buf = builder.build()
    # With LogAppendTime every record reads the batch's max timestamp: keep it.
    _finish_header(buf, h, len(kept), attrs, h.max_timestamp if log_append else max_ts)
    return buf
