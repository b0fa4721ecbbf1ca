"""`chronik segments` on the data directory of a real (stopped) broker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.test_segments import create, produce

pytestmark = pytest.mark.integration


def segments(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chronik", "-o", "json", "segments", *args],
        capture_output=True, text=True, timeout=60,
    )


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_segments_tools(broker_factory):
    b = broker_factory()
    create(b.bootstrap, "cli", **{"segment.bytes": "512"})
    items = [(f"k{i}".encode(), f"v{i}-".encode() * 8) for i in range(60)]
    produce(b.bootstrap, "cli", items, **{"batch.size": 200, "compression.type": "lz4"})
    create(b.bootstrap, "kv", **{"cleanup.policy": "compact", "segment.bytes": "1024"})
    produce(b.bootstrap, "kv", [(f"k{i % 3}".encode(), f"v{i}".encode() * 10) for i in range(60)],
            **{"batch.size": 200})

    # Refused while the broker holds the directory.
    r = segments("list", "-d", str(b.data_dir))
    assert r.returncode == 1 and "in use" in r.stderr
    b.stop()

    r = segments("list", "-d", str(b.data_dir), "cli")
    assert r.returncode == 0, r.stderr
    rows = lines(r.stdout)
    assert len(rows) > 2 and all(row["topic"] == "cli" for row in rows)
    assert sum(row["records"] for row in rows) == 60
    assert rows[0]["first_offset"] == 0 and rows[-1]["last_offset"] == 59

    # dump --records gives back exactly what was produced.
    r = segments("dump", "-d", str(b.data_dir), "cli", "--records")
    assert r.returncode == 0, r.stderr
    batches = lines(r.stdout)
    assert all(bt["compression"] == "lz4" for bt in batches)
    recs = [(rec["offset"], rec["key"], rec["value"]) for bt in batches for rec in bt["records"]]
    assert recs == [(i, k.decode(), v.decode()) for i, (k, v) in enumerate(items)]

    r = segments("verify", "-d", str(b.data_dir))
    assert r.returncode == 0, r.stderr + r.stdout
    assert all(row["ok"] for row in lines(r.stdout))

    # compact: only the latest value of each key survives in the sealed segments.
    r = segments("compact", "-d", str(b.data_dir), "kv")
    assert r.returncode == 0, r.stderr
    (stats,) = lines(r.stdout)
    assert stats["records_kept"] < stats["records_read"]
    r = segments("dump", "-d", str(b.data_dir), "kv", "--records")
    recs = [rec for bt in lines(r.stdout) for rec in bt["records"]]
    offsets = [rec["offset"] for rec in recs]
    assert offsets == sorted(offsets) and offsets[-1] == 59
    assert {rec["key"]: rec["value"] for rec in recs} == {
        f"k{k}": f"v{i}" * 10 for i in range(60) for k in [i % 3]
    }

    # Damage: a flipped byte in the middle of an old segment.
    seg = sorted((b.data_dir / "cli-0").glob("*.log"))[1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0xFF
    seg.write_bytes(bytes(data))
    r = segments("verify", "-d", str(b.data_dir), "cli")
    assert r.returncode == 1
    bad = [row for row in lines(r.stdout) if not row["ok"]]
    assert [row["segment"] for row in bad] == [seg.name]
    assert "damaged" in r.stderr

    # cleanup applies retention now; recover reports what it repaired.
    r = segments("cleanup", "-d", str(b.data_dir), "cli")
    assert r.returncode == 0, r.stderr
    active = sorted((b.data_dir / "cli-0").glob("*.log"))[-1]
    with open(active, "r+b") as f:
        f.truncate(active.stat().st_size - 5)
    r = segments("recover", "-d", str(b.data_dir), "cli")
    assert r.returncode == 0, r.stderr
    (row,) = lines(r.stdout)
    assert row["repaired"] and any("truncated" in a for a in row["actions"])
