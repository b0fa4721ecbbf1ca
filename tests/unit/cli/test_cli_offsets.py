"""offsets.py: offset spec parsing and start-offset resolution, no broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronik.cli.offsets import (
    OffsetSpec,
    parse_duration_ms,
    parse_offset,
    parse_time,
    resolve_start,
)
from chronik.cli.state import CliError

NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("start", OffsetSpec("start")),
        ("beginning", OffsetSpec("start")),
        ("end", OffsetSpec("end")),
        ("42", OffsetSpec("offset", 42)),
        ("-5", OffsetSpec("from_end", 5)),
        ("+5", OffsetSpec("from_start", 5)),
        ("@1700000000000", OffsetSpec("time", 1_700_000_000_000)),
        ("@1700000000", OffsetSpec("time", 1_700_000_000_000)),
        ("@-10m", OffsetSpec("time", NOW - 600_000)),
        ("@-2h", OffsetSpec("time", NOW - 7_200_000)),
        ("@-1d:-1h", OffsetSpec("time", NOW - 86_400_000, NOW - 3_600_000)),
        ("@1000:2000", OffsetSpec("time", 1_000_000, 2_000_000)),
        ("@-10m:now", OffsetSpec("time", NOW - 600_000, NOW)),
    ],
)
def test_parse_offset(text: str, spec: OffsetSpec) -> None:
    assert parse_offset(text, NOW) == spec


def test_parse_dates() -> None:
    utc = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    assert parse_time("2026-11-01T00:00:00Z", NOW) == utc
    assert parse_time("2026-11-01T02:00:00+02:00", NOW) == utc
    local = int(datetime(2026, 11, 1).astimezone().timestamp() * 1000)
    assert parse_time("2026-11-01", NOW) == local
    spec = parse_offset("@2026-11-01T00:00:00Z:2026-11-02T10:30:00Z", NOW)
    assert spec.value == utc and spec.stop_ms == utc + 86_400_000 + 37_800_000
    assert parse_offset("@2026-11-01:2026-11-02", NOW).stop_ms == local + 86_400_000


def test_datetime_without_range_is_not_split() -> None:
    spec = parse_offset("@2026-11-01T10:00", NOW)
    assert spec.stop_ms is None
    assert spec.value == int(datetime(2026, 11, 1, 10).astimezone().timestamp() * 1000)


@pytest.mark.parametrize("bad", ["", "soon", "1.5", "@", "@yesterday", "@-10x", "--1", "@2:1"])
def test_bad_offsets(bad: str) -> None:
    with pytest.raises(CliError):
        parse_offset(bad, NOW)


def test_duration() -> None:
    assert parse_duration_ms("500ms") == 500
    assert parse_duration_ms("2h") == 7_200_000
    with pytest.raises(CliError):
        parse_duration_ms("2 hours")


@pytest.mark.parametrize(
    ("spec", "time_offset", "expected"),
    [
        (OffsetSpec("start"), None, 10),
        (OffsetSpec("end"), None, 20),
        (OffsetSpec("offset", 15), None, 15),
        (OffsetSpec("offset", 5), None, 10),
        (OffsetSpec("offset", 99), None, 20),
        (OffsetSpec("from_end", 3), None, 17),
        (OffsetSpec("from_end", 30), None, 10),
        (OffsetSpec("from_start", 3), None, 13),
        (OffsetSpec("from_start", 30), None, 20),
        (OffsetSpec("time", 1), 12, 12),
        (OffsetSpec("time", 1), None, 20),
        (OffsetSpec("time", 1), -1, 20),
    ],
)
def test_resolve_start(spec: OffsetSpec, time_offset: int | None, expected: int) -> None:
    assert resolve_start(spec, 10, 20, time_offset) == expected
