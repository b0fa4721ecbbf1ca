"""The search indexer: the loop notes "new data", one worker thread indexes it.

Loop side (all O(1) per batch, no I/O):

* ``on_append`` (an AppendListener of the core) adds the topic to a dirty set
  when it is searchable;
* a timer (every TICK_S) publishes, for dirty topics, a ``TopicView``: per
  partition the log start, the last stable offset and the log end; every
  REFRESH_TICKS ticks it publishes every searchable topic (a config turned
  on, retention or DeleteRecords moving the log start, a marker moving the
  LSO) and the names of all topics;
* ``on_topic_deleted`` (a TopicListener) tells the worker to drop the index.

Worker side (the thread ``chronik-search``): for each published partition it
reads committed batches from the segment files through its own descriptors
(chronik.search.reader) from where the index stopped up to the published
LSO -- never past it, so open transactions stay invisible -- skips control
batches and aborted transactions, decodes every codec, adds one document per
record, and commits at most every COMMIT_INTERVAL_S (the produce -> searchable
latency is about TICK_S + COMMIT_INTERVAL_S + the commit; a commit is 16
fdatasyncs and a segment flush: 30-250 ms on this shared disk and CPU), and
after MAX_UNCOMMITTED_DOCS documents (chronik.search.index). It deletes the
documents below a moved log start, and for compacted topics, when the sealed
segments or the cleaner checkpoint change, the documents of records the
cleaner removed.

Thread, not process: documents are built in Python either way and queries
need the same index objects; a process would need its own Python runtime
(memory) and IPC for queries and progress, for the one gain of no GIL
contention. Measured (bench/search_worker.py, 50,000 x 1 KiB JSON, 2 shared
cores under load): indexing 12.2 s in a thread vs 11.9 s in a process; a
loop-like task's lateness p99 3.7 ms vs 3.0 ms (0.1 ms with no indexing) --
the CPU is what is shared, the GIL adds ~0.7 ms at p99 with the broker's
switch interval lowered to 0.5 ms (SWITCH_INTERVAL_S). Since then the
Python side shrank to ~10 us per record (the rest runs in tantivy's own
threads, without the GIL), which favours the thread further. When the loop
thread is busy (LoopCpu: its CPU demand from /proc), a catching-up indexer
works DUTY_BUSY of the time and catches up afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronik.search.index import INDEX_ROOT, MAX_UNCOMMITTED_DOCS, TopicIndex, index_dir
from chronik.search.malloc import limit_arenas
from chronik.search.reader import PartitionFiles, decode_batch, decode_records
from chronik.search.schema import record_document

if TYPE_CHECKING:
    from chronik.broker.core import BrokerCore

__all__ = ["PartitionMark", "SearchIndexer", "TopicView"]

log = logging.getLogger("chronik.search")

TICK_S = 0.025
REFRESH_TICKS = 10  # every 250 ms: all searchable topics
# Each commit costs ~23 ms of CPU whatever its size (see CATCH_UP_COMMIT_S): at
# 100 ms that was 23 % of a core while any producer trickles (bench/search.py:
# 23 s of broker CPU to take 100,000 records at 500/s, 2.7 s without search).
COMMIT_INTERVAL_S = 0.2
# While catching up, commit less often: a commit costs ~23 ms of CPU whatever its
# size (a segment flushed, then merged), so 100 ms commits of a few hundred
# records cost more CPU than indexing them -- on a starved machine the indexer
# then never catches up (bench/search.py at load 17: p50 5.8 s at 5,000/s).
# Behind by more than CATCH_UP_RECORDS (offsets, ~1 s at 5,000/s) on a
# partition, latency is lost already: commit every CATCH_UP_COMMIT_S.
CATCH_UP_COMMIT_S = 1.0
CATCH_UP_RECORDS = 5_000
SLICE_BYTES = 4 << 20
COMPACTION_CHECK_S = 1.0
# A writer idle this long is closed: its heap (index.WRITER_HEAP) goes back.
IDLE_WRITER_S = 10.0
# The GIL switch interval of a broker process: a busy indexer thread makes the
# loop wait at most this long for the GIL (CPython's default is 5 ms, which
# shows in produce p99; measured in bench/search.py).
SWITCH_INTERVAL_S = 0.0005
# When the loop thread wanted more than this share of a core lately (LoopCpu), a
# producer is pushing as fast as it can: the indexer, behind, then works DUTY_BUSY of the time
# (the two cores are shared; the produce path comes first, indexing catches up).
# Tried: a 0.1 s window and a 10 % duty let a 200 MB burst go faster (peak produce on/off
# 66-67 % -> 73-76 % at 20k records), but a bulk load of 1M records then indexed at 23.3k
# rec/s (69 us CPU per record) instead of 28.3k (58 us), one run each. Not profiled; likely
# short windows see the loop's runnable-but-waiting spikes while tantivy fills both cores.
LOOP_BUSY_SHARE = 0.6
DUTY_BUSY = 0.3
LOOP_CPU_WINDOW_S = 0.5
# tantivy's own threads (indexing, merges, segment updates, doc store) do most of the indexing
# work (~40 of ~50 us per 1 KiB JSON record) without the GIL, so the duty cycle above does not
# hold them back: they run at nice TANTIVY_NICE. A lower scheduling weight makes the kernel run
# the loop first when both want a core, and leaves them every idle cycle. Our Python thread
# keeps nice 0: it holds the GIL, which the loop waits for. bench/search.py, 200,000 records,
# load 1-2 (p99 at 1,000 rec/s on - off; peak produce on/off): all reniced +1.0..+1.5 ms,
# 78-86 % (3 runs); only the background threads, the indexing thread while the loop is busy,
# +1.5, +1.7 ms, 68-75 % (2 runs: a burst is over before the loop counts as busy); none
# (schema 2) +3.0 ms, 52 % (1 run); main +1.6..+2.4 ms, 70-84 % (5 runs). Bulk indexing
# (no producer) was not measurably slower: 28.4-38.5k rec/s either way on this shared machine.
TANTIVY_NICE = 10
_TANTIVY_THREADS = ("thrd-tantivy", "thread-tantivy", "merge_thread", "segment_update", "docstore")


@dataclass(frozen=True, slots=True)
class PartitionMark:
    log_start: int
    stable: int  # the last stable offset: index below it only
    log_end: int


@dataclass(frozen=True, slots=True)
class TopicView:
    name: str
    topic_id: str
    partitions: tuple[PartitionMark, ...]
    compact: bool


class SearchIndexer:
    """Keeps a tantivy index per searchable topic, fed off the loop."""

    def __init__(self, core: BrokerCore, search_all: bool = False) -> None:
        self.core = core
        self.search_all = search_all
        self.data_dir = Path(core.data_dir)
        self.root = self.data_dir / INDEX_ROOT
        self._dirty: set[str] = set()
        self._searchable: set[str] = set()
        # Published by the loop, read by the worker and the query threads.
        self.views: dict[str, TopicView] = {}
        self.all_topics: frozenset[str] | None = None
        self._drops: list[str] = []
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticks = 0
        # Owned by the worker; read (dict lookups) by query threads.
        self.indexes: dict[str, TopicIndex] = {}
        self._files: dict[tuple[str, int], PartitionFiles] = {}
        self._last_commit = 0.0
        self._compaction_checked: dict[tuple[str, int], float] = {}
        self.indexed_records = 0
        self._remove_orphans_once = True
        self._far_behind = False
        self.errors = 0
        self.throttled_s = 0.0
        self._loop_cpu: LoopCpu | None = None
        self._renice = Renice(TANTIVY_NICE)
        self._reniced_at = -1
        self.listeners: list[Callable[[str], Any]] = []  # called (topic) after each commit, tests

    # -- loop side -------------------------------------------------------------------
    def searchable(self, topic: Any) -> bool:
        if topic.config.chronik_search_enable:
            return True
        return self.search_all and not topic.name.startswith("__")

    def on_append(self, topic: str, partition: int, batches: Any, result: Any) -> None:
        if topic in self._searchable:
            self._dirty.add(topic)

    def on_topic_deleted(self, topic: str) -> None:
        self._searchable.discard(topic)
        self._dirty.discard(topic)
        self.views.pop(topic, None)
        self._drops.append(topic)
        self._wake.set()

    def start(self) -> None:
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        limit_arenas()  # before tantivy's first thread (chronik.search.malloc)
        self.root.mkdir(parents=True, exist_ok=True)
        self._publish(refresh=True)
        self._thread = threading.Thread(target=self._run, name="chronik-search", daemon=True)
        self._thread.start()
        self.core.scheduler.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        if self._stopped.is_set():
            return
        if self._loop_cpu is None:  # ticks run on the loop thread: the one to watch
            self._loop_cpu = LoopCpu(threading.get_native_id())
        try:
            self._ticks += 1
            self._publish(refresh=self._ticks % REFRESH_TICKS == 0)
        except Exception:
            log.exception("search: publishing marks failed")
        finally:
            self.core.scheduler.call_later(TICK_S, self._tick)

    def _publish(self, refresh: bool) -> None:
        topics = self.core.topics
        if refresh:
            self._searchable = {t.name for t in topics.values() if self.searchable(t)}
            for gone in [n for n in self.views if n not in self._searchable]:
                del self.views[gone]
            names = self._searchable
            self.all_topics = frozenset(topics)
        else:
            names = self._dirty
        if not names:
            return
        last_stable = self.core.last_stable_offset
        for name in list(names):
            t = topics.get(name)
            if t is None:
                continue
            marks = tuple(
                PartitionMark(plog.log_start_offset, last_stable(name, p), plog.log_end_offset)
                for p, plog in enumerate(t.partitions)
            )
            old = self.views.get(name)
            if old is None or old.partitions != marks or old.topic_id != str(t.topic_id):
                self.views[name] = TopicView(name, str(t.topic_id), marks, t.config.compact)
                self._wake.set()
        self._dirty = set()

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    # -- worker side -------------------------------------------------------------------
    def _run(self) -> None:
        timeout = COMMIT_INTERVAL_S
        while not self._stopped.is_set():
            self._wake.wait(timeout=timeout)
            self._wake.clear()
            started, done_before = time.monotonic(), self.indexed_records
            try:
                more = self.run_once()
            except BaseException as exc:  # tantivy's panics are BaseExceptions
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                self.errors += 1
                log.exception("search indexer failed; retrying")
                more = False
                time.sleep(0.5)
            # While the loop is busy (a producer at full speed), index a DUTY_BUSY
            # share of the time only: the produce path comes first, the index catches up.
            if (self.indexed_records > done_before and self._loop_cpu is not None
                    and self._loop_cpu.share() > LOOP_BUSY_SHARE):
                pause = min(1.0, (time.monotonic() - started) * (1 / DUTY_BUSY - 1))
                self.throttled_s += pause
                self._stopped.wait(pause)
            if more:
                timeout = 0.0
            elif any(i.pending for i in self.indexes.values()):
                timeout = max(0.001, COMMIT_INTERVAL_S - (time.monotonic() - self._last_commit))
            else:
                timeout = 1.0
        try:
            self._commit_all()
        except Exception:
            log.exception("search: final commit failed")
        for idx in list(self.indexes.values()):
            idx.close()

    def run_once(self) -> bool:
        """One pass over every published topic; True if a slice stopped early (more to read)."""
        while self._drops:
            self._drop(self._drops.pop(0))
        if self._remove_orphans_once and self.all_topics is not None:
            self._remove_orphans(self.all_topics)
            self._remove_orphans_once = False
        more = False
        self._far_behind = False
        views = dict(self.views)
        for name in [n for n in self.indexes if n not in views]:
            idx = self.indexes.pop(name)  # search turned off: keep the files, free the writer
            if idx.pending:
                idx.commit()
            idx.close()
        for view in views.values():
            idx = self._index(view)
            for p, mark in enumerate(view.partitions):
                more |= self._index_partition(idx, view, p, mark)
        now = time.monotonic()
        if now - self._last_commit >= (CATCH_UP_COMMIT_S if self._far_behind else COMMIT_INTERVAL_S):
            self._commit_all()
            self._last_commit = now
            for view in views.values():
                if view.compact:
                    self._check_compaction(view, now)
            for idx in self.indexes.values():
                if idx.idle_for(now) > IDLE_WRITER_S:
                    idx.close_writer()
        for idx in self.indexes.values():
            idx.reload_if_merged()  # a stat per index; the idle loop passes here every second
        if self.indexed_records != self._reniced_at:
            self._renice.apply()  # threads of a writer opened in this pass
            self._reniced_at = self.indexed_records
        return more

    def _commit_all(self) -> None:
        for name, idx in list(self.indexes.items()):
            if idx.pending:
                self._commit(name, idx)

    def _commit(self, name: str, idx: TopicIndex) -> None:
        idx.commit()
        self._renice.apply()  # tantivy starts its indexing threads anew at each commit
        for cb in self.listeners:
            cb(name)

    def _index(self, view: TopicView) -> TopicIndex:
        idx = self.indexes.get(view.name)
        if idx is not None and idx.topic_id != view.topic_id:
            self._drop(view.name)
            idx = None
        if idx is None:
            idx = TopicIndex(index_dir(self.data_dir, view.name), view.name, view.topic_id)
            self.indexes[view.name] = idx
        return idx

    def files(self, topic: str, partition: int) -> PartitionFiles:
        key = (topic, partition)
        f = self._files.get(key)
        if f is None:
            f = self._files[key] = PartitionFiles(self.data_dir / f"{topic}-{partition}")
        return f

    def _index_partition(self, idx: TopicIndex, view: TopicView, p: int, mark: PartitionMark) -> bool:
        if mark.log_start > idx.pruned_below.get(p, 0):
            idx.delete_below(p, mark.log_start)
        start = max(idx.indexed_to.get(p, 0), mark.log_start)
        if start >= mark.stable:
            if start != idx.indexed_to.get(p, 0):
                idx.indexed_to[p] = start
            return False
        files = self.files(view.name, p)
        nxt = start
        nbytes = 0
        refreshed = False
        stable = mark.stable
        add = idx.add
        n = 0
        for base, last, raw in files.batches(start, stable, SLICE_BYTES):
            nbytes += len(raw)
            nxt = last + 1
            transactional, control, pid = files.header_info(raw)
            if control:
                continue
            if transactional:
                if not refreshed:
                    files.aborted.refresh()
                    refreshed = True
                if files.aborted.aborted(pid, base):
                    continue
            whole = base >= start and last < stable  # else across the resume point or the bound
            for r in decode_records(raw):
                if whole or start <= r.offset < stable:
                    add(record_document(p, r))
                    n += 1
                    if idx.pending_docs >= MAX_UNCOMMITTED_DOCS:  # mid-batch too: batches may be big
                        idx.indexed_to[p] = r.offset + 1
                        self._commit(view.name, idx)
        self.indexed_records += n
        if n:
            idx.touch()
        if nxt > start:
            idx.indexed_to[p] = nxt
            idx.pending += 1  # progress to record even if every record was skipped
        if mark.stable - nxt > CATCH_UP_RECORDS:
            self._far_behind = True
        return nbytes >= SLICE_BYTES

    def _check_compaction(self, view: TopicView, now: float) -> None:
        idx = self.indexes.get(view.name)
        if idx is None:
            return
        for p, mark in enumerate(view.partitions):
            key = (view.name, p)
            if now - self._compaction_checked.get(key, 0.0) < COMPACTION_CHECK_S:
                continue
            self._compaction_checked[key] = now
            d = self.data_dir / f"{view.name}-{p}"
            sig = _segments_signature(d)
            if sig is None or idx.compaction_seen.get(p) == sig:
                continue
            hi = min(idx.indexed_to.get(p, 0), _sealed_end(d, mark))
            lo = mark.log_start
            if hi > lo:
                present: set[int] = set()
                files = PartitionFiles(d)
                nxt = lo
                while nxt < hi:
                    got = False
                    for _b, last, raw in files.batches(nxt, hi, SLICE_BYTES):
                        got = True
                        nxt = last + 1
                        present.update(r.offset for r in decode_batch(raw))
                    if not got:
                        break
                gone = [o for o in idx.offsets_in(p, lo, hi) if o not in present]
                idx.delete_offsets(p, gone)
                if gone:
                    log.info("search: %s-%d: %d compacted record(s) removed from the index", view.name, p, len(gone))
            idx.compaction_seen[p] = sig
        if idx.pending:
            idx.commit()

    def _drop(self, name: str) -> None:
        idx = self.indexes.pop(name, None)
        if idx is not None:
            idx.close()
        for key in [k for k in self._files if k[0] == name]:
            del self._files[key]
        shutil.rmtree(index_dir(self.data_dir, name), ignore_errors=True)
        log.info("search: dropped the index of %s", name)

    def _remove_orphans(self, topics: frozenset[str]) -> None:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return
        for n in names:
            if n not in topics:
                shutil.rmtree(self.root / n, ignore_errors=True)
                log.info("search: removed the index of deleted topic %s", n)

    # -- what the query side asks ------------------------------------------------------------
    def lag(self, name: str) -> int | None:
        view = self.views.get(name)
        idx = self.indexes.get(name)
        if view is None:
            return None
        total = 0
        for p, m in enumerate(view.partitions):
            done = max(idx.indexed_to.get(p, 0) if idx else 0, m.log_start)
            total += max(0, m.stable - done)
        return total

    def wait_indexed(self, name: str, timeout: float = 10.0) -> bool:
        """Block until the topic's index has caught up with what the loop published (tests, tools)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            idx = self.indexes.get(name)
            if self.lag(name) == 0 and idx is not None and not idx.pending:
                return True
            time.sleep(0.02)
        return False


