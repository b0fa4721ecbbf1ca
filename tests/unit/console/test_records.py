"""Bounded reads of partition logs for the console."""

from __future__ import annotations

from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.broker.types import Origin
from chronik.console.decode import Decoder
from chronik.console.records import ReadError, newest_first, read_partition, to_json
from chronik.storage.control import build_marker


def batch(n: int, start: int = 0, ts: int = 1_700_000_000_000) -> bytearray:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for i in range(n):
        b.append(i, timestamp=ts + start + i, key=f"k{start + i}".encode(), value=f"v{start + i}".encode(),
                 headers=[("h", b"\xff"), ("n", None)])
    return b.build()


def test_reads_are_bounded_by_records_and_stop_offset(env):
    core, _console, _client = env
    core.create_topic("t", 1)
    for i in range(5):
        assert core.append("t", 0, batch(4, i * 4)).error == 0
    t = core.topics["t"]
    recs, nxt = read_partition(core, t, 0, 0, 6, 1 << 20)
    assert [r.offset for r in recs] == list(range(6)) and nxt == 6
    recs, nxt = read_partition(core, t, 0, 6, 100, 1 << 20, stop=9)
    assert [r.offset for r in recs] == [6, 7, 8] and nxt == 9
    recs, nxt = read_partition(core, t, 0, 18, 100, 1 << 20)
    assert [r.offset for r in recs] == [18, 19] and nxt == 20
    assert read_partition(core, t, 0, 20, 100, 1 << 20) == ([], 20)
    try:
        read_partition(core, t, 0 + 3, 0, 1, 1)
    except ReadError as exc:
        assert exc.code == 3
    else:
        raise AssertionError("partition 3 does not exist")


def test_control_batches_are_skipped(env):
    core, _console, _client = env
    core.create_topic("t", 1)
    core.append("t", 0, batch(2))
    core.append("t", 0, bytearray(build_marker(7, 0, commit=True, timestamp_ms=1)), origin=Origin.COORDINATOR)
    core.append("t", 0, batch(1, 10))
    recs, nxt = read_partition(core, core.topics["t"], 0, 0, 100, 1 << 20)
    assert [r.offset for r in recs] == [0, 1, 3] and nxt == 4


def test_to_json_and_order(env):
    core, _console, _client = env
    core.create_topic("t", 1)
    core.append("t", 0, batch(3))
    recs, _ = read_partition(core, core.topics["t"], 0, 0, 10, 1 << 20)
    out = [to_json(r, Decoder(None)) for r in newest_first(recs)]
    assert [m["offset"] for m in out] == [2, 1, 0]
    assert out[0]["headers"] == [{"key": "h", "value": None, "base64": "/w=="}, {"key": "n", "value": None}]
    assert out[0]["key"]["text"] == "k2" and out[0]["timestamp_type"] == "CreateTime"
