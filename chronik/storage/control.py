"""Control batches: the end-transaction markers (COMMIT / ABORT) brokers write.

A marker is a transactional batch with the control bit set holding one
record: key ``>hh`` (version 0, type: 0 ABORT, 1 COMMIT), value ``>hi``
(version 0, coordinator epoch). One broker coordinates every transaction,
so the coordinator epoch is always ``COORDINATOR_EPOCH``.
"""

from __future__ import annotations

import struct

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

__all__ = [
    "ABORT",
    "COMMIT",
    "COORDINATOR_EPOCH",
    "build_marker",
    "is_abort_marker",
    "marker_type",
]

COORDINATOR_EPOCH = 0
# Control record types (the second int16 of the key).
ABORT, COMMIT = 0, 1
_KEY = struct.Struct(">hh")
_VALUE = struct.Struct(">hi")


class _ControlBatchBuilder(DefaultRecordBatchBuilder):
    # kafka-python's builder never sets the control bit: only brokers write control batches.
    def _get_attributes(self, include_compression_type: bool = True) -> int:
        return super()._get_attributes(include_compression_type) | self.CONTROL_MASK


def build_marker(producer_id: int, producer_epoch: int, commit: bool, timestamp_ms: int) -> bytearray:
    """A control batch holding one COMMIT or ABORT end-transaction marker."""
    b = _ControlBatchBuilder(
        magic=2, compression_type=0, is_transactional=True, producer_id=producer_id,
        producer_epoch=producer_epoch, base_sequence=-1, batch_size=1 << 20,
    )
    key = _KEY.pack(0, COMMIT if commit else ABORT)
    value = _VALUE.pack(0, COORDINATOR_EPOCH)
    b.append(0, timestamp=timestamp_ms, key=key, value=value, headers=[])
    return b.build()


def marker_type(key: bytes | None) -> int | None:
    """ABORT or COMMIT from a control record's key; None when the key is not a marker's."""
    if key is None or len(key) < _KEY.size:
        return None
    kind = _KEY.unpack_from(key)[1]
    return kind if kind in (ABORT, COMMIT) else None


def is_abort_marker(batch: bytes | bytearray | memoryview) -> bool:
    """Whether a control batch (whole batch bytes) holds an ABORT marker."""
    for rec in DefaultRecordBatch(bytes(batch)):
        return bool(getattr(rec, "abort", False))
    return False
