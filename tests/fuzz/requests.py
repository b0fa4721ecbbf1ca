"""Seed requests for fuzzing: one populated request per served API and version.

Built from kafka-python's schemas, so every API and version is covered without
a hand-written list: each array gets one element, strings name a topic that
exists ("fuzz"), records are a real record batch, and tagged optional structs
stay absent. Mutating these reaches deep into the handlers, not just the
decoder.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.wire.apis import ALL_APIS

TOPIC = "fuzz"


def record_batch() -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    b.append(0, timestamp=1_700_000_000_000, key=b"k", value=b"v", headers=[("h", b"1")])
    return bytes(b.build())


_SCALARS: dict[str, Any] = {"string": TOPIC, "bytes": b"x", "records": None, "uuid": uuid.UUID(int=7),
                            "bool": False, "float64": 0.0}


def _value(type_str: str) -> Any:
    if type_str == "records":
        return record_batch()
    if type_str in _SCALARS:
        return _SCALARS[type_str]
    return 0  # int8 .. int64


def populate(obj: Any, version: int, depth: int = 0) -> Any:
    for name, field in obj._struct.fields.items():
        if not field.for_version_q(version) or field.tagged_field_q(version):
            continue
        type_str = getattr(field, "type_str", "")
        if field.is_struct_array():
            elem = field.data_class(version=version)
            setattr(obj, name, [populate(elem, version, depth + 1)] if depth < 4 else [])
        elif field.is_struct():
            continue
        elif field.is_array():
            setattr(obj, name, [_value(type_str[2:])])
        elif type_str in _SCALARS or type_str == "records":
            setattr(obj, name, _value(type_str))
    return obj


def seeds() -> Iterator[tuple[str, int, bytes]]:
    """(api name, version, whole framed request) for every API and version we serve."""
    for spec in ALL_APIS.values():
        for v in range(spec.min_version, spec.max_version + 1):
            req = populate(spec.request(version=v), v)
            if spec.name == "Produce":
                req.acks = 1
            req.API_VERSION = v
            req.with_header(correlation_id=1, client_id="fuzz")
            try:
                yield spec.name, v, bytes(req.encode(header=True, framed=True))
            except Exception:  # a combination kafka-python cannot encode: the default request instead
                plain = spec.request(version=v)
                plain.API_VERSION = v
                plain.with_header(correlation_id=1, client_id="fuzz")
                yield spec.name, v, bytes(plain.encode(header=True, framed=True))
