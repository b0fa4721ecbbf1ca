"""bench/search.py: search indexing and query figures on this machine, one run.

    .venv/bin/python bench/search.py [--records N] [--skip-impact]

1. indexing rate of 1 KiB JSON records (broker with --search, produce as
   fast as confluent-kafka can, time until /_cat/indices shows no lag);
2. produce -> searchable latency at 5,000 records/s (p50/p99: each probe
   record carries a unique token, polled by term query);
3. query p50/p99 on N indexed records: term, phrase, JSON field, key,
   time range -- vs a confluent-kafka consumer scanning the topic with the
   same filter (timed on a few runs);
4. produce p99 at 1,000 records/s and peak produce MB/s, search on vs off;
5. index size vs log size; broker RSS.

Queries go to the broker's admin HTTP port. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.integration.search.conftest import SearchBroker  # noqa: E402

WORDS = ("alpha beta gamma delta omega kappa sigma payment order failed user checkout cart service timeout "
         "retry login logout search index broker topic partition").split()


def value(i: int, rnd: random.Random) -> bytes:
    v = {"ts": 1_700_000_000_000 + i, "user": {"id": i % 1000, "name": f"user{i % 1000}"},
         "level": ("error", "warn", "info", "info", "info")[i % 5], "request_id": f"req-{i:09d}",
         "msg": f"payment failed for order {i}" if i % 100 == 0 else f"order {i} shipped", "pad": ""}
    raw = json.dumps(v)
    pad = []
    while len(raw) + sum(len(w) + 1 for w in pad) < 1000:
        pad.append(rnd.choice(WORDS) + str(rnd.randint(0, 99)))
    v["pad"] = " ".join(pad)
    return json.dumps(v).encode()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def mem_mb(pid: int) -> dict[str, float]:
    """The broker's resident memory (MB) by kind: RssAnon (heaps: Python, tantivy's writer,
    glibc arenas), RssFile (mapped files: tantivy's segment files, libraries), RssShmem."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[name] = int(rest.split()[0]) / (1024 if name != "Threads" else 1)
    return out


def rss_mb(pid: int) -> float:
    return mem_mb(pid).get("VmRSS", 0.0)


def smaps_top(pid: int, n: int = 6) -> list[tuple[str, float]]:
    """The largest resident mappings (MB), anonymous ones summed as "[anon]", files by directory kind."""
    by: dict[str, float] = {}
    name = "?"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split()
                if not head:
                    continue
                if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                    path = head[5] if len(head) > 5 else "[anon]"
                    name = ("[tantivy files]" if "/.search/" in path else
                            "[segments]" if path.endswith(".log") or path.endswith(".index") else path)
                elif head[0] == "Rss:":
                    by[name] = by.get(name, 0.0) + int(head[1]) / 1024
    except OSError:
        return []
    return sorted(by.items(), key=lambda kv: -kv[1])[:n]


class MemWatch:
    """Samples the broker's memory every 0.2 s: the peak of each kind per phase of the run."""

    def __init__(self, pid: int, log: str | None = None) -> None:
        import threading
        self.pid = pid
        self.log = open(log, "w") if log else None  # noqa: SIM115 -- closed by stop()
        self.t0 = time.monotonic()
        self.phase = "start"
        self.peaks: dict[str, dict[str, float]] = {}
        self.marks: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                m = mem_mb(self.pid)
            except OSError:
                return
            peak = self.peaks.setdefault(self.phase, {})
            if self.log:
                self.log.write(f"{time.monotonic() - self.t0:7.1f} {self.phase:9} " + " ".join(
                    f"{k} {v:.0f}" for k, v in m.items()) + "\n")
            for k, v in m.items():
                peak[k] = max(peak.get(k, 0.0), v)

    def mark(self, phase: str) -> None:
        """Note the memory now (with the largest mappings) and start a new phase."""
        self.marks[self.phase + " end"] = {**mem_mb(self.pid), "top": smaps_top(self.pid)}
        self.phase = phase

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)
        if self.log:
            self.log.close()


