"""The committed-offsets store: replay, torn tails, compaction, deletes."""

from __future__ import annotations

import os

from chronik.metadata.offsets import LOG_FILE, OFFSETS_DIR, OffsetStore


def test_commit_fetch_and_replay(tmp_path):
    s = OffsetStore(tmp_path, clock_ms=lambda: 1000)
    s.commit("g", {("t", 0): (5, "meta", 3), ("t", 1): (7, None, -1)})
    s.commit("g", {("t", 0): (9, "", 4)})
    assert s.fetch("g", "t", 0)[:3] == (9, "", 4)
    s.close()
    s2 = OffsetStore(tmp_path)
    assert s2.fetch("g", "t", 0) == (9, "", 4, 1000)
    assert s2.fetch("g", "t", 1)[:3] == (7, None, -1)
    assert s2.fetch("g", "t", 2) is None
    assert s2.fetch("other", "t", 0) is None


def test_torn_tail_is_cut_and_appends_continue(tmp_path):
    s = OffsetStore(tmp_path)
    s.commit("g", {("t", 0): (1, None, -1)})
    s.commit("g", {("t", 0): (2, None, -1)})
    s.close()
    path = tmp_path / OFFSETS_DIR / LOG_FILE
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 3)  # half-written last record
    s = OffsetStore(tmp_path)
    assert s.fetch("g", "t", 0).offset == 1
    s.commit("g", {("t", 1): (3, None, -1)})
    s.close()
    s = OffsetStore(tmp_path)
    assert s.fetch("g", "t", 0).offset == 1
    assert s.fetch("g", "t", 1).offset == 3


def test_corrupt_record_stops_replay(tmp_path):
    s = OffsetStore(tmp_path)
    s.commit("g", {("t", 0): (1, None, -1)})
    s.commit("g", {("t", 0): (2, None, -1)})
    s.close()
    path = tmp_path / OFFSETS_DIR / LOG_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert OffsetStore(tmp_path).fetch("g", "t", 0).offset == 1


def test_deletes_survive_replay(tmp_path):
    s = OffsetStore(tmp_path)
    s.commit("a", {("t", 0): (1, None, -1), ("u", 0): (2, None, -1)})
    s.commit("b", {("t", 0): (3, None, -1), ("t", 1): (4, None, -1)})
    s.commit("c", {("x", 0): (5, None, -1)})
    s.delete_topic("t")
    s.delete("b", [("nope", 0)])
    s.delete_group("c")
    s.close()
    s = OffsetStore(tmp_path)
    assert set(s.groups()) == {"a"}
    assert s.group_offsets("a") == {("u", 0): s.fetch("a", "u", 0)}


def test_compaction_keeps_live_entries(tmp_path):
    s = OffsetStore(tmp_path, compact_bytes=10_000)
    for i in range(2000):
        s.commit("g", {("t", i % 4): (i, f"m{i}", 0)})
    path = tmp_path / OFFSETS_DIR / LOG_FILE
    assert path.stat().st_size < 20_000  # compacted along the way
    s.commit("h", {("t", 0): (1, None, -1)})
    s.close()
    s = OffsetStore(tmp_path)
    assert [s.fetch("g", "t", p).offset for p in range(4)] == [1996, 1997, 1998, 1999]
    assert s.fetch("g", "t", 3).metadata == "m1999"
    assert s.fetch("h", "t", 0).offset == 1
    assert not os.path.exists(str(path) + ".tmp")


def test_a_commit_that_cannot_be_written_is_not_seen_and_leaves_no_torn_record(tmp_path, monkeypatch):
    import errno

    import pytest

    from chronik.metadata import offsets as offsets_module

    s = OffsetStore(tmp_path, clock_ms=lambda: 1000)
    s.commit("g", {("t", 0): (1, None, -1)})
    real_write = os.write

    def half_then_enospc(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(offsets_module.os, "write", half_then_enospc)
    with pytest.raises(OSError):
        s.commit("g", {("t", 0): (2, None, -1), ("t", 1): (3, None, -1)})
    monkeypatch.setattr(offsets_module.os, "write", real_write)
    assert s.fetch("g", "t", 0)[0] == 1 and s.fetch("g", "t", 1) is None
    s.commit("g", {("t", 1): (4, None, -1)})  # appends go on after the failure
    s.close()
    again = OffsetStore(tmp_path)
    assert again.fetch("g", "t", 0)[0] == 1 and again.fetch("g", "t", 1)[0] == 4


def test_group_state_records_replay_and_survive_compaction(tmp_path):
    s = OffsetStore(tmp_path, compact_bytes=1)
    s.put_group_state("g", b'{"epoch":1}')
    s.put_group_state("g", b'{"epoch":2}')
    s.put_group_state("h", b"x")
    s.put_group_state("h", None)
    s.commit("g", {("t", 0): (5, None, -1)})
    s.close()
    s2 = OffsetStore(tmp_path)
    assert s2.group_states() == {"g": b'{"epoch":2}'}
    assert s2.fetch("g", "t", 0).offset == 5
    s2.compact()
    s2.close()
    s3 = OffsetStore(tmp_path)
    assert s3.group_states() == {"g": b'{"epoch":2}'}
    s3.delete_group("g")  # offsets only: the state is the coordinator's to drop
    assert s3.group_states() == {"g": b'{"epoch":2}'}
    s3.close()
