"""The registry's log: `_schemas` partition 0, written and read through the broker core.

`CoreSchemaLog(core)` is the SchemaLog the core hands its registry: appends
go through `BrokerCore.append` (the same pipeline as a produce: listeners,
long-poll waiters, so `chronik consume _schemas -f` sees them), reads
through `BrokerCore.read`. The topic is created (compacted, one partition,
as Confluent's `kafkastore.topic`) on the first write.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.registry import errors
from chronik.registry.validation import enumerate_in_batches

TOPIC = "_schemas"
TOPIC_CONFIGS = {"cleanup.policy": "compact"}
_READ_CHUNK = 1 << 20


def build_batch(records: list[tuple[bytes, bytes | None]], timestamp_ms: int) -> bytearray:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 24)
    for i, (key, value) in enumerate(records):
        b.append(i, timestamp=timestamp_ms, key=key, value=value, headers=[])
    return b.build()


def decode_records(data: Any) -> Iterator[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of every data record in whole v2 batches."""
    for _, record in enumerate_in_batches(data):
        yield record


class CoreSchemaLog:
    def __init__(self, core: Any) -> None:
        self.core = core

    def _topic(self, create: bool):
        t = self.core.topics.get(TOPIC)
        if t is None and create:
            t = self.core.create_topic(TOPIC, 1, dict(TOPIC_CONFIGS))
        return t

    def append(self, key: bytes, value: bytes | None) -> None:
        from chronik.broker.types import Origin  # the core's own vocabulary; no cycle at import time

        try:
            self._topic(create=True)
        except Exception as exc:
            raise errors.store_error(f"cannot create {TOPIC}: {exc}") from None
        batch = build_batch([(key, value)], int(time.time() * 1000))
        out = self.core.append(TOPIC, 0, batch, origin=Origin.COORDINATOR)
        if out.error:
            raise errors.store_error(f"writing {TOPIC} failed: {getattr(out.error, 'name', out.error)} "
                                     f"{out.message or ''}".strip())

    def replay(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        topic = self._topic(create=False)
        if topic is None:
            return
        plog = topic.partition(0)
        if plog is None:
            return
        offset = plog.log_start_offset
        while offset < plog.log_end_offset:
            out = self.core.read(topic, 0, offset, _READ_CHUNK, read_committed=False)
            if out.error or not out.data:
                break
            last = offset
            for off, key, value in decode_records(out.data):
                if off >= offset:
                    yield key, value
                last = off
            if last + 1 <= offset:
                break
            offset = last + 1
