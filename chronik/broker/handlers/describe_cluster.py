"""DescribeCluster (60), v0-2: this one broker, which is also the controller."""

from __future__ import annotations

from kafka.protocol.admin.cluster import DescribeClusterResponse

from chronik.broker.acl_ops import ResourceType, authorized_operations
from chronik.wire.errors import ErrorCode

API_KEY = 60


def handle(ctx, req):
    core = ctx.core
    c = core.config
    if ctx.api_version >= 1 and req.endpoint_type not in (1,):
        return DescribeClusterResponse(
            version=ctx.api_version, throttle_time_ms=0,
            error_code=ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
            error_message="Only broker endpoints are served", endpoint_type=req.endpoint_type,
            cluster_id=core.cluster_id, controller_id=-1, brokers=[], authorized_operations=None,
        )
    return DescribeClusterResponse(
        version=ctx.api_version,
        throttle_time_ms=0,
        error_code=0,
        error_message=None,
        endpoint_type=1,
        cluster_id=core.cluster_id,
        controller_id=c.node_id,
        brokers=[
            DescribeClusterResponse.DescribeClusterBroker(
                broker_id=c.node_id, host=ctx.endpoint[0], port=ctx.endpoint[1], rack=None, is_fenced=False
            )
        ],
        authorized_operations=authorized_operations(
            ResourceType.CLUSTER, bool(getattr(req, "include_cluster_authorized_operations", False)), ctx),
    )