def cpu_s(pid: int) -> float:
    """utime + stime of a process (seconds): a load-robust measure on a shared machine."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file())


def create_topic(bootstrap: str, topic: str, search: bool = True) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the answer
    config = {"chronik.search.enable": "true"} if search else {}
    admin.create_topics([NewTopic(topic, 1, 1, config=config)])[topic].result(10)


def enable_search(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import ConfigResource
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource("topic", topic, set_config={"chronik.search.enable": "true"})
    list(admin.alter_configs([res]).values())[0].result(10)


def start(tmp: Path, name: str, *args: str) -> SearchBroker:
    b = SearchBroker(data_dir=tmp / name, port=free_port(), extra_args=list(args), http_port=free_port())
    return b.start()


def produce_all(bootstrap: str, topic: str, n: int, start_i: int = 0) -> float:
    rnd = random.Random(start_i)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                  "queue.buffering.max.messages": 500_000})
    t = time.monotonic()
    for i in range(start_i, start_i + n):
        while True:
            try:
                p.produce(topic, key=f"user{i % 1000}".encode(), value=value(i, rnd))
                break
            except BufferError:
                p.poll(0.01)
    p.flush(120)
    return time.monotonic() - t


def produce_pool(bootstrap: str, topic: str, pool: list[tuple[bytes, bytes]], n: int) -> float:
    """Seconds to produce `n` records cycling through `pool` (made before the clock starts: value()
    makes ~5 MB/s of JSON in Python, far below what the broker takes)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                  "queue.buffering.max.messages": 500_000})
    size = len(pool)
    t = time.monotonic()
    for i in range(n):
        key, val = pool[i % size]
        while True:
            try:
                p.produce(topic, key=key, value=val)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(120)
    return time.monotonic() - t


def indexing(b: SearchBroker, n: int) -> dict:
    """Produce without search, then turn it on: the indexer alone, while the broker serves."""
    create_topic(b.bootstrap, "bench", search=False)
    produce_s = produce_all(b.bootstrap, "bench", n)
    t0, c0 = time.monotonic(), cpu_s(b.proc.pid)
    enable_search(b.bootstrap, "bench")
    b.wait_docs("bench", n, timeout=3600)
    total = time.monotonic() - t0
    cpu = cpu_s(b.proc.pid) - c0
    return {"records": n, "produce_s": produce_s, "indexed_s": total, "rate": n / total,
            "broker_cpu_s": cpu, "cpu_us_per_record": cpu / n * 1e6}


def latency(b: SearchBroker, rate: int = 5000, seconds: float = 6.0) -> dict:
    """Produce at `rate`; poll the largest searchable offset; each record's latency from its ack."""
    create_topic(b.bootstrap, "lat")
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 2})
    rnd = random.Random(7)
    sent: dict[int, float] = {}
    acked: dict[int, float] = {}

    def on_ack(err, msg, s=None) -> None:
        if err is None:
            acked[msg.offset()] = time.monotonic()
            sent[msg.offset()] = s

    n = int(rate * seconds)
    vals = [value(i, rnd) for i in range(1000)]
    seen: list[tuple[int, float]] = []
    stop = False

    def poll_index() -> None:
        while not stop:
            status, out = b.request("/lat/_search", {"query": {"match_all": {}}, "size": 1,
                                                     "sort": [{"offset": "desc"}], "_source": False})
            if status == 200 and out["hits"]["hits"]:
                seen.append((int(out["hits"]["hits"][0]["_id"].split("-")[1]), time.monotonic()))
            time.sleep(0.005)

    import threading
    poller = threading.Thread(target=poll_index, daemon=True)
    poller.start()
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / rate
        while time.monotonic() < due:
            p.poll(0)
        s = time.monotonic()
        p.produce("lat", value=vals[i % 1000], on_delivery=lambda err, msg, s=s: on_ack(err, msg, s))
    p.flush(30)
    produce_s = time.monotonic() - t0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not seen or seen[-1][0] < n - 1):
        time.sleep(0.05)
    stop = True
    poller.join(5)
    from_send, from_ack = [], []
    j = 0
    for off in range(n):
        while j < len(seen) and seen[j][0] < off:
            j += 1
        if j == len(seen):
            break
        from_send.append(seen[j][1] - sent[off])
        from_ack.append(seen[j][1] - acked[off])
    return {"records": len(from_send), "achieved_rate": n / produce_s,
            "p50_ms": pct(from_send, 50) * 1000, "p99_ms": pct(from_send, 99) * 1000,
            "ack_p50_ms": pct(from_ack, 50) * 1000, "ack_p99_ms": pct(from_ack, 99) * 1000}


