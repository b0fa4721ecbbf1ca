"""The bench's franz-go producer (bench/goproducer): built once per source version, run per sample.

confluent-kafka from Python tops out near 1,000,000 records/s of 100 B here, and the
do-nothing sink gets no more than the brokers (bench/README.md), so the Python client's
100 B figure measures the client. The Go producer spends a fraction of its CPU per record
and leaves the rest of the two cores to the broker.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from workloads import ProduceResult, WorkloadError

SOURCE = Path(__file__).resolve().parent / "goproducer"
_GO_PATHS = ("/usr/local/go/bin", str(Path.home() / "go" / "bin"))
BUILD_TIMEOUT_S = 600
RUN_TIMEOUT_S = 300


def _go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    for d in _GO_PATHS:
        candidate = Path(d) / "go"
        if candidate.exists():
            return str(candidate)
    return None


def available() -> bool:
    return _go() is not None


def binary() -> Path:
    """The producer built from this checkout's source (cached by its digest, outside the repo)."""
    go = _go()
    if go is None:
        raise WorkloadError("go is not installed: no franz-go producer")
    digest = hashlib.sha1(b"".join((SOURCE / f).read_bytes() for f in ("go.mod", "go.sum", "main.go")))
    cache = Path(os.environ.get("CHRONIK_BENCH_CACHE", Path.home() / ".cache" / "chronik-bench"))
    out = cache / f"goproducer-{digest.hexdigest()[:12]}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        proc = subprocess.run([go, "build", "-o", str(tmp), "."], cwd=SOURCE, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S, env=dict(os.environ, GOFLAGS="-mod=mod"))
        if proc.returncode != 0:
            raise WorkloadError(f"go build of bench/goproducer failed: {proc.stderr.strip()[-500:]}")
        tmp.rename(out)
    return out


def produce_throughput_go(bootstrap: str, topic: str, count: int, size: int) -> tuple[ProduceResult, float]:
    """(the result, the producer's CPU seconds) for `count` records of `size` bytes sent by franz-go."""
    proc = subprocess.run([str(binary()), "-brokers", bootstrap, "-topic", topic, "-count", str(count),
                           "-size", str(size)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise WorkloadError(f"goproducer exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    out = json.loads(lines[-1])
    if proc.returncode != 0 or out["errors"]:
        raise WorkloadError(f"goproducer: {out['errors']} records failed ({out['first_error']})")
    return ProduceResult(out["messages"], out["bytes"], out["seconds"]), out["client_cpu_s"]
