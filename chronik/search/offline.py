"""`chronik segments reindex -d DIR`: rebuild search indexes from the log of a stopped broker.

The same documents the live indexer makes (chronik.search.indexer), read
from the segment files from each partition's log start up to its last
stable offset as the files tell it (the first batch of a transaction with
no marker yet); aborted transactions and control batches are skipped.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from chronik.metadata.configs import TopicConfig
from chronik.metadata.store import MetadataStore
from chronik.search.index import MAX_UNCOMMITTED_DOCS, TopicIndex, index_dir
from chronik.search.reader import PartitionFiles, decode_records
from chronik.search.schema import record_document

__all__ = ["ReindexResult", "reindex"]


@dataclass
class ReindexResult:
    topic: str
    partitions: int
    documents: int
    index_bytes: int


def _log_start(d: Path) -> int:
    try:
        return int((d / "log-start-offset").read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _stable_end(files: PartitionFiles, start: int) -> int:
    """The offline last stable offset: where the earliest still-open transaction begins, else the end."""
    open_txns: dict[int, int] = {}
    end = start
    nxt = start
    while True:
        got = False
        for base, last, raw in files.batches(nxt, 2**62):
            got = True
            transactional, control, pid = files.header_info(raw)
            if transactional:
                if control:
                    open_txns.pop(pid, None)
                else:
                    open_txns.setdefault(pid, base)
            nxt = end = last + 1
        if not got:
            break
    return min([end, *open_txns.values()])


def reindex(data_dir: Path, topic: str | None = None, every_topic: bool = False) -> list[ReindexResult]:
    """Rebuild the indexes of searchable topics (or every topic); returns what was indexed."""
    store = MetadataStore(Path(data_dir))
    try:
        rows = store.load_topics()
    finally:
        store.close()
    out = []
    for row in sorted(rows, key=lambda r: r["name"]):
        name = row["name"]
        if topic is not None and name != topic:
            continue
        if not every_topic and topic is None and not TopicConfig.parse(row.get("configs") or {}).chronik_search_enable:
            continue
        d = index_dir(data_dir, name)
        shutil.rmtree(d, ignore_errors=True)
        idx = TopicIndex(d, name, row["id"])
        docs = 0
        for p in range(row["partitions"]):
            pdir = Path(data_dir) / f"{name}-{p}"
            files = PartitionFiles(pdir)
            start = _log_start(pdir)
            bound = _stable_end(PartitionFiles(pdir), start)
            nxt = start
            idx.pruned_below[p] = start
            files.aborted.refresh()
            while nxt < bound:
                got = False
                for base, last, raw in files.batches(nxt, bound):
                    got = True
                    nxt = last + 1
                    transactional, control, pid = files.header_info(raw)
                    if control or (transactional and files.aborted.aborted(pid, base)):
                        continue
                    for r in decode_records(raw):
                        if start <= r.offset < bound:
                            idx.add(record_document(p, r))
                            docs += 1
                            if idx.pending_docs >= MAX_UNCOMMITTED_DOCS:  # parts begin at commits
                                idx.indexed_to[p] = r.offset + 1
                                idx.commit()
                if not got:
                    break
            idx.indexed_to[p] = max(nxt, start)
        idx.pending += 1
        idx.commit()
        idx.close()
        out.append(ReindexResult(name, row["partitions"], docs, idx.size_bytes()))
    return out
