"""Parsing of offset specs for `consume -o` and `groups seek --to`.

Grammar (rpk/kcat style):

    start | end          the log start / the log end (only new records)
    N                    absolute offset N
    -N                   N records before the end of each partition
    +N                   N records after the start of each partition
    @T                   the first record with timestamp >= T
    @T1:T2               records with T1 <= timestamp <= T2, then stop
    A:B                  a range: from A (any of the above but @T, empty = start) to
                         B exclusive, then stop: B is an offset N, `end` (the end when
                         we start) or +N (N records per partition); `A:` follows
                         e.g. 100:200  :end  start:+100  -10:end

and a time T is one of

    1730000000000        epoch milliseconds (10 digits or fewer are epoch seconds)
    2026-11-01           a date, or 2026-11-01T10:00[:00][Z|+02:00] a date-time;
                         without a zone it is local time
    -10m  -2h  -30s -1d  relative to now (units ms s m h d w); `now` is now

Parsing is pure (the caller passes `now_ms`), and so is `resolve_start`, which turns a
spec plus a partition's low/high watermarks into the offset to start reading from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chronik.cli.state import UsageError

Kind = Literal["start", "end", "offset", "from_end", "from_start", "time"]

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_RELATIVE = re.compile(r"^([+-])(\d+)(ms|s|m|h|d|w)$")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")

OFFSET_HELP = "start|end|N|-N|+N|@epoch-ms|@2026-11-01|@-10m|@t1:t2, or a range A:B like 100:200, :end, start:+100"


@dataclass(frozen=True)
class OffsetSpec:
    """Where to start reading, and (for @t1:t2) the timestamp at which to stop."""

    kind: Kind
    value: int = 0
    stop_ms: int | None = None
    # A range's end: "offset" (stop_value, exclusive), "end" (the end at start), "count".
    stop_kind: str | None = None
    stop_value: int = 0


def parse_time(text: str, now_ms: int) -> int:
    """A point in time as epoch milliseconds (see module docstring for the forms)."""
    t = text.strip()
    if not t:
        raise UsageError("empty timestamp")
    if t == "now":
        return now_ms
    m = _RELATIVE.match(t)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return now_ms + sign * int(m.group(2)) * _UNITS_MS[m.group(3)]
    if t.isdigit():
        n = int(t)
        # Ten digits or fewer cannot be a millisecond timestamp after 1970-04-26, so
        # treat them as seconds, which is what `date +%s` gives.
        return n * 1000 if len(t) <= 10 else n
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00") if t.endswith("Z") else t)
    except ValueError:
        raise UsageError(
            f"bad timestamp {text!r}: expected epoch ms, a date like 2026-11-01, "
            "a date-time like 2026-11-01T10:00:00Z, or a relative time like -10m"
        ) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # naive means local time
    return int(dt.timestamp() * 1000)


def parse_duration_ms(text: str) -> int:
    """`10m` -> 600000 (used for retention-style values and tests)."""
    m = _DURATION.match(text.strip())
    if not m:
        raise UsageError(f"bad duration {text!r}: expected e.g. 500ms, 30s, 10m, 2h, 1d")
    return int(m.group(1)) * _UNITS_MS[m.group(2)]


def _split_range(body: str) -> tuple[str, str | None]:
    """Split `t1:t2` on the colon that is not part of a date-time (10:00:00)."""
    # A date-time contains colons itself, so split on the last colon whose right side
    # parses as a time start: epoch, date, relative, or `now`.
    for i in range(len(body) - 1, 0, -1):
        if body[i] != ":":
            continue
        right = body[i + 1 :]
        if re.match(r"^(now|[+-]\d|\d{4}-\d\d-\d\d|\d+$)", right):
            left = body[:i]
            # `2026-11-01T10:00` splits into `2026-11-01T10` and `00`: not a range.
            if re.search(r"T\d\d$|T\d\d:\d\d$", left) and re.match(r"^\d\d", right):
                continue
            return left, right
    return body, None


def parse_offset(text: str, now_ms: int) -> OffsetSpec:
    """Parse an offset spec; raises CliError with the accepted forms on bad input."""
    t = text.strip()
    low = t.lower()
    if low in ("start", "beginning", "earliest", "oldest"):
        return OffsetSpec("start")
    if low in ("end", "latest", "newest"):
        return OffsetSpec("end")
    if ":" in t and not t.startswith("@"):
        return _parse_range(text, t, now_ms)
    if t.startswith("@"):
        body = t[1:]
        left, right = _split_range(body)
        start = parse_time(left, now_ms)
        stop = parse_time(right, now_ms) if right is not None else None
        if stop is not None and stop < start:
            raise UsageError(f"bad offset {text!r}: the end time is before the start time")
        return OffsetSpec("time", start, stop)
    if re.fullmatch(r"\d+", t):
        return OffsetSpec("offset", int(t))
    if re.fullmatch(r"-\d+", t):
        return OffsetSpec("from_end", int(t[1:]))
    if re.fullmatch(r"\+\d+", t):
        return OffsetSpec("from_start", int(t[1:]))
    raise UsageError(f"bad offset {text!r}: expected {OFFSET_HELP}")


def _parse_range(text: str, t: str, now_ms: int) -> OffsetSpec:
    left, _, right = t.partition(":")
    start = parse_offset(left, now_ms) if left else OffsetSpec("start")
    if start.kind == "time" or start.stop_kind is not None:
        raise UsageError(f"bad offset range {text!r}: use @t1:t2 (or --since/--until) for times")
    r = right.strip().lower()
    if not r:
        return start
    if r == "end":
        return OffsetSpec(start.kind, start.value, stop_kind="end")
    if re.fullmatch(r"\d+", r):
        return OffsetSpec(start.kind, start.value, stop_kind="offset", stop_value=int(r))
    if re.fullmatch(r"\+\d+", r):
        return OffsetSpec(start.kind, start.value, stop_kind="count", stop_value=int(r[1:]))
    raise UsageError(f"bad offset range {text!r}: the end must be N, end or +N")


def resolve_stop(spec: OffsetSpec, start: int, high: int) -> int | None:
    """The exclusive offset at which a range stops for a partition; None: no stop."""
    if spec.stop_kind == "end":
        return high
    if spec.stop_kind == "offset":
        return spec.stop_value
    if spec.stop_kind == "count":
        return start + spec.stop_value
    return None


def with_times(spec: OffsetSpec | None, since: str | None, until: str | None, now_ms: int
               ) -> OffsetSpec | None:
    """Combine -o with --since/--until (each a time as in @T)."""
    from dataclasses import replace

    if since is None and until is None:
        return spec
    if since is not None and spec is not None:
        raise UsageError("give either -o or --since for where to start, not both")
    start = OffsetSpec("time", parse_time(since, now_ms)) if since is not None else (spec or OffsetSpec("start"))
    if until is None:
        return start
    stop = parse_time(until, now_ms)
    if start.kind == "time" and stop < start.value:
        raise UsageError("--until is before --since")
    return replace(start, stop_ms=stop)


def resolve_start(spec: OffsetSpec, low: int, high: int, time_offset: int | None = None) -> int:
    """The offset to start reading a partition whose log spans [low, high).

    `time_offset` is the broker's answer to a timestamp lookup (ListOffsets) for a
    `time` spec: None when no record is that new, which means "start at the end".
    Results are clamped into [low, high] like Kafka's auto.offset.reset would.
    """
    if spec.kind == "start":
        return low
    if spec.kind == "end":
        return high
    if spec.kind == "offset":
        return min(max(spec.value, low), high)
    if spec.kind == "from_end":
        return max(high - spec.value, low)
    if spec.kind == "from_start":
        return min(low + spec.value, high)
    if spec.kind == "time":
        return high if time_offset is None or time_offset < 0 else min(max(time_offset, low), high)
    raise AssertionError(spec.kind)


def parse_partitions(values: list[str] | None) -> list[int]:
    """`-p 0,2 -p 5` -> [0, 2, 5]; ranges `0-3` are accepted too."""
    out: list[int] = []
    for value in values or []:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            lo, dash, hi = part.partition("-")
            if lo.isdigit() and (not dash or hi.isdigit()):
                first, last = int(lo), int(hi) if dash else int(lo)
                if last < first:
                    raise UsageError(f"bad partition range {part!r}")
                out += [p for p in range(first, last + 1) if p not in out]
                continue
            raise UsageError(f"bad partition {part!r}: expected N, N,M or N-M")
    return out
