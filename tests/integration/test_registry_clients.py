"""The built-in schema registry driven by confluent-kafka's own SchemaRegistryClient and serializers.

The registry URL is the broker's own registry port (`--schema-registry-port`,
tests/integration/registry_broker.py), served by its selectors loop; data goes
through the same broker.
"""

from __future__ import annotations

import json
import struct
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.conftest import free_port
from tests.integration.raw import RawConn, create_topics, produce, record_batch
from tests.integration.registry_broker import RegistryBroker
from tests.integration.test_clients_confluent import consume_all

pytestmark = pytest.mark.integration

USER_AVRO = json.dumps({"type": "record", "name": "User", "namespace": "ex", "fields": [
    {"name": "name", "type": "string"}, {"name": "age", "type": "int"}]})
USER_JSON = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "User", "type": "object",
                        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                        "required": ["name"]})
USER_PROTO = 'syntax = "proto3";\npackage ex;\nmessage User { string name = 1; int32 age = 2; }\n'


@pytest.fixture
def rb(tmp_path):
    b = RegistryBroker(data_dir=tmp_path / "data", port=free_port())
    b.registry_port = free_port()
    b.start()
    yield b
    b.stop()
    b.kill()


def produce_values(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 2})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(15) == 0


def round_trip(rb: RegistryBroker, topic: str, ser, de, objs: list) -> list:
    ctx = SerializationContext(topic, MessageField.VALUE)
    produce_values(rb.bootstrap, topic, [ser(o, ctx) for o in objs])
    msgs = consume_all(rb.bootstrap, topic, len(objs))
    return [de(m.value(), ctx) for m in msgs]


def test_avro_serializer_round_trip_and_same_id(rb):
    client = SchemaRegistryClient({"url": rb.registry_url})
    ser = AvroSerializer(client, USER_AVRO)  # auto-registers on first use
    users = [{"name": f"u{i}", "age": i} for i in range(5)]
    assert round_trip(rb, "users-avro", ser, AvroDeserializer(client), users) == users
    latest = client.get_latest_version("users-avro-value")
    assert latest.version == 1 and latest.schema.schema_type == "AVRO"
    fresh = SchemaRegistryClient({"url": rb.registry_url})  # no cache
    assert fresh.register_schema("users-avro-value", Schema(USER_AVRO, "AVRO")) == latest.schema_id
    assert fresh.register_schema("elsewhere", Schema(USER_AVRO, "AVRO")) == latest.schema_id
    assert fresh.lookup_schema("users-avro-value", Schema(USER_AVRO, "AVRO")).version == 1
    assert fresh.get_subjects() == ["elsewhere", "users-avro-value"]
    # a compatible evolution through the client, then an incompatible one
    v2 = json.loads(USER_AVRO)
    v2["fields"].append({"name": "email", "type": "string", "default": ""})
    assert fresh.test_compatibility("users-avro-value", Schema(json.dumps(v2), "AVRO"))
    assert fresh.register_schema("users-avro-value", Schema(json.dumps(v2), "AVRO")) == latest.schema_id + 1
    bad = json.loads(USER_AVRO)
    bad["fields"][1]["type"] = "string"
    with pytest.raises(SchemaRegistryError) as err:
        fresh.register_schema("users-avro-value", Schema(json.dumps(bad), "AVRO"))
    assert err.value.http_status_code == 409 and err.value.error_code == 409


def test_json_serializer_round_trip(rb):
    client = SchemaRegistryClient({"url": rb.registry_url})
    ser = JSONSerializer(USER_JSON, client)
    users = [{"name": f"u{i}", "age": i} for i in range(3)]
    assert round_trip(rb, "users-json", ser, JSONDeserializer(USER_JSON, schema_registry_client=client),
                      users) == users
    assert client.get_latest_version("users-json-value").schema.schema_type == "JSON"


def _user_class():
    from google.protobuf import descriptor_pool
    from google.protobuf.message_factory import GetMessageClass

    from chronik.registry.schemas import parse

    fdp = parse("PROTOBUF", USER_PROTO).obj
    fdp.name = f"chronik_test_{uuid.uuid4().hex[:8]}.proto"
    fdp.package = f"ex{uuid.uuid4().hex[:8]}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName(f"{fdp.package}.User"))


def test_protobuf_serializer_round_trip(rb):
    User = _user_class()
    client = SchemaRegistryClient({"url": rb.registry_url})
    ser = ProtobufSerializer(User, client, {"use.deprecated.format": False})
    de = ProtobufDeserializer(User, {"use.deprecated.format": False}, schema_registry_client=client)
    users = [User(name=f"u{i}", age=i) for i in range(3)]
    back = round_trip(rb, "users-proto", ser, de, users)
    assert [(u.name, u.age) for u in back] == [(u.name, u.age) for u in users]
    latest = client.get_latest_version("users-proto-value")
    assert latest.schema.schema_type == "PROTOBUF"
    # the .proto text of the same message (registered as a base64 descriptor) is compatible with it
    text = USER_PROTO.replace("ex;", f"{User.DESCRIPTOR.file.package};")
    assert client.test_compatibility("users-proto-value", Schema(text, "PROTOBUF"))
    # ... and, as in Confluent, the same schema: both canonicalise to the same .proto text
    fresh = SchemaRegistryClient({"url": rb.registry_url})
    found = fresh.lookup_schema("users-proto-value", Schema(text, "PROTOBUF"))
    assert found.schema_id == latest.schema_id and found.version == 1
    assert "message User" in fresh.get_schema(latest.schema_id).schema_str


