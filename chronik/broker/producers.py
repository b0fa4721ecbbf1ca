"""Idempotent producers: producer ids, epochs and per-partition sequence tracking.

For each partition and producer id we keep the epoch and the last five
batches (first/last sequence and offsets), as Kafka does. A retried batch
that matches one of them is answered with its original offsets instead of
being written twice; a gap in sequences is OUT_OF_ORDER_SEQUENCE_NUMBER; an
older epoch is INVALID_PRODUCER_EPOCH.

The state changes with every produce, so it is not written to the metadata
file. It is saved as a snapshot (`producer-state.json`) on shutdown and
periodically, and what the log holds past the snapshot is replayed from
batch headers at start-up, like Kafka's producer-state snapshots.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chronik.storage.atomic import atomic_write
from chronik.storage.batch import BatchInfo, iter_batches
from chronik.storage.control import COORDINATOR_EPOCH
from chronik.wire.errors import ErrorCode

if TYPE_CHECKING:
    from chronik.metadata.store import MetadataStore
    from chronik.storage.log import PartitionLog

log = logging.getLogger("chronik.producers")

MAX_CACHED_BATCHES = 5
SNAPSHOT_FILE = "producer-state.json"
_INT32_MAX = 2**31 - 1


@dataclass(slots=True)
class CachedBatch:
    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int


@dataclass
class ProducerEntry:
    epoch: int
    batches: deque[CachedBatch] = field(default_factory=lambda: deque(maxlen=MAX_CACHED_BATCHES))
    last_timestamp: int = -1
    # Offset of the first record of an open transaction on this partition (None: none open).
    txn_first_offset: int | None = None
    # Coordinator epoch of the last transaction marker written for it here (-1: none yet).
    coordinator_epoch: int = -1


def _next_seq(seq: int, count: int) -> int:
    return (seq + count) % (_INT32_MAX + 1)


class ProducerStateManager:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.snapshot_path = Path(store.db.storage.path).with_name(SNAPSHOT_FILE)
        # (topic, partition) -> producer id -> entry
        self.partitions: dict[tuple[str, int], dict[int, ProducerEntry]] = {}
        self._snapshot = self._load_snapshot()

    def allocate_producer_id(self) -> int:
        return self.store.next_producer_id()

    # -- the produce path -----------------------------------------------------
    def check(self, topic: str, partition: int, b: BatchInfo) -> tuple[ErrorCode, CachedBatch | None]:
        """Decide about one batch before it is appended.

        Returns (NONE, None) to append, (NONE, cached) for a duplicate that
        must be answered with the cached offsets, or an error code.
        """
        if b.producer_id < 0:
            return ErrorCode.NONE, None
        entry = self.partitions.get((topic, partition), {}).get(b.producer_id)
        if entry is None:
            # Unknown producer (new, or its state was lost with old segments): accept.
            return ErrorCode.NONE, None
        if b.producer_epoch < entry.epoch:
            return ErrorCode.INVALID_PRODUCER_EPOCH, None
        if b.is_control:
            return ErrorCode.NONE, None
        if b.producer_epoch > entry.epoch:
            if b.base_sequence != 0:
                return ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, None
            return ErrorCode.NONE, None
        last_seq = _next_seq(b.base_sequence, b.last_offset_delta)
        for cached in entry.batches:
            if cached.first_seq == b.base_sequence and cached.last_seq == last_seq:
                return ErrorCode.NONE, cached
        if entry.batches:
            expected = _next_seq(entry.batches[-1].last_seq, 1)
            if b.base_sequence != expected:
                return ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, None
        return ErrorCode.NONE, None

    def update(self, topic: str, partition: int, b: BatchInfo, base_offset: int) -> None:
        """Record an appended batch (base_offset is the offset it was given)."""
        if b.producer_id < 0:
            return
        producers = self.partitions.setdefault((topic, partition), {})
        entry = producers.get(b.producer_id)
        if entry is None or b.producer_epoch > entry.epoch:
            txn = entry.txn_first_offset if entry is not None else None
            marker_epoch = entry.coordinator_epoch if entry is not None else -1
            entry = ProducerEntry(epoch=b.producer_epoch, txn_first_offset=txn, coordinator_epoch=marker_epoch)
            producers[b.producer_id] = entry
        entry.last_timestamp = b.max_timestamp
        if b.is_control:
            entry.txn_first_offset = None
            entry.coordinator_epoch = COORDINATOR_EPOCH  # one coordinator, whose epoch never moves
            return
        if b.is_transactional and entry.txn_first_offset is None:
            entry.txn_first_offset = base_offset
        if b.base_sequence >= 0:
            entry.batches.append(
                CachedBatch(
                    b.base_sequence,
                    _next_seq(b.base_sequence, b.last_offset_delta),
                    base_offset,
                    base_offset + b.last_offset_delta,
                )
            )

    def producers_of(self, topic: str, partition: int) -> dict[int, ProducerEntry]:
        return self.partitions.get((topic, partition), {})

    def drop_partition(self, topic: str, partition: int) -> None:
        self.partitions.pop((topic, partition), None)

    # -- snapshots --------------------------------------------------------------
    def _load_snapshot(self) -> dict[str, dict]:
        try:
            return json.loads(self.snapshot_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable producer state snapshot: %s", exc)
            return {}

    def rebuild(self, topic: str, partition: int, plog: PartitionLog) -> None:
        """Restore a partition's producers from the snapshot, then replay the log past it."""
        key = f"{topic}-{partition}"
        snap = self._snapshot.get(key)
        start = plog.log_start_offset
        producers: dict[int, ProducerEntry] = {}
        if snap is not None and snap.get("end_offset", -1) <= plog.log_end_offset:
            for pid, e in snap["producers"].items():
                entry = ProducerEntry(epoch=e["epoch"], last_timestamp=e.get("ts", -1),
                                      txn_first_offset=e.get("txn"), coordinator_epoch=e.get("ce", -1))
                for fs, ls, bo, lo in e["batches"]:
                    entry.batches.append(CachedBatch(fs, ls, bo, lo))
                producers[int(pid)] = entry
            start = max(start, snap["end_offset"])
        else:
            segs = plog.segments
            if segs:
                start = max(start, segs[-1].base_offset)
        if producers:
            self.partitions[(topic, partition)] = producers
        else:
            # No entry for a partition without producers (update() adds one):
            # an empty dict and its key were ~220 bytes x every partition.
            self.partitions.pop((topic, partition), None)
        self._replay(topic, partition, plog, start)

    def _replay(self, topic: str, partition: int, plog: PartitionLog, offset: int) -> None:
        for b, _data in iter_batches(plog, offset):
            self.update(topic, partition, b, b.base_offset)

    def snapshot(self, end_offsets: dict[tuple[str, int], int], unchanged: Iterable[str] = ()) -> None:
        """Write the state of the partitions in `end_offsets`; `unchanged` ones ("topic-p") keep the last."""
        data = {key: self._snapshot[key] for key in unchanged if key in self._snapshot}
        empty: dict[int, ProducerEntry] = {}
        for (topic, partition), end in end_offsets.items():
            # Every partition, with producers or not: its end offset spares a
            # replay of the active segment at the next start.
            producers = self.partitions.get((topic, partition), empty)
            data[f"{topic}-{partition}"] = {
                "end_offset": end,
                "producers": {
                    str(pid): {
                        "epoch": e.epoch,
                        "ts": e.last_timestamp,
                        "txn": e.txn_first_offset,
                        "ce": e.coordinator_epoch,
                        "batches": [[c.first_seq, c.last_seq, c.base_offset, c.last_offset]
                                    for c in e.batches],
                    }
                    for pid, e in producers.items()
                },
            }
        atomic_write(self.snapshot_path, json.dumps(data, separators=(",", ":")))
