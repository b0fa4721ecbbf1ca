"""OffsetDelete (47), v0: drop a group's committed offsets for some partitions.

Refused per partition with GROUP_SUBSCRIBED_TO_TOPIC while live members
subscribe to the topic (KIP-496).
"""

from __future__ import annotations

from kafka.protocol.consumer.group import OffsetDeleteResponse

from chronik.wire.errors import ErrorCode

API_KEY = 47

_Topic = OffsetDeleteResponse.OffsetDeleteResponseTopic
_Part = _Topic.OffsetDeleteResponsePartition


def handle(ctx, req):
    core = ctx.core
    coord = core.groups
    wanted = []
    unknown = set()
    for t in req.topics:
        for p in t.partitions:
            plog = core.partition(t.name, p.partition_index)
            if plog is None:
                unknown.add((t.name, p.partition_index))
            else:
                wanted.append((t.name, p.partition_index))
    code, codes = coord.delete_offsets(req.group_id, wanted)
    if code != ErrorCode.NONE:
        return OffsetDeleteResponse(version=0, error_code=code, throttle_time_ms=0, topics=[])
    by_tp = dict(zip(wanted, codes, strict=True))
    topics = [
        _Topic(name=t.name, partitions=[
            _Part(partition_index=p.partition_index,
                  error_code=by_tp.get((t.name, p.partition_index), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            for p in t.partitions
        ])
        for t in req.topics
    ]
    return OffsetDeleteResponse(version=0, error_code=ErrorCode.NONE, throttle_time_ms=0, topics=topics)
