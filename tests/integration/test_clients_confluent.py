"""The broker core driven by confluent-kafka (librdkafka)."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

pytestmark = pytest.mark.integration


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0, **conf) -> list:
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"g-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        **conf,
    })
    meta = c.list_topics(topic, timeout=10)
    parts = [TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions]
    c.assign(parts)
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        for m in c.consume(1000, timeout=0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(m.error())
            out.append(m)
    c.close()
    return out


def test_keyed_messages_round_trip_with_headers_and_timestamps(broker_factory):
    b = broker_factory("--partitions", "3")
    topic = "keyed"
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    base_ts = 1_700_000_000_000
    sent = {}
    for i in range(1000):
        key = f"key-{i % 37}".encode()
        value = f"value-{i}".encode()
        p.produce(topic, value=value, key=key, headers=[("n", str(i).encode()), ("h", b"x")],
                  timestamp=base_ts + i)
        sent[value] = (key, i)
    assert p.flush(30) == 0
    msgs = consume_all(b.bootstrap, topic, 1000)
    assert len(msgs) == 1000
    key_partition: dict[bytes, int] = {}
    offsets_by_partition: dict[int, list[int]] = {}
    for m in msgs:
        key, i = sent[m.value()]
        assert m.key() == key
        assert m.headers() == [("n", str(i).encode()), ("h", b"x")]
        assert m.timestamp() == (1, base_ts + i)  # CreateTime
        assert key_partition.setdefault(key, m.partition()) == m.partition()
        offsets_by_partition.setdefault(m.partition(), []).append(m.offset())
    assert len(offsets_by_partition) == 3
    for offs in offsets_by_partition.values():
        assert offs == list(range(len(offs)))


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(broker, codec):
    topic = f"comp-{codec}"
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec,
                  "linger.ms": 20})
    values = [(f"{codec}-{i}-" + "x" * (i % 50)).encode() for i in range(500)]
    for v in values:
        p.produce(topic, value=v, key=v[:8])
    assert p.flush(30) == 0
    msgs = consume_all(broker.bootstrap, topic, len(values))
    assert [m.value() for m in msgs] == values
    assert [m.offset() for m in msgs] == list(range(len(values)))
    # Stored as received: the batches on disk still carry the codec. (librdkafka
    # sends a batch uncompressed when the codec would make it bigger, so a
    # tiny first batch may be plain.)
    from chronik.storage.batch import scan_batches

    log = next((broker.data_dir / f"{topic}-0").glob("*.log")).read_bytes()
    codec_id = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[codec]
    codecs = {b.compression for b in scan_batches(log)}
    assert codec_id in codecs and codecs <= {0, codec_id}


def test_large_message(broker):
    topic = "big"
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 2_000_000})
    value = bytes(range(256)) * (900_000 // 256)
    p.produce(topic, value=value)
    assert p.flush(30) == 0
    msgs = consume_all(broker.bootstrap, topic, 1)
    assert msgs[0].value() == value


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(broker, acks):
    topic = f"acks-{acks}"
    reports = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": acks,
                  "enable.idempotence": False})
    for i in range(100):
        p.produce(topic, value=str(i).encode(), on_delivery=lambda e, m: reports.append((e, m)))
    assert p.flush(30) == 0
    assert len(reports) == 100 and all(e is None for e, _ in reports)
    if acks != "0":
        assert sorted(m.offset() for _, m in reports) == list(range(100))
    msgs = consume_all(broker.bootstrap, topic, 100)
    assert [m.value() for m in msgs] == [str(i).encode() for i in range(100)]


def test_watermarks_and_offsets_for_times(broker):
    topic = "times"
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    # A day ago: Kafka 4 refuses CreateTime stamps more than an hour ahead (message.timestamp.after.max.ms).
    base = (int(time.time()) - 86_400) * 1000
    for i in range(50):
        p.produce(topic, value=str(i).encode(), timestamp=base + i * 1000)
        p.flush(10)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "wm"})
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 50)
    found = c.offsets_for_times([TopicPartition(topic, 0, base + 20_500)], timeout=10)
    assert found[0].offset == 21
    found = c.offsets_for_times([TopicPartition(topic, 0, base + 99_000_000)], timeout=10)
    assert found[0].offset in (-1, 50)  # past the end: no such offset / log end
    c.close()


def test_admin_topic_lifecycle(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic("adm", num_partitions=3, replication_factor=1,
                                       config={"retention.ms": "3600000"})])
    fs["adm"].result(10)
    md = admin.list_topics(timeout=10)
    assert len(md.topics["adm"].partitions) == 3
    # Creating it again fails with TOPIC_ALREADY_EXISTS.
    fs = admin.create_topics([NewTopic("adm", num_partitions=1, replication_factor=1)])
    with pytest.raises(Exception) as err:
        fs["adm"].result(10)
    assert err.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    res = ConfigResource(ConfigResource.Type.TOPIC, "adm")
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["retention.ms"].value == "3600000"
    assert not configs["retention.ms"].is_default
    assert configs["cleanup.policy"].value == "delete" and configs["cleanup.policy"].is_default

    res2 = ConfigResource(ConfigResource.Type.TOPIC, "adm", incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res2])[res2].result(10)
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["cleanup.policy"].value == "compact"
    assert configs["retention.ms"].value == "3600000"

    bad = ConfigResource(ConfigResource.Type.TOPIC, "adm", incremental_configs=[
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(Exception) as err:
        admin.incremental_alter_configs([bad])[bad].result(10)
    assert err.value.args[0].code() == KafkaError.INVALID_CONFIG

    admin.create_partitions([NewPartitions("adm", 5)])["adm"].result(10)
    assert len(admin.list_topics(timeout=10).topics["adm"].partitions) == 5
    # A partition's directory appears with its first use (lazy partition logs).
    p = Producer({"bootstrap.servers": broker.bootstrap})
    delivered = []
    p.produce("adm", b"v", key=b"k", partition=4, on_delivery=lambda err, msg: delivered.append(err))
    assert p.flush(10) == 0 and delivered == [None]  # compacted by now: keyed
    assert (broker.data_dir / "adm-4").is_dir()

    admin.delete_topics(["adm"])["adm"].result(10)
    assert "adm" not in admin.list_topics(timeout=10).topics
    assert not any(broker.data_dir.glob("adm-*"))


def test_restart_keeps_data_and_topics(broker):
    topic = "durable"
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(200):
        p.produce(topic, key=b"k", value=str(i).encode())
    assert p.flush(30) == 0
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tid_before = admin.list_topics(timeout=10).topics[topic]
    broker.restart()
    msgs = consume_all(broker.bootstrap, topic, 200)
    assert [m.value() for m in msgs] == [str(i).encode() for i in range(200)]
    assert topic in AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(
        timeout=10).topics
    assert tid_before is not None


def test_sigkill_after_acks_all_loses_nothing(broker):
    topic = "crash"
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 2})
    acked = []
    for i in range(2000):
        p.produce(topic, value=str(i).encode(),
                  on_delivery=lambda e, m: acked.append(m.value()) if e is None else None)
    assert p.flush(30) == 0
    assert len(acked) == 2000
    broker.kill()
    broker.start()
    msgs = consume_all(broker.bootstrap, topic, 2000)
    assert sorted(int(m.value()) for m in msgs) == list(range(2000))


def test_no_auto_create(broker_factory):
    b = broker_factory("--no-auto-create")
    p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 2000})
    errors = []
    p.produce("nope", value=b"x", on_delivery=lambda e, m: errors.append(e))
    p.flush(10)
    assert errors and errors[0] is not None
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert "nope" not in admin.list_topics(timeout=10).topics


def test_log_append_time_topic(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("lat", num_partitions=1, replication_factor=1,
                                  config={"message.timestamp.type": "LogAppendTime"})])["lat"].result(10)
    before = int(time.time() * 1000)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        p.produce("lat", value=str(i).encode(), timestamp=1_000_000_000_000)
    assert p.flush(30) == 0
    after = int(time.time() * 1000)
    msgs = consume_all(broker.bootstrap, "lat", 10)
    assert [m.value() for m in msgs] == [str(i).encode() for i in range(10)]
    for m in msgs:
        ts_type, ts = m.timestamp()
        assert ts_type == 2  # TIMESTAMP_LOG_APPEND_TIME
        assert before - 1000 <= ts <= after + 1000


def test_max_message_bytes_is_enforced(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("small", num_partitions=1, replication_factor=1,
                                  config={"max.message.bytes": "2000"})])["small"].result(10)
    errors = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    p.produce("small", value=b"x" * 5000, on_delivery=lambda e, m: errors.append(e))
    p.flush(30)
    p.produce("small", value=b"ok", on_delivery=lambda e, m: errors.append(e))
    p.flush(30)
    assert errors[0] is not None and errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert errors[1] is None


def test_broker_options_show_in_broker_configs(broker_factory):
    b = broker_factory("--partitions", "4", "--offsets-retention-minutes", "90",
                       "--transaction-max-timeout-ms", "5000", "--group-initial-rebalance-delay-ms", "250")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, "0")
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["num.partitions"].value == "4"
    assert configs["offsets.retention.minutes"].value == "90"
    assert configs["transaction.max.timeout.ms"].value == "5000"
    assert configs["group.initial.rebalance.delay.ms"].value == "250"
    assert configs["advertised.listeners"].value == f"PLAINTEXT://127.0.0.1:{b.port}"
    # A transactional producer asking for more than the broker allows is refused.
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "too-long",
                  "transaction.timeout.ms": 60000})
    with pytest.raises(Exception) as err:
        p.init_transactions(10)
    assert err.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT


def test_compacted_topic_refuses_records_without_a_key_one_by_one(broker):
    """librdkafka 0011 test_message_single_partition_record_fail; issue 21.1."""
    from confluent_kafka import KafkaError, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("keyed", 1, 1, config={"cleanup.policy": "compact"})])["keyed"].result(10)
    results: dict[int, object] = {}
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 200, "batch.num.messages": 100,
                  "enable.idempotence": False, "retries": 0})
    for i in range(6):
        key = None if i in (1, 4) else f"k{i}".encode()
        p.produce("keyed", key=key, value=f"v{i}".encode(), partition=0,
                  on_delivery=lambda err, msg, i=i: results.__setitem__(i, err))
    assert p.flush(15) == 0
    assert results[1].code() == results[4].code() == KafkaError.INVALID_RECORD
    others = {results[i].code() for i in (0, 2, 3, 5)}
    assert others == {KafkaError._INVALID_DIFFERENT_RECORD}
    # Nothing of the refused batch was written; keyed records still go in.
    p.produce("keyed", key=b"ok", value=b"v", partition=0)
    assert p.flush(10) == 0
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "k", "enable.auto.commit": False})
    c.assign([TopicPartition("keyed", 0, 0)])
    m = c.poll(10)
    c.close()
    assert (m.offset(), m.key()) == (0, b"ok")


def test_authorized_operations_without_an_authorizer(broker):
    """As Kafka without an authorizer: every operation the resource type supports (issue 21.4)."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AclOperation as Op
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("ops", 1, 1)])["ops"].result(10)
    topic = admin.describe_topics(TopicCollection(["ops"]), include_authorized_operations=True)["ops"].result(10)
    assert set(topic.authorized_operations) == {Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DELETE, Op.ALTER,
                                                Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS}
    cluster = admin.describe_cluster(include_authorized_operations=True).result(10)
    assert set(cluster.authorized_operations) == {Op.CREATE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS,
                                                  Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE, Op.ALTER, Op.DESCRIBE}
    plain = admin.describe_topics(TopicCollection(["ops"]))["ops"].result(10)
    assert plain.authorized_operations is None


