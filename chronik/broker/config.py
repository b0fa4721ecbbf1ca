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
    # The consumer group protocol (KIP-848), Kafka's group.consumer.* with Kafka's defaults;
    # max size 0 is no limit (Kafka: Int.MaxValue); the first assignor is the default.
    group_consumer_session_timeout_ms: int = 45_000
    group_consumer_heartbeat_interval_ms: int = 5_000
    group_consumer_assignors: str = "uniform,range"
    group_consumer_max_size: int = 0
    transaction_max_timeout_ms: int = 15 * 60 * 1000
    housekeeping_interval_ms: int = 1000
    # Kafka's log.retention.check.interval.ms; tests use a short one.
    log_retention_check_interval_ms: int = 300_000

    @property
    def advertised(self) -> str:
        if self.advertised_host:
            return self.advertised_host
        if self.host in ("0.0.0.0", "::", ""):
            # 0.0.0.0 is not an address a client can connect to.
            return "127.0.0.1"
        return self.host
