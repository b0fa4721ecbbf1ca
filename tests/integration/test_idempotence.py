"""Idempotent produce: duplicates, sequence gaps and stale epochs, across restarts."""

from __future__ import annotations

import pytest
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
from kafka.record.default_records import DefaultRecordBatchBuilder

from tests.integration.raw import RawConn
from tests.integration.test_protocol_versions import _create

pytestmark = pytest.mark.integration


def batch(pid: int, epoch: int, seq: int, n: int = 2) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 20)
    for i in range(n):
        b.append(i, timestamp=1_700_000_000_000, key=None, value=b"s%d" % (seq + i), headers=[])
    return bytes(b.build())


def produce(conn: RawConn, records: bytes) -> tuple[int, int]:
    P = ProduceRequest
    part = P.TopicProduceData.PartitionProduceData(index=0, records=records)
    resp = conn.call(P(transactional_id=None, acks=-1, timeout_ms=5000,
                       topic_data=[P.TopicProduceData(name="idem", partition_data=[part])]),
                     ProduceResponse, 9)
    pr = resp.responses[0].partition_responses[0]
    return pr.error_code, pr.base_offset


def init_pid(conn: RawConn) -> int:
    resp = conn.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=-1),
                     InitProducerIdResponse, 4)
    assert resp.error_code == 0 and resp.producer_epoch == 0
    return resp.producer_id


def test_duplicates_gaps_and_epochs(broker):
    conn = RawConn(broker.port)
    _create(conn, "idem")
    pid = init_pid(conn)
    assert init_pid(conn) != pid  # every producer gets its own id
    assert produce(conn, batch(pid, 0, 0)) == (0, 0)
    assert produce(conn, batch(pid, 0, 2)) == (0, 2)
    # A retry of either of the last batches is answered with its original offset, not stored.
    assert produce(conn, batch(pid, 0, 2)) == (0, 2)
    assert produce(conn, batch(pid, 0, 0)) == (0, 0)
    # A gap in the sequence.
    assert produce(conn, batch(pid, 0, 7))[0] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce(conn, batch(pid, 0, 4)) == (0, 4)
    # A newer epoch starts again at 0 and fences the old one.
    assert produce(conn, batch(pid, 1, 0)) == (0, 6)
    assert produce(conn, batch(pid, 0, 6))[0] == 47  # INVALID_PRODUCER_EPOCH
    assert produce(conn, batch(pid, 1, 5))[0] == 45
    # Non-idempotent batches are never checked.
    assert produce(conn, batch(-1, -1, -1)) == (0, 8)

    # The producer state survives a clean restart ...
    conn.close()
    broker.restart()
    conn = RawConn(broker.port)
    assert produce(conn, batch(pid, 1, 0)) == (0, 6)
    assert produce(conn, batch(pid, 1, 2)) == (0, 10)
    # ... and a kill -9 (replayed from the log's batch headers).
    conn.close()
    broker.kill()
    broker.start()
    conn = RawConn(broker.port)
    assert produce(conn, batch(pid, 1, 2)) == (0, 10)
    assert produce(conn, batch(pid, 1, 9))[0] == 45
    assert produce(conn, batch(pid, 1, 4)) == (0, 12)
    conn.close()
