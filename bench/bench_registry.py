"""Schema registry latency: register / lookup / get-by-id, p50 and p99 (issue 17: p99 < 5 ms).

Two measurements:
  in-process  RegistryApp.handle on a real BrokerCore (temp data dir): what one
              request costs the broker's loop, the `_schemas` append included
  http        the same calls over HTTP/1.1 keep-alive to a broker process's
              --schema-registry-port (h11 on the broker's selectors loop)

    python bench/bench_registry.py [-n 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port  # noqa: E402
from tests.integration.registry_broker import RegistryBroker  # noqa: E402

CT = "application/vnd.schemaregistry.v1+json"


def schema(i: int) -> str:
    return json.dumps({"type": "record", "name": f"R{i}", "namespace": "bench",
                       "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""},
                                  {"name": "c", "type": {"type": "array", "items": "long"}}]})


def pcts(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50_ms": round(statistics.median(s) * 1000, 3), "p99_ms": round(s[int(len(s) * 0.99) - 1] * 1000, 3),
            "max_ms": round(s[-1] * 1000, 3), "n": len(s)}


def run_ops(call, n: int) -> dict[str, dict[str, float]]:
    out: dict[str, list[float]] = {"register": [], "register_again": [], "lookup": [], "get_by_id": [],
                                   "latest_version": []}
    ids = []
    for i in range(n):
        body = json.dumps({"schema": schema(i)}).encode()
        t = time.perf_counter()
        status, resp = call("POST", f"/subjects/bench-{i}-value/versions", body)
        out["register"].append(time.perf_counter() - t)
        assert status == 200, resp
        ids.append(json.loads(resp)["id"])
    for i in range(n):
        body = json.dumps({"schema": schema(i)}).encode()
        t = time.perf_counter()
        status, _ = call("POST", f"/subjects/bench-{i}-value/versions", body)
        out["register_again"].append(time.perf_counter() - t)
        t = time.perf_counter()
        status, _ = call("POST", f"/subjects/bench-{i}-value", body)
        out["lookup"].append(time.perf_counter() - t)
        assert status == 200
    for sid in ids:
        t = time.perf_counter()
        status, _ = call("GET", f"/schemas/ids/{sid}", b"")
        out["get_by_id"].append(time.perf_counter() - t)
        assert status == 200
    for i in range(n):
        t = time.perf_counter()
        status, _ = call("GET", f"/subjects/bench-{i}-value/versions/latest", b"")
        out["latest_version"].append(time.perf_counter() - t)
    return {k: pcts(v) for k, v in out.items()}


def in_process(n: int) -> dict:
    from chronik.broker.config import BrokerConfig
    from chronik.broker.core import BrokerCore

    class Sched:
        @staticmethod
        def clock() -> float:
            return time.monotonic()

        def call_later(self, delay, fn):
            return None

    with tempfile.TemporaryDirectory() as tmp:
        core = BrokerCore(BrokerConfig(data_dir=Path(tmp) / "data"), Sched())
        core.registry.recover()
        app = core.registry_app

        def call(method: str, path: str, body: bytes):
            status, _, resp = app.handle(method, path, {}, {"content-type": CT}, body)
            return status, resp

        try:
            return run_ops(call, n)
        finally:
            core.close()


def over_http(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        b = RegistryBroker(data_dir=Path(tmp) / "data", port=free_port())
        b.registry_port = free_port()
        b.start()
        conn = http.client.HTTPConnection("127.0.0.1", b.registry_port, timeout=10)
        try:
            def call(method: str, path: str, body: bytes):
                conn.request(method, path, body=body or None, headers={"Content-Type": CT})
                r = conn.getresponse()
                return r.status, r.read()

            return run_ops(call, n)
        finally:
            conn.close()
            b.stop()
            b.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = {"in_process": in_process(args.n), "http": over_http(args.n)}
    for where, ops in result.items():
        print(where)
        for op, s in ops.items():
            print(f"  {op:15} p50 {s['p50_ms']:7.3f} ms   p99 {s['p99_ms']:7.3f} ms   max {s['max_ms']:7.3f} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
