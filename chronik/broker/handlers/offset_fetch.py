"""OffsetFetch (9), v1-10: committed offsets of a group, for some or all partitions.

v2+ a null topic list means every partition the group has offsets for;
v8+ several groups per request; v9+ a member id and epoch, checked for
consumer-protocol groups (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID); v10 topic ids. A partition without a
commit answers offset -1 and metadata "" (as Kafka does). With
`require_stable` (v7+) a partition whose offset an open transaction is
about to commit answers UNSTABLE_OFFSET_COMMIT, and the client retries.
"""

from __future__ import annotations

import uuid

from kafka.protocol.consumer.group import OffsetFetchResponse

from chronik.wire.errors import ErrorCode

API_KEY = 9

_OldTopic = OffsetFetchResponse.OffsetFetchResponseTopic
_OldPart = _OldTopic.OffsetFetchResponsePartition
_Group = OffsetFetchResponse.OffsetFetchResponseGroup
_Topics = _Group.OffsetFetchResponseTopics
_Parts = _Topics.OffsetFetchResponsePartitions
_ZERO_UUID = uuid.UUID(int=0)


def _lookup(store, group: str, wanted) -> dict[str, list[tuple[int, int, str | None, int]]]:
    """topic -> [(partition, offset, metadata, epoch)]; `wanted` None means all."""
    out: dict[str, list] = {}
    if wanted is None:
        for (t, p), c in sorted(store.group_offsets(group).items()):
            out.setdefault(t, []).append((p, c.offset, c.metadata, c.leader_epoch))
        return out
    for t, parts in wanted:
        rows = out.setdefault(t, [])
        for p in parts:
            c = store.fetch(group, t, p)
            rows.append((p, -1, "", -1) if c is None else (p, c.offset, c.metadata, c.leader_epoch))
    return out


def _stability(ctx, req, group: str):
    """(topic, partition) -> error code for partitions with pending transactional offsets."""
    pending = ctx.core.transactions.has_pending_offsets
    if ctx.api_version < 7 or not req.require_stable:
        return lambda _t, _p: ErrorCode.NONE
    return lambda t, p: ErrorCode.UNSTABLE_OFFSET_COMMIT if pending(group, t, p) else ErrorCode.NONE


def handle(ctx, req):
    v = ctx.api_version
    core = ctx.core
    store = core.offsets
    if v < 8:
        wanted = None if req.topics is None else [(t.name, t.partition_indexes) for t in req.topics]
        found = _lookup(store, req.group_id, wanted)
        stable = _stability(ctx, req, req.group_id)
        topics = [
            _OldTopic(name=t, partitions=[
                _OldPart(partition_index=p, committed_offset=o, committed_leader_epoch=e, metadata=m,
                         error_code=stable(t, p))
                for p, o, m, e in rows
            ])
            for t, rows in found.items()
        ]
        return OffsetFetchResponse(version=v, throttle_time_ms=0, topics=topics, error_code=ErrorCode.NONE)
    groups = []
    for g in req.groups:
        if v >= 9:
            code = core.groups.check_fetch(g.group_id, g.member_id, g.member_epoch)
            if code:
                groups.append(_Group(group_id=g.group_id, topics=[], error_code=code))
                continue
        unknown_ids = []
        if g.topics is None:
            wanted = None
        elif v >= 10:
            wanted = []
            for t in g.topics:
                topic = core.topics_by_id.get(t.topic_id)
                if topic is None:
                    unknown_ids.append(t)
                else:
                    wanted.append((topic.name, t.partition_indexes))
        else:
            wanted = [(t.name, t.partition_indexes) for t in g.topics]
        found = _lookup(store, g.group_id, wanted)
        stable = _stability(ctx, req, g.group_id)
        topics = []
        for t, rows in found.items():
            parts = [_Parts(partition_index=p, committed_offset=o, committed_leader_epoch=e, metadata=m,
                            error_code=stable(t, p)) for p, o, m, e in rows]
            if v >= 10:
                topic = core.topics.get(t)
                if topic is None:
                    continue
                topics.append(_Topics(topic_id=topic.topic_id, partitions=parts))
            else:
                topics.append(_Topics(name=t, partitions=parts))
        for t in unknown_ids:
            topics.append(_Topics(topic_id=t.topic_id or _ZERO_UUID, partitions=[
                _Parts(partition_index=p, committed_offset=-1, committed_leader_epoch=-1, metadata="",
                       error_code=ErrorCode.UNKNOWN_TOPIC_ID) for p in t.partition_indexes
            ]))
        groups.append(_Group(group_id=g.group_id, topics=topics, error_code=ErrorCode.NONE))
    return OffsetFetchResponse(version=v, throttle_time_ms=0, groups=groups)
