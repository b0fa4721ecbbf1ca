"""One topic's search index on disk: `DIR/.search/<topic>/` (`chronik-search.json` + parts).

The index is derived data. Its state file says which topic (by id, so a
topic deleted and created again under the same name starts afresh), the
schema version, and per partition the offset it has indexed up to. The
state is written (atomically) only after a tantivy commit has returned, so
it never claims more than the commit holds; at open the resume point of a
partition is max(state, largest indexed offset + 1) -- exact whatever the
crash, hence no duplicate documents after a restart.

The documents live in parts, `part-000000/`, ... : tantivy indexes of at
most about PART_BYTES each. New documents go to the last part; when a commit
leaves it at PART_BYTES or more, its merges are waited for and a new part
begins. Why: tantivy's log merge policy merges 8 segments of a size into one
8x larger, reading all of them through mmap -- at 1,000,000 1 KiB JSON
records the last merge read half the index, ~200 MB that stayed resident in
the broker (RssFile) until it ended: RSS 320-340 MB. Capped parts cap the
largest merge, and each document is merged fewer times (less CPU). A query
searches every part (chronik.search.api merges the hits). Deletes go to
every part; a part left without documents is removed.

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
# A part is closed (and a new one begun) once a commit leaves it this large on disk:
# its largest merge reads at most this much (see the module's docstring).
PART_BYTES = 96_000_000
# Writers that only delete (in closed parts): tantivy's minimum budget.
DELETE_HEAP = 15_000_000
PART_PREFIX = "part-"


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


def _dir_bytes(directory: Path) -> int:
    """Bytes of the files in a part; tantivy's merges and temporary files come and go meanwhile."""
    total = 0
    for entry in os.scandir(directory):
        try:
            if entry.is_file():
                total += entry.stat().st_size
        except FileNotFoundError:
            pass
    return total


class Part:
    """One tantivy index of a topic's documents."""

    def __init__(self, directory: Path, schema: tantivy.Schema, create: bool) -> None:
        self.directory = directory
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(schema, path=str(directory), reuse=not create)
        _manual_reload(self.index)
        self.loaded = _meta_stamp(directory)  # the meta.json the searchers see

    @property
    def number(self) -> int:
        return int(self.directory.name[len(PART_PREFIX):])

    def reload(self) -> None:
        stamp = _meta_stamp(self.directory)
        self.index.reload()
        self.loaded = stamp


