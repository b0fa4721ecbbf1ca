"""`chronik produce` over the lean wire client (chronik.cli.kwire).

Lines are turned into magic-2 record batches here and sent as Produce v3
requests, up to WINDOW requests in flight on each leader connection. Keyed
records go to murmur2(key) % partitions (Kafka's default partitioner), keyless
ones stick to one partition per batch (the sticky partitioner), -p pins them.
Batches are not idempotent (no producer id), like kcat's default; a retriable
error (leader moved, timeout) resends that partition's batch up to RETRIES times.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from chronik.cli import kwire
from chronik.cli.state import CliError

# Below Kafka's default max.message.bytes (1048588) with room for the batch header.
BATCH_BYTES = 1_000_000
REQUEST_BYTES = 4 << 20
WINDOW = 4
RETRIES = 5


def topic_partitions(client: kwire.Client, topic: str) -> dict[int, kwire.PartitionMeta] | None:
    meta = client.metadata([topic]).get(topic)
    if meta is None or meta.error == 3:
        return None
    if meta.error:
        raise kwire.WireError(meta.error, f"topic {topic}")
    return meta.partitions


class Sender:
    """Per-leader pipelined Produce requests; collects results and offsets."""

    def __init__(self, client: kwire.Client, topic: str, parts: dict[int, kwire.PartitionMeta],
                 acks: int, result: Any, on_offsets: Callable[[int, int, int], None] | None) -> None:
        self.client = client
        self.topic = topic
        self.parts = parts
        self.acks = acks
        self.result = result
        self.on_offsets = on_offsets
        self.inflight: dict[int, deque] = {}
        self.timeout_ms = max(int(client.timeout * 1000) * 2, 10_000)

    def send(self, batches: dict[int, tuple[bytes, int]]) -> None:
        by_leader: dict[int, dict[int, tuple[bytes, int]]] = {}
        for p, b in batches.items():
            by_leader.setdefault(self.parts[p].leader, {})[p] = b
        for leader, group in by_leader.items():
            conn = self.client.conn(leader)
            body = kwire.produce_body(self.topic, {p: b for p, (b, _n) in group.items()}, self.acks,
                                      self.timeout_ms)
            conn.send(kwire.API_PRODUCE, body)
            if self.acks == 0:
                conn.pending.pop()
                continue
            q = self.inflight.setdefault(leader, deque())
            q.append(group)
            if len(q) >= WINDOW:
                self._complete(leader)

    def _complete(self, leader: int) -> None:
        group = self.inflight[leader].popleft()
        answer = kwire.parse_produce(self.client.conn(leader).receive())
        for p, (batch, n) in group.items():
            err, base = answer.get(p, (-1, -1))
            tries = 0
            while err in kwire.RETRIABLE and tries < RETRIES:
                tries += 1
                time.sleep(0.1 * tries)
                self.parts.update(topic_partitions(self.client, self.topic) or {})
                conn = self.client.conn(self.parts[p].leader)
                body = kwire.produce_body(self.topic, {p: batch}, self.acks, self.timeout_ms)
                err, base = kwire.parse_produce(conn.call(kwire.API_PRODUCE, body)).get(p, (-1, -1))
            if err:
                self.result.failed += n
                if self.result.first_error is None:
                    self.result.first_error = kwire.WireError(err, f"{self.topic}/{p}")
            elif self.on_offsets is not None:
                self.on_offsets(p, base, n)

    def drain(self) -> None:
        for leader, q in self.inflight.items():
            while q:
                self._complete(leader)


def produce(client: kwire.Client, opts: Any, lines: Iterable[bytes], result: Any,
            parts: dict[int, kwire.PartitionMeta],
            on_offsets: Callable[[int, int, int], None] | None = None,
            progress: Callable[[int], None] | None = None) -> None:
    from chronik.cli.produce import make_record_builder

    codec = kwire.CODECS[opts.compression]
    n_parts = len(parts)
    sender = Sender(client, opts.topic, parts, opts.acks, result, on_offsets)
    encode = kwire.encode_record
    varint = kwire.varint
    zz = kwire.ZZ
    zz_max = kwire.ZZ_MAX
    simple = (opts.fmt is None and opts.key_delimiter is None and opts.key is None
              and not opts.headers and not opts.tombstone and not opts.json_input)
    build = None if simple else make_record_builder(opts)
    fixed = opts.partition
    sticky = fixed if fixed is not None else random.randrange(n_parts)

    # partition -> [encoded records, bytes, base_ts, max_ts]
    open_batches: dict[int, list] = {}
    ready: dict[int, tuple[bytes, int]] = {}
    ready_bytes = 0
    count = 0
    total = 0

    def seal(p: int) -> None:
        nonlocal ready_bytes, sticky
        recs, size, base_ts, max_ts = open_batches.pop(p)
        if p in ready:  # one batch per partition per request
            flush()
        ready[p] = (kwire.build_batch(recs, base_ts, max_ts, codec), len(recs))
        ready_bytes += size
        if fixed is None and p == sticky and n_parts > 1:
            sticky = (sticky + 1 + random.randrange(n_parts - 1)) % n_parts
        if ready_bytes >= REQUEST_BYTES:
            flush()

    def flush() -> None:
        nonlocal ready_bytes
        if ready:
            sender.send(dict(ready))
            ready.clear()
            ready_bytes = 0

    now = int(time.time() * 1000)
    for line in lines:
        count += 1
        total += len(line)
        if simple:
            n = len(line)
            p = sticky
            batch = open_batches.get(p)
            if batch is not None and (batch[1] + n + 8 > BATCH_BYTES or len(batch[0]) >= zz_max):
                seal(p)
                now = int(time.time() * 1000)
                if progress is not None:
                    progress(total)
                p = sticky
                batch = open_batches.get(p)
            if batch is None:
                batch = open_batches[p] = [[], 0, now, now]
            recs = batch[0]
            body = b"\x00\x00" + (zz[len(recs)] if len(recs) < zz_max else varint(len(recs))) + b"\x01" + (
                zz[n] if n < zz_max else varint(n)) + line + b"\x00"
            recs.append((zz[len(body)] if len(body) < zz_max else varint(len(body))) + body)
            batch[1] += len(body) + 3
            continue
        rec = build(line)
        keyless = rec.partition is None and rec.key is None
        if rec.partition is not None:
            p = rec.partition
            if not 0 <= p < n_parts:
                raise CliError(f"line {count}: topic {opts.topic!r} has no partition {p}",
                               name="UNKNOWN_TOPIC_OR_PARTITION")
        elif rec.key is not None:
            p = kwire.partition_for_key(rec.key, n_parts)
        else:
            p = sticky
        ts = rec.timestamp if rec.timestamp is not None else now
        batch = open_batches.get(p)
        encoded = None
        if batch is not None:
            encoded = encode(len(batch[0]), ts - batch[2], rec.key, rec.value, rec.headers)
            if batch[1] + len(encoded) > BATCH_BYTES:
                seal(p)
                now = int(time.time() * 1000)
                if progress is not None:
                    progress(total)
                if keyless:
                    p = sticky
                batch = open_batches.get(p)
                encoded = None
        if batch is None:
            batch = open_batches[p] = [[], 0, ts, ts]
        recs = batch[0]
        if encoded is None:
            encoded = encode(len(recs), ts - batch[2], rec.key, rec.value, rec.headers)
        recs.append(encoded)
        batch[1] += len(encoded)
        if ts > batch[3]:
            batch[3] = ts
    for p in list(open_batches):
        seal(p)
    flush()
    sender.drain()
    result.records = count
    result.bytes = total
