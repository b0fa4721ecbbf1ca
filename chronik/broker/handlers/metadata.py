"""Metadata (3), v0-13: brokers, topics, partitions; creates topics on first use.

Topics are created when the request allows it (v4+ flag; always before v4)
and the broker has auto-creation on. Topic ids are returned from v10.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from kafka.protocol.metadata.metadata import MetadataResponse

from chronik.broker.acl_ops import CLUSTER_NAME, NOT_REQUESTED, Op, ResourceType, authorized_operations
from chronik.broker.topics import topic_name_error
from chronik.wire.errors import ErrorCode

API_KEY = 3

_Topic = MetadataResponse.MetadataResponseTopic
_Partition = _Topic.MetadataResponsePartition
_Broker = MetadataResponse.MetadataResponseBroker
_ZERO_UUID = uuid.UUID(int=0)


@lru_cache(maxsize=256)
def _partitions(node: int, count: int) -> list[_Partition]:
    """The partition entries of a topic with `count` partitions, shared by every such topic.

    Building them was 70 % of the broker's CPU while librdkafka producers
    asked for the metadata of 5,000 topics x 10 partitions over and over;
    the entries are only read (encoded), never changed.
    """
    return [
        _Partition(
            error_code=0,
            partition_index=i,
            leader_id=node,
            leader_epoch=0,
            replica_nodes=[node],
            isr_nodes=[node],
            offline_replicas=[],
        )
        for i in range(count)
    ]


def _topic_entry(core, topic, v: int, ops: bool | set[int] | None = NOT_REQUESTED, ctx=None) -> _Topic:
    if ops is True:
        ops = authorized_operations(ResourceType.TOPIC, True, ctx, topic.name)
    parts = _partitions(core.config.node_id, len(topic.partitions))
    return _Topic(
        error_code=0,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=False,
        partitions=parts,
        authorized_operations=ops,
    )


def _error_entry(name, code: ErrorCode, topic_id=None) -> _Topic:
    return _Topic(
        error_code=code,
        name=name,
        topic_id=topic_id or _ZERO_UUID,
        is_internal=False,
        partitions=[],
        authorized_operations=NOT_REQUESTED,
    )


def handle(ctx, req):
    core = ctx.core
    v = ctx.api_version
    allow_create = core.config.auto_create_topics and (v < 4 or req.allow_auto_topic_creation)
    ops = authorized_operations(ResourceType.TOPIC, v >= 8 and bool(req.include_topic_authorized_operations))
    secured = core.authorizer is not None
    if secured and ops is not NOT_REQUESTED:
        ops = True  # per topic: what this principal may do on it
    if req.topics is None or (v == 0 and not req.topics):
        # Listing every topic: the ones this principal may not DESCRIBE are left out.
        entries = [_topic_entry(core, t, v, ops, ctx) for t in core.topics.values()
                   if not secured or ctx.allowed(Op.DESCRIBE, ResourceType.TOPIC, t.name)]
    else:
        entries = []
        for rt in req.topics:
            name = rt.name
            tid = getattr(rt, "topic_id", None)
            if name is None and tid is not None and tid != _ZERO_UUID:
                topic = core.topics_by_id.get(tid)
                if topic is None:
                    entries.append(_error_entry(None, ErrorCode.UNKNOWN_TOPIC_ID, tid))
                elif secured and not ctx.allowed(Op.DESCRIBE, ResourceType.TOPIC, topic.name):
                    entries.append(_error_entry(None, ErrorCode.TOPIC_AUTHORIZATION_FAILED, tid))
                else:
                    entries.append(_topic_entry(core, topic, v, ops, ctx))
                continue
            topic = core.topics.get(name)
            if secured and not ctx.allowed(Op.DESCRIBE, ResourceType.TOPIC, name):
                # As Kafka: named topics the principal may not describe answer TOPIC_AUTHORIZATION_FAILED.
                entries.append(_error_entry(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
                continue
            if topic is None:
                if topic_name_error(name):
                    entries.append(_error_entry(name, ErrorCode.INVALID_TOPIC_EXCEPTION))
                    continue
                if not allow_create:
                    entries.append(_error_entry(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
                    continue
                if secured and not (ctx.allowed(Op.CREATE, ResourceType.CLUSTER, CLUSTER_NAME)
                                    or ctx.allowed(Op.CREATE, ResourceType.TOPIC, name)):
                    # Auto-creation needs CREATE (Kafka: TOPIC_AUTHORIZATION_FAILED).
                    entries.append(_error_entry(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
                    continue
                try:
                    topic = core.auto_create(name)
                except Exception:
                    entries.append(_error_entry(name, ErrorCode.INVALID_TOPIC_EXCEPTION))
                    continue
            entries.append(_topic_entry(core, topic, v, ops, ctx))
    host, port = ctx.endpoint
    return MetadataResponse(
        version=v,
        throttle_time_ms=0,
        brokers=[
            _Broker(
                node_id=core.config.node_id,
                host=host,
                port=port,
                rack=None,
            )
        ],
        cluster_id=core.cluster_id,
        controller_id=core.config.node_id,
        topics=entries,
        authorized_operations=authorized_operations(
            ResourceType.CLUSTER, 8 <= v <= 10 and bool(req.include_cluster_authorized_operations), ctx),
    )
