"""ListOffsets (2), v1-11: earliest (-2), latest (-1), max timestamp (-3),
earliest local (-4), latest tiered (-5), or the first offset at/after a timestamp.

read_committed (v2+) answers "latest" with the last stable offset.
"""

from __future__ import annotations

from kafka.protocol.consumer.offsets import ListOffsetsResponse

from chronik.wire.errors import ErrorCode

API_KEY = 2

_TopicResp = ListOffsetsResponse.ListOffsetsTopicResponse
_PartResp = _TopicResp.ListOffsetsPartitionResponse

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL, LATEST_TIERED = -1, -2, -3, -4, -5


def _lookup(ctx, topic: str, plog, index: int, ts: int, read_committed: bool) -> tuple[int, int, int]:
    if ts in (EARLIEST, EARLIEST_LOCAL):
        return 0, -1, plog.log_start_offset
    if ts == LATEST:
        if read_committed:
            return 0, -1, ctx.core.last_stable_offset(topic, index)
        return 0, -1, plog.log_end_offset
    if ts == LATEST_TIERED:
        return 0, -1, -1
    if ts == MAX_TIMESTAMP:
        off, mts = plog.max_timestamp()
        return 0, mts, off
    if ts < 0:
        return ErrorCode.INVALID_REQUEST, -1, -1
    found = plog.offset_for_timestamp(ts)
    if found is None:
        return 0, -1, -1
    off, fts = found
    return 0, fts, off


def handle(ctx, req):
    core = ctx.core
    v = ctx.api_version
    read_committed = v >= 2 and req.isolation_level == 1
    topics = []
    for rt in req.topics:
        parts = []
        seen: dict[int, int] = {}
        for rp in rt.partitions:
            seen[rp.partition_index] = seen.get(rp.partition_index, 0) + 1
        answered: set[int] = set()
        for rp in rt.partitions:
            plog = core.partition(rt.name, rp.partition_index)
            if seen[rp.partition_index] > 1:
                # Kafka refuses a partition named twice in one request, with one answer for it.
                if rp.partition_index in answered:
                    continue
                answered.add(rp.partition_index)
                code, ts, off = ErrorCode.INVALID_REQUEST, -1, -1
            elif plog is None:
                code, ts, off = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1
            else:
                code, ts, off = _lookup(ctx, rt.name, plog, rp.partition_index, rp.timestamp,
                                        read_committed)
            parts.append(
                _PartResp(partition_index=rp.partition_index, error_code=code, timestamp=ts,
                          offset=off, leader_epoch=0 if code == 0 else -1)
            )
        topics.append(_TopicResp(name=rt.name, partitions=parts))
    return ListOffsetsResponse(version=v, throttle_time_ms=0, topics=topics)
