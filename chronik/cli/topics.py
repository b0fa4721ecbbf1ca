"""`chronik topics list|describe|create|delete|alter-config|add-partitions`.

Everything goes through KafkaAdminClient. Optional facts (size on disk from
DescribeLogDirs, configs from DescribeConfigs) are left out when the broker does not
answer them, so `describe` still works on minimal brokers such as Tansu.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.client import close_quietly, kafka_errors, make_admin
from chronik.cli.render import Table, human_bytes, show
from chronik.cli.state import CliError, UsageError

topics_app = typer.Typer(
    help="List, describe, create, delete and alter topics.", no_args_is_help=True
)
app.add_typer(topics_app, name="topics")


def parse_config_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """["k=v", ...] -> {"k": "v"}; a pair without `=` is a clear error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"bad config {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def partition_rows(meta: dict, low: dict, high: dict, sizes: dict) -> list[dict]:
    rows = []
    for p in sorted(meta.get("partitions", []), key=lambda p: p["partition_index"]):
        idx = p["partition_index"]
        start = low.get(idx)
        end = high.get(idx)
        row = {
            "partition": idx,
            "leader": p.get("leader_id"),
            "replicas": list(p.get("replica_nodes") or []),
            "isr": list(p.get("isr_nodes") or []),
            "start": start,
            "end": end,
            "records": (end - start) if start is not None and end is not None else None,
        }
        if idx in sizes:
            row["size"] = sizes[idx]
        rows.append(row)
    return rows


def log_dir_sizes(log_dirs: Any, topic: str) -> dict[int, int]:
    """Partition -> bytes on disk for `topic` from a describe_log_dirs() answer."""
    sizes: dict[int, int] = {}
    for broker in log_dirs or []:
        for d in broker.get("log_dirs", []):
            if d.get("error_code", 0):
                continue
            for t in d.get("topics", []):
                if t.get("name") != topic:
                    continue
                for p in t.get("partitions", []):
                    idx = p.get("partition_index")
                    sizes[idx] = sizes.get(idx, 0) + int(p.get("partition_size", 0))
    return sizes


def _existing(admin: Any, names: Sequence[str]) -> list[dict]:
    from chronik.cli.client import error_from_code

    metas = admin.describe_topics(list(names))
    for m in metas:
        if m.get("error_code") == 3:
            raise unknown_topic(m["name"])
        if m.get("error_code"):
            raise error_from_code(m["error_code"], m.get("error_message"), f"topic {m['name']}")
    return metas


def unknown_topic(name: str) -> CliError:
    return CliError(f"unknown topic {name!r}", name="UNKNOWN_TOPIC_OR_PARTITION",
                    hint="see `chronik topics list`; `produce --create` creates a topic")


def _offsets(admin: Any, topic: str, parts: Sequence[int]) -> tuple[dict, dict]:
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec

    tps = [TopicPartition(topic, p) for p in parts]
    if not tps:
        return {}, {}
    low = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
    high = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
    return (
        {tp.partition: v.offset for tp, v in low.items()},
        {tp.partition: v.offset for tp, v in high.items()},
    )


def _configs(admin: Any, topic: str) -> dict[str, dict] | None:
    from kafka.admin import ConfigResource, ConfigResourceType

    try:
        res = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all"
        )
    except Exception:  # noqa: BLE001 - optional: brokers without DescribeConfigs
        return None
    entries = res.get("topic", {}).get(topic, {})
    return {
        name: {"value": e.get("value"), "source": e.get("config_source"),
               "read_only": e.get("read_only")}
        for name, e in sorted(entries.items())
    }


def _sizes(admin: Any, topic: str) -> dict[int, int]:
    try:
        return log_dir_sizes(admin.describe_log_dirs([topic]), topic)
    except Exception:  # noqa: BLE001 - optional: brokers without DescribeLogDirs
        return {}


