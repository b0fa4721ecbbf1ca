"""Committed consumer offsets: a dict in memory, an append-only log on disk.

Commits arrive at thousands per second, so the TinyDB file (rewritten whole
on every change) is the wrong home for them. Every change is appended to
`DIR/__consumer_offsets/offsets.log` with one `os.write` before the commit
is acknowledged: that survives the process being killed (the bytes are in
the page cache), like an acknowledged produce does.

Record layout (big-endian):

    u32 length of body | u32 crc32 of body | body
    body = u8 kind | fields...

    kind 1 COMMIT  group, topic, i32 partition, i64 offset, i32 leader_epoch,
                   i64 commit_ts_ms, metadata (i32 length, -1 for null)
    kind 2 DELETE  group, topic, i32 partition        (one partition dropped)
    kind 3 GROUP   group                              (every offset of a group dropped)
    kind 4 TOPIC   topic                              (a deleted topic, every group)
    kind 5 STATE   group, i32 length (-1: none), bytes (a consumer group's state
                   (KIP-848), opaque here; the latest record per group wins)

Strings are u16 length + UTF-8. Replay at start-up stops at the first record
that is short or fails its CRC (a write torn by a crash) and cuts the file
there, so later appends do not sit behind garbage.

The log only grows; once it is several times larger than the live entries
it is rewritten with one COMMIT per live entry to a temp file and renamed
over the old one (atomic: a crash leaves the old or the new log). The live
set is small next to the stream of commits, so the rewrite is cheap and
rare.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from chronik.clock import wall_ms
from chronik.storage.atomic import atomic_write

log = logging.getLogger("chronik.offsets")

OFFSETS_DIR = "__consumer_offsets"
LOG_FILE = "offsets.log"

COMMIT, DELETE, GROUP, TOPIC, STATE = 1, 2, 3, 4, 5

_HEAD = struct.Struct(">II")
_U16 = struct.Struct(">H")
_COMMIT_TAIL = struct.Struct(">iqiqi")  # partition, offset, epoch, ts, metadata length
_I32 = struct.Struct(">i")

# Rewrite once the file holds this many bytes and is mostly dead records.
DEFAULT_COMPACT_BYTES = 16 * 1024 * 1024


class CommittedOffset(NamedTuple):
    offset: int
    metadata: str | None
    leader_epoch: int
    commit_ts_ms: int


TopicPartition = tuple[str, int]


def _str(s: str) -> bytes:
    b = s.encode()
    return _U16.pack(len(b)) + b


def _commit_body(group: str, topic: str, partition: int, c: CommittedOffset) -> bytes:
    meta = c.metadata.encode() if c.metadata is not None else b""
    return b"".join((
        b"\x01", _str(group), _str(topic),
        _COMMIT_TAIL.pack(partition, c.offset, c.leader_epoch, c.commit_ts_ms,
                          len(meta) if c.metadata is not None else -1),
        meta,
    ))


def _state_body(group: str, data: bytes | None) -> bytes:
    return b"\x05" + _str(group) + _I32.pack(-1 if data is None else len(data)) + (data or b"")


def _frame(body: bytes) -> bytes:
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


class OffsetStore:
    def __init__(
        self,
        data_dir: Path,
        compact_bytes: int = DEFAULT_COMPACT_BYTES,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.directory = Path(data_dir) / OFFSETS_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / LOG_FILE
        self.compact_bytes = compact_bytes
        self.clock_ms = clock_ms or wall_ms
        self._groups: dict[str, dict[TopicPartition, CommittedOffset]] = {}
        self._states: dict[str, bytes] = {}
        self._size = 0
        self._live_bytes = 0  # what a rewrite would hold (estimate)
        self._fd = -1
        self._replay()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # -- start-up -----------------------------------------------------------
    def _replay(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        pos, end = 0, len(data)
        view = memoryview(data)
        while pos + 8 <= end:
            length, crc = _HEAD.unpack_from(data, pos)
            if pos + 8 + length > end:
                break
            body = view[pos + 8 : pos + 8 + length]
            if zlib.crc32(body) != crc:
                break
            try:
                self._apply(body)
            except (struct.error, UnicodeDecodeError, IndexError):
                break
            pos += 8 + length
        if pos < end:
            log.warning("offsets log %s: dropping a torn tail of %d bytes", self.path, end - pos)
            with open(self.path, "r+b") as f:
                f.truncate(pos)
        self._size = pos
        self._live_bytes = sum(
            8 + len(_commit_body(g, t, p, c))
            for g, offs in self._groups.items() for (t, p), c in offs.items()
        ) + sum(8 + len(_state_body(g, d)) for g, d in self._states.items())

    def _apply(self, body: memoryview) -> None:
        kind = body[0]
        pos = 1

        def read_str() -> str:
            nonlocal pos
            (n,) = _U16.unpack_from(body, pos)
            s = bytes(body[pos + 2 : pos + 2 + n]).decode()
            if len(s.encode()) != n:
                raise struct.error("short string")
            pos += 2 + n
            return s

        if kind == COMMIT:
            group, topic = read_str(), read_str()
            partition, offset, epoch, ts, mlen = _COMMIT_TAIL.unpack_from(body, pos)
            pos += _COMMIT_TAIL.size
            meta = None if mlen < 0 else bytes(body[pos : pos + mlen]).decode()
            self._groups.setdefault(group, {})[(topic, partition)] = CommittedOffset(offset, meta, epoch, ts)
        elif kind == DELETE:
            group, topic = read_str(), read_str()
            (partition,) = _I32.unpack_from(body, pos)
            offs = self._groups.get(group)
            if offs is not None:
                offs.pop((topic, partition), None)
                if not offs:
                    del self._groups[group]
        elif kind == GROUP:
            self._groups.pop(read_str(), None)
        elif kind == TOPIC:
            self._drop_topic_in_memory(read_str())
        elif kind == STATE:
            group = read_str()
            (n,) = _I32.unpack_from(body, pos)
            if n < 0:
                self._states.pop(group, None)
            else:
                data = bytes(body[pos + 4 : pos + 4 + n])
                if len(data) != n:
                    raise struct.error("short state")
                self._states[group] = data
        else:
            raise struct.error(f"unknown record kind {kind}")

    # -- writes -------------------------------------------------------------
    def _append(self, records: list[bytes]) -> None:
        data = b"".join(records)
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError:
            # A full disk: no torn record stays behind to break the replay.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            raise
        self._size += len(data)

    def _maybe_compact(self) -> None:
        """Rewrite the log with the live entries once it is mostly dead (memory must be up to date)."""
        if self._size > self.compact_bytes and self._size > 4 * self._live_bytes:
            try:
                self.compact()
            except OSError as exc:
                log.warning("compacting the committed offsets log failed: %s", exc.strerror or exc)

    def commit(
        self,
        group: str,
        offsets: dict[TopicPartition, tuple[int, str | None, int]],
        commit_ts_ms: int | None = None,
    ) -> None:
        """Store (offset, metadata, leader_epoch) per partition; durable on return."""
        if not offsets:
            return
        ts = self.clock_ms() if commit_ts_ms is None else commit_ts_ms
        new = {}
        records = []
        for (topic, partition), (offset, metadata, epoch) in offsets.items():
            c = CommittedOffset(offset, metadata, epoch, ts)
            new[(topic, partition)] = c
            records.append(_frame(_commit_body(group, topic, partition, c)))
        # On disk first: a commit that could not be written is not seen either.
        self._append(records)
        current = self._groups.setdefault(group, {})
        for (tp, c), rec in zip(new.items(), records, strict=True):
            old = current.get(tp)
            if old is None:
                self._live_bytes += len(rec)
            elif old.metadata is not None and c.metadata is not None:
                self._live_bytes += len(c.metadata) - len(old.metadata)
            current[tp] = c
        self._maybe_compact()

    def delete(self, group: str, partitions: Iterable[TopicPartition]) -> None:
        offs = self._groups.get(group)
        if not offs:
            return
        records = []
        for topic, partition in partitions:
            if offs.pop((topic, partition), None) is not None:
                records.append(_frame(b"\x02" + _str(group) + _str(topic) + _I32.pack(partition)))
        if not offs:
            del self._groups[group]
        if records:
            self._append(records)
            self._maybe_compact()

    def delete_group(self, group: str) -> None:
        if self._groups.pop(group, None) is not None:
            self._append([_frame(b"\x03" + _str(group))])
            self._maybe_compact()

    def put_group_state(self, group: str, data: bytes | None) -> None:
        """A group's state blob (None drops it); durable on return like a commit."""
        if data is None and group not in self._states:
            return
        self._append([_frame(_state_body(group, data))])
        old = self._states.pop(group, None)
        if old is not None:
            self._live_bytes -= 8 + len(_state_body(group, old))
        if data is not None:
            self._states[group] = data
            self._live_bytes += 8 + len(_state_body(group, data))
        self._maybe_compact()

    def group_states(self) -> dict[str, bytes]:
        return dict(self._states)

    def delete_topic(self, topic: str) -> None:
        if self._drop_topic_in_memory(topic):
            self._append([_frame(b"\x04" + _str(topic))])
            self._maybe_compact()

    def _drop_topic_in_memory(self, topic: str) -> bool:
        dropped = False
        for group in list(self._groups):
            offs = self._groups[group]
            for tp in [tp for tp in offs if tp[0] == topic]:
                del offs[tp]
                dropped = True
            if not offs:
                del self._groups[group]
        return dropped

    # -- reads --------------------------------------------------------------
    def fetch(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        offs = self._groups.get(group)
        return offs.get((topic, partition)) if offs else None

    def group_offsets(self, group: str) -> dict[TopicPartition, CommittedOffset]:
        return self._groups.get(group, {})

    def groups(self) -> Iterator[str]:
        return iter(list(self._groups))

    def has_group(self, group: str) -> bool:
        return group in self._groups

    # -- maintenance ----------------------------------------------------------
    @property
    def log_bytes(self) -> int:
        return self._size

    def compact(self) -> None:
        """Rewrite the log with only live entries (temp file + rename)."""
        records = [
            _frame(_commit_body(g, t, p, c))
            for g, offs in self._groups.items() for (t, p), c in offs.items()
        ]
        records += [_frame(_state_body(g, d)) for g, d in self._states.items()]
        data = b"".join(records)
        atomic_write(self.path, data)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        log.info("compacted offsets log: %d -> %d bytes", self._size, len(data))
        self._size = len(data)
        self._live_bytes = len(data)

    def flush(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1
