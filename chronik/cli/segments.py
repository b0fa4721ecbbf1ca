"""`chronik segments`: offline tools on a data directory (no broker may hold it).

    list      segments per partition: offsets, sizes, timestamps
    dump      batches (and records with --records), like kafka-dump-log
    verify    CRCs, offset order and indexes; exit 1 on damage
    compact   run the log cleaner now on compacted topics
    cleanup   apply retention (retention.ms / retention.bytes) now
    recover   run start-up recovery (torn tails, indexes, interrupted swaps)
    reindex   rebuild search indexes (DIR/.search) from the log

The directory lock is held while a command runs, so a broker cannot start
on the directory halfway through.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.render import Table, human_bytes, output_mode, show
from chronik.cli.state import CliError

segments_app = typer.Typer(
    help="Offline tools on a broker's data directory: list, dump, verify, compact, cleanup, recover.",
    no_args_is_help=True,
)
app.add_typer(segments_app, name="segments")

DataDir = Annotated[
    Path, typer.Option("-d", "--data-dir", help="Data directory of a stopped broker.")
]
TopicArg = Annotated[str | None, typer.Argument(help="Only this topic (default: all).")]
PartitionOpt = Annotated[
    int | None, typer.Option("-p", "--partition", help="Only this partition.")
]


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    from chronik.offline.lock import DataDirLocked, lock_data_dir

    if not data_dir.is_dir():
        raise CliError(f"{data_dir} is not a directory")
    try:
        lock = lock_data_dir(data_dir)
    except DataDirLocked as exc:
        raise CliError(f"{exc}; stop the broker first") from None
    try:
        yield
    finally:
        lock.close()


def _partitions(data_dir: Path, topic: str | None, partition: int | None) -> list:
    from chronik.offline.inspect import find_partitions

    parts = find_partitions(data_dir, topic)
    if partition is not None:
        parts = [p for p in parts if p.partition == partition]
    if topic is not None and not parts:
        raise CliError(f"no such topic or partition in {data_dir}: {topic}")
    return parts


def _ts(ms: int | None) -> str:
    if ms is None or ms < 0:
        return ""
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@segments_app.command("list")
def list_cmd(data_dir: DataDir, topic: TopicArg = None, partition: PartitionOpt = None) -> None:
    """Segments of every partition: offsets, batches, records, sizes, timestamps."""
    from chronik.offline.inspect import list_segments

    with _locked(data_dir):
        rows: list[dict[str, Any]] = []
        for part in _partitions(data_dir, topic, partition):
            rows += list_segments(part)
    table_rows = [
        {
            **r,
            "offsets": "" if r["first_offset"] is None else f"{r['first_offset']}-{r['last_offset']}",
            "size": human_bytes(r["size"]),
            "max_time": _ts(r["max_timestamp"]),
            "min_time": _ts(r["min_timestamp"]),
            "damaged": r["damaged"] or "",
        }
        for r in rows
    ]
    show(
        rows,
        [Table(
            ["topic", "partition", "segment", "offsets", "records", "size", "max_time"],
            table_rows,
            wide_columns=["batches", "min_time", "log_start_offset", "damaged"],
        )],
    )


@segments_app.command("dump")
def dump_cmd(
    data_dir: DataDir,
    topic: TopicArg = None,
    partition: PartitionOpt = None,
    records: Annotated[bool, typer.Option("--records", help="Decode and print every record.")] = False,
    segment: Annotated[
        str | None, typer.Option("--segment", help="Only this segment (base offset or file name).")
    ] = None,
) -> None:
    """Batches (with --records, records) of each segment, like kafka-dump-log."""
    from chronik.offline.inspect import dump_segment

    mode = output_mode()
    with _locked(data_dir):
        for part in _partitions(data_dir, topic, partition):
            for f in sorted(part.path.glob("*.log")):
                if segment is not None and segment not in (f.name, f.stem, f.stem.lstrip("0") or "0"):
                    continue
                if mode != "json":
                    typer.echo(f"Dumping {part.topic}-{part.partition}/{f.name}")
                for batch in dump_segment(f, records):
                    _emit_batch(part, f.name, batch, mode)


def _emit_batch(part: Any, name: str, batch: dict[str, Any], mode: str) -> None:
    if mode == "json":
        doc = {"topic": part.topic, "partition": part.partition, "segment": name, **batch}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    if "error" in batch:
        typer.secho(f"position: {batch['position']} ERROR {batch['error']}", fg=typer.colors.RED)
        return
    typer.echo(
        "baseOffset: {base_offset} lastOffset: {last_offset} count: {count} position: {position} "
        "size: {size} maxTimestamp: {max_timestamp} {timestamp_type} compression: {compression} "
        "producerId: {producer_id} producerEpoch: {producer_epoch} baseSequence: {base_sequence} "
        "isTransactional: {transactional} isControl: {control} crc: {crc}".format(**batch)
    )
    for r in batch.get("records", []):
        extra = f" endTxnMarker: {r['control_type']}" if "control_type" in r else ""
        typer.echo(
            f"| offset: {r['offset']} timestamp: {r['timestamp']} key: {r['key']} "
            f"headers: {r['headers']} payload: {r['value']}{extra}"
        )


@segments_app.command("verify")
def verify_cmd(data_dir: DataDir, topic: TopicArg = None, partition: PartitionOpt = None) -> None:
    """Check CRCs, offset order and indexes of every segment; exit 1 on damage."""
    from chronik.offline.inspect import verify_partition

    with _locked(data_dir):
        rows: list[dict[str, Any]] = []
        for part in _partitions(data_dir, topic, partition):
            rows += verify_partition(part)
    bad = [r for r in rows if not r["ok"]]
    show(
        rows,
        [Table(
            ["topic", "partition", "segment", "batches", "ok", "problems"],
            [{**r, "problems": "; ".join(r["problems"])} for r in rows],
        )],
    )
    if bad:
        raise CliError(f"{len(bad)} damaged segment(s) found; `chronik segments recover` repairs them")


def _open_logs(data_dir: Path, topic: str | None, partition: int | None) -> Iterator[tuple[Any, Any]]:
    from chronik.storage.log import PartitionLog

    for part in _partitions(data_dir, topic, partition):
        plog = PartitionLog(part.path, part.config.log_config())
        try:
            yield part, plog
        finally:
            plog.flush()
            plog.close()


@segments_app.command("compact")
def compact_cmd(data_dir: DataDir, topic: TopicArg = None, partition: PartitionOpt = None) -> None:
    """Run the log cleaner now on compacted topics (ignores min.cleanable.dirty.ratio)."""
    from chronik.clock import wall_ms as wall_clock_ms
    from chronik.storage.compaction import clean_log, run_to_completion

    rows = []
    with _locked(data_dir):
        for part, plog in _open_logs(data_dir, topic, partition):
            if not part.config.compact:
                if topic is not None:
                    raise CliError(f"topic {topic} has cleanup.policy={part.configs['cleanup.policy']}")
                continue
            # Offline, no transaction can still be open except one the broker
            # left behind: its last stable offset is unknown, so only segments
            # sealed before the active one are cleaned, as in the broker.
            stats = run_to_completion(
                clean_log(plog, part.config.cleaner_config(), wall_clock_ms(), force=True)
            )
            rows.append({"topic": part.topic, "partition": part.partition, **stats.as_dict()})
    show(rows, [Table(
        ["topic", "partition", "segments_before", "segments_after", "bytes_read",
         "bytes_written", "records_read", "records_kept", "tombstones_dropped", "skipped"],
        rows,
    )])


@segments_app.command("cleanup")
def cleanup_cmd(data_dir: DataDir, topic: TopicArg = None, partition: PartitionOpt = None) -> None:
    """Apply retention.ms / retention.bytes now (topics with cleanup.policy delete)."""
    from chronik.clock import wall_ms as wall_clock_ms
    from chronik.storage.retention import apply_retention

    rows = []
    with _locked(data_dir):
        for part, plog in _open_logs(data_dir, topic, partition):
            res = apply_retention(plog, part.config.retention_config(), wall_clock_ms())
            rows.append({
                "topic": part.topic, "partition": part.partition,
                "segments_deleted": res.segments_deleted, "bytes_deleted": res.bytes_deleted,
                "log_start_offset": res.log_start_offset, "reason": res.reason,
            })
    show(rows, [Table(
        ["topic", "partition", "segments_deleted", "bytes_deleted", "log_start_offset", "reason"],
        rows,
    )])


@segments_app.command("recover")
def recover_cmd(data_dir: DataDir, topic: TopicArg = None, partition: PartitionOpt = None) -> None:
    """Run start-up recovery now: finish swaps, truncate torn tails, rebuild indexes."""
    import logging

    logging.getLogger("chronik.storage").setLevel(logging.ERROR)  # the table says it all
    rows = []
    with _locked(data_dir):
        for part, plog in _open_logs(data_dir, topic, partition):
            rows.append({
                "topic": part.topic, "partition": part.partition,
                "log_start_offset": plog.log_start_offset, "log_end_offset": plog.log_end_offset,
                "repaired": bool(plog.recovery_actions), "actions": plog.recovery_actions,
            })
    show(rows, [Table(
        ["topic", "partition", "log_start_offset", "log_end_offset", "repaired", "actions"],
        [{**r, "actions": "; ".join(r["actions"])} for r in rows],
    )])


@segments_app.command("reindex")
def reindex_cmd(
    data_dir: DataDir,
    topic: TopicArg = None,
    all_topics: Annotated[bool, typer.Option("--all", help="Every topic, not only those with "
                                             "chronik.search.enable=true (as a broker run with --search).")] = False,
) -> None:
    """Rebuild search indexes from the log (DIR/.search/<topic>), replacing what is there."""
    from chronik.search.offline import reindex

    with _locked(data_dir):
        results = reindex(data_dir, topic, every_topic=all_topics)
    if topic is not None and not results:
        raise CliError(f"no such topic in {data_dir}: {topic}")
    rows = [{"topic": r.topic, "partitions": r.partitions, "documents": r.documents,
             "index_bytes": r.index_bytes} for r in results]
    show(rows, [Table(["topic", "partitions", "documents", "index_bytes"], rows)])
