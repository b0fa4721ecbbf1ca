import struct

from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.storage.control import build_marker
from chronik.storage.log import LogConfig, PartitionLog
from chronik.storage.txn_index import (
    INDEX_FILE,
    AbortedEntry,
    AbortedIndex,
    aborted_ranges,
    decode_entries,
    encode_entries,
    marker_after,
)


def txn_batch(pid: int, n: int = 2, *, epoch: int = 0, seq: int = 0) -> bytearray:
    b = DefaultRecordBatchBuilder(2, 0, True, pid, epoch, seq, 1 << 20)
    for i in range(n):
        b.append(i, timestamp=1_700_000_000_000, key=b"k", value=b"v", headers=[])
    return bytearray(b.build())


def entries(idx: AbortedIndex) -> list[tuple[int, int, int]]:
    return [(e.producer_id, e.first_offset, e.last_offset) for e in idx.entries]


def make_log(tmp_path) -> PartitionLog:
    """pid 1 aborts [0, 2], pid 2 commits [3, 4], pid 3 aborts [5, 7]."""
    plog = PartitionLog(tmp_path / "t-0", LogConfig())
    plog.append(txn_batch(1))                       # 0-1
    plog.append(build_marker(1, 0, False, 0))       # 2 abort
    plog.append(txn_batch(2, 1))                    # 3
    plog.append(build_marker(2, 0, True, 0))        # 4 commit
    plog.append(txn_batch(3))                       # 5-6
    plog.append(build_marker(3, 0, False, 0))       # 7 abort
    return plog


def test_entry_format_is_24_bytes_big_endian():
    raw = encode_entries([AbortedEntry(1, 2, 3), AbortedEntry(-1, 0, 2**40)])
    assert raw == struct.pack(">qqq", 1, 2, 3) + struct.pack(">qqq", -1, 0, 2**40)
    assert decode_entries(raw) == [AbortedEntry(1, 2, 3), AbortedEntry(-1, 0, 2**40)]
    assert decode_entries(raw + b"\x01" * 7) == decode_entries(raw)  # torn tail ignored


def test_missing_file_is_rebuilt_from_the_log(tmp_path):
    plog = make_log(tmp_path)
    path = plog.directory / INDEX_FILE
    idx = AbortedIndex.load(path, plog)
    assert entries(idx) == [(1, 0, 2), (3, 5, 7)]
    assert decode_entries(path.read_bytes()) == idx.entries
    assert aborted_ranges(plog.directory) == {1: [(0, 2)], 3: [(5, 7)]}
    plog.close()


def test_rebuild_reads_headers_only(tmp_path, monkeypatch):
    """The rebuild runs on a fetch, on the broker's loop: it must not read record data."""
    plog = make_log(tmp_path)
    plog.append(bytearray(txn_batch(9, 500)))  # an open transaction with a large batch

    def no_data_reads(*_args, **_kwargs):
        raise AssertionError("PartitionLog.read called by the rebuild")

    monkeypatch.setattr(PartitionLog, "read", no_data_reads)
    idx = AbortedIndex.load(plog.directory / INDEX_FILE, plog)
    assert entries(idx) == [(1, 0, 2), (3, 5, 7)]
    plog.close()


def test_rebuild_skips_transactions_below_the_log_start(tmp_path):
    plog = make_log(tmp_path)
    plog.delete_records_before(3)
    idx = AbortedIndex.load(plog.directory / INDEX_FILE, plog)
    assert entries(idx) == [(3, 5, 7)]
    plog.close()


def test_rebuild_stops_at_a_damaged_marker(tmp_path):
    plog = make_log(tmp_path)
    seg = plog.segments[-1]
    positions = [pos for pos, _h in seg.iter_headers(0)]
    # Flip a byte in the last record of the second abort marker: its CRC no longer matches.
    last_end = seg.size
    with open(seg.path, "r+b") as f:
        f.seek(last_end - 1)
        byte = f.read(1)
        f.seek(last_end - 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert len(positions) == 6
    idx = AbortedIndex.load(plog.directory / INDEX_FILE, plog)
    assert entries(idx) == [(1, 0, 2)]  # what came before the damage is still indexed
    plog.close()


def test_load_drops_entries_past_the_log_end_duplicates_and_torn_tail(tmp_path):
    plog = make_log(tmp_path)
    path = plog.directory / INDEX_FILE
    good = encode_entries([AbortedEntry(1, 0, 2), AbortedEntry(3, 5, 7)])
    # A crash between the entry and its marker leaves an entry at the log end.
    path.write_bytes(good + encode_entries([AbortedEntry(1, 0, 2), AbortedEntry(4, 8, 8)]) + b"\0" * 5)
    idx = AbortedIndex.load(path, plog)
    assert entries(idx) == [(1, 0, 2), (3, 5, 7)]
    assert path.read_bytes() == good  # rewritten without the bad entries
    plog.close()


def test_load_drops_entries_below_the_log_start(tmp_path):
    plog = make_log(tmp_path)
    path = plog.directory / INDEX_FILE
    path.write_bytes(encode_entries([AbortedEntry(1, 0, 2), AbortedEntry(3, 5, 7)]))
    plog.delete_records_before(4)
    idx = AbortedIndex.load(path, plog)
    assert entries(idx) == [(3, 5, 7)]
    plog.close()


def test_append_undo_and_overlapping(tmp_path):
    path = tmp_path / INDEX_FILE
    idx = AbortedIndex(path)
    idx.append(AbortedEntry(1, 0, 2))
    idx.append(AbortedEntry(2, 3, 9))
    idx.append(AbortedEntry(3, 5, 7))  # out of order: kept sorted by marker offset
    assert [e.last_offset for e in idx.entries] == [2, 7, 9]
    assert len(path.read_bytes()) == 3 * 24
    assert [e.producer_id for e in idx.overlapping(0, 10)] == [1, 3, 2]
    assert [e.producer_id for e in idx.overlapping(3, 5)] == [2]
    assert [e.producer_id for e in idx.overlapping(8, 10)] == [2]
    assert idx.overlapping(10, 20) == []
    idx.undo_last()
    assert [e.producer_id for e in idx.entries] == [1, 3]
    assert decode_entries(path.read_bytes()) == idx.entries


def testmarker_after(tmp_path):
    plog = make_log(tmp_path)
    assert marker_after(plog, 1, 0)
    assert marker_after(plog, 3, 5)
    assert not marker_after(plog, 1, 3)  # pid 1's marker is at 2
    assert not marker_after(plog, 9, 0)
    plog.close()
