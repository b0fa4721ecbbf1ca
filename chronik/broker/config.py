"""Broker-wide settings (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    # A dev broker answers a lone consumer at once; Kafka's default is 3 s.
    group_initial_rebalance_delay_ms: int = 0
    offsets_retention_minutes: int = 7 * 24 * 60
    transaction_max_timeout_ms: int = 15 * 60 * 1000
    housekeeping_interval_ms: int = 1000
    # Kafka's log.retention.check.interval.ms; tests use a short one.
    log_retention_check_interval_ms: int = 300_000
    # Index every topic for search (else only topics with chronik.search.enable=true).
    search: bool = False

    @property
    def advertised(self) -> str:
        if self.advertised_host:
            return self.advertised_host
        if self.host in ("0.0.0.0", "::", ""):
            # 0.0.0.0 is not an address a client can connect to.
            return "127.0.0.1"
        return self.host
