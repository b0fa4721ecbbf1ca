"""Topics and their partition logs: names, ids, configs, create/alter/delete.

The table of what exists, kept in memory and in the metadata store
(`meta.json`) together. Who else must hear of a deleted topic (producer
state, coordinators, committed offsets) is the core's business, not this
module's.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chronik.metadata.configs import effective_topic_config, validate_topic_configs
from chronik.metadata.store import MetadataStore
from chronik.storage.log import LogConfig, PartitionLog
from chronik.wire.errors import ErrorCode, KafkaApiError

log = logging.getLogger("chronik.topics")

_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME = 249
# More partitions than this in one topic is refused (Kafka has no fixed limit;
# this keeps one request from exhausting file descriptors).
MAX_PARTITIONS = 100_000


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


def log_config_from(effective: dict[str, str]) -> LogConfig:
    flush = int(effective["flush.messages"])
    return LogConfig(
        segment_bytes=int(effective["segment.bytes"]),
        segment_ms=int(effective["segment.ms"]),
        index_interval_bytes=int(effective["index.interval.bytes"]),
        max_message_bytes=int(effective["max.message.bytes"]),
        message_timestamp_type=effective["message.timestamp.type"],
        flush_messages=None if flush >= 2**62 else flush,
    )


@dataclass
class Topic:
    name: str
    topic_id: uuid.UUID
    configs: dict[str, str]  # overrides only
    partitions: list[PartitionLog] = field(default_factory=list)

    @property
    def effective_config(self) -> dict[str, str]:
        return effective_topic_config(self.configs)

    def partition(self, index: int) -> PartitionLog | None:
        return self.partitions[index] if 0 <= index < len(self.partitions) else None


class TopicTable:
    """Every topic by name and by id; reads like a dict of name -> Topic."""

    def __init__(self, data_dir: Path, store: MetadataStore) -> None:
        self.data_dir = data_dir
        self.store = store
        self._by_name: dict[str, Topic] = {}
        self.by_id: dict[uuid.UUID, Topic] = {}

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
        """Open every partition log the store lists; returns them for the producer state."""
        opened = []
        for row in self.store.load_topics():
            topic = Topic(row["name"], uuid.UUID(row["id"]), dict(row.get("configs") or {}))
            cfg = log_config_from(topic.effective_config)
            for p in range(row["partitions"]):
                plog = PartitionLog(self.partition_dir(topic.name, p), cfg)
                topic.partitions.append(plog)
                opened.append((topic.name, p, plog))
            self._add(topic)
        return opened

    def _add(self, topic: Topic) -> None:
        self._by_name[topic.name] = topic
        self.by_id[topic.topic_id] = topic

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
        if num_partitions > MAX_PARTITIONS:
            raise KafkaApiError(ErrorCode.INVALID_PARTITIONS, "Too many partitions.")
        return validate_topic_configs(configs)

    def _collides(self, name: str) -> bool:
        norm = name.replace(".", "_")
        return any(t.replace(".", "_") == norm for t in self._by_name if t != name)

    def _new_log(self, name: str, p: int, cfg: LogConfig) -> PartitionLog:
        d = self.partition_dir(name, p)
        if d.exists():
            shutil.rmtree(d)  # leftovers of a topic deleted while the broker was down
        return PartitionLog(d, cfg)

    def create(self, name: str, num_partitions: int, configs: dict[str, str | None] | None = None) -> Topic:
        overrides = self.check_new(name, num_partitions, configs or {})
        topic = Topic(name, uuid.uuid4(), overrides)
        cfg = log_config_from(topic.effective_config)
        topic.partitions.extend(self._new_log(name, p, cfg) for p in range(num_partitions))
        self.store.save_topic(name, str(topic.topic_id), num_partitions, overrides)
        self._add(topic)
        log.info("created topic %s with %d partition(s)", name, num_partitions)
        return topic

    def remove(self, name: str) -> Topic:
        topic = self._by_name.pop(name)
        self.by_id.pop(topic.topic_id, None)
        self.store.delete_topic(name)
        for plog in topic.partitions:
            plog.delete()
        log.info("deleted topic %s", name)
        return topic

    def add_partitions(self, name: str, total: int) -> None:
        topic = self._by_name[name]
        cfg = log_config_from(topic.effective_config)
        topic.partitions.extend(self._new_log(name, p, cfg) for p in range(len(topic.partitions), total))
        self.store.save_topic(name, str(topic.topic_id), total, topic.configs)

    def set_configs(self, name: str, overrides: dict[str, str]) -> None:
        topic = self._by_name[name]
        topic.configs = overrides
        cfg = log_config_from(topic.effective_config)
        for plog in topic.partitions:
            plog.config = cfg
        self.store.save_topic(name, str(topic.topic_id), len(topic.partitions), overrides)

    def close(self) -> None:
        for topic in self._by_name.values():
            for plog in topic.partitions:
                try:
                    plog.flush()
                    plog.close()
                except Exception:
                    log.exception("closing %s failed", plog.directory)
