"""Topics and their partition logs: names, ids, configs, create/alter/delete.

The table of what exists, kept in memory and in the metadata store
(`meta.json`) together.

Partition logs are lazy (storage.log.PartitionLog): creating a topic writes
only its row in the store (one rewrite per CreateTopics request, however
many topics it holds), and a partition's directory and first segment appear
when it is first used. At start-up the logs are listed, not opened; the log
manager opens them in slices after the broker accepts connections, and any
use opens one at once. `on_partition_open` hears of each opening (the core
rebuilds producer state there). Who else must hear of a deleted topic (producer
state, coordinators, committed offsets) is the core's business, not this
module's.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chronik.metadata.configs import ConfigError, TopicConfig, effective_topic_config, validate_topic_configs
from chronik.metadata.store import MetadataStore
from chronik.storage.log import LogConfig, PartitionLog
from chronik.wire.errors import ErrorCode, KafkaApiError

log = logging.getLogger("chronik.topics")

_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME = 249
# Kafka's MAX_PARTITIONS_PER_BATCH: the most partitions one CreateTopics or
# CreatePartitions request may create (PolicyViolation beyond it).
MAX_PARTITIONS_PER_REQUEST = 10_000
TOO_MANY_PARTITIONS = "Excessively large number of partitions per request."
# Closing more dirty partition logs than this syncs the file systems once instead.
_SYNC_ALL_ABOVE = 64


def topic_name_error(name: str | None) -> str | None:
    """Why `name` is not a legal topic name, or None if it is."""
    if not name:
        return "Topic name is empty"
    if name in (".", ".."):
        return f"Topic name cannot be {name!r}"
    if len(name) > MAX_TOPIC_NAME:
        return f"Topic name is longer than {MAX_TOPIC_NAME} characters"
    if not _LEGAL_TOPIC.match(name):
        return f"Topic name {name!r} has characters other than ASCII letters, digits, '.', '_', '-'"
    return None


@dataclass
class Topic:
    name: str
    topic_id: uuid.UUID
    configs: dict[str, str]  # overrides only, as stored
    partitions: list[PartitionLog] = field(default_factory=list)
    # Topic-level defaults set as dynamic broker configs (shared by every topic).
    defaults: dict[str, str] = field(default_factory=dict, repr=False)
    config: TopicConfig = field(init=False)  # typed, parsed once per change

    def __post_init__(self) -> None:
        self.reparse()

    def reparse(self) -> None:
        self.config = TopicConfig.parse({**self.defaults, **self.configs})
        for plog in self.partitions:
            plog.config = self.config.log_config()

    @property
    def effective_config(self) -> dict[str, str]:
        """Every config as a string, defaults included (DescribeConfigs)."""
        return effective_topic_config({**self.defaults, **self.configs})

    def partition(self, index: int) -> PartitionLog | None:
        return self.partitions[index] if 0 <= index < len(self.partitions) else None


class TopicTable:
    """Every topic by name and by id; reads like a dict of name -> Topic."""

    def __init__(self, data_dir: Path, store: MetadataStore) -> None:
        self.data_dir = data_dir
        self.store = store
        self._by_name: dict[str, Topic] = {}
        self.by_id: dict[uuid.UUID, Topic] = {}
        # Topic configs set as dynamic broker configs; one dict every Topic shares.
        self.defaults: dict[str, str] = {}
        # Names with '.' read as '_' -> the topic holding it (Kafka refuses collisions).
        self._normalized: dict[str, str] = {}
        # (topic, partition, log) once a lazy partition log has been opened.
        self.on_partition_open: Callable[[str, int, PartitionLog], None] | None = None
        self._opened_hook = self._opened  # one bound method shared by every log

    # -- the mapping ------------------------------------------------------------
    def get(self, name: str | None) -> Topic | None:
        return self._by_name.get(name)  # type: ignore[arg-type]

    def __getitem__(self, name: str) -> Topic:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def values(self):
        return self._by_name.values()

    def items(self):
        return self._by_name.items()

    def partition(self, topic: str, partition: int) -> PartitionLog | None:
        t = self._by_name.get(topic)
        return t.partition(partition) if t is not None else None

    def partition_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    # -- loading ------------------------------------------------------------------
    def load(self) -> list[tuple[str, int, PartitionLog]]:
        """List every partition log the store holds (lazy: opened on first use)."""
        listed = []
        for row in self.store.load_topics():
            topic = Topic(row["name"], uuid.UUID(row["id"]), dict(row.get("configs") or {}),
                          defaults=self.defaults)
            cfg = topic.config.log_config()
            for p in range(row["partitions"]):
                plog = self._log(topic.name, p, cfg)
                topic.partitions.append(plog)
                listed.append((topic.name, p, plog))
            self._add(topic)
        return listed

    def _log(self, name: str, partition: int, cfg: LogConfig) -> PartitionLog:
        return PartitionLog(self.partition_dir(name, partition), cfg, lazy=True, on_open=self._opened_hook)

    def _opened(self, plog: PartitionLog) -> None:
        # The directory names the partition (<topic>-<index>): no closure per log.
        name, _, index = plog.directory.name.rpartition("-")
        if self.on_partition_open is not None:
            self.on_partition_open(name, int(index), plog)

    def unopened(self) -> Iterator[PartitionLog]:
        """Partition logs not opened yet (the log manager opens them after start-up)."""
        for topic in list(self._by_name.values()):
            for plog in topic.partitions:
                if not plog.opened and not plog.closed:
                    yield plog

    def _add(self, topic: Topic) -> None:
        self._by_name[topic.name] = topic
        self.by_id[topic.topic_id] = topic
        self._normalized[topic.name.replace(".", "_")] = topic.name

    # -- admin ----------------------------------------------------------------------
    def check_new(self, name: str, num_partitions: int, configs: dict[str, str | None]) -> dict[str, str]:
        err = topic_name_error(name)
        if err:
            raise KafkaApiError(ErrorCode.INVALID_TOPIC_EXCEPTION, err)
        if name in self._by_name:
            raise KafkaApiError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        if self._collides(name):
            raise KafkaApiError(
                ErrorCode.INVALID_TOPIC_EXCEPTION,
                f"Topic '{name}' collides with an existing topic ('.' and '_' are interchangeable)",
            )
        if num_partitions < 1:
            raise KafkaApiError(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be at least 1.")
        if num_partitions > MAX_PARTITIONS_PER_REQUEST:
            raise KafkaApiError(ErrorCode.POLICY_VIOLATION, TOO_MANY_PARTITIONS)
        try:
            return validate_topic_configs(configs)
        except ConfigError as exc:
            raise KafkaApiError(ErrorCode(exc.code), exc.message) from None

    def _collides(self, name: str) -> bool:
        holder = self._normalized.get(name.replace(".", "_"))
        return holder is not None and holder != name

    def _new_logs(self, name: str, first: int, end: int, cfg: LogConfig) -> list[PartitionLog]:
        """Partition logs first..end-1 (lazy: nothing on disk until first used), all or none."""
        logs: list[PartitionLog] = []
        try:
            for p in range(first, end):
                d = self.partition_dir(name, p)
                if os.path.lexists(d):
                    shutil.rmtree(d)  # leftovers of a topic deleted while the broker was down
                logs.append(self._log(name, p, cfg))
        except OSError as exc:
            self._discard(logs)
            log.warning("cannot create partitions %d-%d of %s: %s", first, end - 1, name, exc)
            raise KafkaApiError(ErrorCode.KAFKA_STORAGE_ERROR,
                                f"Cannot create the partitions of {name}: {exc.strerror or exc}") from None
        return logs

    @staticmethod
    def _discard(logs: list[PartitionLog]) -> None:
        for plog in logs:
            try:
                plog.delete()
            except OSError:
                log.exception("cannot remove %s", plog.directory)

    def _save(self, topic: Topic, partitions: int, overrides: dict[str, str], new: list[PartitionLog]) -> None:
        """Write the topic's row; if that fails nothing changed, on disk or in memory."""
        try:
            self.store.save_topic(topic.name, str(topic.topic_id), partitions, overrides)
        except OSError as exc:
            self._discard(new)
            raise KafkaApiError(ErrorCode.KAFKA_STORAGE_ERROR,
                                f"Cannot record topic {topic.name}: {exc.strerror or exc}") from None

    def create(self, name: str, num_partitions: int, configs: dict[str, str | None] | None = None) -> Topic:
        result = self.create_many([(name, num_partitions, configs)])[0]
        if isinstance(result, KafkaApiError):
            raise result
        return result

    def create_many(
        self, specs: list[tuple[str, int, dict[str, str | None] | None]]
    ) -> list[Topic | KafkaApiError]:
        """Create topics (name, partitions, configs) with one metadata write; per topic: it, or why not.

        Topics that pass their checks are recorded together: if that write
        fails, none of them exists (each gets KAFKA_STORAGE_ERROR).
        """
        out: list[Topic | KafkaApiError] = []
        new: list[Topic] = []
        taken: set[str] = set()  # normalized names of this batch
        for name, num_partitions, configs in specs:
            try:
                overrides = self.check_new(name, num_partitions, configs or {})
                norm = name.replace(".", "_")
                if norm in taken:
                    raise KafkaApiError(
                        ErrorCode.INVALID_TOPIC_EXCEPTION,
                        f"Topic '{name}' collides with another topic of the request "
                        "('.' and '_' are interchangeable)",
                    )
                topic = Topic(name, uuid.uuid4(), overrides, defaults=self.defaults)
                topic.partitions.extend(self._new_logs(name, 0, num_partitions, topic.config.log_config()))
            except KafkaApiError as exc:
                out.append(exc)
                continue
            taken.add(norm)
            new.append(topic)
            out.append(topic)
        if not new:
            return out
        try:
            self.store.save_new_topics([
                {"name": t.name, "id": str(t.topic_id), "partitions": len(t.partitions), "configs": t.configs}
                for t in new
            ])
        except OSError as exc:
            for t in new:
                self._discard(t.partitions)
            failed = KafkaApiError(ErrorCode.KAFKA_STORAGE_ERROR,
                                   f"Cannot record the topics: {exc.strerror or exc}")
            return [failed if isinstance(o, Topic) else o for o in out]
        for t in new:
            self._add(t)
            log.info("created topic %s with %d partition(s)", t.name, len(t.partitions))
        return out

    def remove(self, name: str) -> Topic:
        topic = self._by_name.pop(name)
        self.by_id.pop(topic.topic_id, None)
        if self._normalized.get(name.replace(".", "_")) == name:
            del self._normalized[name.replace(".", "_")]
        self.store.delete_topic(name)
        for plog in topic.partitions:
            plog.delete()
        log.info("deleted topic %s", name)
        return topic

    def add_partitions(self, name: str, total: int) -> None:
        topic = self._by_name[name]
        new = self._new_logs(name, len(topic.partitions), total, topic.config.log_config())
        self._save(topic, total, topic.configs, new)
        topic.partitions.extend(new)

    def set_configs(self, name: str, overrides: dict[str, str]) -> None:
        topic = self._by_name[name]
        topic.configs = overrides
        topic.reparse()
        self.store.save_topic(name, str(topic.topic_id), len(topic.partitions), overrides)

    def set_defaults(self, defaults: dict[str, str]) -> None:
        """New topic defaults from dynamic broker configs, applied to every topic now."""
        self.defaults.clear()
        self.defaults.update(defaults)
        for topic in self._by_name.values():
            topic.reparse()

    def close(self) -> None:
        logs = [plog for topic in self._by_name.values() for plog in topic.partitions]
        dirty = [plog for plog in logs if plog.dirty]
        if len(dirty) > _SYNC_ALL_ABOVE and hasattr(os, "sync"):
            # One sync() instead of an fsync per partition: 10,000 fsyncs took
            # ~20 s on a busy disk, the kernel writes them back together in one.
            os.sync()
            for plog in dirty:
                plog.dirty = False
        for plog in logs:
            try:
                if plog.dirty:
                    plog.flush()
                plog.close()
            except Exception:
                log.exception("closing %s failed", plog.directory)
