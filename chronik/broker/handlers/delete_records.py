"""DeleteRecords (21), v0-2: move a partition's log start offset forward.

Offset -1 means the high watermark. Whole segments below the new start are
deleted; fetches below it get OFFSET_OUT_OF_RANGE.
"""

from __future__ import annotations

from kafka.protocol.admin.topics import DeleteRecordsResponse

from chronik.wire.errors import ErrorCode

API_KEY = 21

_Topic = DeleteRecordsResponse.DeleteRecordsTopicResult
_Part = _Topic.DeleteRecordsPartitionResult


def handle(ctx, req):
    core = ctx.core
    topics = []
    for t in req.topics:
        parts = []
        for p in t.partitions:
            plog = core.partition(t.name, p.partition_index)
            if plog is None:
                parts.append(_Part(partition_index=p.partition_index, low_watermark=-1,
                                   error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
                continue
            target = plog.log_end_offset if p.offset == -1 else p.offset
            if target < 0 or target > plog.log_end_offset:
                parts.append(_Part(partition_index=p.partition_index, low_watermark=-1,
                                   error_code=ErrorCode.OFFSET_OUT_OF_RANGE))
                continue
            low = plog.delete_records_before(target) if target > plog.log_start_offset \
                else plog.log_start_offset
            parts.append(_Part(partition_index=p.partition_index, low_watermark=low, error_code=0))
        topics.append(_Topic(name=t.name, partitions=parts))
    return DeleteRecordsResponse(version=ctx.api_version, throttle_time_ms=0, topics=topics)
