"""The admin HTTP port against a real broker: /metrics, /healthz, /readyz, /v1/status, bad HTTP."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.integration.test_bad_input import still_serving

pytestmark = pytest.mark.integration

# Every metric the panels of Strimzi's strimzi-kafka.json and strimzi-kafka-exporter.json
# (packaging/examples/metrics/grafana-dashboards) query that has a meaning on one node.
STRIMZI_KAFKA_DASHBOARD = [
    "kafka_server_replicamanager_leadercount",  # Brokers Online (and the dashboard's variables)
    "kafka_controller_kafkacontroller_activecontrollercount",
    "kafka_controller_controllerstats_uncleanleaderelections_total",
    "kafka_server_replicamanager_partitioncount",
    "kafka_server_replicamanager_underreplicatedpartitions",
    "kafka_cluster_partition_atminisr",
    "kafka_cluster_partition_underminisr",
    "kafka_controller_kafkacontroller_offlinepartitionscount",
    "kafka_cluster_partition_replicascount",  # the topic variable
    "process_open_fds",
    "kafka_server_brokertopicmetrics_bytesin_total",
    "kafka_server_brokertopicmetrics_bytesout_total",
    "kafka_server_brokertopicmetrics_messagesin_total",
    "kafka_server_brokertopicmetrics_totalproducerequests_total",
    "kafka_server_brokertopicmetrics_failedproducerequests_total",
    "kafka_server_brokertopicmetrics_totalfetchrequests_total",
    "kafka_server_brokertopicmetrics_failedfetchrequests_total",
    "kafka_network_socketserver_networkprocessoravgidle_percent",
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
    "kafka_server_kafkaserver_linux_disk_write_bytes",
    "kafka_server_kafkaserver_linux_disk_read_bytes",
    "kafka_server_socket_server_metrics_connection_count",
    "kafka_log_log_size",
]
STRIMZI_EXPORTER_DASHBOARD = [
    "kafka_broker_info",  # the dashboard's variables
    "kafka_topic_partitions",
    "kafka_topic_partition_replicas",
    "kafka_topic_partition_in_sync_replica",
    "kafka_topic_partition_under_replicated_partition",
    "kafka_cluster_partition_atminisr",
    "kafka_cluster_partition_underminisr",
    "kafka_topic_partition_leader_is_preferred",
    "kafka_topic_partition_current_offset",
    "kafka_topic_partition_oldest_offset",
    "kafka_consumergroup_current_offset",
    "kafka_consumergroup_lag",
]
# The rest of kafka_exporter's names (issue 13).
KAFKA_EXPORTER_OTHERS = [
    "kafka_brokers",
    "kafka_topic_partition_leader",
    "kafka_consumergroup_current_offset_sum",
    "kafka_consumergroup_lag_sum",
    "kafka_consumergroup_members",
]
# Panels that cannot show data on a laptop broker: Kubernetes' cAdvisor and kubelet
# series (container_memory_usage_bytes, container_cpu_usage_seconds_total,
# kubelet_volume_stats_available_bytes) and the JVM's (jvm_memory_used_bytes,
# jvm_gc_collection_seconds_*, jvm_threads_current). process_* are the process's own.


def http_get(url: str, timeout: float = 10) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


def scrape(base: str) -> dict[str, list]:
    status, ctype, body = http_get(base + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    samples: dict[str, list] = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            samples.setdefault(s.name, []).append(s)
    return samples


def value(samples, name, **labels) -> float:
    hits = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (name, labels, samples.get(name))
    return hits[0]


def total(samples, name, **labels) -> float:
    return sum(s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture
def admin_broker(broker_factory):
    port = free_port()
    b = broker_factory("--http-port", str(port))
    b.http = f"http://127.0.0.1:{port}"
    return b


def test_startup_line_names_the_url(admin_broker):
    assert f"admin {admin_broker.http}" in admin_broker.output()


def test_counters_offsets_and_lag_are_exact(admin_broker):
    n, m, topic, group = 240, 90, "metered", "metered-group"
    admin = KafkaAdminClient(bootstrap_servers=admin_broker.bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=admin_broker.bootstrap, linger_ms=5)
    for i in range(n):
        producer.send(topic, key=str(i).encode(), value=b"v" * 50)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=admin_broker.bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=10)
    got = 0
    while got < m:
        for recs in consumer.poll(1000, max_records=min(10, m - got)).values():
            got += len(recs)
    assert got == m
    consumer.commit()
    consumer.close()

    s = scrape(admin_broker.http)
    assert value(s, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == n
    assert total(s, "kafka_topic_partition_current_offset", topic=topic) == n
    assert total(s, "kafka_topic_partition_oldest_offset", topic=topic) == 0
    assert value(s, "kafka_topic_partitions", topic=topic) == 3
    assert value(s, "kafka_consumergroup_current_offset_sum", consumergroup=group, topic=topic) == m
    assert value(s, "kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == n - m
    assert total(s, "kafka_consumergroup_lag", consumergroup=group, topic=topic) == n - m
    assert value(s, "kafka_consumergroup_members", consumergroup=group) == 0  # it left
    assert value(s, "chronik_messages_in_total") == n
    assert value(s, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic) > n * 50
    assert value(s, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic) > 0
    assert value(s, "kafka_server_brokertopicmetrics_totalproducerequests_total", topic=topic) >= 1
    assert value(s, "kafka_server_brokertopicmetrics_totalfetchrequests_total", topic=topic) >= 1
    assert total(s, "kafka_log_log_size", topic=topic) > n * 50
    assert value(s, "kafka_server_replicamanager_partitioncount") == 3
    assert value(s, "chronik_partitions") == 3
    assert value(s, "chronik_producer_ids") >= 1
    assert value(s, "chronik_groups", state="Empty") == 1

    # process_open_fds is counted off the loop: the first scrape may start the count.
    deadline = time.monotonic() + 5
    while "process_open_fds" not in s and time.monotonic() < deadline:
        time.sleep(0.1)
        s = scrape(admin_broker.http)
    for name in STRIMZI_KAFKA_DASHBOARD + STRIMZI_EXPORTER_DASHBOARD + KAFKA_EXPORTER_OTHERS:
        assert name in s, f"{name} missing from /metrics"
    # Chronik's own
    for name in ("chronik_request_latency_seconds_bucket", "chronik_request_errors_total",
                 "chronik_connections", "chronik_connections_accepted_total", "chronik_connections_closed_total",
                 "chronik_long_poll_waiters", "chronik_bytes_in_total", "chronik_bytes_out_total",
                 "chronik_segment_rolls_total", "chronik_retention_deleted_segments_total",
                 "chronik_cleaner_runs_total", "chronik_cleaner_read_bytes_total", "chronik_open_transactions",
                 "chronik_transactions", "kafka_network_requestmetrics_requests_total",
                 "kafka_network_requestmetrics_totaltimems"):
        assert name in s, f"{name} missing from /metrics"


def test_histograms_have_sane_buckets(admin_broker):
    still_serving(admin_broker)
    s = scrape(admin_broker.http)
    buckets = [b for b in s["chronik_request_latency_seconds_bucket"] if b.labels["api"] == "ApiVersions"]
    assert buckets
    les = [b.labels["le"] for b in buckets]
    assert les[-1] == "+Inf"
    bounds = [float(le) for le in les[:-1]]
    assert bounds == sorted(bounds) and bounds[0] <= 0.001 and bounds[-1] >= 10
    counts = [b.value for b in buckets]
    assert counts == sorted(counts)
    count = value(s, "chronik_request_latency_seconds_count", api="ApiVersions", version="3")
    assert counts[-1] == count >= 1
    assert value(s, "chronik_request_latency_seconds_sum", api="ApiVersions", version="3") > 0


def test_health_ready_and_status(admin_broker):
    status, ctype, body = http_get(admin_broker.http + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, _, body = http_get(admin_broker.http + "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"
    status, ctype, body = http_get(admin_broker.http + "/v1/status")
    assert status == 200 and ctype == "application/json"
    st = json.loads(body)
    for key in ("version", "uptime_seconds", "topics", "partitions", "data_dir_bytes", "connections"):
        assert key in st
    assert st["kafka"] == admin_broker.bootstrap
    status, _, body = http_get(admin_broker.http + "/nope")
    assert status == 404 and json.loads(body)["error"]["status"] == 404


def raw_http(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_bad_http_gets_4xx_and_kafka_keeps_serving(admin_broker):
    port = int(admin_broker.http.rsplit(":", 1)[1])
    out = raw_http(port, b"\x16\x03\x01 garbage that is not HTTP\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")
    assert json.loads(out.split(b"\r\n\r\n", 1)[1])["error"]["status"] == 400
    out = raw_http(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413 ")
    out = raw_http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 ")
    still_serving(admin_broker)
    assert http_get(admin_broker.http + "/healthz")[0] == 200


def test_explicit_http_port_taken_is_a_startup_error(broker_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        with pytest.raises(RuntimeError, match="--http-port"):
            broker_factory("--http-port", str(taken))


def test_default_http_port_taken_warns_and_runs(broker_factory):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 9644))
        s.listen(1)
    except OSError:
        s.close()
        s = None  # someone else holds it: the broker must warn all the same
    try:
        b = broker_factory()
        assert "admin HTTP port 127.0.0.1:9644 is taken" in b.output()
        assert "admin http" not in b.output()
        still_serving(b)
    finally:
        if s is not None:
            s.close()


def test_no_http_and_json_log_format(broker_factory):
    b = broker_factory("--no-http", "--log-format", "json", "--log-level", "info")
    assert "admin http" not in b.output()
    b.stop()
    lines = [ln for ln in b.output().splitlines() if ln.startswith("{")]
    assert lines, b.output()
    rec = json.loads(lines[-1])
    assert {"ts", "level", "logger", "msg"} <= set(rec)
