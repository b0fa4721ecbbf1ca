"""Error codes of the transaction APIs as each request version knows them (no API key: not a handler)."""

from __future__ import annotations

from chronik.wire.errors import ErrorCode


def fenced_code(code: ErrorCode, version: int, first_fenced_version: int) -> ErrorCode:
    """Older request versions predate PRODUCER_FENCED (KIP-588): clients expect the old code."""
    if code is ErrorCode.PRODUCER_FENCED and version < first_fenced_version:
        return ErrorCode.INVALID_PRODUCER_EPOCH
    return code
