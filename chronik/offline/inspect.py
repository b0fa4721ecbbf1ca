"""Read-only views of a data directory for the offline ``chronik segments`` tools.

Nothing here opens a PartitionLog: that would run recovery, which repairs
files. ``verify`` must report damage, not fix it, and ``list``/``dump`` must
show the files as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crc32c import crc32c

from chronik.metadata.configs import TopicConfig, effective_topic_config
from chronik.metadata.store import META_FILE, MetadataStore
from chronik.storage.batch import ATTRIBUTES_OFFSET, HEADER_SIZE, BatchHeader, CorruptBatchError, _check_header
from chronik.storage.control import COMMIT, marker_type
from chronik.storage.log import LOG_START_OFFSET_FILE
from chronik.storage.segment import OFFSET_INDEX_ENTRY, TIME_INDEX_ENTRY
from chronik.storage.swap import CLEANED_SUFFIX, SWAP_SUFFIX

__all__ = [
    "PartitionDir",
    "dump_segment",
    "find_partitions",
    "list_segments",
    "verify_partition",
]

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


@dataclass
class PartitionDir:
    topic: str
    partition: int
    path: Path
    configs: dict[str, str]  # effective topic configs, as strings (for display)
    config: TopicConfig  # the same, typed: what the tools run with


def find_partitions(data_dir: Path, topic: str | None = None) -> list[PartitionDir]:
    """Partitions of the topics in DIR/meta.json (configs included), in name order."""
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
        overrides = dict(row.get("configs") or {})
        eff = effective_topic_config(overrides)
        config = TopicConfig.parse(overrides)
        for p in range(row["partitions"]):
            path = data_dir / f"{row['name']}-{p}"
            if path.is_dir():
                out.append(PartitionDir(row["name"], p, path, eff, config))
    return out


def _log_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.log") if len(p.stem) == 20 and p.stem.isdigit())


def _read_log_start(path: Path) -> int:
    try:
        return int((path / LOG_START_OFFSET_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _walk(
    data: bytes | memoryview, verify_crc: bool
) -> Iterator[tuple[int, BatchHeader | None, str | None]]:
    """(position, header, problem) per batch; stops after the first problem."""
    mv = memoryview(data)
    n = len(mv)
    pos = 0
    while pos < n:
        if n - pos < HEADER_SIZE:
            yield pos, None, f"torn batch header ({n - pos} bytes) at position {pos}"
            return
        h = BatchHeader.unpack_from(mv, pos)
        try:
            _check_header(h, pos, n - pos)
        except CorruptBatchError as exc:
            yield pos, h, str(exc)
            return
        end = pos + h.size
        if verify_crc and crc32c(mv[pos + ATTRIBUTES_OFFSET : end]) != h.crc:
            yield pos, h, f"CRC mismatch in batch at position {pos} (baseOffset {h.base_offset})"
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
            if problem or h is None:
                damaged = problem
                break
            first = h.base_offset if first is None else first
            last = h.last_offset
            batches += 1
            records += h.record_count
            if not h.is_control:
                min_ts = h.base_timestamp if min_ts is None else min(min_ts, h.base_timestamp)
                max_ts = h.max_timestamp if max_ts is None else max(max_ts, h.max_timestamp)
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
        if problem or h is None:
            yield {"position": pos, "error": problem}
            return
        size = h.size
        batch: dict[str, Any] = {
            "base_offset": h.base_offset,
            "last_offset": h.last_offset,
            "count": h.record_count,
            "position": pos,
            "size": size,
            "base_timestamp": h.base_timestamp,
            "max_timestamp": h.max_timestamp,
            "timestamp_type": "LogAppendTime" if h.timestamp_type else "CreateTime",
            "compression": CODECS.get(h.compression, str(h.compression)),
            "producer_id": h.producer_id,
            "producer_epoch": h.producer_epoch,
            "base_sequence": h.base_sequence,
            "transactional": h.is_transactional,
            "control": h.is_control,
            "leader_epoch": h.partition_leader_epoch,
            "crc": h.crc,
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
                kind = marker_type(r.key) if h.is_control else None
                if kind is not None:
                    rec["control_type"] = "COMMIT" if kind == COMMIT else "ABORT"
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
    files = list(_log_files(part.path))
    for f in files:
        problems: list[str] = []
        data = f.read_bytes()
        base = int(f.stem)
        starts: dict[int, int] = {}  # position -> last offset
        batches = 0
        for pos, h, problem in _walk(data, verify_crc=True):
            if problem or h is None:
                problems.append(problem or "unreadable batch")
                break
            if h.base_offset < base:
                problems.append(
                    f"batch at position {pos}: baseOffset {h.base_offset} below segment base {base}"
                )
            if h.base_offset <= prev_end:
                problems.append(
                    f"batch at position {pos}: baseOffset {h.base_offset} does not follow {prev_end}"
                )
            prev_end = h.last_offset
            starts[pos] = prev_end
            batches += 1
        # The active (last) segment's index file appears with its first entry.
        active = f == files[-1]
        problems += _verify_index(f.with_suffix(".index"), base, starts, 0 if active else len(data))
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
    for stray in list(part.path.glob("*" + SWAP_SUFFIX)) + list(part.path.glob("*" + CLEANED_SUFFIX)):
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
    for rel, position in OFFSET_INDEX_ENTRY.iter_unpack(raw):
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
    for ts, rel in TIME_INDEX_ENTRY.iter_unpack(raw):
        if prev_ts is not None and ts <= prev_ts:
            return [f"time index timestamps not increasing at {ts}"]
        if rel < 0 or base + rel > max(last_offset, base):
            return [f"time index entry points at offset {base + rel} outside the segment"]
        prev_ts = ts
    return []