def test_dynamic_broker_configs(broker):
    """AlterConfigs/IncrementalAlterConfigs on brokers, as Kafka's dynamic broker configs (issue 21.2)."""
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ConfigSource,
        NewTopic,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("dyn", 1, 1, config={"retention.bytes": "12345"})])["dyn"].result(10)
    # The cluster-wide default (an empty broker name, which librdkafka cannot send) over the raw protocol.
    from kafka.protocol.admin.configs import (
        DescribeConfigsRequest,
        DescribeConfigsResponse,
        IncrementalAlterConfigsRequest,
        IncrementalAlterConfigsResponse,
    )

    from tests.integration.raw import RawConn

    inc = IncrementalAlterConfigsRequest.AlterConfigsResource
    raw = RawConn(broker.port)
    resp = raw.call(IncrementalAlterConfigsRequest(resources=[inc(resource_type=4, resource_name="", configs=[
        inc.AlterableConfig(name="log.retention.ms", config_operation=0, value="3600000"),
        inc.AlterableConfig(name="message.max.bytes", config_operation=0, value="2000000")])],
        validate_only=False), IncrementalAlterConfigsResponse, 1)
    assert resp.responses[0].error_code == 0
    raw.close()
    me = ConfigResource(ResourceType.BROKER, "0")
    set_op = AlterConfigOpType.SET
    me.add_incremental_config(ConfigEntry("log.retention.ms", "7200000", incremental_operation=set_op))
    list(admin.incremental_alter_configs([me]).values())[0].result(10)

    def describe(resource):
        return list(admin.describe_configs([resource]).values())[0].result(10)

    def check(restarted: bool):
        topic = describe(ConfigResource(ResourceType.TOPIC, "dyn"))
        assert (topic["retention.ms"].value, topic["retention.ms"].source) == (
            "7200000", ConfigSource.DYNAMIC_BROKER_CONFIG.value), restarted
        assert (topic["max.message.bytes"].value, topic["max.message.bytes"].source) == (
            "2000000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
        assert topic["retention.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        broker_cfg = describe(ConfigResource(ResourceType.BROKER, "0"))
        assert broker_cfg["log.retention.ms"].value == "7200000" and not broker_cfg["log.retention.ms"].is_read_only
        assert broker_cfg["num.partitions"].is_read_only
        conn = RawConn(broker.port)
        res = DescribeConfigsRequest.DescribeConfigsResource
        defaults = conn.call(DescribeConfigsRequest(resources=[res(resource_type=4, resource_name="",
                                                                   configuration_keys=None)],
                                                    include_synonyms=False, include_documentation=False),
                             DescribeConfigsResponse, 4).results[0].configs
        conn.close()
        assert {(e.name, e.value, e.config_source) for e in defaults} == {
            ("log.retention.ms", "3600000", 3), ("message.max.bytes", "2000000", 3)}

    check(False)
    broker.restart()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    check(True)
    # Applied: a 1.5 MB record fits the new message.max.bytes default.
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 3_000_000,
                  "compression.type": "none"})
    errors = []
    p.produce("dyn", value=b"x" * 1_500_000, on_delivery=lambda err, _m: errors.append(err))
    assert p.flush(10) == 0 and errors == [None]
    # Static configs are refused the way Kafka refuses them.
    bad = ConfigResource(ResourceType.BROKER, "0")
    bad.add_incremental_config(ConfigEntry("num.partitions", "3", incremental_operation=set_op))
    with pytest.raises(Exception, match="Cannot update these configs dynamically"):
        list(admin.incremental_alter_configs([bad]).values())[0].result(10)


