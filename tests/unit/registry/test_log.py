"""The registry on a real BrokerCore: `_schemas` written through append(), rebuilt by start(); validation."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from kafka.record.default_records import DefaultRecordBatchBuilder

from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.registry.app import CONTENT_TYPE
from chronik.registry.log import decode_records
from chronik.wire.errors import ErrorCode

CT = {"content-type": CONTENT_TYPE}
AVRO = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


class Sched:
    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def call_later(self, delay, fn):
        return None


def open_core(path: Path) -> BrokerCore:
    core = BrokerCore(BrokerConfig(data_dir=path), Sched())
    core.start()
    return core


def post(core, path: str, body: dict):
    status, _, out = core.registry_app.handle("POST", path, {}, CT, json.dumps(body).encode())
    return status, json.loads(out)


def batch(*values: bytes | None) -> bytearray:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for i, v in enumerate(values):
        b.append(i, timestamp=1_700_000_000_000, key=None, value=v, headers=[])
    return b.build()


def test_schemas_topic_is_written_and_replayed(tmp_path):
    core = open_core(tmp_path / "d")
    assert core.topics.get("_schemas") is None  # created on the first write only
    assert post(core, "/subjects/a/versions", {"schema": AVRO}) == (200, {"id": 1})
    assert post(core, "/subjects/b/versions", {"schema": json.dumps({"type": "string"})}) == (200, {"id": 2})
    topic = core.topics["_schemas"]
    assert topic.config.compact
    out = core.read(topic, 0, 0, 1 << 20, read_committed=False)
    keys = [json.loads(k) for _, k, _ in decode_records(out.data)]
    assert keys == [{"keytype": "SCHEMA", "subject": "a", "version": 1, "magic": 1},
                    {"keytype": "SCHEMA", "subject": "b", "version": 1, "magic": 1}]
    core.close()
    again = open_core(tmp_path / "d")
    assert sorted(again.registry.subjects) == ["a", "b"]
    assert post(again, "/subjects/c/versions", {"schema": json.dumps({"type": "long"})}) == (200, {"id": 3})
    again.close()


def test_validation_only_on_flagged_topics(tmp_path):
    core = open_core(tmp_path / "d")
    core.create_topic("v", 1, {"confluent.value.schema.validation": "true"})
    core.create_topic("free", 1)
    sid = post(core, "/subjects/v-value/versions", {"schema": AVRO})[1]["id"]
    good = b"\x00" + struct.pack(">I", sid) + b"\x02"
    assert core.append("free", 0, batch(b"anything")).error == ErrorCode.NONE
    out = core.append("v", 0, batch(good, b"plain"))
    assert out.error == ErrorCode.INVALID_RECORD and [i for i, _ in out.record_errors] == [1]
    assert core.partition("v", 0).log_end_offset == 0  # all or nothing
    assert core.append("v", 0, batch(good, None)).error == ErrorCode.NONE
    # a soft-deleted version's id no longer validates
    core.registry_app.handle("DELETE", "/subjects/v-value", {}, CT, b"")
    assert core.append("v", 0, batch(good)).error == ErrorCode.INVALID_RECORD
    core.close()
