"""TopicIndex: the searchers follow tantivy's background merges, so merged-away segment
files are no longer mapped (their pages resident, their disk space held) once the
merges have ended."""

from __future__ import annotations

from pathlib import Path

from chronik.search.index import TopicIndex
from chronik.search.reader import StoredRecord
from chronik.search.schema import record_document


def _deleted_maps(directory: Path) -> list[str]:
    with open("/proc/self/maps") as f:
        return [line for line in f if str(directory) in line and "(deleted)" in line]


def _add(idx: TopicIndex, offsets: range) -> None:
    for o in offsets:
        value = b'{"level": "error", "n": %d}' % o
        idx.add(record_document(0, StoredRecord(o, 1_700_000_000_000 + o, b"k", value, [])))
    idx.indexed_to[0] = offsets.stop
    idx.commit()


def test_after_the_merges_no_merged_away_segment_stays_mapped(tmp_path: Path) -> None:
    d = tmp_path / "t"
    idx = TopicIndex(d, "t", "id-1")
    for c in range(8):  # the 8th segment makes tantivy's log merge policy merge them, after the commit
        _add(idx, range(c * 50, c * 50 + 50))
    idx.close_writer()  # waits for the merge
    idx.reload_if_merged()
    assert idx.searcher().num_segments == 1
    assert idx.searcher().num_docs == 400
    assert _deleted_maps(d) == []
    assert idx.offsets_in(0, 0, 400) == list(range(400))
    idx.close()


def test_a_segment_published_outside_a_commit_is_reloaded_once(tmp_path: Path) -> None:
    d = tmp_path / "t"
    idx = TopicIndex(d, "t", "id-1")
    _add(idx, range(0, 10))
    assert idx.reload_if_merged() is False  # the commit reloaded already
    idx.close_writer()
    # what a merge thread does: publish segments (a new meta.json) with no commit of ours
    w = idx.index.writer(15_000_000, 1)
    w.add_document(record_document(0, StoredRecord(10, 1, None, b"x", [])))
    w.commit()
    w.wait_merging_threads()
    assert idx.num_docs() == 10
    assert idx.reload_if_merged() is True
    assert idx.num_docs() == 11
    assert idx.reload_if_merged() is False
    idx.close()


def test_no_reload_without_a_new_commit_or_merge(tmp_path: Path) -> None:
    idx = TopicIndex(tmp_path / "t", "t", "id-1")
    _add(idx, range(0, 1))
    assert idx.reload_if_merged() is False
    assert idx.num_docs() == 1
    idx.close()


def test_a_full_part_is_closed_and_new_documents_go_to_the_next(tmp_path: Path, monkeypatch) -> None:
    import chronik.search.index as index_mod

    monkeypatch.setattr(index_mod, "PART_BYTES", 1)  # every commit that wrote closes its part
    d = tmp_path / "t"
    idx = TopicIndex(d, "t", "id-1")
    for c in range(3):
        _add(idx, range(c * 10, c * 10 + 10))
    assert [p.directory.name for p in idx.parts] == ["part-000000", "part-000001", "part-000002", "part-000003"]
    assert idx.num_docs() == 30
    assert idx.offsets_in(0, 5, 25) == list(range(5, 25))
    idx.close()

    again = TopicIndex(d, "t", "id-1")  # resumes past the largest offset of every part
    assert not again.rebuilt and len(again.parts) == 4 and again.indexed_to[0] == 30
    again.delete_below(0, 15)  # part 0 emptied (removed), part 1 halved
    again.commit()
    assert [p.directory.name for p in again.parts][:2] == ["part-000001", "part-000002"]
    assert again.offsets_in(0, 0, 100) == list(range(15, 30))
    again.delete_offsets(0, [16, 25])
    again.commit()
    assert again.offsets_in(0, 0, 100) == [15, *range(17, 25), *range(26, 30)]
    again.close()


def test_a_part_without_meta_json_last_is_a_crash_while_beginning_it(tmp_path: Path, monkeypatch) -> None:
    import chronik.search.index as index_mod

    monkeypatch.setattr(index_mod, "PART_BYTES", 1)
    d = tmp_path / "t"
    idx = TopicIndex(d, "t", "id-1")
    _add(idx, range(10))
    idx.close()
    (d / "part-000002").mkdir()  # begun, never written
    again = TopicIndex(d, "t", "id-1")
    assert not again.rebuilt and [p.directory.name for p in again.parts] == ["part-000000", "part-000001"]
    assert again.num_docs() == 10
    again.close()
