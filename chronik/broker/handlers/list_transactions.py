"""ListTransactions (66), v0-2: transactional ids filtered by state, producer id,
duration (v1+: open at least that long) and a regular expression (v2+).

Unknown state names are echoed in `unknown_state_filters` and match nothing,
as in Kafka.
"""

from __future__ import annotations

import re

from kafka.protocol.admin.transactions import ListTransactionsResponse

from chronik.broker.txn_state import STATE_NAMES
from chronik.wire.errors import ErrorCode

API_KEY = 66

_State = ListTransactionsResponse.TransactionState


def _respond(v: int, code: int, unknown: list[str], states: list) -> ListTransactionsResponse:
    return ListTransactionsResponse(version=v, throttle_time_ms=0, error_code=code,
                                    unknown_state_filters=unknown, transaction_states=states)


def handle(ctx, req):
    v = ctx.api_version
    coord = ctx.core.transactions
    wanted = list(req.state_filters or [])
    unknown = [s for s in wanted if s not in STATE_NAMES]
    if unknown and len(unknown) == len(wanted):
        return _respond(v, ErrorCode.NONE, unknown, [])
    pattern = None
    if v >= 2 and req.transactional_id_pattern:
        try:
            pattern = re.compile(req.transactional_id_pattern)
        except re.error:
            return _respond(v, ErrorCode.INVALID_REGULAR_EXPRESSION, unknown, [])
    duration = req.duration_filter if v >= 1 else -1
    found = coord.list_transactions({s for s in wanted if s in STATE_NAMES},
                                    set(req.producer_id_filters or []), duration, pattern)
    states = [_State(transactional_id=m.transactional_id, producer_id=m.producer_id,
                     transaction_state=m.state.value) for m in found]
    return _respond(v, ErrorCode.NONE, unknown, states)
