"""Produce (0), served v3-13 (advertised from v0 because of KAFKA-18659).

The handler only translates: each partition's record set goes through the
core's append pipeline (BrokerCore.append: batch headers and CRC, producer
sequence, transaction state, the write, listeners, long-poll waiters), and
its outcome becomes the partition's answer. acks=0 gets no answer.

The answer is built from chronik.wire.produce_codec's plain objects (encoded
by hand, checked byte for byte against kafka-python): produce is the hot
path of every producer.

With `--fsync always` an acks=all answer is held until the partitions it
appended to are fsynced (chronik.broker.group_commit, batched per loop turn).

A request for a partition that has nothing on disk yet waits while a worker
creates its directory and first segment (chronik.broker.file_maker), then
runs as usual: the loop never blocks on that file-system work.
"""

from __future__ import annotations

import uuid

from chronik.wire.errors import ErrorCode
from chronik.wire.produce_codec import PartitionProduceResponse as _Part
from chronik.wire.produce_codec import ProduceResponseData, TopicProduceResponse

API_KEY = 0

_ZERO_UUID = uuid.UUID(int=0)


def _part(index: int, code: int, base: int = -1, append_time: int = -1, start: int = -1,
          message: str | None = None) -> _Part:
    return _Part(index, code, base, append_time, start, None, message)


def handle(ctx, req, files_tried: bool = False):
    v = ctx.api_version
    core = ctx.core
    if core.file_maker is not None and v >= 3 and not files_tried:
        new = _without_files(core, req, v)
        if new:
            # Run once more when the files are made; if making them failed, the append tries
            # itself and answers KAFKA_STORAGE_ERROR (no second round through the worker).
            return core.file_maker.defer(new, lambda: handle(ctx, req, files_tried=True), owner=ctx.conn_id)
    responses = []
    # --fsync always: acks=all answers wait for the group commit of what they appended.
    group_commit = core.group_commit if req.acks == -1 else None
    appended = []
    for td in req.topic_data:
        if v >= 13:
            topic = core.topics_by_id.get(td.topic_id)
            name = topic.name if topic else None
            missing = ErrorCode.UNKNOWN_TOPIC_ID
        else:
            name = td.name
            topic = core.topics.get(name)
            missing = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        parts = []
        failed = False
        for pd in td.partition_data:
            if v < 3:
                parts.append(_part(pd.index, ErrorCode.UNSUPPORTED_VERSION,
                                   message="Produce v0-2 (message format v0/v1) is not supported"))
            elif req.acks not in (0, 1, -1):
                parts.append(_part(pd.index, ErrorCode.INVALID_REQUIRED_ACKS))
            elif topic is None:
                parts.append(_part(pd.index, missing))
            else:
                out = core.append(name, pd.index, pd.records)
                part = _part(pd.index, out.error, out.base_offset, out.log_append_time,
                             out.log_start_offset, out.message)
                if out.record_errors:
                    part.record_errors = list(out.record_errors)
                elif group_commit is not None and not out.error:
                    appended.append(topic.partition(pd.index))
                parts.append(part)
        for part in parts:
            if part.error_code:
                failed = True
                core.stats.error(API_KEY, part.error_code)
        core.stats.produce_request(name if topic is not None else None, failed)
        responses.append(TopicProduceResponse(td.name if v < 13 else "", td.topic_id if v >= 13 else _ZERO_UUID,
                                              parts))
    if req.acks == 0:
        return None
    response = ProduceResponseData(responses, 0)
    if appended:
        return group_commit.hold(appended, response, _storage_failed, owner=ctx.conn_id)
    return response


def _without_files(core, req, v: int) -> list:
    """The partition logs this request would append to that have no files on disk yet."""
    out = []
    for td in req.topic_data:
        topic = core.topics_by_id.get(td.topic_id) if v >= 13 else core.topics.get(td.name)
        if topic is None:
            continue
        for pd in td.partition_data:
            plog = topic.partition(pd.index)
            if plog is None or plog.closed:
                continue
            if not plog.opened:
                try:
                    plog.open()
                except OSError:
                    continue  # the append reports it
            if plog.needs_files:
                out.append(plog)
    return out


def _storage_failed(response: ProduceResponseData) -> ProduceResponseData:
    """The answer when the group commit's fsync failed: nothing appended may be taken as durable."""
    for topic in response.responses:
        for part in topic.partition_responses:
            if not part.error_code:
                part.error_code = ErrorCode.KAFKA_STORAGE_ERROR
                part.base_offset = part.log_append_time_ms = part.log_start_offset = -1
                part.error_message = "fsync failed"
    return response
