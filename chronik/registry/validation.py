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

from chronik.registry.log import decode_records


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
    """(record index in the record set, message) for each record that fails validation."""
    out: list[tuple[int, str]] = []
    key_subject, value_subject = f"{topic}-key", f"{topic}-value"
    for i, (_, key, value) in enumerate(decode_records(data)):
        why = _why(key, key_subject, live) if keys else None
        if why is None and values:
            why = _why(value, value_subject, live)
        if why is not None:
            out.append((i, f"Record {i}: {'key' if keys and _why(key, key_subject, live) else 'value'} {why}"))
    return out
