"""One topic's search index on disk: `DIR/.search/<topic>/` (tantivy files + `chronik-search.json`).

The index is derived data. Its state file says which topic (by id, so a
topic deleted and created again under the same name starts afresh), the
schema version, and per partition the offset it has indexed up to. The
state is written (atomically) only after a tantivy commit has returned, so
it never claims more than the commit holds; at open the resume point of a
partition is max(state, largest indexed offset + 1) -- exact whatever the
crash, hence no duplicate documents after a restart.

An index that cannot be opened (damaged or missing files, another schema
version, another topic id) is removed and rebuilt from the log.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import tantivy

from chronik.search.schema import SCHEMA_VERSION, build_schema
from chronik.storage.atomic import tmp_path

__all__ = ["INDEX_ROOT", "STATE_FILE", "TopicIndex", "index_dir"]

log = logging.getLogger("chronik.search")

INDEX_ROOT = ".search"
STATE_FILE = "chronik-search.json"
# The writer's indexing heap: a segment is flushed when it is full. 16 MB made
# ~3x more segments (and merges) than 32 MB for 1 KiB JSON records: 63 -> 41 us
# of CPU per record (bench in the commit); the heap is freed with an idle writer.
WRITER_HEAP = 32_000_000
# tantivy's queue between add_document and its indexing thread holds 10,000
# documents, and add_document blocks when it is full -- holding the GIL, so the
# event loop would wait on tantivy. Committing before that many are queued
# (commit waits with the GIL released) means add_document never blocks.
MAX_UNCOMMITTED_DOCS = 8_000


def index_dir(data_dir: Path, topic: str) -> Path:
    return Path(data_dir) / INDEX_ROOT / topic


def _meta_stamp(directory: Path) -> tuple[int, int, int] | None:
    """What changes when tantivy publishes new segments (a commit or the end of a merge):
    meta.json is replaced atomically (new inode)."""
    try:
        st = os.stat(directory / "meta.json")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _manual_reload(index: tantivy.Index) -> None:
    """Searchers see a commit when commit() reloads them, not via tantivy's meta.json
    watcher thread (one per index, polling): the indexer is the only writer."""
    index.config_reader("manual")
    index.reload()


class TopicIndex:
    """A topic's tantivy index, its writer (one thread: the indexer) and its progress."""

    def __init__(self, directory: Path, topic: str, topic_id: str, schema: tantivy.Schema | None = None) -> None:
        self.directory = Path(directory)
        self.topic = topic
        self.topic_id = topic_id
        self.schema = schema or build_schema()
        self.indexed_to: dict[int, int] = {}  # partition -> next offset to index
        self.pruned_below: dict[int, int] = {}  # partition -> log start whose older docs are deleted
        self.compaction_seen: dict[int, str] = {}  # partition -> signature of the checked segments
        self.rebuilt = False
        self._lock = threading.Lock()  # writer/commit vs readers' reload
        self._writer: tantivy.IndexWriter | None = None
        self.pending = 0
        self.pending_docs = 0
        self._last_write = time.monotonic()
        self.index = self._open()
        self._loaded = _meta_stamp(self.directory)  # the meta.json the searchers see

    # -- opening ------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.directory / STATE_FILE

    def _open(self) -> tantivy.Index:
        state = None
        try:
            state = json.loads(self._state_path().read_text())
        except (FileNotFoundError, ValueError):
            state = None
        ok = (
            state is not None
            and state.get("topic_id") == self.topic_id
            and state.get("schema_version") == SCHEMA_VERSION
            and (self.directory / "meta.json").exists()
        )
        if ok:
            try:
                index = tantivy.Index(self.schema, path=str(self.directory), reuse=True)
                _manual_reload(index)
                searcher = index.searcher()
                self.indexed_to = {int(p): int(o) for p, o in state.get("indexed_to", {}).items()}
                self.pruned_below = {int(p): int(o) for p, o in state.get("pruned_below", {}).items()}
                self._resume_points(index, searcher)
                return index
            except Exception as exc:  # tantivy raises ValueError/OSError on damaged files
                log.warning("search index of %s is damaged (%s): rebuilding it from the log", self.topic, exc)
        elif self.directory.exists():
            log.warning("search index of %s is missing or stale: rebuilding it from the log", self.topic)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.indexed_to, self.pruned_below = {}, {}
        self.rebuilt = True
        index = tantivy.Index(self.schema, path=str(self.directory), reuse=False)
        _manual_reload(index)
        self._write_state()
        return index

    def _resume_points(self, index: tantivy.Index, searcher: tantivy.Searcher) -> None:
        """Move each partition's resume point past the largest offset a commit holds."""
        partitions = set(self.indexed_to)
        if searcher.num_docs:
            for p in range(0, 1 + max([*partitions, 0, *self._partitions_in(index, searcher)])):
                q = tantivy.Query.term_query(self.schema, "partition", p)
                res = searcher.search(q, 1, count=False, order_by_field="offset", order=tantivy.Order.Desc)
                if res.hits:
                    top = searcher.fast_field_values("offset", [res.hits[0][1]])[0]
                    self.indexed_to[p] = max(self.indexed_to.get(p, 0), top + 1)

    def _partitions_in(self, index: tantivy.Index, searcher: tantivy.Searcher) -> list[int]:
        res = searcher.search(tantivy.Query.all_query(), 1, count=False, order_by_field="partition",
                              order=tantivy.Order.Desc)
        return [searcher.fast_field_values("partition", [res.hits[0][1]])[0]] if res.hits else []

    def _write_state(self) -> None:
        """Replace the state file (write + rename), without fsync.

        tantivy's commit has made the documents durable already; this file only
        adds progress past skipped records and the pruned log start. After a
        power loss an older state is still exact (resume is max(state, largest
        indexed offset + 1)) and an empty or torn one makes the index rebuild
        from the log. Two fsyncs per commit were 10-25 ms of every commit (so
        of produce -> searchable) on this disk.
        """
        path = self._state_path()
        tmp = tmp_path(path)
        tmp.write_text(json.dumps({
            "topic": self.topic,
            "topic_id": self.topic_id,
            "schema_version": SCHEMA_VERSION,
            "indexed_to": {str(p): o for p, o in sorted(self.indexed_to.items())},
            "pruned_below": {str(p): o for p, o in sorted(self.pruned_below.items())},
        }, indent=1) + "\n")
        os.replace(tmp, path)

    # -- writing (the indexer thread only) -------------------------------------------
    @property
    def writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self.index.writer(WRITER_HEAP, 1)
        return self._writer

    def add(self, doc: tantivy.Document) -> None:
        self.writer.add_document(doc)
        self.pending += 1
        self.pending_docs += 1

    def touch(self) -> None:
        self._last_write = time.monotonic()

    def idle_for(self, now: float) -> float:
        return now - self._last_write if self._writer is not None and not self.pending else 0.0

    def close_writer(self) -> None:
        """Free an idle writer's memory (after a commit); the next write opens one again."""
        w, self._writer = self._writer, None
        if w is not None:
            w.wait_merging_threads()

    def delete_below(self, partition: int, offset: int) -> None:
        """Delete the partition's documents below `offset` (the log start moved)."""
        part = tantivy.Query.term_query(self.schema, "partition", partition)
        below = tantivy.Query.range_query(self.schema, "offset", tantivy.FieldType.Integer, None, offset,
                                          include_upper=False)
        self.writer.delete_documents_by_query(tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, part), (tantivy.Occur.Must, below)]))
        self.pruned_below[partition] = offset
        self.pending += 1

    def delete_offsets(self, partition: int, offsets: list[int]) -> None:
        """Delete the partition's documents at these offsets (records compaction removed): one query."""
        if not offsets:
            return
        self.writer.delete_documents_by_query(tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "partition", partition)),
            (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "offset", list(offsets))),
        ]))
        self.pending += 1

    def commit(self) -> None:
        """Publish pending documents and deletions, then record the progress they make durable."""
        if self._writer is not None:
            self._writer.commit()
        self._reload()
        self._write_state()
        self.pending = 0
        self.pending_docs = 0

    def _reload(self) -> None:
        stamp = _meta_stamp(self.directory)
        with self._lock:
            self.index.reload()
        self._loaded = stamp

    def reload_if_merged(self) -> bool:
        """Reload the searchers when tantivy's merge threads published segments since the last
        reload. The searchers map every segment file they see; merged-away segments are
        deleted from disk but stay mapped, and the pages the merge read stay resident in
        this process, until the searchers move on. Without this, a bulk load whose last
        merges ended after its last commit kept ~250 MB of deleted files mapped (RssFile)
        at 1,000,000 1 KiB records -- and their disk space -- until the next write."""
        if _meta_stamp(self.directory) == self._loaded:
            return False
        self._reload()
        return True

    def offsets_in(self, partition: int, lo: int, hi: int) -> list[int]:
        """Indexed offsets of a partition in [lo, hi) (committed documents)."""
        searcher = self.searcher()
        q = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "partition", partition)),
            (tantivy.Occur.Must, tantivy.Query.range_query(self.schema, "offset", tantivy.FieldType.Integer,
                                                           lo, hi, include_upper=False)),
        ])
        n = searcher.search(q, 1, count=True).count
        if not n:
            return []
        res = searcher.search(q, n, count=False, order_by_field="offset", order=tantivy.Order.Asc)
        return searcher.fast_field_values("offset", [a for _, a in res.hits])

    # -- reading (any thread) -----------------------------------------------------
    def searcher(self) -> tantivy.Searcher:
        with self._lock:
            return self.index.searcher()

    def num_docs(self) -> int:
        return self.searcher().num_docs

    def size_bytes(self) -> int:
        total = 0
        for entry in os.scandir(self.directory):
            if entry.is_file():
                total += entry.stat().st_size
        return total

    def close(self) -> None:
        w, self._writer = self._writer, None
        if w is not None:
            try:
                w.rollback()
            except Exception:
                pass
            try:
                w.wait_merging_threads()
            except Exception:
                pass
