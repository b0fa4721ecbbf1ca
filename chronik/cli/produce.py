"""`chronik produce TOPIC [FILE]`: one record per input line.

(About 540 lines: input parsing, both clients' send paths and their bounded queues
belong to one command; they share its option handling.)

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
from chronik.cli.formats import Header, InputRecord, make_line_parser, parse_header, unescape_bytes
from chronik.cli.state import CliError, UsageError, secured, state

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
    missing_key: str = "error"
    delimiter: bytes = b"\n"
    json_input: bool = False
    key_field: str | None = None
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
        raise UsageError(f"bad --acks {text!r}: expected all|-1|0|1") from None


def parse_compression(text: str) -> str:
    if text.lower() not in COMPRESSIONS:
        raise UsageError(f"bad compression {text!r}: expected {'|'.join(COMPRESSIONS)}")
    return text.lower()


def make_record_builder(opts: ProduceOptions) -> Callable[[bytes], InputRecord]:
    """line (without newline) -> InputRecord, combining -f / -K / -k / -H / --tombstone / --json."""
    lineno = 0
    if opts.fmt:
        parse_fmt = make_line_parser(opts.fmt)

        def parse(line: bytes) -> InputRecord:
            try:
                return parse_fmt(line)
            except CliError as exc:
                raise CliError(f"line {lineno}: {exc}") from None
    elif opts.json_input:
        parse = _json_value_parser(opts.key_field, lambda: lineno)
    elif opts.key_delimiter:
        delim = opts.key_delimiter
        keyless = opts.missing_key == "null"

        def parse(line: bytes) -> InputRecord:
            key, sep, value = line.partition(delim)
            if sep:
                return InputRecord(value=value, key=key)
            if keyless:
                return InputRecord(value=line)
            raise CliError(
                f"line {lineno} has no key delimiter {delim.decode('latin-1')!r}: {line[:60]!r}",
                hint="--missing-key=null sends such lines without a key",
            )
    else:

        def parse(line: bytes) -> InputRecord:
            return InputRecord(value=line)

    encode = None
    if opts.value_schema is not None or opts.value_schema_id is not None:
        from chronik.cli.schemas import make_value_encoder

        encode = make_value_encoder(opts.topic, opts.registry, opts.value_schema, opts.value_schema_id)

    def build(line: bytes) -> InputRecord:
        nonlocal lineno
        lineno += 1
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


def _json_value_parser(key_field: str | None, lineno: Callable[[], int]) -> Callable[[bytes], InputRecord]:
    """--json: each line is one JSON document, sent as the value; --key-field F keys it by doc[F]."""
    import json

    def parse(line: bytes) -> InputRecord:
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise CliError(f"line {lineno()} is not JSON ({exc}): {line[:60]!r}") from None
        key = None
        if key_field is not None:
            if not isinstance(doc, dict) or key_field not in doc:
                raise CliError(f"line {lineno()} has no field {key_field!r} for the key: {line[:60]!r}")
            k = doc[key_field]
            key = k.encode() if isinstance(k, str) else json.dumps(k).encode()
        return InputRecord(value=line, key=key)

    return parse


def read_lines(stream: BinaryIO, delimiter: bytes = b"\n") -> Iterator[bytes]:
    """Records without their delimiter (a line without \\r\\n by default); reads 1 MiB chunks.

    Splitting whole chunks is several times faster than iterating the file line by line.
    """
    crlf = delimiter == b"\n"
    rest = b""
    read = getattr(stream, "read1", stream.read)
    while chunk := read(1 << 20):
        parts = (rest + chunk if rest else chunk).split(delimiter)
        rest = parts.pop()
        if crlf and b"\r" in chunk:
            parts = [p[:-1] if p.endswith(b"\r") else p for p in parts]
        yield from parts
    if rest:
        yield rest[:-1] if crlf and rest.endswith(b"\r") else rest


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


def ensure_topic(opts: ProduceOptions) -> int:
    """Fail on an unknown topic (or create it with --create) before producing.

    Returns the topic's partition count; a -p beyond it is an error here, not a
    ValueError from deep inside the client.
    """
    from chronik.cli.client import error_from_code

    admin = make_admin()
    try:
        with kafka_errors():
            meta = admin.describe_topics([opts.topic])[0]
            code = meta.get("error_code", 0)
            if code == 3:
                if not opts.create:
                    raise CliError(
                        f"unknown topic {opts.topic!r}", name="UNKNOWN_TOPIC_OR_PARTITION",
                        hint="use --create to create it, or see `chronik topics list`",
                    )
                res = admin.create_topics(
                    {opts.topic: {"num_partitions": opts.create_partitions, "replication_factor": 1}},
                    raise_errors=False,
                )
                for t in res.get("topics", []):
                    if t.get("error_code") and t["error_code"] != 36:  # exists: someone was faster
                        raise error_from_code(t["error_code"], t.get("error_message"), opts.topic)
                admin.wait_for_topics([opts.topic], timeout_ms=10_000)
                count = opts.create_partitions
            elif code:
                raise error_from_code(code, meta.get("error_message"), f"topic {opts.topic}")
            else:
                count = len(meta.get("partitions") or [])
    finally:
        close_quietly(admin)
    if opts.partition is not None and not 0 <= opts.partition < count:
        raise CliError(
            f"topic {opts.topic!r} has no partition {opts.partition} (it has 0..{count - 1})",
            name="UNKNOWN_TOPIC_OR_PARTITION", hint="add partitions with `chronik topics add-partitions`",
        )
    return count


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
        if sys.stdin is None:
            raise UsageError("stdin is closed: give a FILE to read, or pipe records in")
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


def use_fast_path() -> bool:
    """The lean wire client, unless -X settings (kafka-python's) or the env var ask otherwise."""
    return not state.client_config and not secured() and os.environ.get("CHRONIK_CLI_CLIENT", "") != "kafka-python"


def run_produce(opts: ProduceOptions, file: Path | None) -> ProduceResult:
    stream = _open_input(file)
    if use_fast_path() and opts.value_schema is None and opts.value_schema_id is None:
        result = _run_fast(opts, stream)
        if result is not None:
            return result
    ensure_topic(opts)
    producer = make_producer(**producer_config(opts))
    progress, stop_progress = _progress_bar(stream)

    def print_offset(md: Any) -> None:
        sys.stdout.write(f"{md.topic}/{md.partition}@{md.offset}\n")

    try:
        with kafka_errors():
            result = produce_lines(
                producer, opts, read_lines(stream, opts.delimiter),
                on_offset=print_offset if opts.verbose else None,
                progress=progress,
            )
    finally:
        stop_progress()
        close_quietly(producer)
        _close_input(stream)
    return result


def _close_input(stream: BinaryIO) -> None:
    if sys.stdin is None or stream is not sys.stdin.buffer:
        stream.close()


def _run_fast(opts: ProduceOptions, stream: BinaryIO) -> ProduceResult | None:
    """Produce over chronik.cli.kwire; None when the broker needs the kafka-python path."""
    from chronik.cli import fastproduce, kwire
    from chronik.cli.client import wire_client, wire_errors

    with wire_errors():
        client = wire_client()
    if client is None:
        return None
    result = ProduceResult()
    progress, stop_progress = _progress_bar(stream)
    start = time.perf_counter()
    try:
        with wire_errors():
            parts = fastproduce.topic_partitions(client, opts.topic)
            if parts is None:
                ensure_topic(opts)  # creates it with --create, or fails with the right error
                deadline = time.monotonic() + 10
                while (parts := fastproduce.topic_partitions(client, opts.topic)) is None:
                    if time.monotonic() > deadline:
                        raise CliError(f"topic {opts.topic!r} was created but has no leader yet")
                    time.sleep(0.05)
            if opts.partition is not None and opts.partition not in parts:
                raise CliError(
                    f"topic {opts.topic!r} has no partition {opts.partition} (it has 0..{len(parts) - 1})",
                    name="UNKNOWN_TOPIC_OR_PARTITION",
                    hint="add partitions with `chronik topics add-partitions`",
                )
            on_offsets = None
            if opts.verbose:
                out = sys.stdout

                def on_offsets(p: int, base: int, n: int) -> None:
                    out.write("".join(f"{opts.topic}/{p}@{base + i}\n" for i in range(n)))

            fastproduce.produce(client, opts, read_lines(stream, opts.delimiter), result, parts,
                                on_offsets=on_offsets, progress=progress)
    except kwire.Unsupported:
        return None
    finally:
        stop_progress()
        client.close()
        _close_input(stream)
    result.seconds = time.perf_counter() - start
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
        typer.Option("-K", "--key-delimiter",
                     help="Split each line into KEY<DELIM>VALUE; escapes \\t \\n \\xNN work."),
    ] = None,
    missing_key: Annotated[
        str,
        typer.Option("--missing-key", help="A line without the -K delimiter: error (default) or null "
                     "(send it without a key)."),
    ] = "error",
    delimiter: Annotated[
        str,
        typer.Option("-D", "--delimiter", help="Record delimiter (default newline); escapes work."),
    ] = "\\n",
    json_input: Annotated[
        bool, typer.Option("--json", help="Each line is a JSON document, sent as the value.")
    ] = False,
    key_field: Annotated[
        str | None, typer.Option("--key-field", help="With --json: the key is this field of the document.")
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
        typer.Option("-f", "--format", help="Input format with %k %v %h %p %T and escapes "
                     "(rpk-style '%k %v\\n' too), or json (the `consume -f json` envelope)."),
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
    if sum(x is not None and x is not False for x in (key_delimiter, fmt, json_input or None)) > 1:
        raise UsageError("-K, -f and --json cannot be used together")
    if key_delimiter == "":
        raise UsageError("-K needs a non-empty delimiter")
    if missing_key not in ("error", "null"):
        raise UsageError(f"bad --missing-key {missing_key!r}: expected error or null")
    if key_field is not None and not json_input:
        raise UsageError("--key-field needs --json")
    delim = unescape_bytes(delimiter)
    if not delim:
        raise UsageError("-D needs a non-empty delimiter")
    opts = ProduceOptions(
        topic=topic,
        key=key.encode() if key is not None else None,
        key_delimiter=unescape_bytes(key_delimiter) if key_delimiter else None,
        missing_key=missing_key,
        delimiter=delim,
        json_input=json_input,
        key_field=key_field,
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
        raise UsageError("--value-schema and --value-schema-id cannot be used together")
    if fmt:
        make_line_parser(fmt)  # validate before connecting
    result = run_produce(opts, file)
    typer.echo(summary(result), err=True)
    if result.failed:
        raise CliError(
            f"{result.failed} record(s) or batches failed; first error: {result.first_error}"
        )
