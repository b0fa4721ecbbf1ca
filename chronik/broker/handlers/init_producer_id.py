"""InitProducerId (22), v0-6: producer ids for idempotent producers.

A transactional id goes to the transaction coordinator (epoch bumps,
fencing of an older incarnation, KIP-360 recovery); without one, an
idempotent producer gets a fresh id from the producer id blocks.
"""

from __future__ import annotations

from kafka.protocol.producer.transaction import InitProducerIdResponse

from chronik.broker.handlers.txn_errors import fenced_code

API_KEY = 22


def handle(ctx, req):
    core = ctx.core
    v = ctx.api_version
    if req.transactional_id:
        pid = req.producer_id if v >= 3 else -1
        epoch = req.producer_epoch if v >= 3 else -1
        code, pid, epoch = core.transactions.init_producer_id(req.transactional_id, req.transaction_timeout_ms,
                                                              pid, epoch)
        return InitProducerIdResponse(version=v, throttle_time_ms=0, error_code=fenced_code(code, v, 4),
                                      producer_id=pid, producer_epoch=epoch)
    if v >= 3 and req.producer_id >= 0:
        # An idempotent producer bumping its epoch (KIP-360) keeps its id.
        return InitProducerIdResponse(version=v, throttle_time_ms=0, error_code=0,
                                      producer_id=req.producer_id,
                                      producer_epoch=(req.producer_epoch + 1) % 32767)
    pid = core.producers.allocate_producer_id()
    return InitProducerIdResponse(version=v, throttle_time_ms=0, error_code=0,
                                  producer_id=pid, producer_epoch=0)
