"""`chronik produce TOPIC [FILE]`: one record per input line.

Throughput and memory: kafka-python's producer has no memory bound of its own
(no buffer.memory), so reading a 1 GB file faster than the broker takes it would
pile the whole file up in the accumulator. We keep a short queue of futures, one
per CHUNK_BYTES of input, and wait for the oldest when it is full: that bounds
what is in flight to about WINDOW_CHUNKS * CHUNK_BYTES, without keeping a future
per record. Large batches and a small linger let kafka-python reach its ceiling
(~80-90k records/s of 100 B lines on one core; see the report in the module
tests); per-record futures are kept only for -v, which prints offsets in order.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from chronik.cli import app
from chronik.cli.client import close_quietly, kafka_errors, make_admin, make_producer
from chronik.cli.formats import Header, InputRecord, make_line_parser, parse_header
from chronik.cli.state import CliError

COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
ACKS = {"all": -1, "-1": -1, "0": 0, "1": 1}
CHUNK_BYTES = 4 << 20
WINDOW_CHUNKS = 8
VERBOSE_WINDOW = 10_000
PROGRESS_MIN_BYTES = 16 << 20


@dataclass
class ProduceOptions:
    topic: str
    key: bytes | None = None
    key_delimiter: bytes | None = None
    headers: list[Header] = field(default_factory=list)
    partition: int | None = None
    compression: str = "none"
    acks: int = -1
    fmt: str | None = None
    tombstone: bool = False
    create: bool = False
    create_partitions: int = 1
    verbose: bool = False
    # --value-schema FILE / --value-schema-id N: JSON lines encoded with the registry framing
    value_schema: Path | None = None
    value_schema_id: int | None = None
    registry: str = "http://127.0.0.1:8081"


@dataclass
class ProduceResult:
    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failed: int = 0
    first_error: BaseException | None = None


def parse_acks(text: str) -> int:
    try:
        return ACKS[text.lower()]
    except KeyError:
        raise CliError(f"bad --acks {text!r}: expected all|-1|0|1") from None


def parse_compression(text: str) -> str:
    if text.lower() not in COMPRESSIONS:
        raise CliError(f"bad compression {text!r}: expected {'|'.join(COMPRESSIONS)}")
    return text.lower()


def make_record_builder(opts: ProduceOptions) -> Callable[[bytes], InputRecord]:
    """line (without newline) -> InputRecord, combining -f / -K / -k / -H / --tombstone."""
    if opts.fmt:
        parse = make_line_parser(opts.fmt)
    elif opts.key_delimiter:
        delim = opts.key_delimiter

        def parse(line: bytes) -> InputRecord:
            key, sep, value = line.partition(delim)
            # No delimiter on the line: the whole line is the value, without a key.
            return InputRecord(value=value, key=key) if sep else InputRecord(value=line)
    else:

        def parse(line: bytes) -> InputRecord:
            return InputRecord(value=line)

    encode = None
    if opts.value_schema is not None or opts.value_schema_id is not None:
        from chronik.cli.schemas import make_value_encoder

        encode = make_value_encoder(opts.topic, opts.registry, opts.value_schema, opts.value_schema_id)

    def build(line: bytes) -> InputRecord:
        rec = parse(line)
        if encode is not None and rec.value:
            rec.value = encode(rec.value)
        if opts.key is not None and rec.key is None:
            rec.key = opts.key
        if opts.headers:
            rec.headers = [*opts.headers, *rec.headers]
        if opts.partition is not None:
            rec.partition = opts.partition
        if opts.tombstone and not rec.value:
            rec.value = None
        return rec

    return build


def read_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines without their line ending; reads in chunks, never the whole input."""
    for line in stream:
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        yield line


