"""Transaction metadata, its state table, and its log (DIR/__transaction_state/transactions.log).

Life of a transaction (Kafka's states, names as DescribeTransactions shows them):

    Empty --AddPartitions/AddOffsets--> Ongoing --EndTxn--> PrepareCommit|PrepareAbort
      ^                                                        |  markers written
      +----- InitProducerId (epoch bump) <-- CompleteCommit|CompleteAbort

Every state change goes through `TxnMetadata.transition`, which refuses one
that `TRANSITIONS` does not list (as h11 and the group coordinator do).

`transactions.log` holds one JSON line per state change with the whole
metadata of one transactional id (the last line for an id wins), like
Kafka's __transaction_state topic. A torn last line is dropped at load; the
file is rewritten with only the live entries when it has grown well past
them. Offsets sent with TxnOffsetCommit live in the metadata until commit,
so an ongoing transaction survives a restart with its offsets.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from chronik.storage.atomic import atomic_write

log = logging.getLogger("chronik.transactions")

STATE_DIR = "__transaction_state"
STATE_FILE = "transactions.log"
# Rewrite the state log once it holds this many lines more than live entries.
COMPACT_SLACK = 1000

TopicPartition = tuple[str, int]
# (offset, metadata, leader epoch), the form the offsets store takes.
OffsetValue = tuple[int, str | None, int]


class TxnState(StrEnum):
    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    DEAD = "Dead"
    PREPARE_EPOCH_FENCE = "PrepareEpochFence"


STATE_NAMES = {s.value for s in TxnState}

S = TxnState
# state -> the states it may be entered from (Kafka's TransactionState.validPreviousStates).
TRANSITIONS: dict[TxnState, frozenset[TxnState]] = {
    S.EMPTY: frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.ONGOING: frozenset({S.ONGOING, S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.PREPARE_COMMIT: frozenset({S.ONGOING}),
    S.PREPARE_ABORT: frozenset({S.ONGOING, S.PREPARE_EPOCH_FENCE}),
    S.COMPLETE_COMMIT: frozenset({S.PREPARE_COMMIT}),
    S.COMPLETE_ABORT: frozenset({S.PREPARE_ABORT}),
    S.DEAD: frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.PREPARE_EPOCH_FENCE: frozenset({S.ONGOING}),
}


class IllegalTxnTransition(RuntimeError):
    """A bug: the coordinator tried a state change the table does not allow."""


@dataclass
class TxnMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState = TxnState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    # group -> (topic, partition) -> offset committed in the transaction, visible on commit only
    pending_offsets: dict[str, dict[TopicPartition, OffsetValue]] = field(default_factory=dict)
    # First offset the transaction wrote per partition. The producer state can
    # miss it after a crash (it replays only the last segment without a
    # snapshot); start-up restores it from here.
    first_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    start_ms: int = -1
    update_ms: int = -1
    # The id/epoch before the last bump: a retried InitProducerId carries them.
    last_producer_id: int = -1
    last_producer_epoch: int = -1

    def transition(self, new: TxnState) -> None:
        if self.state not in TRANSITIONS[new]:
            raise IllegalTxnTransition(
                f"transactional id {self.transactional_id!r}: {self.state.value} -> {new.value}"
            )
        self.state = new

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.transactional_id,
            "pid": self.producer_id,
            "epoch": self.producer_epoch,
            "timeout": self.timeout_ms,
            "state": self.state.value,
            "parts": sorted([t, p] for t, p in self.partitions),
            "groups": sorted(self.groups),
            "offsets": {
                g: [[t, p, o, m, e] for (t, p), (o, m, e) in offs.items()]
                for g, offs in self.pending_offsets.items()
            },
            "first": sorted([t, p, o] for (t, p), o in self.first_offsets.items()),
            "start": self.start_ms,
            "update": self.update_ms,
            "last_pid": self.last_producer_id,
            "last_epoch": self.last_producer_epoch,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TxnMetadata:
        return cls(
            transactional_id=d["id"],
            producer_id=d["pid"],
            producer_epoch=d["epoch"],
            timeout_ms=d["timeout"],
            state=TxnState(d["state"]),
            partitions={(t, p) for t, p in d.get("parts", [])},
            groups=set(d.get("groups", [])),
            pending_offsets={
                g: {(t, p): (o, m, e) for t, p, o, m, e in offs}
                for g, offs in d.get("offsets", {}).items()
            },
            first_offsets={(t, p): o for t, p, o in d.get("first", [])},
            start_ms=d.get("start", -1),
            update_ms=d.get("update", -1),
            last_producer_id=d.get("last_pid", -1),
            last_producer_epoch=d.get("last_epoch", -1),
        )


# -- persistence ------------------------------------------------------------------


class TxnStateLog:
    """Append-only JSON lines of transaction metadata; the last line per id wins."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / STATE_FILE
        self.lines = 0
        self._fd: int | None = None

    def load(self) -> dict[str, TxnMetadata]:
        entries: dict[str, TxnMetadata] = {}
        good = 0
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn tail: written partially when the process died
            try:
                d = json.loads(line)
                meta = TxnMetadata.from_json(d)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("transaction state log: dropping unreadable tail at byte %d (%s)", good, exc)
                break
            good += len(line)
            self.lines += 1
            if meta.state is TxnState.DEAD:
                entries.pop(meta.transactional_id, None)
            else:
                entries[meta.transactional_id] = meta
        if good < len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        self._open()
        return entries

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, meta: TxnMetadata) -> None:
        # One write() per change: once it returns the change survives the process dying.
        assert self._fd is not None
        os.write(self._fd, json.dumps(meta.to_json(), separators=(",", ":")).encode() + b"\n")
        self.lines += 1

    def maybe_compact(self, live: dict[str, TxnMetadata]) -> None:
        if self.lines <= 2 * len(live) + COMPACT_SLACK:
            return
        entries = list(live.values())
        atomic_write(self.path, b"".join(
            json.dumps(meta.to_json(), separators=(",", ":")).encode() + b"\n" for meta in entries))
        self.close()
        self._open()
        self.lines = len(entries)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
