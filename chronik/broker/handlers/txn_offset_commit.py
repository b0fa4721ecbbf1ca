"""TxnOffsetCommit (28), v0-5: group offsets committed inside a transaction.

The coordinator keeps them with the transaction (persisted) and hands them
to the offsets store only when the transaction commits, so consumers never
see the offsets of an aborted transaction. v3+ (KIP-447) carries the
member's generation, checked by the group coordinator when there is one.
"""

from __future__ import annotations

from kafka.protocol.producer.transaction import TxnOffsetCommitResponse

from chronik.broker.handlers.txn_errors import fenced_code
from chronik.broker.transactions import MAX_OFFSET_METADATA
from chronik.wire.errors import ErrorCode

API_KEY = 28

_TopicResp = TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
_PartResp = _TopicResp.TxnOffsetCommitResponsePartition


def _respond(v: int, req, codes: dict[tuple[str, int], int]):
    topics = [
        _TopicResp(name=t.name, partitions=[
            _PartResp(partition_index=p.partition_index, error_code=codes[(t.name, p.partition_index)])
            for p in t.partitions
        ])
        for t in req.topics
    ]
    return TxnOffsetCommitResponse(version=v, throttle_time_ms=0, topics=topics)


def _group_check(ctx, req, v: int) -> int:
    if v < 3:
        return ErrorCode.NONE  # no member or generation before KIP-447
    return ctx.core.groups.validate_member(req.group_id, req.member_id, req.generation_id, req.group_instance_id)


def handle(ctx, req):
    v = ctx.api_version
    core = ctx.core
    keys = [(t.name, p.partition_index) for t in req.topics for p in t.partitions]
    coord = ctx.core.transactions
    if not req.group_id:
        return _respond(v, req, dict.fromkeys(keys, ErrorCode.INVALID_GROUP_ID))
    code = _group_check(ctx, req, v)
    if code:
        return _respond(v, req, dict.fromkeys(keys, code))
    codes: dict[tuple[str, int], int] = {}
    offsets = {}
    for t in req.topics:
        for p in t.partitions:
            key = (t.name, p.partition_index)
            if core.partition(*key) is None:
                codes[key] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            elif p.committed_metadata is not None and len(p.committed_metadata) > MAX_OFFSET_METADATA:
                codes[key] = ErrorCode.OFFSET_METADATA_TOO_LARGE
            else:
                leader_epoch = p.committed_leader_epoch if v >= 2 else -1
                offsets[key] = (p.committed_offset, p.committed_metadata, leader_epoch)
    if offsets:
        code = coord.txn_offset_commit(req.transactional_id, req.group_id, req.producer_id,
                                       req.producer_epoch, offsets)
        code = fenced_code(code, v, 3)
        for key in offsets:
            codes[key] = code
    return _respond(v, req, codes)
