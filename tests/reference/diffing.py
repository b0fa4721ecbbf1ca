"""Differential testing: one raw request, Apache Kafka's answer and Chronik's, compared.

Requests are built with kafka-python's protocol classes and sent over raw
sockets (tests/integration/raw.py) at the highest version both brokers and the
class support. Answers are decoded to dicts and normalised: fields that
legitimately differ between two clusters (ids, hosts, ports, throttle times,
free-text error messages, timestamps the broker assigns) are dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.integration.raw import RawConn

# Fields whose value is a property of the cluster or the moment, not of the behaviour.
VOLATILE = frozenset({
    "throttle_time_ms", "error_message", "cluster_id", "controller_id", "node_id", "host", "port", "rack",
    "topic_id", "leader_id", "leader_epoch", "current_leader", "replica_nodes", "isr_nodes",
    "offline_replicas", "eligible_leader_replicas", "last_known_elr", "authorized_operations",
    "topic_authorized_operations", "cluster_authorized_operations", "producer_id", "log_append_time_ms",
    "brokers", "node_endpoints", "tags", "unknown_tags", "member_id", "generation_id",
})


def normalise(value, drop: Iterable[str] = ()):
    """The decoded answer without the fields in VOLATILE and `drop`; UUIDs made anonymous."""
    dropped = VOLATILE | set(drop)
    if isinstance(value, dict):
        return {k: normalise(v, drop) for k, v in value.items() if k not in dropped}
    if isinstance(value, list):
        return [normalise(v, drop) for v in value]
    if isinstance(value, uuid.UUID):
        return "<uuid>"
    return value


@dataclass
class Pair:
    """A raw connection to Apache Kafka and one to Chronik."""

    kafka: RawConn
    chronik: RawConn

    def version(self, cls) -> int:
        """The highest version of `cls` both brokers serve."""
        return min(max(self.kafka.versions(cls)), max(self.chronik.versions(cls)))

    def call(self, make: Callable[[], object], resp_cls, version: int | None = None,
             drop: Iterable[str] = ()) -> tuple[dict, dict]:
        """Send make() to both (a fresh request each); the two normalised answers (kafka, chronik)."""
        req = make()
        v = self.version(type(req)) if version is None else version
        k = resp_cls.decode(self.kafka.call_raw(req, v), version=v).to_dict()
        c = resp_cls.decode(self.chronik.call_raw(make(), v), version=v).to_dict()
        return normalise(k, drop), normalise(c, drop)

    def same(self, make: Callable[[], object], resp_cls, version: int | None = None,
             drop: Iterable[str] = ()) -> dict:
        """Assert that both answer the same (after normalising); Kafka's answer."""
        k, c = self.call(make, resp_cls, version, drop)
        assert c == k, f"\nkafka:   {k}\nchronik: {c}"
        return k
