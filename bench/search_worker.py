"""bench/search_worker.py: index in a thread or in a process -- what does the loop feel?

    .venv/bin/python bench/search_worker.py [--records 50000]

Writes a partition of 1 KiB JSON records (Kafka's format, via PartitionLog),
then indexes it with the real pipeline (chronik.search.offline.reindex: read
files, decode, build documents, tantivy) in (a) a thread of this process,
(b) a child process, while this process's main thread plays the event loop:
a 1 ms task every 2 ms, measuring how late each one runs (GIL waits show up
here). Prints indexing time and the loop's lateness p50/p99/max for each,
and with no indexing at all as the baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402

from bench.search import pct, value  # noqa: E402
from chronik.metadata.store import MetadataStore  # noqa: E402
from chronik.storage.log import LogConfig, PartitionLog  # noqa: E402


def write_topic(data_dir: Path, n: int) -> None:
    store = MetadataStore(data_dir)
    store.save_topic("w", "00000000-0000-0000-0000-000000000001", 1, {"chronik.search.enable": "true"})
    store.close()
    plog = PartitionLog(data_dir / "w-0", LogConfig())
    rnd = random.Random(1)
    for start in range(0, n, 100):
        b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                      producer_epoch=-1, base_sequence=-1, batch_size=10**7)
        for j in range(100):
            b.append(j, timestamp=1_700_000_000_000 + start + j, key=b"k", value=value(start + j, rnd), headers=[])
        plog.append(bytearray(b.build()))
    plog.flush()
    plog.close()


def reindex(data_dir: str) -> None:
    from chronik.search.offline import reindex as run
    run(Path(data_dir), "w")


def loop_lateness(done: threading.Event | None, proc: multiprocessing.Process | None, seconds: float) -> list[float]:
    late = []
    t_end = time.monotonic() + seconds
    while True:
        due = time.monotonic() + 0.002
        while time.monotonic() < due:
            pass
        t = time.monotonic()
        x = 0
        for i in range(2000):  # ~1 ms of Python work, like a request
            x += i
        late.append(time.monotonic() - t)
        finished = (done is not None and done.is_set()) or (proc is not None and not proc.is_alive())
        if finished or (done is None and proc is None and time.monotonic() > t_end):
            return late


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-worker-"))
    write_topic(tmp, args.records)
    sys.setswitchinterval(0.0005)  # as the broker sets it (chronik.search.indexer)
    base = loop_lateness(None, None, 3.0)
    rows = {"none": (0.0, base)}
    done = threading.Event()

    def in_thread() -> None:
        reindex(str(tmp))
        done.set()

    t0 = time.monotonic()
    th = threading.Thread(target=in_thread)
    th.start()
    late = loop_lateness(done, None, 0)
    th.join()
    rows["thread"] = (time.monotonic() - t0, late)
    t0 = time.monotonic()
    proc = multiprocessing.get_context("spawn").Process(target=reindex, args=(str(tmp),))
    proc.start()
    late = loop_lateness(None, proc, 0)
    proc.join()
    rows["process"] = (time.monotonic() - t0, late)
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({k: {"index_s": v[0], "task_p50_ms": pct(v[1], 50) * 1000, "task_p99_ms": pct(v[1], 99) * 1000,
                          "task_max_ms": max(v[1]) * 1000} for k, v in rows.items()}, indent=1))
    print(f"\n| indexer ({args.records:,} x 1 KiB JSON) | index time | loop task p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for k, (s, late) in rows.items():
        print(f"| {k} | {s:.1f} s | {pct(late, 50) * 1000:.2f} ms | {pct(late, 99) * 1000:.2f} ms | "
              f"{max(late) * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
