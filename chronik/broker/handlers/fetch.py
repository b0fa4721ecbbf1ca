"""Fetch (1), v4-18: whole batches read by file position; long-poll.

A fetch that has fewer than `min_bytes` waits in the purgatory until a
produce to one of its partitions or `max_wait_ms`. Fetch sessions
(KIP-227) are declined: we always answer session id 0, which tells clients
to keep sending full fetch requests. read_committed stops at the last
stable offset and lists aborted transactions; both come from the core's
read pipeline (BrokerCore.read). The response is chronik.wire.fetch_codec's: encoded
by hand, with the record sets going out as the buffers they were read into.
"""

from __future__ import annotations

import uuid

from chronik.wire.errors import ErrorCode
from chronik.wire.fetch_codec import AbortedTransaction as _Aborted
from chronik.wire.fetch_codec import FetchableTopicResponse as _TopicResp
from chronik.wire.fetch_codec import FetchResponseData
from chronik.wire.fetch_codec import PartitionData as _PartResp

API_KEY = 1

# The longest a fetch may be parked, whatever max_wait_ms it asks for (Kafka's
# connections.max.idle.ms): a client's wait must not pin memory for days.
MAX_WAIT_MS = 600_000

_ZERO_UUID = uuid.UUID(int=0)


def _empty(index: int, code: int, hw: int = -1, lso: int = -1, start: int = -1) -> _PartResp:
    return _PartResp(index, code, hw, lso, start)


def _resolve(core, v, ft):
    if v >= 13:
        topic = core.topics_by_id.get(ft.topic_id)
        return topic, ErrorCode.UNKNOWN_TOPIC_ID
    return core.topics.get(ft.topic), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def _build(ctx, req):
    """Read every partition once.

    Returns (response topics, bytes gathered, any error, per-topic (name,
    failed, bytes, partitions) for the metrics).
    """
    core = ctx.core
    v = ctx.api_version
    read_committed = req.isolation_level == 1
    remaining = req.max_bytes if req.max_bytes > 0 else 0x7FFFFFFF
    total = 0
    errors = False
    topics = []
    counts = []
    for ft in req.topics:
        topic, missing = _resolve(core, v, ft)
        parts = []
        topic_bytes = 0
        topic_failed = False
        for fp in ft.partitions:
            idx = fp.partition
            if topic is None:
                parts.append(_empty(idx, missing))
                topic_failed = True
                continue
            budget = min(fp.partition_max_bytes, remaining)
            out = core.read(topic, idx, fp.fetch_offset, budget, read_committed, want_data=remaining > 0)
            if out.error:
                parts.append(_empty(idx, out.error, out.high_watermark, out.last_stable_offset,
                                    out.log_start_offset))
                topic_failed = True
                continue
            data = out.data
            if total and len(data) > budget:
                # Only the first partition with data may exceed the limits
                # (one whole batch, KIP-74); later ones wait for the next fetch.
                data = b""
            remaining -= len(data)
            total += len(data)
            topic_bytes += len(data)
            aborted = None
            if read_committed and data:
                aborted = [_Aborted(producer_id=e.producer_id, first_offset=e.first_offset)
                           for e in out.aborted or ()]
            parts.append(_PartResp(idx, 0, out.high_watermark, out.last_stable_offset,
                                   out.log_start_offset, aborted, data))
        counts.append((topic.name if topic is not None else None, topic_failed, topic_bytes, parts))
        errors = errors or topic_failed
        topics.append(_TopicResp(ft.topic if v < 13 else "", ft.topic_id if v >= 13 else _ZERO_UUID, parts))
    return topics, total, errors, counts


def _count(stats, counts) -> None:
    for name, failed, nbytes, parts in counts:
        stats.fetch_request(name, failed, nbytes)
        if failed:
            for p in parts:
                if p.error_code:
                    stats.error(API_KEY, p.error_code)


def handle(ctx, req):
    v = ctx.api_version
    topics, total, errors, counts = _build(ctx, req)
    stats = ctx.core.stats

    def respond(topics, counts):
        _count(stats, counts)
        return FetchResponseData(topics)

    if total >= req.min_bytes or errors or req.max_wait_ms <= 0 or not req.topics:
        return respond(topics, counts)

    keys = []
    for t in topics:
        name = t.topic
        if v >= 13:
            topic = ctx.core.topics_by_id.get(t.topic_id)
            name = topic.name if topic else None
        if name is not None:
            keys.extend((name, p.partition_index) for p in t.partitions)

    logs = [p for p in (ctx.core.partition(*k) for k in keys) if p is not None]
    parked_size = sum(p.size_bytes() for p in logs)

    def try_complete(expired: bool):
        # Not enough new bytes can have arrived: answer nothing without reading.
        # (Logs that shrank or closed, by retention or deletion, get a real read.)
        if not expired and all(not p.closed for p in logs):
            grown = sum(p.size_bytes() for p in logs) - parked_size
            if 0 <= grown and total + grown < req.min_bytes:
                return None
        topics2, total2, errors2, counts2 = _build(ctx, req)
        if expired or errors2 or total2 >= req.min_bytes:
            return respond(topics2, counts2)
        return None

    return ctx.defer(try_complete, min(req.max_wait_ms, MAX_WAIT_MS), keys)