def producer_config(opts: ProduceOptions) -> dict[str, Any]:
    config: dict[str, Any] = {
        "acks": opts.acks,
        "linger_ms": 10,
        "batch_size": 512 * 1024,
        "max_request_size": 8 << 20,
        # Idempotence needs acks=all; with weaker acks it must be off.
        "enable_idempotence": opts.acks == -1,
    }
    if opts.compression != "none":
        config["compression_type"] = opts.compression
    return config


def ensure_topic(opts: ProduceOptions) -> None:
    """Fail on an unknown topic (or create it with --create) before producing."""
    admin = make_admin()
    try:
        with kafka_errors():
            known = set(admin.list_topics())
            if opts.topic in known:
                return
            if not opts.create:
                raise CliError(f"unknown topic {opts.topic!r} (use --create to create it)")
            admin.create_topics(
                {opts.topic: {"num_partitions": opts.create_partitions, "replication_factor": 1}}
            )
            admin.wait_for_topics([opts.topic], timeout_ms=10_000)
    finally:
        close_quietly(admin)


def produce_lines(
    producer: Any,
    opts: ProduceOptions,
    lines: Iterable[bytes],
    on_offset: Callable[[Any], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ProduceResult:
    """Send every line as a record; returns counts. Blocks until all are acknowledged."""
    build = make_record_builder(opts)
    result = ProduceResult()
    send = producer.send
    topic = opts.topic
    window: deque[Any] = deque()
    verbose = on_offset is not None

    def failed(exc: BaseException) -> None:
        result.failed += 1
        if result.first_error is None:
            result.first_error = exc

    start = time.perf_counter()
    chunk = 0
    last: Any = None
    count = 0
    total = 0
    for line in lines:
        rec = build(line)
        fut = send(
            topic,
            value=rec.value,
            key=rec.key,
            headers=rec.headers or None,
            partition=rec.partition,
            timestamp_ms=rec.timestamp,
        )
        size = len(line)
        count += 1
        total += size
        if verbose:
            window.append(fut)
            if len(window) > VERBOSE_WINDOW:
                on_offset(window.popleft().get())
            continue
        chunk += size + 64
        if chunk >= CHUNK_BYTES:
            chunk = 0
            fut.add_errback(failed)
            window.append(fut)
            if progress is not None:
                progress(total)
            if len(window) > WINDOW_CHUNKS:
                # Backpressure: wait until the broker has the oldest chunk.
                window.popleft().get()
        elif count <= 1024 or count % 256 == 0:
            # Sampled error tracking: a failure hits whole batches, so watching
            # every 256th record (and all of a small input) sees every failed batch.
            fut.add_errback(failed)
        last = fut
    producer.flush()
    if not verbose and last is not None and last.failed() and result.failed == 0:
        failed(last.exception)
    while window:
        fut = window.popleft()
        if verbose:
            try:
                on_offset(fut.get())
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                failed(exc)
        elif fut.failed():
            failed(fut.exception)
    result.records = count
    result.bytes = total
    result.seconds = time.perf_counter() - start
    return result


def _open_input(file: Path | None) -> BinaryIO:
    if file is None or str(file) == "-":
        return sys.stdin.buffer
    try:
        return open(file, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None


def _progress_bar(stream: BinaryIO) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """A rich progress bar on stderr for big regular files on a terminal."""
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, ValueError):
        return None, lambda: None
    if not sys.stderr.isatty() or size < PROGRESS_MIN_BYTES:
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress(
        "producing", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        console=Console(stderr=True), transient=True,
    )
    task = bar.add_task("produce", total=size)
    bar.start()
    return (lambda _n: bar.update(task, completed=stream.tell())), bar.stop


def run_produce(opts: ProduceOptions, file: Path | None) -> ProduceResult:
    ensure_topic(opts)
    stream = _open_input(file)
    producer = make_producer(**producer_config(opts))
    progress, stop_progress = _progress_bar(stream)

    def print_offset(md: Any) -> None:
        sys.stdout.write(f"{md.topic}/{md.partition}@{md.offset}\n")

    try:
        with kafka_errors():
            result = produce_lines(
                producer, opts, read_lines(stream),
                on_offset=print_offset if opts.verbose else None,
                progress=progress,
            )
    finally:
        stop_progress()
        close_quietly(producer)
        if stream is not sys.stdin.buffer:
            stream.close()
    return result


def summary(result: ProduceResult) -> str:
    rate = result.records / result.seconds if result.seconds > 0 else 0.0
    mb = result.bytes / 1e6
    return (
        f"produced {result.records} records ({mb:.2f} MB) in {result.seconds:.2f}s "
        f"({rate:,.0f} records/s, {mb / result.seconds if result.seconds else 0:.1f} MB/s)"
    )


@app.command()
def produce(
    topic: Annotated[str, typer.Argument(help="Topic to write to.")],
    file: Annotated[
        Path | None, typer.Argument(help="Input file, one record per line (default: stdin).")
    ] = None,
    key: Annotated[str | None, typer.Option("-k", "--key", help="Key for every record.")] = None,
    key_delimiter: Annotated[
        str | None,
        typer.Option("-K", "--key-delimiter", help="Split each line into KEY<DELIM>VALUE."),
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("-H", "--header", help="Header k=v (repeatable).")
    ] = None,
    partition: Annotated[
        int | None, typer.Option("-p", "--partition", help="Write to this partition only.")
    ] = None,
    compression: Annotated[
        str, typer.Option("-z", "--compression", help="none|gzip|snappy|lz4|zstd")
    ] = "none",
    acks: Annotated[str, typer.Option("--acks", help="all|-1|0|1")] = "all",
    fmt: Annotated[
        str | None,
        typer.Option("-f", "--format", help="Input format with %k %v %h %p %T, or json."),
    ] = None,
    tombstone: Annotated[
        bool, typer.Option("--tombstone", help="Send empty values as null (tombstones).")
    ] = False,
    create: Annotated[bool, typer.Option("--create", help="Create the topic first.")] = False,
    partitions: Annotated[
        int, typer.Option("--partitions", help="Partitions for --create.")
    ] = 1,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Print topic/partition@offset per record.")
    ] = False,
    value_schema: Annotated[
        Path | None,
        typer.Option("--value-schema", help="Register FILE (.avsc/.json/.proto) under TOPIC-value; "
                     "encode JSON lines with it."),
    ] = None,
    value_schema_id: Annotated[
        int | None, typer.Option("--value-schema-id", help="Encode JSON lines with registered schema N.")
    ] = None,
    registry: Annotated[
        str, typer.Option("--registry", envvar="CHRONIK_REGISTRY", help="Schema registry URL.")
    ] = "http://127.0.0.1:8081",
) -> None:
    """Write one record per line of FILE (or stdin) to TOPIC."""
    if key_delimiter is not None and fmt is not None:
        raise CliError("-K and -f cannot be used together")
    if key_delimiter == "":
        raise CliError("-K needs a non-empty delimiter")
    opts = ProduceOptions(
        topic=topic,
        key=key.encode() if key is not None else None,
        key_delimiter=key_delimiter.encode() if key_delimiter else None,
        headers=[parse_header(h) for h in header or []],
        partition=partition,
        compression=parse_compression(compression),
        acks=parse_acks(acks),
        fmt=fmt,
        tombstone=tombstone,
        create=create,
        create_partitions=partitions,
        verbose=verbose,
        value_schema=value_schema,
        value_schema_id=value_schema_id,
        registry=registry,
    )
    if value_schema is not None and value_schema_id is not None:
        raise CliError("--value-schema and --value-schema-id cannot be used together")
    if fmt:
        make_line_parser(fmt)  # validate before connecting
    result = run_produce(opts, file)
    typer.echo(summary(result), err=True)
    if result.failed:
        raise CliError(
            f"{result.failed} record(s) or batches failed; first error: {result.first_error}"
        )
