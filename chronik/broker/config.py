"""Broker-wide settings (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HTTP_PORT = 9644


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
    log_format: str = "text"  # text | json

    @property
    def advertised(self) -> str:
        if self.advertised_host:
            return self.advertised_host
        if self.host in ("0.0.0.0", "::", ""):
            # 0.0.0.0 is not an address a client can connect to.
            return "127.0.0.1"
        return self.host
