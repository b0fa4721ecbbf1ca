"""AddOffsetsToTxn (25), v0-4: a consumer group's offsets join the transaction.

The offsets themselves come with TxnOffsetCommit and are held by the
coordinator until the transaction commits.
"""

from __future__ import annotations

from kafka.protocol.producer.transaction import AddOffsetsToTxnResponse

from chronik.broker.handlers.txn_errors import fenced_code
from chronik.wire.errors import ErrorCode

API_KEY = 25


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.transactions
    if not req.group_id:
        code = ErrorCode.INVALID_GROUP_ID
    else:
        code = fenced_code(
            coord.add_offsets(req.transactional_id, req.producer_id, req.producer_epoch, req.group_id), v, 2
        )
    return AddOffsetsToTxnResponse(version=v, throttle_time_ms=0, error_code=code)
