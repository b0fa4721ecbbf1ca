"""LoopCpu: the indexer's view of how busy the event loop thread is (it backs off when busy).

A thread that always wants the CPU is seen above LOOP_BUSY_SHARE whatever the
machine's load (runnable-but-waiting time counts), one that mostly sleeps is not.
"""

from __future__ import annotations

import threading
import time

from chronik.search import indexer
from chronik.search.indexer import LoopCpu


def test_a_spinning_thread_is_busier_than_a_sleeping_one(monkeypatch) -> None:
    monkeypatch.setattr(indexer, "LOOP_CPU_WINDOW_S", 0.2)
    shares: dict[str, float] = {}

    def watch(name: str, spin: bool) -> None:
        cpu = LoopCpu(threading.get_native_id())
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            if not spin:
                time.sleep(0.1)
        shares[name] = cpu.share()

    for name, spin in (("spin", True), ("sleep", False)):
        t = threading.Thread(target=watch, args=(name, spin))
        t.start()
        t.join()
    assert shares["spin"] > indexer.LOOP_BUSY_SHARE
    assert shares["sleep"] < indexer.LOOP_BUSY_SHARE
    assert shares["spin"] > shares["sleep"]


def test_no_proc_file_means_never_busy() -> None:
    cpu = LoopCpu(2**31 - 1)  # no such thread
    cpu._last = (time.monotonic() - 10, cpu._last[1])
    assert cpu.share() == 0.0


def test_tantivy_threads_are_reniced_and_ours_are_not(tmp_path) -> None:
    import os

    from chronik.search.index import TopicIndex
    from chronik.search.indexer import TANTIVY_NICE, Renice

    idx = TopicIndex(tmp_path / "t", "t", "id-1")
    idx.writer  # noqa: B018 -- opening the writer starts tantivy's indexing, updater and merge threads
    try:
        renice = Renice(TANTIVY_NICE)

        def threads() -> dict[int, tuple[str, int]]:
            out = {}
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/comm") as f:
                        out[int(tid)] = (f.read().strip(), os.getpriority(os.PRIO_PROCESS, int(tid)))
                except OSError:
                    pass  # ended meanwhile
            return out

        deadline = time.monotonic() + 10  # tantivy starts (and names) its threads asynchronously
        reniced = 0
        while True:
            reniced += renice.apply()
            merge = [(tid, v) for tid, (n, v) in threads().items() if n.startswith("merge_thread")]
            if (merge and all(v == TANTIVY_NICE for _, v in merge)) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert reniced >= 2
        assert merge and all(v == TANTIVY_NICE for _, v in merge)
        assert {tid for tid, _ in merge} <= renice._done  # each thread once
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0
    finally:
        idx.close()
