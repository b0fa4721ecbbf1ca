"""DescribeClientQuotas (48), v0-1: no client quotas are set, so every match is empty.

Chronik enforces no quotas (a laptop broker throttles nobody); like Kafka with
none configured, it answers an empty list, so `kafka-configs --describe
--entity-type users|clients` and AdminClient.describeClientQuotas work.
"""

from __future__ import annotations

from kafka.protocol.admin.client_quotas import DescribeClientQuotasResponse

API_KEY = 48


def handle(ctx, req):
    return DescribeClientQuotasResponse(version=ctx.api_version, throttle_time_ms=0, error_code=0,
                                        error_message=None, entries=[])