def describe_topic(admin: Any, meta: dict) -> dict:
    name = meta["name"]
    parts = [p["partition_index"] for p in meta.get("partitions", [])]
    low, high = _offsets(admin, name, parts)
    sizes = _sizes(admin, name)
    doc: dict = {
        "name": name,
        "internal": bool(meta.get("is_internal")),
        "partitions": partition_rows(meta, low, high, sizes),
    }
    if sizes:
        doc["size"] = sum(sizes.values())
    configs = _configs(admin, name)
    if configs is not None:
        doc["configs"] = configs
    return doc


@topics_app.command("list")
def list_topics(
    internal: Annotated[
        bool, typer.Option("-i", "--internal", help="Include internal topics.")
    ] = False,
) -> None:
    """List topics with their partition counts."""
    rows = _list_fast(internal)
    if rows is None:
        rows = _list_admin(internal)
    show(rows, [Table(["name", "partitions", "replicas"], rows, wide_columns=["internal"])])


def _list_fast(internal: bool) -> list[dict] | None:
    """One Metadata request over chronik.cli.kwire (no kafka-python import: ~0.15 s less)."""
    import os

    from chronik.cli.client import bootstrap_servers, timeout_ms, wire_errors
    from chronik.cli.state import secured, state

    if state.client_config or secured() or os.environ.get("CHRONIK_CLI_CLIENT") == "kafka-python":
        return None
    from chronik.cli import kwire

    try:
        with wire_errors():
            client = kwire.Client(bootstrap_servers(), timeout_ms() / 1000)
            try:
                metas = client.metadata(None)
            finally:
                client.close()
    except kwire.Unsupported:
        return None
    return [
        {"name": m.name, "partitions": len(m.partitions),
         "replicas": max((p.replicas for p in m.partitions.values()), default=0), "internal": m.internal}
        for m in sorted(metas.values(), key=lambda m: m.name)
        if internal or not m.internal
    ]


def _list_admin(internal: bool) -> list[dict]:
    admin = make_admin()
    try:
        with kafka_errors():
            metas = admin.describe_topics()
    finally:
        close_quietly(admin)
    return [
        {"name": m["name"], "partitions": len(m.get("partitions") or []),
         "replicas": max((len(p.get("replica_nodes") or []) for p in m.get("partitions") or []), default=0),
         "internal": bool(m.get("is_internal"))}
        for m in sorted(metas, key=lambda m: m["name"])
        if internal or not m.get("is_internal")
    ]


@topics_app.command("describe")
def describe(
    topics: Annotated[list[str], typer.Argument(help="Topics to describe.")],
) -> None:
    """Partitions with start/end offsets, size on disk (if the broker tells) and configs."""
    admin = make_admin()
    try:
        with kafka_errors():
            docs = [describe_topic(admin, m) for m in _existing(admin, topics)]
    finally:
        close_quietly(admin)
    tables: list[Table] = []
    for d in docs:
        rows = [dict(r, size=human_bytes(r.get("size"))) for r in d["partitions"]]
        cols = ["partition", "leader", "start", "end", "records"]
        if "size" in d:
            cols.append("size")
        tables.append(Table(cols, rows, title=f"topic {d['name']}", wide_columns=["replicas", "isr"]))
        if d.get("configs"):
            crow = [{"config": k, **v} for k, v in d["configs"].items()]
            tables.append(Table(["config", "value", "source"], crow, title=f"configs of {d['name']}"))
    show(docs, tables)


@topics_app.command("create")
def create(
    topics: Annotated[list[str], typer.Argument(help="Topics to create.")],
    partitions: Annotated[int, typer.Option("-p", "--partitions", help="Partition count.")] = 1,
    replication_factor: Annotated[
        int, typer.Option("-r", "--replication-factor", help="Replicas per partition.")
    ] = 1,
    config: Annotated[
        list[str] | None, typer.Option("-c", "--config", help="Topic config KEY=VALUE (repeatable).")
    ] = None,
    if_not_exists: Annotated[
        bool, typer.Option("--if-not-exists", help="An existing topic is not an error.")
    ] = False,
) -> None:
    """Create topics."""
    if partitions < 1:
        raise UsageError(f"bad --partitions {partitions}: must be >= 1")
    configs = parse_config_pairs(config or [])
    spec = {
        t: {"num_partitions": partitions, "replication_factor": replication_factor,
            "configs": configs}
        for t in topics
    }
    admin = make_admin()
    try:
        with kafka_errors():
            res = admin.create_topics(spec, raise_errors=False)
    finally:
        close_quietly(admin)
    ok = {"TOPIC_ALREADY_EXISTS": "exists"} if if_not_exists else {}
    rows = _results(res.get("topics", []), "name", ok)
    report(rows, "topic")


