"""EndTxn (26), v0-5: commit or abort; markers are written before the answer.

A retry of an EndTxn that already completed the same way succeeds; ending
with no ongoing transaction otherwise is INVALID_TXN_STATE. v5 (KIP-890)
returns the producer id and epoch, which do not change here: the epoch is
only bumped by InitProducerId, a fence or a timeout.
"""

from __future__ import annotations

from kafka.protocol.producer.transaction import EndTxnResponse

from chronik.broker.handlers.txn_errors import fenced_code
from chronik.wire.errors import ErrorCode

API_KEY = 26


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.transactions
    code = fenced_code(
        coord.end_txn(req.transactional_id, req.producer_id, req.producer_epoch, req.committed), v, 2
    )
    if v >= 5:
        meta = coord.txns.get(req.transactional_id) if coord is not None else None
        ok = code == ErrorCode.NONE and meta is not None
        return EndTxnResponse(version=v, throttle_time_ms=0, error_code=code,
                              producer_id=meta.producer_id if ok else -1,
                              producer_epoch=meta.producer_epoch if ok else -1)
    return EndTxnResponse(version=v, throttle_time_ms=0, error_code=code)
