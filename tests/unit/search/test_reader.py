"""records_at (decodes only the wanted records of a batch) and the offset-index walk of lookups."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.search.reader import PartitionFiles, decode_batch, records_at
from chronik.storage.log import LogConfig, PartitionLog


def batch(n: int, codec: int = 0, base_ts: int = 1_700_000_000_000) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=10**7)
    for i in range(n):
        key = None if i % 3 == 0 else f"k{i}".encode()
        value = None if i % 5 == 4 else (f"v{i} " * (i % 40 + 1)).encode()
        headers = [("h", f"x{i}".encode()), ("n", None)] if i % 2 else []
        b.append(i, timestamp=base_ts + i * 7, key=key, value=value, headers=headers)
    return bytes(b.build())


@pytest.mark.parametrize("codec", [0, 1, 2, 3, 4])  # none, gzip, snappy, lz4, zstd
def test_records_at_matches_a_full_decode(codec: int) -> None:
    raw = batch(300, codec)
    every = list(decode_batch(raw))
    for want in ({0}, {299}, {5, 6, 150}, set(range(0, 300, 11)), set(range(300))):
        assert records_at(raw, want) == [r for r in every if r.offset in want]
    assert records_at(raw, {1000}) == []


def test_lookup_finds_records_across_segments_and_index_entries(tmp_path: Path) -> None:
    d = tmp_path / "t-0"
    plog = PartitionLog(d, LogConfig(segment_bytes=30_000))
    for _ in range(40):
        plog.append(bytearray(batch(50)))  # offsets are assigned by the log
    plog.flush()
    end = plog.log_end_offset
    plog.close()
    assert len(PartitionFiles(d).bases()) > 1
    want = [0, 1, 49, 50, 777, 1234, end - 1]
    got = PartitionFiles(d).lookup(want)
    assert sorted(got) == want
    for o in want:
        assert got[o].value == (None if o % 50 % 5 == 4 else (f"v{o % 50} " * (o % 50 % 40 + 1)).encode())
        assert got[o].timestamp == 1_700_000_000_000 + (o % 50) * 7
    assert PartitionFiles(d).lookup([end, end + 5]) == {}
