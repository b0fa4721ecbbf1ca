"""InitProducerId (22), v0-6: producer ids for idempotent producers.

Transactional ids are handled by the transaction coordinator when it is
installed (broker.extensions["init_transactional_producer"]).
"""

from __future__ import annotations

from kafka.protocol.producer.transaction import InitProducerIdResponse

from chronik.wire.errors import ErrorCode

API_KEY = 22


def handle(ctx, req):
    broker = ctx.broker
    v = ctx.api_version
    if req.transactional_id:
        txn = broker.extensions.get("init_transactional_producer")
        if txn is None:
            return InitProducerIdResponse(version=v, throttle_time_ms=0,
                                          error_code=ErrorCode.UNSUPPORTED_VERSION,
                                          producer_id=-1, producer_epoch=-1)
        return txn(ctx, req)
    if v >= 3 and req.producer_id >= 0:
        # An idempotent producer bumping its epoch (KIP-360) keeps its id.
        return InitProducerIdResponse(version=v, throttle_time_ms=0, error_code=0,
                                      producer_id=req.producer_id,
                                      producer_epoch=(req.producer_epoch + 1) % 32767)
    pid = broker.producers.allocate_producer_id()
    return InitProducerIdResponse(version=v, throttle_time_ms=0, error_code=0,
                                  producer_id=pid, producer_epoch=0)
