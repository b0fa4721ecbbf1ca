"""OffsetCommit (8), v2-10: store committed offsets for a group.

Generation -1 with an empty member id is a "simple" commit (a consumer using
assign()), accepted while the group has no live members. v2-4 carry a
retention time (ignored: offsets.retention.minutes applies, as in Kafka 2.1+),
v6+ the leader epoch, v7+ the static instance id, v10 topic ids instead of
names. The commit is written to the offsets log before we answer.
"""

from __future__ import annotations

import uuid

from kafka.protocol.consumer.group import OffsetCommitResponse

from chronik.broker.groups import MAX_METADATA_BYTES
from chronik.wire.errors import ErrorCode

API_KEY = 8

_Topic = OffsetCommitResponse.OffsetCommitResponseTopic
_Part = _Topic.OffsetCommitResponsePartition
_ZERO_UUID = uuid.UUID(int=0)


def handle(ctx, req):
    v = ctx.api_version
    core = ctx.core
    coord = core.groups
    code: int | None = None  # the group's answer, asked once a partition exists (Kafka's order)
    offsets: dict[tuple[str, int], tuple[int, str | None, int]] = {}
    topics = []
    for rt in req.topics:
        if v >= 10:
            topic = core.topics_by_id.get(rt.topic_id)
            name = topic.name if topic is not None else None
            missing = ErrorCode.UNKNOWN_TOPIC_ID
        else:
            name = rt.name
            topic = core.topics.get(name)
            missing = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        parts = []
        for rp in rt.partitions:
            p = rp.partition_index
            if topic is None or not 0 <= p < len(topic.partitions):
                parts.append(_Part(partition_index=p, error_code=missing))
                continue
            if code is None:
                code = coord.check_commit(req.group_id, req.member_id, req.generation_id_or_member_epoch,
                                          req.group_instance_id if v >= 7 else None, api_version=v)
            pcode = code
            if pcode == ErrorCode.NONE:
                meta = rp.committed_metadata
                if meta is not None and len(meta) > MAX_METADATA_BYTES:
                    pcode = ErrorCode.OFFSET_METADATA_TOO_LARGE
                else:
                    epoch = rp.committed_leader_epoch if v >= 6 else -1
                    offsets[(name, p)] = (rp.committed_offset, meta, epoch)
            parts.append(_Part(partition_index=p, error_code=pcode))
        if v >= 10:
            topics.append(_Topic(topic_id=rt.topic_id or _ZERO_UUID, partitions=parts))
        else:
            topics.append(_Topic(name=rt.name, partitions=parts))
    if offsets:
        try:
            core.offsets.commit(req.group_id, offsets)
            core.storage.ok("committed offsets")
        except OSError as exc:
            # Kafka's group coordinator turns a storage error into NOT_COORDINATOR:
            # the client looks the coordinator up again and retries.
            core.storage.failed("committed offsets", exc)
            for t in topics:
                for p in t.partitions:
                    if p.error_code == ErrorCode.NONE:
                        p.error_code = ErrorCode.NOT_COORDINATOR
    return OffsetCommitResponse(version=v, throttle_time_ms=0, topics=topics)
