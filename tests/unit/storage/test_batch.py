import struct

import pytest
from crc32c import crc32c

from chronik.storage.batch import (
    CorruptBatchError,
    patch_base_offset,
    read_batch_header,
    scan_batches,
    set_log_append_time,
)

from .test_support import GZIP, LZ4, NONE, SNAPPY, ZSTD, build_batch, decode


@pytest.mark.parametrize("compression", [NONE, GZIP, SNAPPY, LZ4, ZSTD])
def test_scan_reads_header_fields(compression):
    data = build_batch(5, compression=compression, base_ts=1000, ts_step=10, value_size=200)
    [info] = scan_batches(data)
    assert info.position == 0
    assert info.size == len(data)
    assert info.base_offset == 0
    assert info.last_offset_delta == 4
    assert info.last_offset == 4
    assert info.record_count == 5
    assert info.base_timestamp == 1000
    assert info.max_timestamp == 1040
    assert info.compression == compression
    assert info.timestamp_type == 0
    assert not info.is_transactional and not info.is_control
    assert info.producer_id == -1


def test_scan_multiple_batches_and_views():
    a, b, c = build_batch(2), build_batch(3, compression=GZIP), build_batch(1)
    data = a + b + c
    for buf in (data, bytearray(data), memoryview(data)):
        infos = scan_batches(buf)
        assert [i.position for i in infos] == [0, len(a), len(a) + len(b)]
        assert [i.size for i in infos] == [len(a), len(b), len(c)]


def test_scan_empty_is_an_error():
    with pytest.raises(CorruptBatchError, match="empty"):
        scan_batches(b"")


@pytest.mark.parametrize("where", [30, 61, -1])
def test_flipped_byte_fails_crc(where):
    data = bytearray(build_batch(4, value_size=50))
    data[where] ^= 0x01
    with pytest.raises(CorruptBatchError, match="CRC"):
        scan_batches(data)
    # Header-only walks (recovery of sealed segments) can skip the CRC.
    assert len(scan_batches(data, verify_crc=False)) == 1


def test_flipped_byte_in_second_batch():
    a = build_batch(2)
    data = bytearray(a + build_batch(2))
    data[len(a) + 70] ^= 0xFF
    with pytest.raises(CorruptBatchError, match=f"position {len(a)}"):
        scan_batches(data)


@pytest.mark.parametrize("cut", [1, 10, 60])
def test_truncated_batch(cut):
    data = build_batch(3) + build_batch(3)
    with pytest.raises(CorruptBatchError, match="truncated|past the end"):
        scan_batches(data[:-cut])


def test_truncated_header():
    data = build_batch(3)
    with pytest.raises(CorruptBatchError, match="truncated batch header"):
        scan_batches(data + data[:20])


def test_bad_magic():
    data = bytearray(build_batch(3))
    data[16] = 1
    with pytest.raises(CorruptBatchError, match="magic 1"):
        scan_batches(data)


@pytest.mark.parametrize("length", [-5, 0, 48, 10**6])
def test_bad_length(length):
    data = bytearray(build_batch(3))
    struct.pack_into(">i", data, 8, length)
    with pytest.raises(CorruptBatchError, match="batchLength"):
        scan_batches(data)


def test_negative_last_offset_delta_and_count():
    data = bytearray(build_batch(3))
    struct.pack_into(">i", data, 23, -1)
    with pytest.raises(CorruptBatchError, match="lastOffsetDelta"):
        scan_batches(data, verify_crc=False)
    data = bytearray(build_batch(3))
    struct.pack_into(">i", data, 57, -2)
    with pytest.raises(CorruptBatchError, match="recordCount"):
        scan_batches(data, verify_crc=False)


def test_patch_base_offset_keeps_crc_valid():
    data = bytearray(build_batch(3))
    patch_base_offset(data, 0, 1234)
    [info] = scan_batches(data)
    assert info.base_offset == 1234
    assert [r[0] for r in decode(bytes(data))] == [1234, 1235, 1236]


@pytest.mark.parametrize("compression", [NONE, ZSTD])
def test_set_log_append_time(compression):
    data = bytearray(build_batch(3, compression=compression, base_ts=1000))
    set_log_append_time(data, 0, len(data), 5_000)
    [info] = scan_batches(data)  # CRC recomputed
    assert info.timestamp_type == 1
    assert info.max_timestamp == 5_000
    assert info.base_timestamp == 1000  # Kafka leaves it alone
    assert info.compression == compression
    assert [r[1] for r in decode(bytes(data))] == [5_000] * 3
    assert struct.unpack_from(">I", data, 17)[0] == crc32c(bytes(data[21:]))


def test_read_batch_header():
    a, b = build_batch(2), build_batch(4)
    info = read_batch_header(a + b, len(a))
    assert (info.position, info.size, info.record_count) == (len(a), len(b), 4)
    with pytest.raises(CorruptBatchError):
        read_batch_header(a[:40])


# -- the named header view and iter_batches ------------------------------------------------


def test_header_field_numbers_match_the_named_view():
    from chronik.storage import batch

    for i, name in enumerate(batch.BatchHeader._fields):
        short = {"batch_length": "BATCH_LENGTH", "partition_leader_epoch": "LEADER_EPOCH"}.get(name, name.upper())
        assert getattr(batch, "H_" + short) == i
    assert batch.HEADER.size == batch.HEADER_SIZE == 61


def test_batch_header_view():
    from chronik.storage.batch import BatchHeader

    data = build_batch(5, compression=GZIP, base_ts=1000, ts_step=10)
    h = BatchHeader.unpack_from(b"\0" * 3 + data, 3)
    info = read_batch_header(data)
    assert h.size == info.size == len(data)
    assert (h.base_offset, h.last_offset, h.record_count) == (0, 4, 5)
    assert (h.base_timestamp, h.max_timestamp) == (1000, 1040)
    assert h.compression == GZIP and h.magic == 2 and h.timestamp_type == 0
    assert not h.is_control and not h.is_transactional and h.producer_id == -1


def test_iter_batches_walks_a_log_in_chunks(tmp_path):
    from chronik.storage.batch import iter_batches
    from chronik.storage.log import LogConfig, OffsetOutOfRangeError, PartitionLog

    plog = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=1024))
    for _ in range(20):
        plog.append(bytearray(build_batch(3, value_size=50)))  # offsets 3i .. 3i+2
    assert len(plog.segments) > 3
    got = [(b.base_offset, bytes(raw)) for b, raw in iter_batches(plog, 0, chunk_bytes=500)]
    assert [o for o, _ in got] == list(range(0, 60, 3))
    for (offset, raw), (b,) in zip(got, (scan_batches(r) for _, r in got), strict=True):
        assert b.base_offset == offset and len(raw) == b.size
    # From the middle of a batch: that batch comes first; end_offset stops before a batch.
    assert [b.base_offset for b, _ in iter_batches(plog, 7, 15)] == [6, 9, 12]
    assert list(iter_batches(plog, 60)) == list(iter_batches(plog, 61)) == []
    plog.delete_records_before(9)
    with pytest.raises(OffsetOutOfRangeError):
        list(iter_batches(plog, 3))
    plog.close()