class Renice:
    """Lowers the scheduling priority of tantivy's threads in this process (by thread name)."""

    def __init__(self, nice: int) -> None:
        self.nice = nice
        self._done: set[int] = set()
        self._ok = hasattr(os, "setpriority") and os.path.isdir("/proc/self/task")

    def apply(self) -> int:
        """Renice the tantivy threads not seen before; returns how many."""
        if not self._ok:
            return 0
        n = 0
        alive = set()
        for entry in os.listdir("/proc/self/task"):
            tid = int(entry)
            alive.add(tid)
            if tid in self._done:
                continue
            try:
                with open(f"/proc/self/task/{entry}/comm", "rb") as f:
                    name = f.read().decode("ascii", "replace")
            except OSError:
                continue
            if name.startswith(_TANTIVY_THREADS):
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, self.nice)
                    n += 1
                except OSError:
                    pass  # gone meanwhile
                self._done.add(tid)
        self._done &= alive
        return n


class LoopCpu:
    """How much CPU one thread (the event loop) wanted over the last LOOP_CPU_WINDOW_S.

    From /proc/self/task/TID/schedstat: time on a CPU plus time runnable but
    waiting for one, per second -- a saturated loop scores ~1 even on a machine
    so loaded that it gets a fifth of a core (utime+stime would say 0.2 there).
    Falls back to utime+stime from .../stat.
    """

    def __init__(self, tid: int) -> None:
        self.schedstat = f"/proc/self/task/{tid}/schedstat"
        self.stat = f"/proc/self/task/{tid}/stat"
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = (time.monotonic(), self._demand())
        self._share = 0.0

    def _demand(self) -> float:
        try:
            with open(self.schedstat, "rb") as f:
                run_ns, wait_ns = f.read().split()[:2]
            return (int(run_ns) + int(wait_ns)) / 1e9
        except (OSError, ValueError):
            pass
        try:
            with open(self.stat, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self._tick
        except (OSError, IndexError, ValueError):
            return -1.0

    def share(self) -> float:
        now = time.monotonic()
        t0, c0 = self._last
        if now - t0 >= LOOP_CPU_WINDOW_S:
            c = self._demand()
            if c < 0 or c0 < 0:
                self._share = 0.0  # no /proc: never throttle
            else:
                self._share = (c - c0) / (now - t0)
            self._last = (now, c)
        return self._share


def _segments_signature(d: Path) -> str | None:
    """What changes when the cleaner rewrites sealed segments: names, inodes, sizes, checkpoint."""
    try:
        logs = sorted(n for n in os.listdir(d) if n.endswith(".log") and len(n) == 24)
    except FileNotFoundError:
        return None
    parts = []
    for n in logs[:-1]:
        try:
            st = os.stat(d / n)
        except FileNotFoundError:
            continue
        parts.append(f"{n}:{st.st_ino}:{st.st_size}")
    try:
        parts.append((d / "cleaner-offset-checkpoint").read_text().strip())
    except FileNotFoundError:
        parts.append("-")
    return "|".join(parts)


def _sealed_end(d: Path, mark: PartitionMark) -> int:
    """First offset of the active segment: the cleaner only rewrites what lies below it."""
    try:
        logs = sorted(int(n[:20]) for n in os.listdir(d) if n.endswith(".log") and len(n) == 24)
    except FileNotFoundError:
        return mark.log_start
    return logs[-1] if logs else mark.log_start
