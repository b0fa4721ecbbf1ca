"""Broker-wide settings (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HTTP_PORT = 9644
DEFAULT_SCHEMA_REGISTRY_PORT = 8081  # Confluent Schema Registry's


@dataclass
class BrokerConfig:
    port: int = 9092
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    advertised_host: str | None = None
    default_partitions: int = 1
    auto_create_topics: bool = True
    max_request_bytes: int = 100 * 1024 * 1024
    # Kafka's max.connections and max.connections.per.ip; 0 (Kafka: Int.MaxValue) is no limit.
    max_connections: int = 0
    max_connections_per_ip: int = 0
    log_level: str = "info"
    node_id: int = 0
    # Kafka's default is 3 s. A dev broker answers a lone consumer within a
    # quarter second, yet consumers that start together (each join extends
    # the delay, as in Kafka) still form one generation.
    group_initial_rebalance_delay_ms: int = 200
    offsets_retention_minutes: int = 7 * 24 * 60
    # Kafka's offsets.retention.check.interval.ms: expired offsets go, and so does an empty group
    # left without offsets, at this pace (not at once: a group whose offsets were just deleted
    # still exists for DeleteGroups and DescribeGroups, as in Kafka).
    offsets_retention_check_interval_ms: int = 600_000
    # The consumer group protocol (KIP-848), Kafka's group.consumer.* with Kafka's defaults;
    # max size 0 is no limit (Kafka: Int.MaxValue); the first assignor is the default.
    group_consumer_session_timeout_ms: int = 45_000
    group_consumer_heartbeat_interval_ms: int = 5_000
    group_consumer_assignors: str = "uniform,range"
    group_consumer_max_size: int = 0
    transaction_max_timeout_ms: int = 15 * 60 * 1000
    housekeeping_interval_ms: int = 1000
    # Kafka's log.retention.check.interval.ms is 5 min; a dev broker shows a
    # retention.ms try within seconds (Redpanda's housekeeping interval).
    log_retention_check_interval_ms: int = 10_000
    # The admin HTTP port (/metrics, /healthz, /readyz, /v1/status). None means
    # the default, which is skipped with a warning when taken; an explicit
    # port that is taken is a start-up error. 0 picks a free port.
    http_port: int | None = None
    http_host: str | None = None  # default: host
    http_enabled: bool = True
    # The schema registry's own port (it is on the admin port too); None: 8081 if free.
    schema_registry_port: int | None = None
    schema_registry_enabled: bool = True
    # Index every topic for search (else only topics with chronik.search.enable=true).
    search: bool = False
    # The web console on the admin port (chronik.console): on unless --no-console; writes off with
    # --console-read-only; --open opens it in the default browser once the broker listens.
    console_enabled: bool = True
    console_read_only: bool = False
    console_open: bool = False
    log_format: str = "text"  # text | json
    # never: acknowledged = written to the file (the OS flushes it); always: acks=all answers
    # wait for an fsync, group-committed per loop turn (chronik.broker.group_commit).
    fsync: str = "never"
    # -- security (issue 15) --
    # Kafka's listeners: (name, protocol, host, port); empty means one PLAINTEXT listener on host:port.
    listeners: list[tuple[str, str, str, int]] = field(default_factory=list)
    # name -> (host, port) advertised to clients of that listener (Kafka's advertised.listeners).
    advertised_listeners: dict[str, tuple[str, int]] = field(default_factory=dict)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_client_auth: str = "none"  # none | requested | required (Kafka's ssl.client.auth)
    sasl_mechanisms: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
    sasl_users: list[tuple[str, str]] = field(default_factory=list)
    authorizer: bool = False
    super_users: tuple[str, ...] = ()
    allow_everyone_if_no_acl_found: bool = False

    @property
    def advertised(self) -> str:
        if self.advertised_host:
            return self.advertised_host
        if self.host in ("0.0.0.0", "::", ""):
            # 0.0.0.0 is not an address a client can connect to.
            return "127.0.0.1"
        return self.host
