"""Reading records for the console: bounded per call, straight from the partition logs.

Every read goes through `core.read` (range checks, storage errors) and
stops at `max_records` and `max_bytes`, so one page of the message browser
costs at most a few MB of file reads and a few hundred record decodes on
the loop. Control batches (transaction markers) are skipped; aborted
records are shown (like a read_uncommitted consumer), as other consoles do.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafka.record.default_records import DefaultRecordBatch

from chronik.wire.errors import ErrorCode

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore
    from chronik.broker.topics import Topic
    from chronik.console.decode import Decoder

_BASE_AND_LENGTH = struct.Struct(">qi")
_ATTRIBUTES = 21  # offset of the attributes in a v2 batch
_MAGIC = 16
READ_CHUNK = 1024 * 1024
MAX_LIMIT = 500
MAX_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class RawRecord:
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    size: int


class ReadError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def read_partition(core: BrokerCore, topic: Topic, partition: int, start: int, max_records: int,
                   max_bytes: int, stop: int | None = None) -> tuple[list[RawRecord], int]:
    """Records of one partition from `start` (clamped to the log), at most `max_records`/`max_bytes`,
    below `stop` if given; and the offset to read next."""
    plog = topic.partition(partition)
    if plog is None:
        raise ReadError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{topic.name} has no partition {partition}")
    offset = max(start, plog.log_start_offset)
    end = plog.log_end_offset if stop is None else min(stop, plog.log_end_offset)
    out: list[RawRecord] = []
    used = 0
    while offset < end and len(out) < max_records and used < max_bytes:
        res = core.read(topic, partition, offset, min(READ_CHUNK, max_bytes - used), read_committed=False)
        if res.error == ErrorCode.OFFSET_OUT_OF_RANGE:
            # Retention moved the start under us: go on from the new start.
            if plog.log_start_offset > offset:
                offset = plog.log_start_offset
                continue
            break
        if res.error:
            raise ReadError(res.error, f"reading {topic.name}-{partition} at {offset}: {ErrorCode(res.error).name}")
        data = res.data
        if not data:
            break
        used += len(data)
        pos, n, moved = 0, len(data), False
        while pos + 12 <= n and len(out) < max_records:
            base, length = _BASE_AND_LENGTH.unpack_from(data, pos)
            size = 12 + length
            if pos + size > n or base >= end:
                break
            raw = bytes(data[pos:pos + size])
            pos += size
            if raw[_MAGIC] != 2:
                continue
            batch = DefaultRecordBatch(raw)
            next_offset = min(end, batch.base_offset + batch.last_offset_delta + 1)
            if batch.is_control_batch:
                offset, moved = max(offset, next_offset), True
                continue
            for rec in batch:
                if rec.offset < offset or rec.offset >= end:
                    continue
                out.append(RawRecord(partition, rec.offset, rec.timestamp, rec.timestamp_type, rec.key,
                                     rec.value, list(rec.headers), rec.size_in_bytes))
                if len(out) >= max_records:
                    next_offset = rec.offset + 1
                    break
            offset, moved = max(offset, next_offset), True
        if not moved:
            break
    return out, offset


def to_json(rec: RawRecord, decoder: Decoder) -> dict[str, Any]:
    headers = []
    for k, v in rec.headers:
        if v is None:
            headers.append({"key": k, "value": None})
            continue
        try:
            headers.append({"key": k, "value": v.decode("utf-8")})
        except UnicodeDecodeError:
            headers.append({"key": k, "value": None, "base64": base64.b64encode(v).decode()})
    return {
        "partition": rec.partition,
        "offset": rec.offset,
        "timestamp": rec.timestamp,
        "timestamp_type": "LogAppendTime" if rec.timestamp_type == 1 else "CreateTime",
        "key": decoder.field(rec.key),
        "value": decoder.field(rec.value),
        "headers": headers,
    }


def newest_first(records: list[RawRecord]) -> list[RawRecord]:
    return sorted(records, key=lambda r: (r.timestamp, r.offset, -r.partition), reverse=True)