class TopicIndex:
    """A topic's tantivy indexes (parts), the last part's writer (one thread: the indexer) and
    its progress."""

    def __init__(self, directory: Path, topic: str, topic_id: str, schema: tantivy.Schema | None = None) -> None:
        self.directory = Path(directory)
        self.topic = topic
        self.topic_id = topic_id
        self.schema = schema or build_schema()
        self.indexed_to: dict[int, int] = {}  # partition -> next offset to index
        self.pruned_below: dict[int, int] = {}  # partition -> log start whose older docs are deleted
        self.compaction_seen: dict[int, str] = {}  # partition -> signature of the checked segments
        self.rebuilt = False
        self._lock = threading.Lock()  # writer/commit/parts vs readers' reload
        self._writer: tantivy.IndexWriter | None = None
        self.pending = 0
        self.pending_docs = 0
        self._last_write = time.monotonic()
        self.parts: list[Part] = self._open()

    @property
    def index(self) -> tantivy.Index:
        """The last part's index (query parsing needs one; all parts share the schema)."""
        return self.parts[-1].index

    # -- opening ------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.directory / STATE_FILE

    def _part_dir(self, n: int) -> Path:
        return self.directory / f"{PART_PREFIX}{n:06d}"

    def _open(self) -> list[Part]:
        state = None
        try:
            state = json.loads(self._state_path().read_text())
        except (FileNotFoundError, ValueError):
            state = None
        ok = (
            state is not None
            and state.get("topic_id") == self.topic_id
            and state.get("schema_version") == SCHEMA_VERSION
        )
        if ok:
            try:
                parts = self._open_parts()
                self.indexed_to = {int(p): int(o) for p, o in state.get("indexed_to", {}).items()}
                self.pruned_below = {int(p): int(o) for p, o in state.get("pruned_below", {}).items()}
                for part in parts:
                    self._resume_points(part.index.searcher())
                return parts
            except Exception as exc:  # tantivy raises ValueError/OSError on damaged files
                log.warning("search index of %s is damaged (%s): rebuilding it from the log", self.topic, exc)
        elif self.directory.exists():
            log.warning("search index of %s is missing or stale: rebuilding it from the log", self.topic)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.indexed_to, self.pruned_below = {}, {}
        self.rebuilt = True
        parts = [Part(self._part_dir(0), self.schema, create=True)]
        self._write_state()
        return parts

    def _open_parts(self) -> list[Part]:
        names = sorted(n for n in os.listdir(self.directory) if n.startswith(PART_PREFIX))
        parts = []
        for i, n in enumerate(names):
            d = self.directory / n
            if not (d / "meta.json").exists():
                if i == len(names) - 1 and i > 0:  # a crash while beginning it: it held nothing
                    shutil.rmtree(d, ignore_errors=True)
                    continue
                raise ValueError(f"{n} has no meta.json")
            parts.append(Part(d, self.schema, create=False))
        if not parts:
            raise ValueError("no parts")
        return parts

    def _resume_points(self, searcher: tantivy.Searcher) -> None:
        """Move each partition's resume point past the largest offset a commit holds."""
        partitions = set(self.indexed_to)
        if searcher.num_docs:
            for p in range(0, 1 + max([*partitions, 0, *self._partitions_in(searcher)])):
                q = tantivy.Query.term_query(self.schema, "partition", p)
                res = searcher.search(q, 1, count=False, order_by_field="offset", order=tantivy.Order.Desc)
                if res.hits:
                    top = searcher.fast_field_values("offset", [res.hits[0][1]])[0]
                    self.indexed_to[p] = max(self.indexed_to.get(p, 0), top + 1)

    def _partitions_in(self, searcher: tantivy.Searcher) -> list[int]:
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
            self._writer = self.parts[-1].index.writer(WRITER_HEAP, 1)
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

    def _delete(self, query: tantivy.Query) -> None:
        """Delete in every part: the last through its writer (published by the next commit),
        closed ones through a writer of their own, committed now."""
        deleted = False
        for part in self.parts[:-1]:
            if not part.index.searcher().search(query, 1, count=True).count:
                continue  # nothing of it here: no writer, no commit
            w = part.index.writer(DELETE_HEAP, 1)
            w.delete_documents_by_query(query)
            w.commit()
            w.wait_merging_threads()
            deleted = True
        if deleted:
            self._drop_empty_parts()
        self.writer.delete_documents_by_query(query)
        self.pending += 1

    def _drop_empty_parts(self) -> None:
        for part in self.parts[:-1]:
            with self._lock:
                part.reload()
            if part.index.searcher().num_docs == 0:
                with self._lock:
                    self.parts.remove(part)
                shutil.rmtree(part.directory, ignore_errors=True)
                log.info("search: %s: removed %s (every document deleted)", self.topic, part.directory.name)

    def delete_below(self, partition: int, offset: int) -> None:
        """Delete the partition's documents below `offset` (the log start moved)."""
        part = tantivy.Query.term_query(self.schema, "partition", partition)
        below = tantivy.Query.range_query(self.schema, "offset", tantivy.FieldType.Integer, None, offset,
                                          include_upper=False)
        self._delete(tantivy.Query.boolean_query([(tantivy.Occur.Must, part), (tantivy.Occur.Must, below)]))
        self.pruned_below[partition] = offset

    def delete_offsets(self, partition: int, offsets: list[int]) -> None:
        """Delete the partition's documents at these offsets (records compaction removed): one query."""
        if not offsets:
            return
        self._delete(tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "partition", partition)),
            (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "offset", list(offsets))),
        ]))

    def commit(self) -> None:
        """Publish pending documents and deletions, then record the progress they make durable;
        begin a new part when the last one has grown to PART_BYTES."""
        if self._writer is not None:
            self._writer.commit()
        self._reload(self.parts[-1])
        if self._writer is not None and _dir_bytes(self.parts[-1].directory) >= PART_BYTES:
            self._next_part()
        self._write_state()
        self.pending = 0
        self.pending_docs = 0

    def _next_part(self) -> None:
        self.close_writer()  # its merges end first: the part is final
        last = self.parts[-1]
        self._reload(last)
        part = Part(self._part_dir(last.number + 1), self.schema, create=True)
        with self._lock:
            self.parts.append(part)
        log.info("search: %s: %s is full (%d MB), new documents go to %s", self.topic, last.directory.name,
                 _dir_bytes(last.directory) // 1_000_000, part.directory.name)

    def _reload(self, part: Part) -> None:
        with self._lock:
            part.reload()

    def reload_if_merged(self) -> bool:
        """Reload the searchers when tantivy's merge threads published segments since the last
        reload. The searchers map every segment file they see; merged-away segments are
        deleted from disk but stay mapped, and the pages the merge read stay resident in
        this process, until the searchers move on. Without this, a bulk load whose last
        merges ended after its last commit kept ~250 MB of deleted files mapped (RssFile)
        at 1,000,000 1 KiB records -- and their disk space -- until the next write."""
        part = self.parts[-1]  # closed parts merge no more
        if _meta_stamp(part.directory) == part.loaded:
            return False
        self._reload(part)
        return True

    def offsets_in(self, partition: int, lo: int, hi: int) -> list[int]:
        """Indexed offsets of a partition in [lo, hi) (committed documents)."""
        q = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "partition", partition)),
            (tantivy.Occur.Must, tantivy.Query.range_query(self.schema, "offset", tantivy.FieldType.Integer,
                                                           lo, hi, include_upper=False)),
        ])
        out: list[int] = []
        for searcher in self.searchers():
            n = searcher.search(q, 1, count=True).count
            if n:
                res = searcher.search(q, n, count=False, order_by_field="offset", order=tantivy.Order.Asc)
                out += searcher.fast_field_values("offset", [a for _, a in res.hits])
        return sorted(out)

    # -- reading (any thread) -----------------------------------------------------
    def searchers(self) -> list[tantivy.Searcher]:
        """A searcher per part, oldest first."""
        with self._lock:
            return [part.index.searcher() for part in self.parts]

    def searcher(self) -> tantivy.Searcher:
        """The last part's searcher (tests, statistics for highlighting)."""
        with self._lock:
            return self.parts[-1].index.searcher()

    def num_docs(self) -> int:
        return sum(s.num_docs for s in self.searchers())

    def size_bytes(self) -> int:
        total = 0
        for entry in os.scandir(self.directory):
            try:
                if entry.is_file():
                    total += entry.stat().st_size
                elif entry.is_dir() and entry.name.startswith(PART_PREFIX):
                    total += _dir_bytes(Path(entry.path))
            except FileNotFoundError:
                pass  # a part removed meanwhile
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
