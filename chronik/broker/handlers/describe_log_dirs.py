"""DescribeLogDirs (35), v1-5: the data directory, with each partition's size on disk."""

from __future__ import annotations

import shutil

from kafka.protocol.admin.cluster import DescribeLogDirsResponse

API_KEY = 35

_Result = DescribeLogDirsResponse.DescribeLogDirsResult
_Topic = _Result.DescribeLogDirsTopic
_Part = _Topic.DescribeLogDirsPartition


def handle(ctx, req):
    core = ctx.core
    if req.topics is None:
        wanted = {name: range(len(t.partitions)) for name, t in core.topics.items()}
    else:
        wanted = {t.topic: t.partitions for t in req.topics if t.topic in core.topics}
    topics = []
    for name, parts in wanted.items():
        topic = core.topics[name]
        entries = [
            _Part(partition_index=p, partition_size=topic.partitions[p].size_bytes(), offset_lag=0,
                  is_future_key=False)
            for p in parts
            if 0 <= p < len(topic.partitions)
        ]
        topics.append(_Topic(name=name, partitions=entries))
    usage = shutil.disk_usage(core.data_dir)
    return DescribeLogDirsResponse(
        version=ctx.api_version,
        throttle_time_ms=0,
        error_code=0,
        results=[
            _Result(error_code=0, log_dir=str(core.data_dir.resolve()), topics=topics,
                    total_bytes=usage.total, usable_bytes=usage.free, is_cordoned=False)
        ],
    )
