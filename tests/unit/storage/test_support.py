"""Builders for real v2 record batches (kafka-python) and a decoder for assertions."""

from __future__ import annotations

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4


def build_batch(
    n: int = 3,
    *,
    compression: int = NONE,
    base_ts: int = 1_700_000_000_000,
    ts_step: int = 1,
    prefix: str = "k",
    value_size: int = 16,
    timestamps: list[int] | None = None,
) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for i in range(n):
        ts = timestamps[i] if timestamps is not None else base_ts + i * ts_step
        key = f"{prefix}{i}".encode()
        value = (f"{prefix}-value-{i}-".encode() * value_size)[:value_size] if value_size else b""
        builder.append(i, timestamp=ts, key=key, value=value, headers=[("h", key), ("n", None)])
    return bytes(builder.build())


def decode(data: bytes) -> list[tuple[int, int, bytes | None, bytes | None, list]]:
    """(offset, timestamp, key, value, headers) of every record in a record set."""
    out = []
    records = MemoryRecords(data)
    while records.has_next():
        batch = records.next_batch()
        assert isinstance(batch, DefaultRecordBatch)
        assert batch.validate_crc()
        for r in batch:
            out.append((r.offset, r.timestamp, r.key, r.value, r.headers))
    return out


def expected(n: int, prefix: str = "k", value_size: int = 16) -> list[tuple[bytes, bytes]]:
    return [
        (
            f"{prefix}{i}".encode(),
            (f"{prefix}-value-{i}-".encode() * value_size)[:value_size] if value_size else b"",
        )
        for i in range(n)
    ]
