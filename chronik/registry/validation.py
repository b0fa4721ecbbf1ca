"""Broker-side schema validation (Confluent Server's `confluent.{key,value}.schema.validation`).

A produce to a topic with either config on is checked record by record:
the key and/or value must carry Confluent's wire framing — magic byte 0
and a 4-byte big-endian schema id — and the id must be a live version of
the topic's subject under TopicNameStrategy (`<topic>-key`/`<topic>-value`).
A null key or value (a tombstone) passes, as it carries no schema.

Only these topics pay for decoding records: the core reads the two typed
topic-config flags (two attribute reads, ~0.4 % of a 16 KB append) and
calls `check()` only when one is set.
"""

from __future__ import annotations

from typing import Any


def _why(data: bytes | None, subject: str, live: dict[str, set[int]]) -> str | None:
    if data is None:
        return None
    if len(data) < 5 or data[0] != 0:
        return f"not in the schema registry's wire format (magic byte 0 and a schema id) for subject {subject}"
    sid = int.from_bytes(data[1:5], "big")
    if sid not in live.get(subject, ()):
        return f"schema id {sid} is not registered under subject {subject}"
    return None


def check(topic: str, data: Any, keys: bool, values: bool, live: dict[str, set[int]]) -> list[tuple[int, str]]:
    """(record index in its batch, message) for each record that fails validation."""
    out: list[tuple[int, str]] = []
    key_subject, value_subject = f"{topic}-key", f"{topic}-value"
    for i, (_, key, value) in enumerate_in_batches(data):
        why = _why(key, key_subject, live) if keys else None
        what = "key"
        if why is None and values:
            why = _why(value, value_subject, live)
            what = "value"
        if why is not None:
            out.append((i, f"Record {i}: {what} {why}"))
    return out


def refuse(topic: str, data: Any, keys: bool, values: bool,
           live: dict[str, set[int]]) -> tuple[list[tuple[int, str]], str] | None:
    """None when every record passes; else (record_errors, the partition's error message)."""
    errors = check(topic, data, keys, values, live)
    if not errors:
        return None
    shown = ", ".join(f"RecordError(batchIndex={i}, message='{m}')" for i, m in errors[:3])
    return errors, (f"One or more records have been rejected due to {len(errors)} record errors in total, "
                    f"and only showing the first three errors at most: [{shown}]")


def enumerate_in_batches(data: Any):
    """(index of the record in its batch, (offset, key, value)) — Kafka's batchIndex."""
    from kafka.record.memory_records import MemoryRecords

    mr = MemoryRecords(bytes(data))
    while True:
        batch = mr.next_batch()
        if batch is None:
            return
        if getattr(batch, "is_control_batch", False):
            continue
        for i, rec in enumerate(batch):
            yield i, (rec.offset, rec.key, rec.value)