def test_group_configs(broker):
    """Kafka 4's group configs (KIP-848), described and altered per group (issue 21.3, librdkafka 0081)."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})

    def describe(group):
        return list(admin.describe_configs([ConfigResource(ResourceType.GROUP, group)]).values())[0].result(10)

    before = describe("cfg-group")
    assert before["consumer.session.timeout.ms"].value == "45000"
    assert before["consumer.heartbeat.interval.ms"].value == "5000"
    res = ConfigResource(ResourceType.GROUP, "cfg-group")
    res.add_incremental_config(ConfigEntry("consumer.session.timeout.ms", "50000",
                                           incremental_operation=AlterConfigOpType.SET))
    list(admin.incremental_alter_configs([res]).values())[0].result(10)
    broker.restart()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    after = describe("cfg-group")
    assert after["consumer.session.timeout.ms"].value == "50000"
    assert after["consumer.session.timeout.ms"].source == 8  # GROUP_CONFIG
    bad = ConfigResource(ResourceType.GROUP, "cfg-group")
    bad.add_incremental_config(ConfigEntry("consumer.session.timeout.ms", "1000",
                                           incremental_operation=AlterConfigOpType.SET))
    with pytest.raises(Exception, match="consumer.session.timeout.ms"):
        list(admin.incremental_alter_configs([bad]).values())[0].result(10)
