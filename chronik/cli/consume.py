"""`chronik consume TOPIC...`: print records, follow by default.

Without -g the consumer assigns partitions itself and seeks each one to the offset
the -o spec resolves to (timestamps via ListOffsets, i.e. offsets_for_times), so
time travel is per partition. With -g it joins the group, starts from the
committed offsets (or applies -o on assignment when given) and commits what it
printed — only what it printed, so `-n 5` twice reads ten different records.

End of a partition (-e) is its high watermark when we start (or when it is
assigned): records produced after that are not waited for, like kcat.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.client import close_quietly, kafka_errors, make_consumer
from chronik.cli.formats import Record, make_formatter
from chronik.cli.offsets import (
    OFFSET_HELP,
    OffsetSpec,
    parse_offset,
    parse_partitions,
    resolve_start,
    resolve_stop,
    with_times,
)
from chronik.cli.state import CliError, UsageError, secured, state

POLL_MS = 200


@dataclass
class ConsumeOptions:
    topics: list[str]
    offset: OffsetSpec | None = None
    partitions: list[int] = field(default_factory=list)
    count: int | None = None
    exit_at_end: bool = False
    group: str | None = None
    fmt: str = "%v\\n"
    read_committed: bool = False
    grep: str | None = None
    key_regex: str | None = None
    header_filters: list[str] = field(default_factory=list)
    regex: bool = False
    raw_values: bool = False
    keep: Callable[[Record], bool] | None = None
    group_protocol: str = "classic"


def compile_regex(pattern: str, what: str) -> re.Pattern[bytes]:
    try:
        return re.compile(pattern.encode())
    except re.error as exc:
        raise UsageError(f"bad {what} regex {pattern!r}: {exc}") from None


def make_filter(
    grep: str | None, key_regex: str | None, header_filters: Sequence[str]
) -> Callable[[Record], bool] | None:
    """A predicate over records from --grep/--key/--header; None when nothing filters."""
    value_re = compile_regex(grep, "--grep") if grep else None
    key_re = compile_regex(key_regex, "--key") if key_regex else None
    header_res: list[tuple[str, re.Pattern[bytes]]] = []
    for spec in header_filters:
        name, sep, pattern = spec.partition("=")
        if not sep or not name:
            raise UsageError(f"bad --header filter {spec!r}: expected NAME=REGEX")
        header_res.append((name, compile_regex(pattern, "--header")))
    if value_re is None and key_re is None and not header_res:
        return None

    def keep(rec: Record) -> bool:
        if value_re is not None and not value_re.search(rec.value or b""):
            return False
        if key_re is not None and not key_re.search(rec.key or b""):
            return False
        for name, rx in header_res:
            if not any(k == name and rx.search(v or b"") for k, v in rec.headers):
                return False
        return True

    return keep


def to_record(msg: Any) -> Record:
    return Record(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        timestamp=msg.timestamp,
        key=msg.key,
        value=msg.value,
        headers=msg.headers or (),
    )


def start_offsets(consumer: Any, tps: Sequence[Any], spec: OffsetSpec) -> dict[Any, int]:
    """Resolve the spec to a start offset per partition (one ListOffsets round per kind)."""
    low = consumer.beginning_offsets(list(tps))
    high = consumer.end_offsets(list(tps))
    by_time: dict[Any, Any] = {}
    if spec.kind == "time":
        by_time = consumer.offsets_for_times({tp: spec.value for tp in tps})
    result = {}
    for tp in tps:
        found = by_time.get(tp)
        result[tp] = resolve_start(spec, low[tp], high[tp], found.offset if found else None)
    return result


def match_topics(available: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """Topics whose whole name matches one of the regexes (internal ones only if asked)."""
    compiled = []
    for pat in patterns:
        try:
            compiled.append(re.compile(pat))
        except re.error as exc:
            raise UsageError(f"bad topic regex {pat!r}: {exc}") from None
    found = sorted(t for t in available if any(
        p.fullmatch(t) and (not t.startswith("__") or p.pattern.startswith("_")) for p in compiled))
    if not found:
        raise CliError(f"no topic matches {' or '.join(patterns)}", name="UNKNOWN_TOPIC_OR_PARTITION",
                       hint="see `chronik topics list`")
    return found


def topic_partitions(consumer: Any, topics: Sequence[str], only: Sequence[int]) -> list[Any]:
    from kafka import TopicPartition

    tps = []
    for topic in topics:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise CliError(f"unknown topic {topic!r}", name="UNKNOWN_TOPIC_OR_PARTITION",
                           hint="see `chronik topics list`")
        for p in only:
            if p not in parts:
                raise CliError(f"topic {topic!r} has no partition {p} (it has 0..{max(parts)})",
                               name="UNKNOWN_TOPIC_OR_PARTITION")
        tps += [TopicPartition(topic, p) for p in sorted(parts) if not only or p in only]
    return tps


class Consumer:
    """The consume loop, with the state it needs to stop at the right time."""

    def __init__(self, opts: ConsumeOptions, out: Any) -> None:
        self.opts = opts
        self.out = out
        self.format = make_formatter(opts.fmt, opts.raw_values)
        self.keep = make_filter(opts.grep, opts.key_regex, opts.header_filters)
        self.printed = 0
        self.ends: dict[Any, int] = {}
        self.done: set[Any] = set()
        self.processed: dict[Any, int] = {}
        self.consumer: Any = None
        self.pending: list[Any] = []
        self.member: Any = None  # a KIP-848 member (chronik.cli.group_member) with --group-protocol consumer
        spec = opts.offset
        self.stop_ms = spec.stop_ms if spec else None
        # A time range that is already over cannot gain records: stop at the end.
        self.stop_at_end = opts.exit_at_end or (
            self.stop_ms is not None and self.stop_ms <= time.time() * 1000
        )

    def open(self) -> None:
        opts = self.opts
        config: dict[str, Any] = {
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed" if opts.read_committed else "read_uncommitted",
            "fetch_max_wait_ms": 100,
        }
        if opts.group:
            config["group_id"] = opts.group
        self.consumer = make_consumer(**config)
        c = self.consumer
        with kafka_errors():
            if opts.regex:
                opts.topics = match_topics(list(c.topics()), opts.topics)
            tps = topic_partitions(c, opts.topics, opts.partitions)
            if opts.group:
                if opts.partitions:
                    raise UsageError("-p cannot be used with -g (the group assigns partitions)")
                if opts.group_protocol == "consumer":
                    from chronik.cli.group_member import GroupMember

                    self.member = GroupMember(c, opts.group, opts.topics)
                else:
                    c.subscribe(opts.topics, listener=self._listener())
            else:
                c.assign(tps)
                spec = opts.offset or OffsetSpec("start")
                starts = start_offsets(c, tps, spec)
                for tp, off in starts.items():
                    c.seek(tp, off)
                self._note_ends(tps)
                if spec.stop_kind is not None:
                    high = c.end_offsets(list(tps))
                    for tp in tps:
                        stop = resolve_stop(spec, starts[tp], high[tp])
                        self.ends[tp] = min(stop, self.ends.get(tp, stop))
                    self.stop_at_end = True

    def _listener(self) -> Any:
        from kafka import ConsumerRebalanceListener

        pending = self.pending

        class Listener(ConsumerRebalanceListener):
            # Runs on kafka-python's IO thread, where blocking calls (ListOffsets,
            # commit) are not allowed: only note the partitions; the poll loop seeks.
            # Nothing to do on revoke: every printed batch is committed right away.
            def on_partitions_revoked(self, revoked: Any) -> None:
                pass

            def on_partitions_assigned(self, assigned: Any) -> None:
                pending.extend(assigned)

        return Listener()

    def _apply_assignment(self) -> set[Any]:
        """Seek newly assigned partitions for -o; returns those whose position moved."""
        tps = [tp for tp in self.pending if tp in self.consumer.assignment()]
        self.pending.clear()
        moved: set[Any] = set()
        if tps and self.opts.offset is not None:
            for tp, off in start_offsets(self.consumer, tps, self.opts.offset).items():
                self.consumer.seek(tp, off)
                moved.add(tp)
        self._note_ends(tps)
        return moved

    def _note_ends(self, tps: Sequence[Any]) -> None:
        if not self.stop_at_end:
            return
        new = [tp for tp in tps if tp not in self.ends]
        if new:
            self.ends.update(self.consumer.end_offsets(new))

    def finished(self) -> bool:
        """True once every partition we read has reached its end or stop time."""
        if self.opts.count is not None and self.printed >= self.opts.count:
            return True
        c = self.consumer
        assigned = c.assignment()
        if not assigned:
            return False
        if not self.stop_at_end and self.stop_ms is not None and time.time() * 1000 > self.stop_ms:
            # The time range just ended: from now on, the current end is the end.
            self.stop_at_end = True
            self._note_ends(list(assigned))
        for tp in assigned:
            if tp in self.done:
                continue
            end = self.ends.get(tp)
            if end is not None and c.position(tp) >= end:
                self.done.add(tp)
        return len(self.done) > 0 and all(tp in self.done for tp in assigned)

    def handle(self, batch: dict[Any, list[Any]]) -> None:
        write = self.out.write
        for tp, msgs in batch.items():
            if tp in self.done:
                continue
            end = self.ends.get(tp)
            for msg in msgs:
                if end is not None and msg.offset >= end:
                    self.done.add(tp)
                    self.consumer.pause(tp)
                    break
                if self.stop_ms is not None and msg.timestamp > self.stop_ms:
                    self.done.add(tp)
                    self.consumer.pause(tp)
                    break
                self.processed[tp] = msg.offset + 1
                rec = to_record(msg)
                if self.keep is not None and not self.keep(rec):
                    continue
                write(self.format(rec))
                self.printed += 1
                if self.opts.count is not None and self.printed >= self.opts.count:
                    return

    def commit(self) -> None:
        if not self.opts.group or not self.processed:
            return
        from kafka.structs import OffsetAndMetadata

        if self.member is not None:
            self.member.commit(self.processed)
            self.processed.clear()
            return
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in self.processed.items()}
        self.consumer.commit(offsets)
        self.processed.clear()

    def run(self) -> int:
        c = self.consumer
        with kafka_errors():
            while not self.finished():
                if self.member is not None:
                    before = set(self.member.owned)
                    self.member.poll(self.processed)
                    self.pending.extend(self.member.owned - before)
                batch = c.poll(timeout_ms=POLL_MS)
                if self.pending:
                    moved = self._apply_assignment()
                    # Records fetched before the seek come from the old position.
                    batch = {tp: m for tp, m in batch.items() if tp not in moved}
                if batch:
                    self.handle(batch)
                    self.out.flush()
                    self.commit()
            self.commit()
        return self.printed

    def close(self) -> None:
        if self.member is not None:
            self.member.leave()
        close_quietly(self.consumer)


def use_fast_path(opts: ConsumeOptions) -> bool:
    """The lean wire client (chronik.cli.fastconsume) unless a group, read_committed or -X needs kafka-python."""
    import os

    return (not opts.group and not opts.read_committed and not state.client_config and not secured()
            and os.environ.get("CHRONIK_CLI_CLIENT", "") != "kafka-python")


def run_consume(opts: ConsumeOptions) -> int:
    """Consume until the stop condition or Ctrl-C; returns the number of records printed."""
    if use_fast_path(opts):
        n = _run_fast(opts)
        if n is not None:
            return n
    cons = Consumer(opts, sys.stdout.buffer)
    try:
        cons.open()
        cons.run()
    except KeyboardInterrupt:
        try:
            cons.commit()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
    finally:
        cons.close()
    return cons.printed


def _run_fast(opts: ConsumeOptions) -> int | None:
    from chronik.cli import fastconsume, kwire
    from chronik.cli.client import wire_client, wire_errors

    with wire_errors():
        client = wire_client()
    if client is None:
        return None
    cons = fastconsume.FastConsumer(opts, sys.stdout.buffer)
    try:
        with wire_errors():
            cons.open(client)
            return cons.run()
    except kwire.Unsupported:
        return None
    except KeyboardInterrupt:
        return cons.printed
    finally:
        client.close()


@app.command()
def consume(
    topics: Annotated[list[str], typer.Argument(help="Topics to read.")],
    offset: Annotated[
        str | None,
        typer.Option("-o", "--offset", help=f"Where to start: {OFFSET_HELP}."),
    ] = None,
    partition: Annotated[
        list[str] | None,
        typer.Option("-p", "--partition", help="Only these partitions: -p 0,2 or -p 0 -p 2."),
    ] = None,
    count: Annotated[
        int | None, typer.Option("-n", "--count", help="Stop after COUNT records.")
    ] = None,
    exit_at_end: Annotated[
        bool, typer.Option("-e", "--exit-at-end", help="Stop at the end instead of following.")
    ] = False,
    group: Annotated[
        str | None, typer.Option("-g", "--group", help="Consume as this group, committing.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("-f", "--format", help="%t %p %o %k %v %h %T %d, or json (default %v\\n)."),
    ] = None,
    read_committed: Annotated[
        bool, typer.Option("--read-committed", help="Skip records of aborted transactions.")
    ] = False,
    grep: Annotated[
        str | None, typer.Option("--grep", help="Only values matching REGEX.")
    ] = None,
    key_regex: Annotated[str | None, typer.Option("--key", help="Only keys matching REGEX.")] = None,
    group_protocol: Annotated[
        str, typer.Option("--group-protocol", help="classic (JoinGroup) or consumer (KIP-848) for -g.")
    ] = "classic",
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="Only records with header NAME matching REGEX: NAME=REGEX."),
    ] = None,
    regex: Annotated[
        bool, typer.Option("-r", "--regex", help="TOPICS are regular expressions (whole-name match).")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Start at this time (as in -o @T: -1h, 2026-11-01, ms).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Stop after this time (as in -o @T1:T2).")
    ] = None,
    raw_values: Annotated[
        bool, typer.Option("--raw-values", help="With -f json: keep values as strings, even if they are JSON.")
    ] = False,
) -> None:
    """Print records of TOPIC(s); follows new records until Ctrl-C unless -e or -n."""
    if count is not None and count < 0:
        raise UsageError(f"bad --count {count}: must be >= 0")
    if offset is not None and offset.lower() in ("json", "yaml", "text", "table", "wide"):
        raise UsageError(
            f"bad offset {offset!r}: in consume, -o is the start offset (as in kcat and rpk)",
            hint="use -f json or --output json for JSON records",
        )
    if fmt is None:
        fmt = "json" if (state.output or "").lower() == "json" else "%v\\n"
    now = int(time.time() * 1000)
    spec = parse_offset(offset, now) if offset is not None else None
    spec = with_times(spec, since, until, now)
    if group and spec is not None and spec.stop_kind is not None:
        raise UsageError("offset ranges (A:B) work without -g only")
    opts = ConsumeOptions(
        topics=topics,
        offset=spec,
        partitions=parse_partitions(partition),
        count=count,
        exit_at_end=exit_at_end,
        group=group,
        fmt=fmt,
        read_committed=read_committed,
        grep=grep,
        key_regex=key_regex,
        header_filters=header or [],
        regex=regex,
        raw_values=raw_values,
        group_protocol=group_protocol,
    )
    opts.keep = make_filter(grep, key_regex, header or [])
    if group_protocol not in ("classic", "consumer"):
        raise UsageError(f"bad --group-protocol {group_protocol!r}: classic or consumer")
    make_formatter(fmt)  # a bad format fails before connecting
    if count == 0:
        return
    n = run_consume(opts)
    if not sys.stderr.closed:
        typer.echo(f"consumed {n} records", err=True)
