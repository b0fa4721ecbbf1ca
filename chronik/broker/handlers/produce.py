"""Produce (0), served v3-13 (advertised from v0 because of KAFKA-18659).

Record sets are never decoded: batch headers are checked (magic, length,
CRC32C), the idempotence sequence is checked, offsets are assigned by
patching baseOffset, and the bytes are appended as received. acks=0 gets
no answer. Waiters on a partition (long-poll fetches) are woken.
"""

from __future__ import annotations

import uuid

from kafka.protocol.producer.produce import ProduceResponse

from chronik.storage.batch import CorruptBatchError, scan_batches
from chronik.storage.log import MessageTooLargeError
from chronik.wire.errors import ErrorCode

API_KEY = 0

_TopicResp = ProduceResponse.TopicProduceResponse
_PartResp = _TopicResp.PartitionProduceResponse
_ZERO_UUID = uuid.UUID(int=0)


def _part(index: int, code: int, base: int = -1, append_time: int = -1, start: int = -1,
          message: str | None = None) -> _PartResp:
    return _PartResp(
        index=index,
        error_code=code,
        base_offset=base,
        log_append_time_ms=append_time,
        log_start_offset=start,
        record_errors=[],
        error_message=message,
    )


def _append_partition(ctx, topic_name: str, index: int, records, txn_check) -> _PartResp:
    broker = ctx.broker
    plog = broker.partition(topic_name, index)
    if plog is None:
        return _part(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    if not records:
        return _part(index, ErrorCode.CORRUPT_MESSAGE, message="empty record set")
    # The broker decodes records as a writable view into the request frame
    # (chronik.wire.zero_copy), so offsets are patched in place.
    data = records if isinstance(records, memoryview) and not records.readonly else bytearray(records)
    try:
        batches = scan_batches(data)
    except CorruptBatchError as exc:
        return _part(index, ErrorCode.CORRUPT_MESSAGE, message=str(exc))
    producers = broker.producers
    dup = None
    for b in batches:
        if b.is_control:
            return _part(index, ErrorCode.INVALID_RECORD, message="clients may not write control batches")
        code, cached = producers.check(topic_name, index, b)
        if code:
            return _part(index, code)
        if cached is not None:
            dup = cached
        if txn_check is not None:
            code = txn_check(ctx, topic_name, index, b)
            if code:
                return _part(index, code)
    if dup is not None and len(batches) == 1:
        return _part(index, ErrorCode.NONE, dup.base_offset, -1, plog.log_start_offset)
    try:
        res = plog.append(data, batches)
    except MessageTooLargeError as exc:
        return _part(index, ErrorCode.MESSAGE_TOO_LARGE, message=str(exc))
    except CorruptBatchError as exc:
        return _part(index, ErrorCode.CORRUPT_MESSAGE, message=str(exc))
    offset = res.base_offset
    for b in batches:
        producers.update(topic_name, index, b, offset)
        offset += b.last_offset_delta + 1
    for hook in broker.extensions.get("after_append", ()):
        hook(topic_name, index, batches, res)
    broker.purgatory.notify((topic_name, index))
    return _part(index, ErrorCode.NONE, res.base_offset, res.log_append_time, res.log_start_offset)


def handle(ctx, req):
    v = ctx.api_version
    broker = ctx.broker
    txn_check = broker.extensions.get("txn_produce_check")
    responses = []
    for td in req.topic_data:
        if v >= 13:
            topic = broker.topics_by_id.get(td.topic_id)
            name = topic.name if topic else None
            missing = ErrorCode.UNKNOWN_TOPIC_ID
        else:
            name = td.name
            topic = broker.topics.get(name)
            missing = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        parts = []
        for pd in td.partition_data:
            if v < 3:
                parts.append(_part(pd.index, ErrorCode.UNSUPPORTED_VERSION,
                                   message="Produce v0-2 (message format v0/v1) is not supported"))
            elif req.acks not in (0, 1, -1):
                parts.append(_part(pd.index, ErrorCode.INVALID_REQUIRED_ACKS))
            elif topic is None:
                parts.append(_part(pd.index, missing))
            else:
                parts.append(_append_partition(ctx, name, pd.index, pd.records, txn_check))
        responses.append(
            _TopicResp(name=td.name if v < 13 else "", topic_id=td.topic_id if v >= 13 else _ZERO_UUID,
                       partition_responses=parts)
        )
    if req.acks == 0:
        return None
    return ProduceResponse(version=v, responses=responses, throttle_time_ms=0)
