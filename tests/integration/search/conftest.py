"""Brokers with the search API on their admin HTTP port."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess, free_port


@dataclass
class SearchBroker(BrokerProcess):
    http_port: int = 0

    def start(self, timeout: float = 20.0) -> SearchBroker:
        if "--http-port" not in self.extra_args:
            self.extra_args = [*self.extra_args, "--http-port", str(self.http_port), "--no-schema-registry-port"]
        super().start(timeout)
        assert f"admin http://127.0.0.1:{self.http_port}" in self.output(), self.output()
        return self

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def request(self, path: str, body: object | bytes | None = None, method: str | None = None) -> tuple[int, object]:
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.http + path, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw, status, ctype = r.read(), r.status, r.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            raw, status, ctype = e.read(), e.code, e.headers.get("content-type", "")
        return status, (json.loads(raw) if "json" in ctype else raw.decode())

    def search(self, topic: str, query: dict | None = None, **body) -> list[str]:
        """The `_id`s ("<partition>-<offset>") of every hit, in answer order."""
        if query is not None:
            body["query"] = query
        body.setdefault("size", 10_000)
        status, out = self.request(f"/{topic}/_search", body)
        assert status == 200, out
        return [h["_id"] for h in out["hits"]["hits"]]

    def total(self, topic: str, query: dict | None = None) -> int:
        status, out = self.request(f"/{topic}/_search", {"query": query or {"match_all": {}}, "size": 0})
        assert status == 200, out
        return out["hits"]["total"]["value"]

    def wait_docs(self, topic: str, count: int, timeout: float = 30.0) -> dict:
        """Wait until the topic's index holds `count` documents and has no lag."""
        deadline = time.monotonic() + timeout
        row: dict = {}
        while time.monotonic() < deadline:
            status, rows = self.request(f"/_cat/indices/{topic}?format=json")
            if status == 200 and rows:
                row = rows[0]
                if int(row["docs.count"]) == count and row["lag"] == "0":
                    return row
            time.sleep(0.05)
        raise AssertionError(f"index of {topic} did not reach {count} docs: {row}\n{self.output()[-3000:]}")

    def wait_total(self, topic: str, count: int, query: dict | None = None, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        n = -1
        while time.monotonic() < deadline:
            status, out = self.request(f"/{topic}/_search", {"query": query or {"match_all": {}}, "size": 0})
            if status == 200:
                n = out["hits"]["total"]["value"]
                if n == count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{topic}: {n} hits, expected {count}")


@pytest.fixture
def search_factory(tmp_path: Path) -> Iterator:
    started: list[SearchBroker] = []

    def make(*args: str, data_dir: Path | None = None, port: int | None = None,
             http_port: int | None = None) -> SearchBroker:
        b = SearchBroker(data_dir=data_dir or (tmp_path / f"data{len(started)}"), port=port or free_port(),
                         extra_args=list(args), http_port=http_port or free_port())
        started.append(b)
        return b.start()

    yield make
    for b in started:
        b.stop()
        b.kill()
