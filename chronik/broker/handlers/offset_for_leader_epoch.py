"""OffsetForLeaderEpoch (23), v2-4: a single leader epoch (0) that ends at the log end."""

from __future__ import annotations

from kafka.protocol.consumer.offsets import OffsetForLeaderEpochResponse

from chronik.wire.errors import ErrorCode

API_KEY = 23

_Topic = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult
_Part = _Topic.EpochEndOffset


def handle(ctx, req):
    core = ctx.core
    topics = []
    for t in req.topics:
        parts = []
        for p in t.partitions:
            plog = core.partition(t.topic, p.partition)
            if plog is None:
                parts.append(_Part(error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                   partition=p.partition, leader_epoch=-1, end_offset=-1))
            elif p.current_leader_epoch > 0:
                parts.append(_Part(error_code=ErrorCode.UNKNOWN_LEADER_EPOCH,
                                   partition=p.partition, leader_epoch=-1, end_offset=-1))
            elif p.leader_epoch > 0:
                # Only epoch 0 exists: a later epoch has no end offset.
                parts.append(_Part(error_code=0, partition=p.partition, leader_epoch=-1,
                                   end_offset=-1))
            else:
                parts.append(_Part(error_code=0, partition=p.partition, leader_epoch=0,
                                   end_offset=plog.log_end_offset))
        topics.append(_Topic(topic=t.topic, partitions=parts))
    return OffsetForLeaderEpochResponse(version=ctx.api_version, throttle_time_ms=0, topics=topics)