def _results(entries: Sequence[dict], name_key: str, ok: dict[str, str] | None = None) -> list[dict]:
    """Per-topic results: `result` is OK (or an accepted error's word) or the error name."""
    from chronik.cli.client import error_from_code

    rows = []
    for e in entries:
        code = e.get("error_code", 0)
        row = {"topic": e.get(name_key), "result": "OK"}
        if code:
            err = error_from_code(code, e.get("error_message"), str(e.get(name_key)))
            if ok and err.name in ok:
                row["result"] = ok[err.name]
            else:
                row["result"] = err.name
                row["error"] = err
        rows.append(row)
    return rows


def report(rows: Sequence[dict], what: str, columns: Sequence[str] = ("result",)) -> None:
    """Print the rows that worked; fail with the first error (one line) if any did not."""
    good = [{k: v for k, v in r.items() if k != "error"} for r in rows if "error" not in r]
    bad = [r for r in rows if "error" in r]
    if good:
        show(good, [Table([what, *columns], good)])
    if bad:
        err: CliError = bad[0]["error"]
        if len(bad) > 1:
            others = ", ".join(f"{r[what]} ({r['result']})" for r in bad[1:])
            err = CliError(f"{err}; also failed: {others}", name=err.name, hint=err.hint)
        raise err


@topics_app.command("delete")
def delete(
    topics: Annotated[list[str], typer.Argument(help="Topics to delete.")],
) -> None:
    """Delete topics (and all their records)."""
    admin = make_admin()
    try:
        with kafka_errors():
            _existing(admin, topics)
            res = admin.delete_topics(list(topics), raise_errors=False)
    finally:
        close_quietly(admin)
    entries = _as_dict(res).get("responses") or _as_dict(res).get("topics") or []
    rows = _results([_as_dict(e) for e in entries], "name")
    report(rows, "topic")


def _as_dict(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return dict(obj)


@topics_app.command("alter-config")
def alter_config(
    topic: Annotated[str, typer.Argument(help="Topic to change.")],
    set_: Annotated[
        list[str] | None, typer.Option("-s", "--set", help="Set KEY=VALUE (repeatable).")
    ] = None,
    delete_: Annotated[
        list[str] | None, typer.Option("-d", "--delete", help="Reset KEY to default (repeatable).")
    ] = None,
) -> None:
    """Set or reset topic configs."""
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

    changes: dict[str, Any] = {
        k: (AlterConfigOp.SET, v) for k, v in parse_config_pairs(set_ or []).items()
    }
    for key in delete_ or []:
        changes[key] = (AlterConfigOp.DELETE, None)
    if not changes:
        raise UsageError("nothing to change: give --set KEY=VALUE or --delete KEY")
    admin = make_admin()
    try:
        with kafka_errors():
            _existing(admin, [topic])
            res = admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, changes)],
                raise_on_unknown=False,
            )
    finally:
        close_quietly(admin)
    _check_alter_result(res, topic)
    rows = [{"topic": topic, "config": k, "change": "delete" if v[1] is None else f"set {v[1]}"}
            for k, v in changes.items()]
    show(rows, [Table(["topic", "config", "change"], rows)])


