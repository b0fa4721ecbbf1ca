import pytest

from chronik.metadata.store import META_FILE, PRODUCER_ID_BLOCK, MetadataError, MetadataStore


def test_topics_survive_a_reopen_and_the_file_is_replaced_atomically(tmp_path):
    store = MetadataStore(tmp_path)
    cid = store.cluster_id()
    store.save_topic("t", "id1", 3, {"retention.ms": "5"})
    store.close()
    assert not (tmp_path / (META_FILE + ".tmp")).exists()
    store = MetadataStore(tmp_path)
    assert store.cluster_id() == cid
    assert store.load_topics() == [{"name": "t", "id": "id1", "partitions": 3, "configs": {"retention.ms": "5"}}]
    store.delete_topic("t")
    assert store.load_topics() == []
    store.close()


def test_producer_ids_are_reserved_in_blocks(tmp_path):
    store = MetadataStore(tmp_path)
    assert [store.next_producer_id() for _ in range(3)] == [0, 1, 2]
    store.close()
    store = MetadataStore(tmp_path)
    assert store.next_producer_id() == PRODUCER_ID_BLOCK  # the rest of the block is skipped
    store.close()


def test_damaged_file_is_reported(tmp_path):
    (tmp_path / META_FILE).write_text("{not json")
    with pytest.raises(MetadataError, match="damaged"):
        MetadataStore(tmp_path).load_topics()
