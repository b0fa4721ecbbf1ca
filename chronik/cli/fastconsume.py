"""`chronik consume` without a group, over the lean wire client (chronik.cli.kwire).

Each partition has a position and an optional stop offset (exclusive): an
offset for `A:B`, start+N for `A:+N`. With -e and `A:end` a partition is done
once its position reaches the high watermark of a fetch answer (kcat's
end-of-partition), which is also right on brokers whose ListOffsets answers per
batch rather than per record (Tansu).
Fetch v4 asks every leader for all of its partitions at once; whole batches
come back, records before the position are skipped, control batches are never
printed. The common `%v\\n` format without filters writes values straight from
the batch bytes (chronik.cli.kwire.values_only) without building Record objects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from chronik.cli import kwire
from chronik.cli.formats import Record, make_formatter
from chronik.cli.offsets import OffsetSpec, resolve_start, resolve_stop
from chronik.cli.state import CliError

FOLLOW_WAIT_MS = 500


def select_topics(client: kwire.Client, names: Sequence[str], regex: bool) -> dict[str, kwire.TopicMeta]:
    """Metadata of the named topics, or of every topic matching one of the regexes."""
    if regex:
        pats = []
        for n in names:
            try:
                pats.append(re.compile(n))
            except re.error as exc:
                from chronik.cli.state import UsageError

                raise UsageError(f"bad topic regex {n!r}: {exc}") from None
        all_topics = client.metadata(None)
        found = {t: m for t, m in sorted(all_topics.items())
                 if any(p.fullmatch(t) for p in pats) and (not m.internal or any(
                     p.pattern.startswith("_") for p in pats))}
        if not found:
            raise CliError(f"no topic matches {' or '.join(names)}", name="UNKNOWN_TOPIC_OR_PARTITION",
                           hint="see `chronik topics list`")
        return found
    metas = client.metadata(list(names))
    for n in names:
        m = metas.get(n)
        if m is None or m.error == 3:
            raise CliError(f"unknown topic {n!r}", name="UNKNOWN_TOPIC_OR_PARTITION",
                           hint="see `chronik topics list`")
        if m.error:
            raise kwire.WireError(m.error, f"topic {n}")
    return {n: metas[n] for n in names}


class FastConsumer:
    def __init__(self, opts: Any, out: Any) -> None:
        self.opts = opts
        self.out = out
        self.printed = 0
        self.client: kwire.Client | None = None
        self.pos: dict[tuple[str, int], int] = {}
        self.stop: dict[tuple[str, int], int | None] = {}
        self.leader: dict[tuple[str, int], int] = {}
        self.eof: set[tuple[str, int]] = set()  # done at the high watermark
        self.done: set[tuple[str, int]] = set()
        spec = opts.offset
        self.stop_ms = spec.stop_ms if spec else None
        self.until_end = opts.exit_at_end or (self.stop_ms is not None and self.stop_ms <= time.time() * 1000)

    def open(self, client: kwire.Client) -> None:
        self.client = client
        opts = self.opts
        topics = select_topics(client, opts.topics, getattr(opts, "regex", False))
        spec: OffsetSpec = opts.offset or OffsetSpec("start")
        for name, meta in topics.items():
            for p in opts.partitions:
                if p not in meta.partitions:
                    raise CliError(
                        f"topic {name!r} has no partition {p} (it has 0..{max(meta.partitions)})",
                        name="UNKNOWN_TOPIC_OR_PARTITION",
                    )
            parts = [p for p in sorted(meta.partitions) if not opts.partitions or p in opts.partitions]
            by_leader: dict[int, list[int]] = {}
            for p in parts:
                by_leader.setdefault(meta.partitions[p].leader, []).append(p)
                self.leader[(name, p)] = meta.partitions[p].leader
            for leader, ps in by_leader.items():
                low = client.list_offsets(leader, name, {p: kwire.EARLIEST for p in ps})
                high = client.list_offsets(leader, name, {p: kwire.LATEST for p in ps})
                found = client.list_offsets(leader, name, {p: spec.value for p in ps}) if spec.kind == "time" else {}
                for p in ps:
                    start = resolve_start(spec, low[p], high[p], found.get(p))
                    self.pos[(name, p)] = start
                    self.stop[(name, p)] = None if spec.stop_kind == "end" else resolve_stop(spec, start, high[p])
                    if self.until_end or spec.stop_kind == "end":
                        self.eof.add((name, p))

    def _active(self) -> dict[tuple[str, int], int]:
        return {tp: off for tp, off in self.pos.items()
                if tp not in self.done and (self.stop[tp] is None or off < self.stop[tp])}

    def run(self) -> int:
        opts = self.opts
        client = self.client
        out = self.out
        fmt = make_formatter(opts.fmt, opts.raw_values)
        plain = opts.fmt == "%v\\n" and opts.keep is None
        limit = opts.count
        while True:
            active = self._active()
            if not active:
                return self.printed
            if limit is not None and self.printed >= limit:
                return self.printed
            by_leader: dict[int, dict[str, dict[int, int]]] = {}
            for (t, p), off in active.items():
                by_leader.setdefault(self.leader[(t, p)], {}).setdefault(t, {})[p] = off
            # Ask every leader first, then read the answers: leaders work in parallel.
            wait = 100 if self.until_end else FOLLOW_WAIT_MS
            sent = []
            for leader, topic_parts in by_leader.items():
                conn = client.conn(leader)
                conn.send(kwire.API_FETCH, kwire.fetch_body(topic_parts, wait, 0))
                sent.append(conn)
            for conn in sent:
                for fp in kwire.parse_fetch(conn.receive()):
                    self._partition(fp, fmt, plain, out)
                    if limit is not None and self.printed >= limit:
                        break
            out.flush()
            if self.stop_ms is not None and not self.until_end and time.time() * 1000 > self.stop_ms:
                # The time range just ended: from now on the current end is the end.
                self.until_end = True
                self.eof.update(self._active())

    def _partition(self, fp: kwire.FetchedPartition, fmt: Any, plain: bool, out: Any) -> None:
        tp = (fp.topic, fp.partition)
        if fp.error:
            if fp.error == 1:  # OFFSET_OUT_OF_RANGE: restart from the log start, like auto.offset.reset
                self.pos[tp] = self.client.list_offsets(self.leader[tp], fp.topic,
                                                        {fp.partition: kwire.EARLIEST})[fp.partition]
                return
            if fp.error in kwire.RETRIABLE:
                time.sleep(0.1)
                meta = self.client.metadata([fp.topic]).get(fp.topic)
                if meta and fp.partition in meta.partitions:
                    self.leader[tp] = meta.partitions[fp.partition].leader
                return
            raise kwire.WireError(fp.error, f"{fp.topic}/{fp.partition}")
        if fp.records:
            self._records(fp, tp, fmt, plain, out)
        if tp in self.eof and self.pos[tp] >= fp.high_watermark:
            self.done.add(tp)

    def _records(self, fp: kwire.FetchedPartition, tp: tuple[str, int], fmt: Any, plain: bool, out: Any) -> None:
        pos = self.pos[tp]
        stop = self.stop[tp]
        stop_ms = self.stop_ms
        keep = self.opts.keep
        limit = self.opts.count
        for base, last_delta, base_ts, max_ts, attrs, records in kwire.iter_batches(fp.records):
            next_pos = base + last_delta + 1
            if next_pos <= pos:
                continue
            if attrs & 0x20:  # control batch (transaction marker)
                pos = next_pos
                continue
            if plain and base >= pos and (stop is None or next_pos <= stop) and stop_ms is None and (
                    limit is None or self.printed + last_delta + 1 <= limit) and last_delta >= 0:
                values = kwire.values_only(records)
                if len(values) == last_delta + 1:  # no compaction gaps: offsets are base..base+n-1
                    out.write(b"\n".join(values) + b"\n")
                    self.printed += len(values)
                    pos = next_pos
                    continue
            append_ts = max_ts if attrs & 0x08 else None
            chunks = []
            done = False
            for off, ts, key, value, headers in kwire.iter_records(records, base, base_ts, append_ts):
                if off < pos:
                    continue
                if (stop is not None and off >= stop) or (stop_ms is not None and ts > stop_ms):
                    done = True
                    break
                pos = off + 1
                rec = Record(fp.topic, fp.partition, off, ts, key, value, headers)
                if keep is not None and not keep(rec):
                    continue
                chunks.append(fmt(rec))
                self.printed += 1
                if limit is not None and self.printed >= limit:
                    done = True
                    break
            if chunks:
                out.write(b"".join(chunks))
            if done:
                if stop_ms is not None or (stop is not None and pos >= stop):
                    self.done.add(tp)  # nothing more from this partition
                break
            pos = max(pos, next_pos)
        self.pos[tp] = pos
