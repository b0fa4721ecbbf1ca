"""AddPartitionsToTxn (24), v0-5.

v0-3 come from producers: one transaction, partitions by topic. v4+ is the
broker-to-broker batched form (KIP-890): several transactions, each either
adding its partitions or, with `verify_only`, asking whether they are already
part of the ongoing transaction. Unknown partitions fail the request with
UNKNOWN_TOPIC_OR_PARTITION on them and OPERATION_NOT_ATTEMPTED on the rest.
"""

from __future__ import annotations

from kafka.protocol.producer.transaction import AddPartitionsToTxnResponse

from chronik.broker.handlers.txn_errors import fenced_code

API_KEY = 24

_TopicResult = AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
_PartResult = _TopicResult.AddPartitionsToTxnPartitionResult
_TxnResult = AddPartitionsToTxnResponse.AddPartitionsToTxnResult


def _wanted(topics) -> list[tuple[str, int]]:
    return [(t.name, p) for t in topics for p in t.partitions]


def _results(wanted: list[tuple[str, int]], codes: dict, version: int) -> list:
    by_topic: dict[str, list] = {}
    for tp in wanted:
        code = fenced_code(codes[tp], version, 2)
        by_topic.setdefault(tp[0], []).append(_PartResult(partition_index=tp[1], partition_error_code=code))
    return [_TopicResult(name=name, results_by_partition=parts) for name, parts in by_topic.items()]


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.transactions
    if v <= 3:
        wanted = _wanted(req.v3_and_below_topics)
        codes = coord.add_partitions(req.v3_and_below_transactional_id, req.v3_and_below_producer_id,
                                     req.v3_and_below_producer_epoch, wanted)
        return AddPartitionsToTxnResponse(version=v, throttle_time_ms=0,
                                          results_by_topic_v3_and_below=_results(wanted, codes, v))
    results = []
    for txn in req.transactions:
        wanted = _wanted(txn.topics)
        op = coord.verify_partitions if txn.verify_only else coord.add_partitions
        codes = op(txn.transactional_id, txn.producer_id, txn.producer_epoch, wanted)
        results.append(_TxnResult(transactional_id=txn.transactional_id,
                                  topic_results=_results(wanted, codes, v)))
    return AddPartitionsToTxnResponse(version=v, throttle_time_ms=0, error_code=0,
                                      results_by_transaction=results)
