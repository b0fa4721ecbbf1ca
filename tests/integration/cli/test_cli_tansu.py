"""The CLI against Tansu: a Kafka-compatible broker that is not Chronik."""

from __future__ import annotations

import json

from clihelp import Cli, new_topic


def test_produce_consume_topics_against_tansu(tansu_cli: Cli) -> None:
    cli = tansu_cli
    topic = new_topic()
    created = [json.loads(x) for x in cli.out("-o", "json", "topics", "create", topic, "-p", "2").splitlines()]
    assert created == [{"topic": topic, "result": "OK"}]
    cli.run("produce", topic, "-K", ":", "-p", "0", "-z", "gzip", input="k1:v1\nk2:v2\n")
    cli.run("produce", topic, "-p", "1", "-H", "h=1", input="v3\n")
    recs = [json.loads(x) for x in cli.out("consume", topic, "-e", "-f", "json").splitlines()]
    assert sorted((r["partition"], r["key"], r["value"]) for r in recs) == [
        (0, "k1", "v1"), (0, "k2", "v2"), (1, None, "v3"),
    ]
    assert cli.out("consume", topic, "-e", "-p", "1", "-f", r"%h %v\n") == "h=1 v3\n"
    listed = {t["name"]: t for t in map(json.loads, cli.out("topics", "list", "-o", "json").splitlines())}
    assert listed[topic]["partitions"] == 2
    desc = json.loads(cli.out("topics", "describe", topic, "--output", "json").splitlines()[0])
    assert [p["partition"] for p in desc["partitions"]] == [0, 1]
    assert topic in cli.out("-o", "table", "topics", "describe", topic)
