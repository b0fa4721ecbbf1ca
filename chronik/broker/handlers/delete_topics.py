"""DeleteTopics (20), v1-6: by name, or by topic id (v6). Data is removed from disk."""

from __future__ import annotations

import uuid

from kafka.protocol.admin.topics import DeleteTopicsResponse

from chronik.wire.errors import ErrorCode

API_KEY = 20

_Result = DeleteTopicsResponse.DeletableTopicResult
_ZERO_UUID = uuid.UUID(int=0)


def handle(ctx, req):
    core = ctx.core
    v = ctx.api_version
    wanted: list[tuple[str | None, uuid.UUID | None]]
    if v >= 6:
        wanted = [(t.name, t.topic_id) for t in req.topics]
    else:
        wanted = [(n, None) for n in req.topic_names]
    results = []
    for name, tid in wanted:
        topic = None
        if name:
            topic = core.topics.get(name)
            code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        elif tid is not None and tid != _ZERO_UUID:
            topic = core.topics_by_id.get(tid)
            code = ErrorCode.UNKNOWN_TOPIC_ID
        else:
            code = ErrorCode.INVALID_REQUEST
        if topic is not None:
            name, tid = topic.name, topic.topic_id
            core.delete_topic(topic.name)
            code = ErrorCode.NONE
        results.append(
            _Result(name=name, topic_id=tid or _ZERO_UUID, error_code=code,
                    error_message=None if code == 0 else code.name)
        )
    return DeleteTopicsResponse(version=v, throttle_time_ms=0, responses=results)
