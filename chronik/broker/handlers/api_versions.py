"""ApiVersions (18), v0-4: the APIs and version ranges this broker serves.

An unknown version is answered by the dispatcher in v0 with
UNSUPPORTED_VERSION and our ranges (KIP-511).
"""

from __future__ import annotations

from kafka.protocol.metadata.api_versions import ApiVersionsResponse

API_KEY = 18


def handle(ctx, req):
    from chronik.broker.dispatch import api_version_entries

    return ApiVersionsResponse(
        version=ctx.api_version,
        error_code=0,
        api_keys=api_version_entries(),
        throttle_time_ms=0,
    )