def _check_alter_result(res: Any, topic: str) -> None:
    """alter_configs answers {type: {name: "OK" | "[Error N] Name: message"}} per resource."""
    from chronik.cli.client import describe_error, error_from_code, error_from_text

    if not isinstance(res, dict):
        res = _as_dict(res)
    for by_name in res.values():
        for name, result in (by_name or {}).items():
            if isinstance(result, str):
                if result != "OK":
                    raise error_from_text(result, f"topic {name}")
            elif isinstance(result, type) and issubclass(result, Exception):
                raise error_from_code(getattr(result, "errno", -1), None, f"topic {name}")
            elif isinstance(result, BaseException):
                raise describe_error(result)
            elif isinstance(result, dict) and result.get("error_code"):
                raise error_from_code(result["error_code"], result.get("error_message"),
                                      f"topic {name}")
    if topic not in {n for by_name in res.values() for n in (by_name or {})}:
        raise CliError(f"the broker did not answer for topic {topic}")


@topics_app.command("add-partitions")
def add_partitions(
    topic: Annotated[str, typer.Argument(help="Topic to grow.")],
    num: Annotated[int, typer.Option("-n", "--num", help="How many partitions to add.")] = 1,
) -> None:
    """Add partitions to a topic (partition counts only grow)."""
    if num < 1:
        raise UsageError(f"bad --num {num}: must be >= 1")
    admin = make_admin()
    try:
        with kafka_errors():
            meta = _existing(admin, [topic])[0]
            current = len(meta.get("partitions") or [])
            admin.create_partitions({topic: current + num})
    finally:
        close_quietly(admin)
    rows = [{"topic": topic, "partitions_before": current, "partitions": current + num}]
    show(rows, [Table(["topic", "partitions_before", "partitions"], rows)])


@topics_app.command("delete-records")
def delete_records(
    topic: Annotated[str, typer.Argument(help="Topic to trim.")],
    before: Annotated[
        str,
        typer.Option(
            "--before", "--offset",
            help="Delete records before this offset: N, end (all), -N (keep the last N), "
            "@time (older than a time, e.g. @-1h).",
        ),
    ],
    partition: Annotated[
        list[str] | None,
        typer.Option("-p", "--partition", help="Only these partitions, e.g. -p 0,2 (default: all)."),
    ] = None,
) -> None:
    """Delete the oldest records of a topic, up to an offset (like `rpk topic trim-prefix`)."""
    import time

    from kafka import TopicPartition

    from chronik.cli.client import error_from_code
    from chronik.cli.offsets import parse_offset, parse_partitions, resolve_start

    spec = parse_offset(before, int(time.time() * 1000))
    if spec.kind in ("start", "from_start") or spec.stop_ms is not None:
        raise UsageError(f"bad --before {before!r}: expected N, end, -N or @time")
    only = parse_partitions(partition)
    admin = make_admin()
    try:
        with kafka_errors():
            meta = _existing(admin, [topic])[0]
            parts = sorted(p["partition_index"] for p in meta.get("partitions", []))
            missing = [p for p in only if p not in parts]
            if missing:
                raise CliError(f"topic {topic!r} has no partition {missing[0]} (it has 0..{max(parts)})",
                               name="UNKNOWN_TOPIC_OR_PARTITION")
            tps = [TopicPartition(topic, p) for p in (only or parts)]
            low, high = _offsets(admin, topic, [tp.partition for tp in tps])
            by_time: dict[int, int] = {}
            if spec.kind == "time":
                res = admin.list_partition_offsets({tp: spec.value for tp in tps})
                by_time = {tp.partition: v.offset for tp, v in res.items()}
            targets = {
                tp: resolve_start(spec, low[tp.partition], high[tp.partition], by_time.get(tp.partition))
                for tp in tps
            }
            res = admin.delete_records(targets)
    finally:
        close_quietly(admin)
    rows = []
    for tp in tps:
        r = res.get(tp) or {}
        row = {"topic": topic, "partition": tp.partition, "deleted_before": targets[tp],
               "start": r.get("low_watermark"), "result": "OK"}
        if r.get("error_code"):
            row["error"] = error_from_code(r["error_code"], None, f"{topic}/{tp.partition}")
            row["result"] = row["error"].name
        rows.append(row)
    report(rows, "topic", ("partition", "start", "result"))
