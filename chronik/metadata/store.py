"""The metadata file (`DIR/meta.json`): topics, their configs and ids, producer id blocks.

TinyDB keeps the data; our storage class writes every change to a temp
file, fsyncs it and renames it over the old one, so a crash leaves either
the old or the new file. Changes here are rare (topic admin), which is why
a whole-file rewrite per change is fine; high-rate state lives elsewhere.

The storage keeps the last content it read or wrote in memory: TinyDB reads
the whole file before every change, which made creating the 1,000th topic
parse 999 rows (and 1,000 topics ~0.1 s of JSON each). A CreateTopics request
writes all its topics in one rewrite (``save_new_topics``).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from chronik.storage.atomic import atomic_write

META_FILE = "meta.json"
PRODUCER_ID_BLOCK = 1000


class MetadataError(Exception):
    """The metadata file cannot be read."""


class AtomicJSONStorage(Storage):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # What the file holds (we are its only writer); None: read it.
        self._cache: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._cache is not None:
            return self._cache
        self._cache = self._read_file()
        return self._cache

    def _read_file(self) -> dict[str, Any] | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise MetadataError(f"metadata file {self.path} is damaged ({exc}); "
                                f"restore it from a backup or move it away to start empty") from None

    def write(self, data: dict[str, Any]) -> None:
        try:
            atomic_write(self.path, json.dumps(data, separators=(",", ":"), sort_keys=True))
        except BaseException:
            # TinyDB changed the dict we handed it before writing: forget it,
            # the file still holds the truth.
            self._cache = None
            raise
        self._cache = data

    def close(self) -> None:
        pass


class MetadataStore:
    def __init__(self, data_dir: Path) -> None:
        self.db = TinyDB(data_dir / META_FILE, storage=AtomicJSONStorage)
        self.topics_table = self.db.table("topics")
        self.meta_table = self.db.table("meta")
        self._next_pid = 0
        self._pid_limit = 0

    # -- cluster identity -------------------------------------------------
    def cluster_id(self) -> str:
        row = self.meta_table.get(Query().key == "cluster_id")
        if row is None:
            cid = uuid.uuid4().hex[:22]
            self.meta_table.insert({"key": "cluster_id", "value": cid})
            return cid
        return row["value"]

    # -- topics -----------------------------------------------------------
    def load_topics(self) -> list[dict[str, Any]]:
        return list(self.topics_table.all())

    def save_topic(self, name: str, topic_id: str, partitions: int, configs: dict[str, str]) -> None:
        self.topics_table.upsert(
            {"name": name, "id": topic_id, "partitions": partitions, "configs": configs},
            Query().name == name,
        )

    def save_new_topics(self, rows: list[dict[str, Any]]) -> None:
        """Add topics (name, id, partitions, configs) that are not in the store, in one write."""
        self.topics_table.insert_multiple(rows)

    def delete_topic(self, name: str) -> None:
        self.topics_table.remove(Query().name == name)

    # -- dynamic broker configs --------------------------------------------
    def load_broker_configs(self) -> dict[str, dict[str, str]]:
        """Scope ("" for the cluster-wide default, or a broker id) -> config overrides."""
        row = self.meta_table.get(Query().key == "broker_configs")
        return {scope: dict(cfg) for scope, cfg in (row["value"] if row else {}).items()}

    def save_broker_configs(self, configs: dict[str, dict[str, str]]) -> None:
        self.meta_table.upsert({"key": "broker_configs", "value": configs}, Query().key == "broker_configs")

    # -- security: SCRAM credentials (salted and hashed) and ACLs ---------------
    def load_scram_credentials(self) -> dict[str, dict[str, dict[str, Any]]]:
        row = self.meta_table.get(Query().key == "scram_credentials")
        return dict(row["value"]) if row else {}

    def save_scram_credentials(self, users: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.meta_table.upsert({"key": "scram_credentials", "value": users}, Query().key == "scram_credentials")

    def load_acls(self) -> list[list[Any]]:
        row = self.meta_table.get(Query().key == "acls")
        return list(row["value"]) if row else []

    def save_acls(self, acls: list[list[Any]]) -> None:
        self.meta_table.upsert({"key": "acls", "value": acls}, Query().key == "acls")

    # -- group configs (KIP-848) -----------------------------------------------
    def load_group_configs(self) -> dict[str, dict[str, str]]:
        row = self.meta_table.get(Query().key == "group_configs")
        return {g: dict(cfg) for g, cfg in (row["value"] if row else {}).items()}

    def save_group_configs(self, configs: dict[str, dict[str, str]]) -> None:
        self.meta_table.upsert({"key": "group_configs", "value": configs}, Query().key == "group_configs")

    # -- producer ids -----------------------------------------------------
    def next_producer_id(self) -> int:
        """Hand out producer ids, persisting only one block reservation per 1000."""
        if self._next_pid >= self._pid_limit:
            q = Query().key == "producer_id_block"
            row = self.meta_table.get(q)
            start = row["value"] if row else 0
            self.meta_table.upsert({"key": "producer_id_block", "value": start + PRODUCER_ID_BLOCK}, q)
            self._next_pid, self._pid_limit = start, start + PRODUCER_ID_BLOCK
        pid = self._next_pid
        self._next_pid += 1
        return pid

    def close(self) -> None:
        self.db.close()
