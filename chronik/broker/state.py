"""The state every handler shares: topics and their logs, producers, purgatory."""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chronik.broker.config import BrokerConfig
from chronik.broker.producers import ProducerStateManager
from chronik.broker.purgatory import Purgatory
from chronik.metadata.configs import effective_topic_config, validate_topic_configs
from chronik.metadata.store import MetadataStore
from chronik.storage.log import LogConfig, PartitionLog
from chronik.wire.errors import ErrorCode, KafkaApiError

log = logging.getLogger("chronik.broker")

_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME = 249


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


class BrokerState:
    def __init__(self, config: BrokerConfig, clock: Any) -> None:
        self.config = config
        self.data_dir = Path(config.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = MetadataStore(self.data_dir)
        self.cluster_id = self.store.cluster_id()
        self.purgatory = Purgatory(clock)
        self.producers = ProducerStateManager(self.store)
        self.topics: dict[str, Topic] = {}
        self.topics_by_id: dict[uuid.UUID, Topic] = {}
        # Components registered by later modules (groups, transactions...).
        self.extensions: dict[str, Any] = {}
        self._load_topics()

    # -- loading ------------------------------------------------------------
    def _load_topics(self) -> None:
        for row in self.store.load_topics():
            topic = Topic(row["name"], uuid.UUID(row["id"]), dict(row.get("configs") or {}))
            cfg = log_config_from(topic.effective_config)
            for p in range(row["partitions"]):
                plog = PartitionLog(self.partition_dir(topic.name, p), cfg)
                topic.partitions.append(plog)
                self.producers.rebuild(topic.name, p, plog)
            self.topics[topic.name] = topic
            self.topics_by_id[topic.topic_id] = topic

    def partition_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    # -- lookups ------------------------------------------------------------
    def partition(self, topic: str, partition: int) -> PartitionLog | None:
        t = self.topics.get(topic)
        if t is None or not 0 <= partition < len(t.partitions):
            return None
        return t.partitions[partition]

    # -- topic admin ----------------------------------------------------------
    def check_new_topic(self, name: str, num_partitions: int, configs: dict[str, str | None]) -> dict[str, str]:
        err = topic_name_error(name)
        if err:
            raise KafkaApiError(ErrorCode.INVALID_TOPIC_EXCEPTION, err)
        if name in self.topics:
            raise KafkaApiError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        if self._collides(name):
            raise KafkaApiError(
                ErrorCode.INVALID_TOPIC_EXCEPTION,
                f"Topic '{name}' collides with an existing topic ('.' and '_' are interchangeable)",
            )
        if num_partitions < 1:
            raise KafkaApiError(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be at least 1.")
        if num_partitions > 100_000:
            raise KafkaApiError(ErrorCode.INVALID_PARTITIONS, "Too many partitions.")
        return validate_topic_configs(configs)

    def _collides(self, name: str) -> bool:
        norm = name.replace(".", "_")
        return any(t.replace(".", "_") == norm for t in self.topics if t != name)

    def create_topic(self, name: str, num_partitions: int, configs: dict[str, str | None] | None = None) -> Topic:
        overrides = self.check_new_topic(name, num_partitions, configs or {})
        topic = Topic(name, uuid.uuid4(), overrides)
        cfg = log_config_from(topic.effective_config)
        for p in range(num_partitions):
            d = self.partition_dir(name, p)
            if d.exists():
                shutil.rmtree(d)  # leftovers of a topic deleted while the broker was down
            topic.partitions.append(PartitionLog(d, cfg))
        self.store.save_topic(name, str(topic.topic_id), num_partitions, overrides)
        self.topics[name] = topic
        self.topics_by_id[topic.topic_id] = topic
        log.info("created topic %s with %d partition(s)", name, num_partitions)
        return topic

    def auto_create(self, name: str) -> Topic:
        return self.create_topic(name, self.config.default_partitions)

    def delete_topic(self, name: str) -> None:
        topic = self.topics.pop(name)
        self.topics_by_id.pop(topic.topic_id, None)
        self.store.delete_topic(name)
        for p, plog in enumerate(topic.partitions):
            plog.delete()
            self.producers.drop_partition(name, p)
        for hook in self.extensions.get("on_topic_deleted", []):
            hook(name)
        log.info("deleted topic %s", name)

    def add_partitions(self, name: str, total: int) -> None:
        topic = self.topics[name]
        cfg = log_config_from(topic.effective_config)
        for p in range(len(topic.partitions), total):
            d = self.partition_dir(name, p)
            if d.exists():
                shutil.rmtree(d)
            topic.partitions.append(PartitionLog(d, cfg))
        self.store.save_topic(name, str(topic.topic_id), total, topic.configs)

    def set_topic_configs(self, name: str, overrides: dict[str, str]) -> None:
        topic = self.topics[name]
        topic.configs = overrides
        cfg = log_config_from(topic.effective_config)
        for plog in topic.partitions:
            plog.config = cfg
        self.store.save_topic(name, str(topic.topic_id), len(topic.partitions), overrides)

    # -- shutdown -------------------------------------------------------------
    def close(self) -> None:
        self.purgatory.cancel_all()
        for hook in self.extensions.get("on_close", []):
            try:
                hook()
            except Exception:
                log.exception("close hook failed")
        for topic in self.topics.values():
            for plog in topic.partitions:
                try:
                    plog.flush()
                    plog.close()
                except Exception:
                    log.exception("closing %s failed", plog.directory)
        self.store.close()
