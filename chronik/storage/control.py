"""Control batches: the end-transaction markers only a broker writes."""

from __future__ import annotations

import struct

from kafka.record.default_records import DefaultRecordBatchBuilder

# One broker coordinates every transaction, so the coordinator epoch never changes.
COORDINATOR_EPOCH = 0


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
    key = struct.pack(">hh", 0, 1 if commit else 0)
    value = struct.pack(">hi", 0, COORDINATOR_EPOCH)
    b.append(0, timestamp=timestamp_ms, key=key, value=value, headers=[])
    return b.build()
