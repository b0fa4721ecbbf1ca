"""ConsumerGroupHeartbeat (68), v0-1: the consumer group protocol's one request (KIP-848).

Joins (epoch 0), heartbeats, acknowledges revocations and leaves (epoch -1,
-2 for a static member) in one call; the coordinator answers with the
member's epoch and, when it changed or the request was a full one, its
assignment. v1 adds the regex subscription. Topic ids on the wire, names
inside the coordinator: owned partitions of unknown topic ids are dropped
(the topic is gone, so nobody can own it).
"""

from __future__ import annotations

from chronik.broker.consumer_group_api import HeartbeatIn
from chronik.wire.kip848 import ConsumerGroupHeartbeatResponse

API_KEY = 68

_Assignment = ConsumerGroupHeartbeatResponse.Assignment
_TP = _Assignment.TopicPartitions


def handle(ctx, req):
    v = ctx.api_version
    core = ctx.core
    owned = None
    if req.topic_partitions is not None:
        owned = {}
        for tp in req.topic_partitions:
            topic = core.topics_by_id.get(tp.topic_id)
            if topic is not None:
                owned.setdefault(topic.name, set()).update(tp.partitions)
    peer = ctx.peer[0] if isinstance(ctx.peer, tuple) and ctx.peer else ""
    out = core.consumer_groups.heartbeat(HeartbeatIn(
        group_id=req.group_id, member_id=req.member_id, member_epoch=req.member_epoch,
        instance_id=req.instance_id, rack_id=req.rack_id, rebalance_timeout_ms=req.rebalance_timeout_ms,
        subscribed_topic_names=req.subscribed_topic_names,
        subscribed_topic_regex=req.subscribed_topic_regex if v >= 1 else None,
        server_assignor=req.server_assignor, owned=owned,
        client_id=ctx.client_id or "", client_host=f"/{peer}", api_version=v,
    ))
    assignment = None
    if out.assignment is not None:
        tps = []
        for name, parts in sorted(out.assignment.items()):
            topic = core.topics.get(name)
            if topic is not None and parts:
                tps.append(_TP(topic_id=topic.topic_id, partitions=sorted(parts)))
        assignment = _Assignment(topic_partitions=tps)
    return ConsumerGroupHeartbeatResponse(
        version=v, throttle_time_ms=0, error_code=out.error, error_message=out.message,
        member_id=out.member_id, member_epoch=out.member_epoch,
        heartbeat_interval_ms=out.heartbeat_interval_ms, assignment=assignment,
    )