def queries(b: SearchBroker, n: int, scans: int) -> list[dict]:
    cases = [
        ("term (request_id)", {"term": {"value.request_id": f"req-{n // 2:09d}"}},
         lambda v: f'"req-{n // 2:09d}"'.encode() in v),
        ("phrase", {"match_phrase": {"value": f"payment failed for order {n // 200 * 100}"}},
         lambda v: f"payment failed for order {n // 200 * 100}\"".encode() in v),
        ("JSON field (level:error, user.id:40)",
         {"query_string": {"query": "value.level:error AND value.user.id:40"}},
         lambda v: b'"level": "error"' in v and b'"id": 40,' in v),
        ("key", {"term": {"key": "user7"}}, None),
        ("offset range 1 %", {"range": {"offset": {"gte": n // 2, "lt": n // 2 + n // 100}}}, None),
    ]
    rows = []
    for name, q, scan_pred in cases:
        times = []
        for _ in range(200):
            t = time.monotonic()
            status, out = b.request("/bench/_search", {"query": q, "size": 10})
            times.append(time.monotonic() - t)
            assert status == 200, out
        hits = out["hits"]["total"]["value"]
        row = {"query": name, "hits": hits, "p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000}
        if scan_pred is not None and scans:
            st = []
            for _ in range(scans):
                t = time.monotonic()
                found = scan(b.bootstrap, "bench", scan_pred)
                st.append(time.monotonic() - t)
            row["scan_s"] = statistics.median(st)
            row["scan_hits"] = found
            row["speedup"] = row["scan_s"] / (row["p50_ms"] / 1000)
        rows.append(row)
    return rows


def scan(bootstrap: str, topic: str, pred) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scan{time.time_ns()}", "enable.auto.commit": False,
                  "enable.partition.eof": True, "fetch.max.bytes": 50 << 20, "max.partition.fetch.bytes": 10 << 20})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    found = 0
    try:
        while True:
            msgs = c.consume(10_000, 5)
            done = False
            for m in msgs:
                if m.error():
                    done = True
                    break
                if pred(m.value()):
                    found += 1
            if done or not msgs:
                break
    finally:
        c.close()
    return found


def paced(p: Producer, topic: str, rate: int, seconds: float, lat: list[float], i0: int) -> None:
    """Produce at `rate` for `seconds`; each record's send -> ack time goes to `lat`."""
    rnd = random.Random(i0)
    n = int(rate * seconds)
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / rate
        while (wait := due - time.monotonic()) > 0:
            p.poll(min(0.001, wait))  # sleeps: a spinning client would take one of the two cores
        sent = time.monotonic()
        p.produce(topic, value=value(i0 + i, rnd),
                  on_delivery=lambda err, msg, s=sent: lat.append(time.monotonic() - s))
        p.poll(0)
    p.flush(30)


def caught_up(b: SearchBroker, topic: str, docs: int) -> None:
    """Wait until the topic's indexing is done: what a search-on window started must not
    spill into the next search-off window."""
    b.wait_docs(topic, docs, timeout=120)


def produce_impact(b: SearchBroker, rate: int = 1000, windows: int = 10, seconds: float = 1.0,
                   peak_runs: int = 4, peak_n: int = 200_000) -> dict:
    """Search on vs off for the produced topic, on the same broker in the same state.

    Two topics, `imp-on` (chronik.search.enable=true) and `imp-off`, one warmed-up
    producer (acks=all, linger.ms=0): its first records would wait for its
    connection and the topic's metadata -- ~50 ms, 1 % of 5,000 samples, which
    was the whole p99 of this leg before. Windows alternate on/off in the order
    on off off on ..., each `seconds` at `rate`; after a search-on window the
    index is let catch up before the next window. Peak MB/s likewise alternates
    runs of `peak_n` records as fast as confluent-kafka goes, from a pool of 10,000
    distinct 1 KiB JSON values made beforehand.
    """
    create_topic(b.bootstrap, "imp-on", search=True)
    create_topic(b.bootstrap, "imp-off", search=False)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all"})
    warm: list[float] = []
    for topic in ("imp-on", "imp-off"):
        paced(p, topic, rate, 0.2, warm, 0)
    produced = {"imp-on": len(warm) // 2, "imp-off": len(warm) // 2}
    caught_up(b, "imp-on", produced["imp-on"])
    lat: dict[bool, list[float]] = {True: [], False: []}
    for w in range(windows):
        on = (w % 4) in (0, 3)
        topic = "imp-on" if on else "imp-off"
        paced(p, topic, rate, seconds, lat[on], produced[topic])
        produced[topic] += int(rate * seconds)
        if on:
            caught_up(b, topic, produced[topic])
    rnd = random.Random(7)
    pool = [(f"user{i % 1000}".encode(), value(10_000_000 + i, rnd)) for i in range(10_000)]
    peak: dict[bool, tuple[float, float]] = {True: (0.0, 0.0), False: (0.0, 0.0)}
    for r in range(peak_runs):
        on = (r % 4) in (0, 3)
        topic = "imp-on" if on else "imp-off"
        c0 = cpu_s(b.proc.pid)
        secs = produce_pool(b.bootstrap, topic, pool, peak_n)
        produced[topic] += peak_n
        if on:
            caught_up(b, topic, produced[topic])  # the indexing CPU counts for search on
        s0, c = peak[on]
        peak[on] = (s0 + secs, c + cpu_s(b.proc.pid) - c0)
    runs = peak_runs / 2
    return {side: {"p50_ms": pct(lat[on], 50) * 1000, "p99_ms": pct(lat[on], 99) * 1000, "samples": len(lat[on]),
                   "peak_mb_s": runs * peak_n * 1024 / peak[on][0] / 1e6, "peak_broker_cpu_s": peak[on][1] / runs}
            for side, on in (("on", True), ("off", False))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--scans", type=int, default=2)
    ap.add_argument("--skip-impact", action="store_true")
    ap.add_argument("--mem-log", help="write the broker's memory every 0.2 s to this file")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-search-"))
    out: dict = {"load_start": os.getloadavg()}
    b = start(tmp, "on")
    watch = MemWatch(b.proc.pid, args.mem_log)
    try:
        watch.mark("indexing")
        out["indexing"] = indexing(b, args.records)
        out["rss_after_indexing_mb"] = rss_mb(b.proc.pid)
        watch.mark("queries")
        log_b = dir_bytes(b.data_dir / "bench-0")
        idx_b = dir_bytes(b.data_dir / ".search" / "bench")
        out["sizes"] = {"log_bytes": log_b, "index_bytes": idx_b, "ratio": idx_b / log_b}
        out["queries"] = queries(b, args.records, args.scans)
        # tantivy merges the segments of a bulk load in the background; until a merge
        # ends its inputs and output are both on disk: the size once they are done.
        out["sizes"]["index_bytes_settled"] = dir_bytes(b.data_dir / ".search" / "bench")
        out["sizes"]["ratio_settled"] = out["sizes"]["index_bytes_settled"] / log_b
        watch.mark("latency")
        out["latency_5k"] = latency(b)
        if not args.skip_impact:
            watch.mark("impact")
            out["impact"] = produce_impact(b)
        watch.mark("end")
        out["rss_end_mb"] = rss_mb(b.proc.pid)
    finally:
        watch.stop()
        b.stop()
        b.kill()
    out["memory"] = {"peaks": watch.peaks, "marks": watch.marks}
    shutil.rmtree(tmp, ignore_errors=True)
    out["load_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    ix = out["indexing"]
    print("\n| figure | value |\n|---|---|")
    print(f"| indexing, {ix['records']:,} x 1 KiB JSON | {ix['rate']:,.0f} records/s "
          f"(turned on after producing them in {ix['produce_s']:.1f} s; indexed in {ix['indexed_s']:.1f} s); "
          f"broker CPU {ix['cpu_us_per_record']:.0f} us/record = {1e6 / ix['cpu_us_per_record']:,.0f} records "
          f"per CPU-second |")
    la = out["latency_5k"]
    print(f"| produce -> searchable at 5,000 rec/s (achieved {la['achieved_rate']:,.0f}/s) | from send: "
          f"p50 {la['p50_ms']:.0f} ms, p99 {la['p99_ms']:.0f} ms; from ack: p50 {la['ack_p50_ms']:.0f} ms, "
          f"p99 {la['ack_p99_ms']:.0f} ms ({la['records']:,} records) |")
    for q in out["queries"]:
        extra = (f"; consumer scan {q['scan_s']:.2f} s ({q['scan_hits']} hits) = {q['speedup']:,.0f}x"
                 if "scan_s" in q else "")
        print(f"| query {q['query']} ({q['hits']} hits) | p50 {q['p50_ms']:.1f} ms, p99 {q['p99_ms']:.1f} ms{extra} |")
    s = out["sizes"]
    print(f"| index / log size | {s['index_bytes'] / 1e6:.1f} MB / {s['log_bytes'] / 1e6:.1f} MB = {s['ratio']:.2f} "
          f"right after indexing; {s['ratio_settled']:.2f} after the queries (merges done) |")
    if "impact" in out:
        on, offr = out["impact"]["on"], out["impact"]["off"]
        print(f"| produce at 1,000 rec/s, search on vs off (same broker, alternating 1 s windows, "
              f"{on['samples']:,} + {offr['samples']:,} samples) | p50 {on['p50_ms']:.2f} / {offr['p50_ms']:.2f} ms, "
              f"p99 {on['p99_ms']:.2f} / {offr['p99_ms']:.2f} ms |")
        print(f"| peak produce, search on vs off (alternating runs) | {on['peak_mb_s']:.1f} / "
              f"{offr['peak_mb_s']:.1f} MB/s ({on['peak_mb_s'] / offr['peak_mb_s']:.0%}); broker CPU per "
              f"run {on['peak_broker_cpu_s']:.1f} / {offr['peak_broker_cpu_s']:.1f} s (with indexing) |")
    mk = out["memory"]["marks"]
    peaks = out["memory"]["peaks"]
    ix_end = mk.get("indexing end", {})
    print(f"| broker RSS | {out['rss_after_indexing_mb']:.0f} MB after indexing (anon {ix_end.get('RssAnon', 0):.0f}, "
          f"file {ix_end.get('RssFile', 0):.0f}), {out['rss_end_mb']:.0f} MB at end; peak per phase: "
          + ", ".join(f"{ph} {v.get('VmRSS', 0):.0f}" for ph, v in peaks.items()) + " MB |")
    print(f"| machine load (1/5/15 min) | start {' '.join(f'{x:.1f}' for x in out['load_start'])}, "
          f"end {' '.join(f'{x:.1f}' for x in out['load_end'])} (2 cores, shared) |")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
