"""Read-only views of a data directory for the offline ``chronik segments`` tools.

Nothing here opens a PartitionLog: that would run recovery, which repairs
files. ``verify`` must report damage, not fix it, and ``list``/``dump`` must
show the files as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crc32c import crc32c

from chronik.metadata.configs import effective_topic_config
from chronik.storage.batch import (
    ATTRIBUTES_OFFSET,
    CONTROL_MASK,
    HEADER,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TRANSACTIONAL_MASK,
    CorruptBatchError,
    _check_header,
)

__all__ = [
    "PartitionDir",
    "dump_segment",
    "find_partitions",
    "list_segments",
    "verify_partition",
]

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
_INDEX_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


@dataclass
class PartitionDir:
    topic: str
    partition: int
    path: Path
    configs: dict[str, str]  # effective topic configs


def find_partitions(data_dir: Path, topic: str | None = None) -> list[PartitionDir]:
    """Partitions of the topics in DIR/meta.json (configs included), in name order."""
    from chronik.metadata.store import META_FILE, MetadataStore

    if not (data_dir / META_FILE).exists():
        return []
    store = MetadataStore(data_dir)
    try:
        rows = store.load_topics()
    finally:
        store.close()
    out: list[PartitionDir] = []
    for row in sorted(rows, key=lambda r: r["name"]):
        if topic is not None and row["name"] != topic:
            continue
        eff = effective_topic_config(dict(row.get("configs") or {}))
        for p in range(row["partitions"]):
            path = data_dir / f"{row['name']}-{p}"
            if path.is_dir():
                out.append(PartitionDir(row["name"], p, path, eff))
    return out


def _log_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.log") if len(p.stem) == 20 and p.stem.isdigit())


def _read_log_start(path: Path) -> int:
    try:
        return int((path / "log-start-offset").read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _walk(data: bytes | memoryview, verify_crc: bool) -> Iterator[tuple[int, tuple, str | None]]:
    """(position, header, problem) per batch; stops after the first problem."""
    mv = memoryview(data)
    n = len(mv)
    pos = 0
    while pos < n:
        if n - pos < HEADER_SIZE:
            yield pos, (), f"torn batch header ({n - pos} bytes) at position {pos}"
            return
        h = HEADER.unpack_from(mv, pos)
        try:
            _check_header(h, pos, n - pos)
        except CorruptBatchError as exc:
            yield pos, h, str(exc)
            return
        end = pos + LOG_OVERHEAD + h[1]
        if verify_crc and crc32c(mv[pos + ATTRIBUTES_OFFSET : end]) != h[4]:
            yield pos, h, f"CRC mismatch in batch at position {pos} (baseOffset {h[0]})"
            return
        yield pos, h, None
        pos = end


def list_segments(part: PartitionDir) -> list[dict[str, Any]]:
    rows = []
    log_start = _read_log_start(part.path)
    for f in _log_files(part.path):
        data = f.read_bytes()
        first = last = min_ts = max_ts = None
        batches = records = 0
        damaged = None
        for _pos, h, problem in _walk(data, verify_crc=False):
            if problem:
                damaged = problem
                break
            first = h[0] if first is None else first
            last = h[0] + h[6]
            batches += 1
            records += h[12]
            if not h[5] & CONTROL_MASK:
                min_ts = h[7] if min_ts is None else min(min_ts, h[7])
                max_ts = h[8] if max_ts is None else max(max_ts, h[8])
        rows.append({
            "topic": part.topic,
            "partition": part.partition,
            "segment": f.name,
            "base_offset": int(f.stem),
            "first_offset": first,
            "last_offset": last,
            "batches": batches,
            "records": records,
            "size": len(data),
            "min_timestamp": min_ts,
            "max_timestamp": max_ts,
            "log_start_offset": log_start,
            "damaged": damaged,
        })
    return rows


def dump_segment(path: Path, with_records: bool) -> Iterator[dict[str, Any]]:
    """One dict per batch (with its records when asked), like kafka-dump-log."""
    from kafka.record.default_records import DefaultRecordBatch

    data = path.read_bytes()
    for pos, h, problem in _walk(data, verify_crc=True):
        if problem:
            yield {"position": pos, "error": problem}
            return
        size = LOG_OVERHEAD + h[1]
        attrs = h[5]
        batch: dict[str, Any] = {
            "base_offset": h[0],
            "last_offset": h[0] + h[6],
            "count": h[12],
            "position": pos,
            "size": size,
            "base_timestamp": h[7],
            "max_timestamp": h[8],
            "timestamp_type": "LogAppendTime" if attrs & 0x08 else "CreateTime",
            "compression": CODECS.get(attrs & 0x07, str(attrs & 0x07)),
            "producer_id": h[9],
            "producer_epoch": h[10],
            "base_sequence": h[11],
            "transactional": bool(attrs & TRANSACTIONAL_MASK),
            "control": bool(attrs & CONTROL_MASK),
            "leader_epoch": h[2],
            "crc": h[4],
        }
        if with_records:
            recs = []
            for r in DefaultRecordBatch(bytes(data[pos : pos + size])):
                rec: dict[str, Any] = {
                    "offset": r.offset,
                    "timestamp": r.timestamp,
                    "key": _text(r.key),
                    "value": _text(r.value),
                    "headers": [[k, _text(v)] for k, v in r.headers],
                }
                if batch["control"] and r.key is not None and len(r.key) >= 4:
                    rec["control_type"] = "COMMIT" if struct.unpack(">hh", r.key[:4])[1] else "ABORT"
                recs.append(rec)
            batch["records"] = recs
        yield batch


def _text(b: bytes | None) -> str | None:
    if b is None:
        return None
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + b.hex()


def verify_partition(part: PartitionDir) -> list[dict[str, Any]]:
    """Check every batch (header, CRC, offset order) and both indexes of every segment.

    Returns one dict per segment with ``problems`` (empty when healthy).
    """
    out = []
    prev_end = -1
    for f in _log_files(part.path):
        problems: list[str] = []
        data = f.read_bytes()
        base = int(f.stem)
        starts: dict[int, int] = {}  # position -> last offset
        batches = 0
        for pos, h, problem in _walk(data, verify_crc=True):
            if problem:
                problems.append(problem)
                break
            if h[0] < base:
                problems.append(f"batch at position {pos}: baseOffset {h[0]} below segment base {base}")
            if h[0] <= prev_end:
                problems.append(f"batch at position {pos}: baseOffset {h[0]} does not follow {prev_end}")
            prev_end = h[0] + h[6]
            starts[pos] = prev_end
            batches += 1
        problems += _verify_index(f.with_suffix(".index"), base, starts, len(data))
        problems += _verify_time_index(f.with_suffix(".timeindex"), base, prev_end)
        out.append({
            "topic": part.topic,
            "partition": part.partition,
            "segment": f.name,
            "batches": batches,
            "size": len(data),
            "ok": not problems,
            "problems": problems,
        })
    for stray in list(part.path.glob("*.swap")) + list(part.path.glob("*.cleaned")):
        out.append({
            "topic": part.topic, "partition": part.partition, "segment": stray.name,
            "batches": 0, "size": stray.stat().st_size, "ok": False,
            "problems": ["interrupted compaction file (recovery finishes or discards it)"],
        })
    return out


def _verify_index(path: Path, base: int, starts: dict[int, int], size: int) -> list[str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ["offset index missing"] if size else []
    if len(raw) % 8:
        return [f"offset index size {len(raw)} is not a multiple of 8"]
    problems = []
    prev = (-1, -1)
    for rel, position in _INDEX_ENTRY.iter_unpack(raw):
        if rel <= prev[0] or position <= prev[1]:
            problems.append(f"offset index entry ({rel}, {position}) is not increasing")
            break
        prev = (rel, position)
        if starts.get(position) != base + rel:
            problems.append(
                f"offset index entry {base + rel} -> position {position} does not match a batch"
            )
            break
    return problems


def _verify_time_index(path: Path, base: int, last_offset: int) -> list[str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    if len(raw) % 12:
        return [f"time index size {len(raw)} is not a multiple of 12"]
    prev_ts = None
    for ts, rel in _TIME_ENTRY.iter_unpack(raw):
        if prev_ts is not None and ts <= prev_ts:
            return [f"time index timestamps not increasing at {ts}"]
        if rel < 0 or base + rel > max(last_offset, base):
            return [f"time index entry points at offset {base + rel} outside the segment"]
        prev_ts = ts
    return []
