"""ApiVersions (18), v0-4: the APIs and version ranges this broker serves.

An unknown version is answered by the dispatcher in v0 with
UNSUPPORTED_VERSION and our ranges (KIP-511).
"""

from __future__ import annotations

from kafka.protocol.metadata.api_versions import ApiVersionsResponse

from chronik.broker.handlers import served_apis
from chronik.wire.framing import API_VERSIONS_KEY

API_KEY = API_VERSIONS_KEY


def api_version_entries() -> list:
    entry = ApiVersionsResponse.ApiVersion
    return [
        entry(api_key=s.key, min_version=s.min_version, max_version=s.max_version)
        for s in served_apis()
    ]


def handle(ctx, req):
    return ApiVersionsResponse(
        version=ctx.api_version,
        error_code=0,
        api_keys=api_version_entries(),
        throttle_time_ms=0,
    )
