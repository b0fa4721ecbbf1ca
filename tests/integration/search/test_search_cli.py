"""`chronik search` and `chronik segments reindex` through the real commands against a live broker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, free_port
from tests.integration.search.test_search import T0, create, produce

pytestmark = [pytest.mark.integration]


def chronik(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chronik", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **(env or {})))


@pytest.fixture
def loaded(search_factory):
    b = search_factory("--search")
    create(b.bootstrap, "logs", 2)
    recs = []
    for i in range(40):
        level = "error" if i % 5 == 0 else "info"
        recs.append({"partition": i % 2, "key": f"svc-{i % 3}", "timestamp": T0 + i * 60_000,
                     "value": json.dumps({"level": level, "msg": f"request {i} done"}),
                     "headers": [("env", b"prod")]})
    produce(b.bootstrap, "logs", recs)
    b.wait_docs("logs", 40)
    return b


def lines(cp: subprocess.CompletedProcess) -> list[str]:
    assert cp.returncode == 0, cp.stderr
    return [x for x in cp.stdout.splitlines() if x]


def test_search_options(loaded):
    b = loaded
    http = ["--http", b.http]
    errors = lines(chronik("search", "logs", "value.level:error", *http, "-f", "%p:%o\\n", "--sort", "offset"))
    assert sorted(errors) == sorted(f"{i % 2}:{i // 2}" for i in range(0, 40, 5))
    # env CHRONIK_HTTP, -p, -n, --sort time, -f json
    out = lines(chronik("search", "logs", "*", "-p", "1", "-n", "3", "--sort", "time", "-f", "json",
                        env={"CHRONIK_HTTP": b.http}))
    docs = [json.loads(x) for x in out]
    assert [(d["partition"], d["offset"]) for d in docs] == [(1, 19), (1, 18), (1, 17)]
    assert docs[0]["headers"] == [{"key": "env", "value": "prod"}] and docs[0]["key"] == "svc-0"
    # --since/--until with the time specs of consume
    since = str(T0 + 10 * 60_000)
    until = str(T0 + 20 * 60_000)
    got = lines(chronik("search", "logs", "", *http, "--since", since, "--until", until, "-f", "%T\\n", "-n", "100"))
    assert sorted(int(x) for x in got) == [T0 + i * 60_000 for i in range(10, 20)]
    # a phrase and -f with key/value
    got = lines(chronik("search", "logs", '"request 7 done"', *http, "-f", "%k|%v\\n"))
    assert got == ['svc-1|{"level": "info", "msg": "request 7 done"}']
    # nothing listening -> a clear message (the default URL from -b is unit-tested)
    dead = f"http://127.0.0.1:{free_port()}"
    cp = chronik("search", "logs", "x", "--http", dead)
    assert cp.returncode != 0 and f"cannot reach the search API at {dead}" in cp.stderr
    # bad query -> the server's reason, non-zero exit
    cp = chronik("search", "logs", "value:(", *http)
    assert cp.returncode != 0 and "parse" in cp.stderr.lower()


def test_search_on_a_topic_without_index_says_how_to_enable(search_factory):
    import time
    b = search_factory()
    create(b.bootstrap, "quiet")
    time.sleep(0.5)
    cp = chronik("search", "quiet", "x", "--http", b.http)
    assert cp.returncode != 0
    assert "no search index" in cp.stderr and "chronik.search.enable=true" in cp.stderr


def test_segments_reindex_offline(search_factory):
    b = search_factory()
    create(b.bootstrap, "ri", 1, **{"chronik.search.enable": "true"})
    produce(b.bootstrap, "ri", [{"value": f"item {i}"} for i in range(30)])
    b.wait_docs("ri", 30)
    b.stop()
    shutil.rmtree(b.data_dir / ".search")
    cp = chronik("-o", "json", "segments", "reindex", "-d", str(b.data_dir))
    assert cp.returncode == 0, cp.stderr
    rows = [json.loads(x) for x in cp.stdout.splitlines() if x]
    assert rows[0]["topic"] == "ri" and rows[0]["documents"] == 30
    b.start()
    b.wait_docs("ri", 30)  # opened as is, no duplicates
    assert b.total("ri", {"match": {"value": "item"}}) == 30
