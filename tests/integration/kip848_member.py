"""One confluent-kafka consumer with group.protocol=consumer, run as its own process by the tests.

    python kip848_member.py BOOTSTRAP GROUP TOPIC[,TOPIC...] [NAME]

Prints JSON lines on stdout, times from CLOCK_MONOTONIC (one clock for every
process on the machine, so histories of several members can be merged):

    {"ev": "assign"|"revoke", "t": ..., "tps": [[topic, partition], ...]}
    {"ev": "msgs", "t": ..., "recs": [[topic, partition, offset, value], ...]}
    {"ev": "closed", "t": ...}

Offsets are committed synchronously after every batch and in the revocation
callback (before the partitions are given up). SIGTERM closes the consumer
(leaving the group); SIGKILL is what a crash looks like.
"""

from __future__ import annotations

import json
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException


def emit(**kw) -> None:
    kw["t"] = time.monotonic()
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main() -> None:
    bootstrap, group, topics = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    name = sys.argv[4] if len(sys.argv) > 4 else "member"
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "client.id": name,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "topic.metadata.refresh.interval.ms": 500,
    })
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def on_assign(consumer, parts):
        emit(ev="assign", tps=[[p.topic, p.partition] for p in parts])

    def on_revoke(consumer, parts):
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                emit(ev="error", where="revoke commit", error=str(exc))
        emit(ev="revoke", tps=[[p.topic, p.partition] for p in parts])

    c.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    while not stop:
        msgs = c.consume(500, timeout=0.1)
        recs = []
        for m in msgs:
            if m.error():
                if m.error().code() not in (KafkaError._PARTITION_EOF,):
                    emit(ev="error", where="consume", error=str(m.error()))
                continue
            recs.append([m.topic(), m.partition(), m.offset(), m.value().decode()])
        if recs:
            emit(ev="msgs", recs=recs)
            try:
                c.commit(asynchronous=False)
            except KafkaException as exc:
                emit(ev="error", where="commit", error=str(exc))
    c.close()
    emit(ev="closed")


if __name__ == "__main__":
    main()