def test_ids_survive_sigkill(rb):
    client = SchemaRegistryClient({"url": rb.registry_url})
    ids = [client.register_schema(f"s{i}", Schema(json.dumps({"type": "record", "name": f"R{i}", "fields": []}),
                                                         "AVRO")) for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    client.delete_subject("s4")
    client.delete_subject("s4", permanent=True)  # the newest id goes; its number is not reused
    client.set_compatibility("s0", "FULL")
    rb.kill()
    rb.start()
    fresh = SchemaRegistryClient({"url": rb.registry_url})
    assert fresh.get_subjects() == ["s0", "s1", "s2", "s3"]
    for i in range(4):
        assert fresh.get_schema(ids[i]).schema_str == json.dumps(
            {"type": "record", "name": f"R{i}", "fields": []}, separators=(",", ":"))
    assert fresh.get_compatibility("s0") == "FULL"
    again = fresh.register_schema("s9", Schema(json.dumps({"type": "record", "name": "R1", "fields": []}), "AVRO"))
    assert again == 2  # the same schema keeps its id
    new = fresh.register_schema("s9b", Schema(json.dumps({"type": "record", "name": "N", "fields": []}), "AVRO"))
    assert new == 6
    # the history is Confluent's records in _schemas
    keys = [json.loads(m.key()) for m in consume_all(rb.bootstrap, "_schemas", 10)]
    assert {k["keytype"] for k in keys} >= {"SCHEMA", "CONFIG", "DELETE_SUBJECT"}


# -- broker-side validation -------------------------------------------------------------------------------------
def _create(rb, topic: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": rb.bootstrap})
    fut = admin.create_topics([NewTopic(topic, 1, 1, config=configs)])[topic]
    fut.result(10)


def test_value_validation_rejects_unframed_and_unknown_ids(rb):
    _create(rb, "checked", **{"confluent.value.schema.validation": "true"})
    client = SchemaRegistryClient({"url": rb.registry_url})
    sid = client.register_schema("checked-value", Schema(USER_AVRO, "AVRO"))
    other = client.register_schema("other-value", Schema(json.dumps({"type": "string"}), "AVRO"))
    framed = b"\x00" + struct.pack(">I", sid) + b"\x02a\x02"
    conn = RawConn(rb.port)
    try:
        def batch(values):
            from kafka.record.default_records import DefaultRecordBatchBuilder

            b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                          producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
            for i, v in enumerate(values):
                b.append(i, timestamp=1_700_000_000_000, key=None, value=v, headers=[])
            return bytes(b.build())

        r = produce(conn, "checked", batch([framed, b"plain string"]))
        assert r.error_code == 87  # INVALID_RECORD
        assert [(e.batch_index, "wire format" in e.batch_index_error_message) for e in r.record_errors] == [(1, True)]
        unknown = b"\x00" + struct.pack(">I", 999) + b"x"
        r = produce(conn, "checked", batch([framed, framed, unknown]))
        assert r.error_code == 87 and [e.batch_index for e in r.record_errors] == [2]
        assert "999" in r.record_errors[0].batch_index_error_message
        # an id registered, but under another subject
        r = produce(conn, "checked", batch([b"\x00" + struct.pack(">I", other) + b"x"]))
        assert r.error_code == 87 and r.record_errors[0].batch_index == 0
        r = produce(conn, "checked", batch([framed, framed, None]))
        assert r.error_code == 0 and r.base_offset == 0
        # a topic without the config takes anything and decodes nothing
        create_topics(conn, "plain")
        r = produce(conn, "plain", record_batch(10, n=3))
        assert r.error_code == 0
    finally:
        conn.close()
    # a real serializer's records pass, a plain producer's are refused
    ser = AvroSerializer(client, USER_AVRO)
    produce_values(rb.bootstrap, "checked", [ser({"name": "x", "age": 1},
                                                 SerializationContext("checked", MessageField.VALUE))])
    p = Producer({"bootstrap.servers": rb.bootstrap, "message.send.max.retries": 0})
    errors = []
    p.produce("checked", value=b"not framed", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].name() == "INVALID_RECORD"


def test_validation_configs_are_described_and_alterable(rb):
    from confluent_kafka.admin import ConfigResource

    _create(rb, "k", **{"confluent.key.schema.validation": "true"})
    admin = AdminClient({"bootstrap.servers": rb.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, "k")
    desc = admin.describe_configs([res])[res].result(10)
    assert desc["confluent.key.schema.validation"].value == "true"
    assert desc["confluent.value.schema.validation"].value == "false"
    with pytest.raises(KafkaException):
        admin.create_topics([NewTopic("bad", 1, 1, config={"confluent.key.schema.validation": "maybe"})])[
            "bad"].result(10)
    conn = RawConn(rb.port)
    try:
        r = produce(conn, "k", record_batch(10, n=1, key=b"plain key"))
        assert r.error_code == 87 and "key" in r.record_errors[0].batch_index_error_message
    finally:
        conn.close()


def test_http_answers_carry_confluent_content_type(rb):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{rb.registry_url}/subjects/none/versions", timeout=10)
    assert err.value.code == 404
    assert json.loads(err.value.read()) == {"error_code": 40401, "message": "Subject 'none' not found."}
    assert err.value.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
