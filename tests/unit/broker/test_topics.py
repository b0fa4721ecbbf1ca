"""The topic table: names, limits, and changes that are all or nothing."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from chronik.broker.topics import MAX_PARTITIONS_PER_REQUEST, TopicTable, topic_name_error
from chronik.metadata.store import MetadataStore
from chronik.wire.errors import ErrorCode, KafkaApiError
from tests.unit.storage.test_support import build_batch


@pytest.fixture
def table(tmp_path: Path):
    store = MetadataStore(tmp_path)
    t = TopicTable(tmp_path, store)
    yield t
    t.close()
    store.close()


@pytest.mark.parametrize("name,ok", [("orders", True), ("a.b-c_1", True), ("", False), (".", False),
                                     ("..", False), ("x" * 250, False), ("sp ace", False), ("ü", False)])
def test_names(name, ok):
    assert (topic_name_error(name) is None) == ok


def test_create_checks_and_collisions(table):
    table.create("a.b", 2)
    with pytest.raises(KafkaApiError) as exists:
        table.create("a.b", 1)
    assert exists.value.code == ErrorCode.TOPIC_ALREADY_EXISTS
    with pytest.raises(KafkaApiError) as collides:
        table.create("a_b", 1)
    assert collides.value.code == ErrorCode.INVALID_TOPIC_EXCEPTION
    with pytest.raises(KafkaApiError) as huge:
        table.create("huge", MAX_PARTITIONS_PER_REQUEST + 1)
    assert huge.value.code == ErrorCode.POLICY_VIOLATION
    with pytest.raises(KafkaApiError) as bad_config:
        table.create("cfg", 1, {"retention.ms": "soon"})
    assert bad_config.value.code == ErrorCode.INVALID_CONFIG


def test_a_failed_partition_change_changes_nothing(table, monkeypatch):
    import chronik.broker.topics as topics_module

    table.create("t", 1)
    real = topics_module.PartitionLog
    made = []

    def flaky(directory, config, **kwargs):
        if len(made) == 2:
            raise OSError(errno.EMFILE, "Too many open files")
        made.append(directory)
        return real(directory, config, **kwargs)

    monkeypatch.setattr(topics_module, "PartitionLog", flaky)
    with pytest.raises(KafkaApiError) as exc:
        table.add_partitions("t", 10)
    assert exc.value.code == ErrorCode.KAFKA_STORAGE_ERROR
    assert len(table["t"].partitions) == 1
    assert table.store.load_topics()[0]["partitions"] == 1
    assert not any(d.exists() for d in made)


def test_create_many_is_one_metadata_write_and_checks_each(table, monkeypatch):
    table.create("old", 1)
    writes = []
    real_write = table.store.db.storage.write
    monkeypatch.setattr(table.store.db.storage, "write", lambda data: (writes.append(1), real_write(data)))
    out = table.create_many([("t1", 3, None), ("old", 1, None), ("x.y", 1, None), ("x_y", 1, None),
                             ("t2", 2, {"cleanup.policy": "compact"})])
    assert len(writes) == 1
    assert [o.name if not isinstance(o, KafkaApiError) else o.code for o in out] == [
        "t1", ErrorCode.TOPIC_ALREADY_EXISTS, "x.y", ErrorCode.INVALID_TOPIC_EXCEPTION, "t2"]
    rows = {r["name"]: r for r in MetadataStore(table.data_dir).load_topics()}
    assert set(rows) == {"old", "t1", "x.y", "t2"}
    assert rows["t2"]["configs"] == {"cleanup.policy": "compact"} and rows["t1"]["partitions"] == 3


def test_new_partitions_touch_the_disk_only_when_used(table):
    topic = table.create("lazy", 2)
    assert not (table.data_dir / "lazy-0").exists()
    assert topic.partitions[0].log_end_offset == 0  # reading opens it, creates nothing
    assert topic.partitions[0].opened and not (table.data_dir / "lazy-0").exists()
    topic.partitions[0].append(bytearray(build_batch(1)))
    assert (table.data_dir / "lazy-0" / f"{0:020d}.log").exists()
    assert not (table.data_dir / "lazy-1").exists()


def test_a_failed_metadata_write_creates_nothing(table, monkeypatch):
    def full(data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(table.store.db.storage, "write", full)
    out = table.create_many([("a", 1, None), ("b", 2, None)])
    assert [o.code for o in out] == [ErrorCode.KAFKA_STORAGE_ERROR] * 2
    assert "a" not in table and "b" not in table
    monkeypatch.undo()
    assert table.create("a", 1).name == "a"  # the cached content was dropped, the file is sound
    assert [r["name"] for r in table.store.load_topics()] == ["a"]
