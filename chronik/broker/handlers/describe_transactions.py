"""DescribeTransactions (65), v0: the coordinator's view of transactional ids."""

from __future__ import annotations

from kafka.protocol.admin.transactions import DescribeTransactionsResponse

from chronik.wire.errors import ErrorCode

API_KEY = 65

_State = DescribeTransactionsResponse.TransactionState
_Topic = _State.TopicData


def _missing(txn_id: str, code: int) -> _State:
    return _State(error_code=code, transactional_id=txn_id, transaction_state="",
                  transaction_timeout_ms=0, transaction_start_time_ms=-1, producer_id=-1,
                  producer_epoch=-1, topics=[])


def handle(ctx, req):
    coord = ctx.core.transactions
    states = []
    for txn_id in req.transactional_ids:
        meta = coord.txns.get(txn_id)
        if meta is None:
            states.append(_missing(txn_id, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND))
            continue
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(meta.partitions):
            by_topic.setdefault(topic, []).append(partition)
        states.append(_State(
            error_code=0, transactional_id=txn_id, transaction_state=meta.state.value,
            transaction_timeout_ms=meta.timeout_ms, transaction_start_time_ms=meta.start_ms,
            producer_id=meta.producer_id, producer_epoch=meta.producer_epoch,
            topics=[_Topic(topic=t, partitions=ps) for t, ps in by_topic.items()],
        ))
    return DescribeTransactionsResponse(version=ctx.api_version, throttle_time_ms=0,
                                        transaction_states=states)
