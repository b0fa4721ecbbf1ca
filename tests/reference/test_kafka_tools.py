"""Apache Kafka's own command-line tools, run from the assembled jars, against Kafka and Chronik.

Each test runs the tool's main class as `bin/kafka-*.sh` would and checks its
output; the same assertions hold on both brokers. `kafka-dump-log` reads the
broker's own segment files: Chronik claims Kafka's on-disk format.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.reference.kafka import run_tool

pytestmark = [pytest.mark.integration, pytest.mark.reference]

TOPICS = "org.apache.kafka.tools.TopicCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
CONFIGS = "kafka.admin.ConfigCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
TRANSACTIONS = "org.apache.kafka.tools.TransactionsCommand"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
DUMP_LOG = "kafka.tools.DumpLogSegments"


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["kafka", "chronik"])
def server(request) -> tuple[str, Path]:
    """(bootstrap, directory holding the <topic>-<partition> segment directories)."""
    if request.param == "kafka":
        ref = request.getfixturevalue("kafka_ref")
        return ref.bootstrap, ref.log_dir
    broker = request.getfixturevalue("broker")
    return broker.bootstrap, broker.data_dir


def test_kafka_topics(server):
    bs, _ = server
    topic = name("ktopics")
    assert f"Created topic {topic}." in run_tool(
        TOPICS, "--bootstrap-server", bs, "--create", "--topic", topic, "--partitions", "3",
        "--config", "retention.ms=1000000").stdout
    assert topic in run_tool(TOPICS, "--bootstrap-server", bs, "--list").stdout.split()
    out = run_tool(TOPICS, "--bootstrap-server", bs, "--describe", "--topic", topic).stdout
    assert "PartitionCount: 3" in out and "ReplicationFactor: 1" in out
    assert re.search(r"Configs: (\S+,)?retention\.ms=1000000", out), out
    assert len(re.findall(rf"Topic: {topic}\tPartition: \d\tLeader: \d+\tReplicas: \d+\tIsr: \d+", out)) == 3
    run_tool(TOPICS, "--bootstrap-server", bs, "--alter", "--topic", topic, "--partitions", "5")
    assert "PartitionCount: 5" in run_tool(TOPICS, "--bootstrap-server", bs, "--describe", "--topic", topic).stdout
    bad = run_tool(TOPICS, "--bootstrap-server", bs, "--alter", "--topic", topic, "--partitions", "2", check=False)
    assert "InvalidPartitionsException" in bad.stdout + bad.stderr
    dup = run_tool(TOPICS, "--bootstrap-server", bs, "--create", "--topic", topic, check=False)
    assert dup.returncode != 0 and "TopicExistsException" in dup.stdout + dup.stderr
    run_tool(TOPICS, "--bootstrap-server", bs, "--delete", "--topic", topic)
    assert topic not in run_tool(TOPICS, "--bootstrap-server", bs, "--list").stdout.split()


def test_console_producer_consumer_keys_headers_and_consumer_groups(server):
    bs, _ = server
    topic, group = name("kconsole"), name("kgroup")
    lines = "h1:v1,h2:v2\tk1\tvalue one\nh3:x\tk2\tvalue two\nh4:\tk3\tvalue three\n"
    run_tool(PRODUCER, "--bootstrap-server", bs, "--topic", topic,
             "--property", "parse.key=true", "--property", "parse.headers=true", input=lines)
    out = run_tool(CONSUMER, "--bootstrap-server", bs, "--topic", topic, "--from-beginning", "--max-messages", "3",
                   "--group", group, "--property", "print.key=true", "--property", "print.headers=true",
                   "--property", "print.offset=true", "--property", "print.partition=true",
                   "--property", "print.timestamp=true").stdout
    got = [re.sub(r"CreateTime:\d+", "CreateTime:T", line) for line in out.splitlines()]
    assert got == [
        "CreateTime:T\tPartition:0\tOffset:0\th1:v1,h2:v2\tk1\tvalue one",
        "CreateTime:T\tPartition:0\tOffset:1\th3:x\tk2\tvalue two",
        "CreateTime:T\tPartition:0\tOffset:2\th4:\tk3\tvalue three",
    ]
    # The console consumer commits on exit: the group is at the end, lag 0.
    out = run_tool(GROUPS, "--bootstrap-server", bs, "--describe", "--group", group).stdout
    assert re.search(rf"{group}\s+{topic}\s+0\s+3\s+3\s+0\s", out), out
    assert group in run_tool(GROUPS, "--bootstrap-server", bs, "--list").stdout.split()
    out = run_tool(GROUPS, "--bootstrap-server", bs, "--reset-offsets", "--to-offset", "1", "--execute",
                   "--topic", topic, "--group", group).stdout
    assert re.search(rf"{group}\s+{topic}\s+0\s+1\s", out), out
    out = run_tool(GROUPS, "--bootstrap-server", bs, "--describe", "--group", group, "--offsets").stdout
    assert re.search(rf"{group}\s+{topic}\s+0\s+1\s+3\s+2\s", out), out
    out = run_tool(GROUPS, "--bootstrap-server", bs, "--describe", "--group", group, "--state").stdout
    assert re.search(rf"{group}\s+\S+:\d+\s+\(\d+\)\s+-\s+Empty\s+0", out), out
    run_tool(GROUPS, "--bootstrap-server", bs, "--reset-offsets", "--to-earliest", "--execute",
             "--topic", topic, "--group", group)
    out = run_tool(CONSUMER, "--bootstrap-server", bs, "--topic", topic, "--max-messages", "3", "--group", group).stdout
    assert out.splitlines() == ["value one", "value two", "value three"]
    out = run_tool(GROUPS, "--bootstrap-server", bs, "--delete", "--group", group).stdout
    assert "Deletion of requested consumer groups" in out and "was successful" in out


def test_kafka_configs(server):
    bs, _ = server
    topic = name("kconfigs")
    run_tool(TOPICS, "--bootstrap-server", bs, "--create", "--topic", topic)
    run_tool(CONFIGS, "--bootstrap-server", bs, "--alter", "--entity-type", "topics", "--entity-name", topic,
             "--add-config", "retention.ms=5000,cleanup.policy=compact")
    out = run_tool(CONFIGS, "--bootstrap-server", bs, "--describe", "--entity-type", "topics",
                   "--entity-name", topic).stdout
    assert "retention.ms=5000" in out and "cleanup.policy=compact" in out
    run_tool(CONFIGS, "--bootstrap-server", bs, "--alter", "--entity-type", "topics", "--entity-name", topic,
             "--delete-config", "retention.ms")
    out = run_tool(CONFIGS, "--bootstrap-server", bs, "--describe", "--entity-type", "topics",
                   "--entity-name", topic).stdout
    assert "retention.ms" not in out and "cleanup.policy=compact" in out
    out = run_tool(CONFIGS, "--bootstrap-server", bs, "--describe", "--entity-type", "topics", "--entity-name", topic,
                   "--all").stdout
    # (Kafka names the broker default in the synonyms, log.segment.bytes: see test_kafka_compat.py.)
    assert re.search(r"^  segment\.bytes=1073741824 sensitive=false synonyms=\{DEFAULT_CONFIG:", out, re.M), out
    assert re.search(r"^  cleanup\.policy=compact sensitive=false synonyms=\{"
                     r"DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, DEFAULT_CONFIG:(log\.)?cleanup\.policy=delete\}",
                     out, re.M), out
    out = run_tool(CONFIGS, "--bootstrap-server", bs, "--describe", "--entity-type", "brokers", "--all").stdout
    assert re.search(r"All configs for broker \d+ are:", out), out
    assert "log.segment.bytes=1073741824 sensitive=false synonyms={DEFAULT_CONFIG:log.segment.bytes=1073741824}" in out


def test_kafka_get_offsets_and_perf_tests(server):
    bs, _ = server
    topic = name("kperf")
    run_tool(TOPICS, "--bootstrap-server", bs, "--create", "--topic", topic, "--partitions", "2")
    out = run_tool(PRODUCER_PERF, "--topic", topic, "--num-records", "20000", "--record-size", "100",
                   "--throughput", "-1", "--producer-props", f"bootstrap.servers={bs}", "acks=all",
                   "linger.ms=5").stdout
    assert re.search(r"^20000 records sent, [\d.]+ records/sec", out, re.M), out
    out = run_tool(GET_OFFSETS, "--bootstrap-server", bs, "--topic", topic).stdout
    ends = {int(p): int(o) for _, p, o in (line.split(":") for line in out.split())}
    assert sum(ends.values()) == 20000 and set(ends) == {0, 1}
    out = run_tool(GET_OFFSETS, "--bootstrap-server", bs, "--topic", topic, "--time", "-2").stdout
    assert sorted(out.split()) == [f"{topic}:0:0", f"{topic}:1:0"]
    out = run_tool(GET_OFFSETS, "--bootstrap-server", bs, "--topic", topic, "--partitions", "0", "--time", "-3").stdout
    (line,) = out.split()  # the offset of the (first) record with the newest timestamp
    assert line.startswith(f"{topic}:0:") and 0 <= int(line.split(":")[2]) < ends[0]
    out = run_tool(CONSUMER_PERF, "--bootstrap-server", bs, "--topic", topic, "--messages", "20000",
                   "--show-detailed-stats", "--reporting-interval", "60000", "--timeout", "30000").stdout
    header, *rows = [line for line in out.splitlines() if line.strip()]
    assert header.startswith("time, threadId, data.consumed.in.MB") or header.startswith("start.time"), out
    out = run_tool(CONSUMER_PERF, "--bootstrap-server", bs, "--topic", topic, "--messages", "20000",
                   "--timeout", "30000").stdout
    fields = dict(zip(*[line.split(", ") for line in out.strip().splitlines()[-2:]], strict=True))
    assert int(fields["data.consumed.in.nMsg"]) == 20000, out


def test_kafka_transactions_tool(server):
    from confluent_kafka import Producer

    bs, _ = server
    topic, txid = name("ktxtool"), name("ktx")
    run_tool(TOPICS, "--bootstrap-server", bs, "--create", "--topic", topic)
    p = Producer({"bootstrap.servers": bs, "transactional.id": txid})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, b"in-flight")
    p.flush(30)
    out = run_tool(TRANSACTIONS, "--bootstrap-server", bs, "list").stdout
    assert re.search(rf"^{txid}\s+\d+\s+\d+\s+Ongoing\s*$", out, re.M), out
    out = run_tool(TRANSACTIONS, "--bootstrap-server", bs, "describe", "--transactional-id", txid).stdout
    assert re.search(rf"\s{txid}\s+\d+\s+0\s+Ongoing\s+60000\s+\d+\s+\d+\s+{topic}-0\s*$", out, re.M), out
    out = run_tool(TRANSACTIONS, "--bootstrap-server", bs, "describe-producers", "--topic", topic,
                   "--partition", "0").stdout
    # ProducerId ProducerEpoch LatestCoordinatorEpoch LastSequence LastTimestamp CurrentTransactionStartOffset
    # (Kafka's coordinator epoch is -1 before a marker, Chronik's 0: see test_kafka_compat.py.)
    assert re.search(r"^\d+\s+0\s+-?\d+\s+0\s+\d+\s+0\s*$", out, re.M), out
    p.commit_transaction(30)
    out = run_tool(TRANSACTIONS, "--bootstrap-server", bs, "describe", "--transactional-id", txid).stdout
    assert re.search(rf"\s{txid}\s+\d+\s+0\s+(CompleteCommit|PrepareCommit)\s+60000\s+\d+\s+\d+\s*$", out, re.M), out


def test_kafka_dump_log_reads_the_segment_files(server, request):
    from confluent_kafka import Producer

    bs, data = server
    topic = name("kdump")
    run_tool(TOPICS, "--bootstrap-server", bs, "--create", "--topic", topic)
    p = Producer({"bootstrap.servers": bs, "linger.ms": 0, "compression.type": "none", "enable.idempotence": True})
    for i in range(300):
        p.produce(topic, key=b"key-%d" % i, value=b"v" * 100 + b"%d" % i, headers=[("n", b"%d" % i)])
        if i % 10 == 9:
            p.flush(30)  # many batches: the index gets entries every 4 KiB
    p.flush(30)
    seg = data / f"{topic}-0" / ("0" * 20)
    out = run_tool(DUMP_LOG, "--files", f"{seg}.log", "--print-data-log", "--deep-iteration").stdout
    records = re.findall(r"\| offset: (\d+) CreateTime: \d+ keySize: (\d+) valueSize: (\d+) sequence: (\d+) "
                         r"headerKeys: \[n\] key: (\S+) payload: (v+\d+)", out)
    assert [(int(o), k) for o, *_, k, _ in records] == [(i, f"key-{i}") for i in range(300)]
    assert all(int(seq) == int(o) for o, _, _, seq, _, _ in records)  # idempotent producer, one epoch
    assert "isvalid: true" in out and "isvalid: false" not in out
    if request.node.callspec.params["server"] == "chronik":
        # Chronik writes index entries to the files at flush time (a clean stop flushes);
        # Kafka's are memory-mapped, so its live files are readable at any time.
        request.getfixturevalue("broker").stop()
    out = run_tool(DUMP_LOG, "--files", f"{seg}.index,{seg}.timeindex").stdout
    assert "Mismatches" not in out and "mismatch" not in out.lower(), out
    index = re.findall(r"^offset: (\d+) position: (\d+)$", out, re.M)
    times = re.findall(r"^timestamp: (\d+) offset: (\d+)$", out, re.M)
    assert len(index) >= 3 and [int(o) for o, _ in index] == sorted(int(o) for o, _ in index), out
    assert len(times) >= 3, out
    out = run_tool(DUMP_LOG, "--files", f"{seg}.index", "--verify-index-only").stdout
    assert "Mismatches" not in out, out
