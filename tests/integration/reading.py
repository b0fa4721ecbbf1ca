"""Read back what a test wrote: every record of some partitions, with confluent-kafka."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition


def read_until_idle(bootstrap: str, topic: str, partitions: range | list[int], idle_polls: int = 6,
                    **conf: Any) -> list[Any]:
    """Every message of `partitions` of `topic` from offset 0, until `idle_polls` polls of 0.5 s bring
    nothing; a consumer error fails the test."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False, **conf})
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    got: list[Any] = []
    idle = 0
    try:
        while idle < idle_polls:
            m = c.poll(0.5)
            if m is None:
                idle += 1
                continue
            assert m.error() is None, m.error()
            idle = 0
            got.append(m)
    finally:
        c.close()
    return got
