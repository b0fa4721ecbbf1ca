"""DescribeProducers (61), v0: the idempotent/transactional producers a partition
knows, with their last sequence and the start offset of an open transaction."""

from __future__ import annotations

from kafka.protocol.admin.transactions import DescribeProducersResponse

from chronik.wire.errors import ErrorCode

API_KEY = 61

_Topic = DescribeProducersResponse.TopicResponse
_Part = _Topic.PartitionResponse
_Producer = _Part.ProducerState


def handle(ctx, req):
    core = ctx.core
    topics = []
    for t in req.topics:
        parts = []
        for idx in t.partition_indexes:
            if core.partition(t.name, idx) is None:
                parts.append(_Part(partition_index=idx, error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                   error_message=None, active_producers=[]))
                continue
            active = []
            for pid, e in sorted(core.producers.producers_of(t.name, idx).items()):
                active.append(_Producer(
                    producer_id=pid, producer_epoch=e.epoch,
                    last_sequence=e.batches[-1].last_seq if e.batches else -1,
                    last_timestamp=e.last_timestamp,
                    # Kafka's LatestCoordinatorEpoch: that of the last marker written for it.
                    coordinator_epoch=e.coordinator_epoch,
                    current_txn_start_offset=-1 if e.txn_first_offset is None else e.txn_first_offset,
                ))
            parts.append(_Part(partition_index=idx, error_code=0, error_message=None,
                               active_producers=active))
        topics.append(_Topic(name=t.name, partitions=parts))
    return DescribeProducersResponse(version=ctx.api_version, throttle_time_ms=0, topics=topics)
