"""The topic table: names, limits, and changes that are all or nothing."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from chronik.broker.topics import MAX_PARTITIONS_PER_REQUEST, TopicTable, topic_name_error
from chronik.metadata.store import MetadataStore
from chronik.wire.errors import ErrorCode, KafkaApiError


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

    def flaky(directory, config):
        if len(made) == 2:
            raise OSError(errno.EMFILE, "Too many open files")
        made.append(directory)
        return real(directory, config)

    monkeypatch.setattr(topics_module, "PartitionLog", flaky)
    with pytest.raises(KafkaApiError) as exc:
        table.add_partitions("t", 10)
    assert exc.value.code == ErrorCode.KAFKA_STORAGE_ERROR
    assert len(table["t"].partitions) == 1
    assert table.store.load_topics()[0]["partitions"] == 1
    assert not any(d.exists() for d in made)
