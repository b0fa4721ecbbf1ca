"""Transactions end to end: confluent-kafka (librdkafka) and kafka-python against a real broker."""

from __future__ import annotations

import importlib.util
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

pytestmark = pytest.mark.integration


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def txn_producer(bootstrap: str, txn_id: str, **conf) -> Producer:
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5, **conf})
    p.init_transactions(15)
    return p


def read_to_end(bootstrap: str, topic: str, isolation: str, partitions: int = 1,
                timeout: float = 15.0) -> list[bytes]:
    """Values from offset 0 up to the end (the LSO for read_committed) of every partition."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": _uid("reader"),
        "isolation.level": isolation,
        "enable.partition.eof": True,
        "enable.auto.commit": False,
    })
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[bytes] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(at_end) < partitions and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(m.partition())
                continue
            raise AssertionError(m.error())
        at_end.discard(m.partition())
        out.append(m.value())
    c.close()
    assert len(at_end) == partitions, f"did not reach the end of {topic}"
    return out


def test_commit_and_abort_with_both_isolation_levels(broker_factory):
    b = broker_factory("--partitions", "2")
    topic = _uid("t")
    p = txn_producer(b.bootstrap, _uid("tx"))
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, f"c{i}".encode(), partition=i % 2)
    p.commit_transaction(15)
    p.begin_transaction()
    for i in range(6):
        p.produce(topic, f"a{i}".encode(), partition=i % 2)
    p.flush(10)
    # The open transaction holds the last stable offset back: nothing of it is visible yet.
    assert sorted(read_to_end(b.bootstrap, topic, "read_committed", 2)) == sorted(
        f"c{i}".encode() for i in range(10))
    p.abort_transaction(15)
    p.begin_transaction()
    p.produce(topic, b"last", partition=0)
    p.commit_transaction(15)

    committed = read_to_end(b.bootstrap, topic, "read_committed", 2)
    assert sorted(committed) == sorted([f"c{i}".encode() for i in range(10)] + [b"last"])
    everything = read_to_end(b.bootstrap, topic, "read_uncommitted", 2)
    assert sorted(everything) == sorted(
        [f"c{i}".encode() for i in range(10)] + [f"a{i}".encode() for i in range(6)] + [b"last"])


@pytest.mark.skipif(importlib.util.find_spec("chronik.broker.groups") is None,
                    reason="needs the group coordinator (consumer groups)")
def test_consume_transform_produce_moves_offsets_only_on_commit(broker):
    src, dst, group = _uid("in"), _uid("out"), _uid("ctp")
    plain = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        plain.produce(src, f"m{i}".encode())
    assert plain.flush(10) == 0

    c = Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "isolation.level": "read_committed",
    })
    c.subscribe([src])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 10 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    assert len(got) == 10

    p = txn_producer(broker.bootstrap, _uid("ctp-tx"))

    def transform_and_send_offsets() -> None:
        p.begin_transaction()
        for m in got:
            p.produce(dst, m.value().upper())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 15)

    def committed_offset() -> int:
        return c.committed([TopicPartition(src, 0)], timeout=10)[0].offset

    transform_and_send_offsets()
    p.abort_transaction(15)
    assert committed_offset() < 0  # nothing committed: the offsets went away with the abort
    assert read_to_end(broker.bootstrap, dst, "read_committed") == []

    transform_and_send_offsets()
    # While the transaction is open its offsets are unstable for require_stable readers.
    assert raw_offset_fetch(broker, group, src, require_stable=True) == (88, -1)
    assert raw_offset_fetch(broker, group, src, require_stable=False) == (0, -1)
    p.commit_transaction(15)
    assert raw_offset_fetch(broker, group, src, require_stable=True) == (0, 10)
    assert committed_offset() == 10
    assert read_to_end(broker.bootstrap, dst, "read_committed") == [f"M{i}".encode() for i in range(10)]
    c.close()


def raw_offset_fetch(broker, group: str, topic: str, require_stable: bool) -> tuple[int, int]:
    from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse

    from tests.integration.raw import RawConn

    conn = RawConn(broker.port)
    R = OffsetFetchRequest
    req = R(groups=[R.OffsetFetchRequestGroup(group_id=group, topics=[
        R.OffsetFetchRequestGroup.OffsetFetchRequestTopics(name=topic, partition_indexes=[0])])],
        require_stable=require_stable)
    resp = conn.call(req, OffsetFetchResponse, 8)
    conn.close()
    part = resp.groups[0].topics[0].partitions[0]
    return part.error_code, part.committed_offset


def test_second_producer_with_same_transactional_id_fences_the_first(broker):
    topic, txn_id = _uid("fence"), _uid("tx")
    p1 = txn_producer(broker.bootstrap, txn_id)
    p1.begin_transaction()
    p1.produce(topic, b"zombie")
    p1.flush(10)

    p2 = txn_producer(broker.bootstrap, txn_id)  # aborts p1's open transaction
    with pytest.raises(KafkaException) as info:
        p1.produce(topic, b"zombie-2")
        p1.commit_transaction(15)
    err = info.value.args[0]
    assert err.fatal() or err.code() in (KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)

    p2.begin_transaction()
    p2.produce(topic, b"winner")
    p2.commit_transaction(15)
    assert read_to_end(broker.bootstrap, topic, "read_committed") == [b"winner"]
    assert read_to_end(broker.bootstrap, topic, "read_uncommitted") == [b"zombie", b"winner"]


def test_transaction_survives_broker_restart_and_kill(broker):
    topic, txn_id = _uid("rs"), _uid("tx")
    p = txn_producer(broker.bootstrap, txn_id)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, f"x{i}".encode())
    p.flush(10)
    broker.restart()  # clean shutdown in the middle of the transaction
    assert read_to_end(broker.bootstrap, topic, "read_committed") == []
    for i in range(5, 10):
        p.produce(topic, f"x{i}".encode())
    p.commit_transaction(30)
    assert read_to_end(broker.bootstrap, topic, "read_committed") == [f"x{i}".encode() for i in range(10)]

    p.begin_transaction()
    p.produce(topic, b"doomed")
    p.flush(10)
    broker.kill()  # no shutdown snapshot: producer state is replayed from the log
    broker.start()
    assert len(read_to_end(broker.bootstrap, topic, "read_committed")) == 10
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, b"after")
    p.commit_transaction(30)
    assert read_to_end(broker.bootstrap, topic, "read_committed") == (
        [f"x{i}".encode() for i in range(10)] + [b"after"])


def test_timed_out_transaction_is_aborted_by_the_broker(broker):
    topic = _uid("to")
    p = txn_producer(broker.bootstrap, _uid("tx"), **{"transaction.timeout.ms": 1000,
                                                      "message.timeout.ms": 1000})
    p.begin_transaction()
    p.produce(topic, b"late")
    p.flush(10)
    time.sleep(2.5)
    # The coordinator aborted it and bumped the epoch: this producer is fenced.
    with pytest.raises(KafkaException):
        p.commit_transaction(10)
    assert read_to_end(broker.bootstrap, topic, "read_committed") == []

    # The partition is not stuck: a new transaction's records become visible.
    p2 = txn_producer(broker.bootstrap, _uid("tx"))
    p2.begin_transaction()
    p2.produce(topic, b"fresh")
    p2.commit_transaction(15)
    assert read_to_end(broker.bootstrap, topic, "read_committed") == [b"fresh"]


def test_too_long_transaction_timeout_is_rejected(broker):
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": _uid("tx"),
                  "transaction.timeout.ms": 3_600_000})
    with pytest.raises(KafkaException) as info:
        p.init_transactions(10)
    assert info.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT


def test_kafka_python_transactional_producer_and_admin(broker):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KTP

    topic, txn_id = _uid("kp"), _uid("kp-tx")
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=txn_id)
    p.init_transactions()
    p.begin_transaction()
    for i in range(3):
        p.send(topic, f"ok{i}".encode())
    p.commit_transaction()
    p.begin_transaction()
    for i in range(2):
        p.send(topic, f"no{i}".encode())
    p.flush()

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    desc = admin.describe_transactions([txn_id])[txn_id]
    assert str(getattr(desc.state, "value", desc.state)) == "Ongoing"
    assert KTP(topic, 0) in desc.topic_partitions
    listed = [t for rows in admin.list_transactions().values() for t in rows]
    assert txn_id in {t.transactional_id for t in listed}
    producers = admin.describe_producers([KTP(topic, 0)])[KTP(topic, 0)].active_producers
    assert [s.current_transaction_start_offset for s in producers] == [4]  # 3 records + marker
    admin.close()

    p.abort_transaction()
    p.close()

    def consume(isolation: str) -> list[bytes]:
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level=isolation,
                          enable_auto_commit=False, consumer_timeout_ms=1500)
        c.assign([KTP(topic, 0)])
        c.seek_to_beginning()
        values = [m.value for m in c]
        c.close()
        return values

    assert consume("read_committed") == [b"ok0", b"ok1", b"ok2"]
    assert consume("read_uncommitted") == [b"ok0", b"ok1", b"ok2", b"no0", b"no1"]
