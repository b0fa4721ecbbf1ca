"""`chronik groups list|describe|seek|delete` for consumer groups.

Lag is computed here rather than asked for: the group's committed offsets
(OffsetFetch) against each partition's end (ListOffsets), which any broker answers.
`seek` rewrites committed offsets, which Kafka only allows for a group without
members, so it checks first and says so instead of failing per partition.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.client import close_quietly, kafka_errors, make_admin
from chronik.cli.offsets import OffsetSpec, parse_offset, resolve_start
from chronik.cli.render import Table, show
from chronik.cli.state import CliError

groups_app = typer.Typer(help="List, describe, seek and delete consumer groups.",
                         no_args_is_help=True)
app.add_typer(groups_app, name="groups")

ACTIVE_STATES = {"Stable", "PreparingRebalance", "CompletingRebalance", "Assigning",
                 "Reconciling"}


def lag_rows(committed: dict[Any, int], ends: dict[Any, int], owners: dict[Any, str]) -> list[dict]:
    """One row per partition: committed offset, end offset, lag and the owning member."""
    rows = []
    for tp in sorted(set(committed) | set(owners), key=lambda t: (t.topic, t.partition)):
        off = committed.get(tp)
        end = ends.get(tp)
        lag = None
        if end is not None:
            lag = end - off if off is not None and off >= 0 else end
        rows.append({
            "topic": tp.topic,
            "partition": tp.partition,
            "committed": off,
            "end": end,
            "lag": lag,
            "member": owners.get(tp, ""),
        })
    return rows


def _member_partitions(member: dict) -> list[tuple[str, int]]:
    """The (topic, partition) pairs of a described member's assignment, however shaped."""
    assignment = member.get("member_assignment") or member.get("assignment") or {}
    out: list[tuple[str, int]] = []
    if isinstance(assignment, dict):
        for t in assignment.get("assigned_partitions") or assignment.get("topic_partitions") or []:
            if isinstance(t, dict):
                topic = t.get("topic") or t.get("topic_name") or t.get("name")
                for p in t.get("partitions", []):
                    out.append((topic, int(p)))
            else:
                topic, parts = t[0], t[1]
                out += [(topic, int(p)) for p in parts]
    elif hasattr(assignment, "assignment"):
        for topic, parts in assignment.assignment:
            out += [(topic, int(p)) for p in parts]
    return out


def _consumer_describe(admin: Any, group: str) -> dict | None:
    """ConsumerGroupDescribe (KIP-848; kafka-python's admin lacks it): a DescribeGroups-like dict, or
    None for a classic or unknown group (or a broker without the API)."""
    from chronik.wire.kip848 import ConsumerGroupDescribeRequest

    async def ask() -> Any:
        coordinator = (await admin._find_coordinator_ids([group]))[group]
        return await admin._manager.send(
            ConsumerGroupDescribeRequest(group_ids=[group], include_authorized_operations=False),
            node_id=coordinator)

    try:
        g = admin._manager.run(ask).groups[0]
    except Exception:
        return None
    if g.error_code:
        return None

    def parts(a: Any) -> list[dict]:
        return [{"topic": tp.topic_name, "partitions": list(tp.partitions)} for tp in a.topic_partitions]

    return {
        "group_state": g.group_state, "protocol_data": g.assignor_name, "type": "consumer",
        "group_epoch": g.group_epoch, "assignment_epoch": g.assignment_epoch,
        "members": [{"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host,
                     "member_epoch": m.member_epoch, "assignment": {"topic_partitions": parts(m.assignment)},
                     "target": {"topic_partitions": parts(m.target_assignment)}} for m in g.members],
    }


def _describe(admin: Any, group: str) -> dict:
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec as KOffsetSpec

    desc = _consumer_describe(admin, group) or admin.describe_groups([group]).get(group) or {}
    state = desc.get("group_state") or desc.get("state") or ""
    committed_raw = admin.list_group_offsets(group).get(group, {})
    committed = {tp: om.offset for tp, om in committed_raw.items()}
    members = []
    owners: dict[Any, str] = {}
    for m in desc.get("members", []):
        parts = _member_partitions(m)
        for topic, p in parts:
            owners[TopicPartition(topic, p)] = m.get("member_id", "")
        members.append({
            "member_id": m.get("member_id"),
            "client_id": m.get("client_id"),
            "host": m.get("client_host"),
            "partitions": [f"{t}/{p}" for t, p in parts],
        })
        if "member_epoch" in m:  # a consumer-protocol member: its epoch and target assignment
            members[-1]["epoch"] = m["member_epoch"]
            members[-1]["target"] = [f"{t}/{p}" for t, p in _member_partitions({"assignment": m["target"]})]
    tps = sorted(set(committed) | set(owners), key=lambda t: (t.topic, t.partition))
    ends: dict[Any, int] = {}
    if tps:
        res = admin.list_partition_offsets({tp: KOffsetSpec.LATEST for tp in tps})
        ends = {tp: v.offset for tp, v in res.items()}
    rows = lag_rows(committed, ends, owners)
    return {
        "group": group,
        "state": state,
        "type": desc.get("type", "classic"),
        **({k: desc[k] for k in ("group_epoch", "assignment_epoch") if k in desc}),
        "protocol": desc.get("protocol_data") or desc.get("protocol") or "",
        "members": members,
        "offsets": rows,
        "total_lag": sum(r["lag"] or 0 for r in rows),
    }


@groups_app.command("list")
def list_groups() -> None:
    """List consumer groups."""
    admin = make_admin()
    try:
        with kafka_errors():
            groups = admin.list_groups()
    finally:
        close_quietly(admin)
    rows = [
        {"group": g.get("group_id"), "state": g.get("group_state") or "",
         "protocol_type": g.get("protocol_type") or ""}
        for g in sorted(groups, key=lambda g: g.get("group_id") or "")
    ]
    show(rows, [Table(["group", "state"], rows, wide_columns=["protocol_type"])])


@groups_app.command("describe")
def describe(groups: Annotated[list[str], typer.Argument(help="Groups to describe.")]) -> None:
    """Members, assignments and lag per partition."""
    admin = make_admin()
    try:
        with kafka_errors():
            docs = [_describe(admin, g) for g in groups]
    finally:
        close_quietly(admin)
    tables = []
    for d in docs:
        if not d["members"] and not d["offsets"] and d["state"] in ("", "Dead"):
            raise CliError(f"unknown group {d['group']!r}")
        title = f"group {d['group']} ({d['state'] or 'unknown'}, total lag {d['total_lag']})"
        if d["type"] == "consumer":
            title = (f"group {d['group']} (consumer protocol, {d['state']}, epoch {d['group_epoch']}, "
                     f"assignment epoch {d['assignment_epoch']}, {d['protocol']}, total lag {d['total_lag']})")
        tables.append(Table(["topic", "partition", "committed", "end", "lag", "member"],
                            d["offsets"], title=title))
        if d["members"]:
            epochs = ["epoch"] if d["type"] == "consumer" else []
            targets = ["target"] if d["type"] == "consumer" else []
            tables.append(Table(["member_id", "client_id", "host", *epochs, "partitions", *targets],
                                d["members"], title="members"))
    show(docs, tables)


def seek_targets(spec: OffsetSpec, low: dict, high: dict, by_time: dict) -> dict[Any, int]:
    """New committed offset per partition for a seek spec (pure; see offsets.resolve_start)."""
    return {tp: resolve_start(spec, low[tp], high[tp], by_time.get(tp)) for tp in high}


@groups_app.command("seek")
def seek(
    group: Annotated[str, typer.Argument(help="Group whose committed offsets to move.")],
    to: Annotated[
        str, typer.Option("--to", help="start|end|@time|OFFSET (also -N, +N).")
    ],
    topic: Annotated[
        list[str] | None,
        typer.Option("-t", "--topic", help="Topic to seek (default: topics the group committed)."),
    ] = None,
) -> None:
    """Move a group's committed offsets (the group must have no active members)."""
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec as KOffsetSpec
    from kafka.structs import OffsetAndMetadata

    spec = parse_offset(to, int(time.time() * 1000))
    if spec.stop_ms is not None:
        raise CliError("seek takes a single time, not a range t1:t2")
    admin = make_admin()
    try:
        with kafka_errors():
            desc = _consumer_describe(admin, group) or admin.describe_groups([group]).get(group) or {}
            members = desc.get("members") or []
            state = desc.get("group_state") or desc.get("state") or ""
            if members or state in ACTIVE_STATES:
                raise CliError(
                    f"group {group!r} has {len(members)} active member(s) ({state}); "
                    "stop its consumers before seeking"
                )
            tps = _seek_partitions(admin, group, topic, TopicPartition)
            low = {tp: v.offset for tp, v in admin.list_partition_offsets(
                {tp: KOffsetSpec.EARLIEST for tp in tps}).items()}
            high = {tp: v.offset for tp, v in admin.list_partition_offsets(
                {tp: KOffsetSpec.LATEST for tp in tps}).items()}
            by_time = {}
            if spec.kind == "time":
                res = admin.list_partition_offsets({tp: spec.value for tp in tps})
                by_time = {tp: v.offset for tp, v in res.items()}
            targets = seek_targets(spec, low, high, by_time)
            result = admin.alter_group_offsets(
                group, {tp: OffsetAndMetadata(off, "", -1) for tp, off in targets.items()}
            )
    finally:
        close_quietly(admin)
    rows = []
    for tp, off in sorted(targets.items(), key=lambda kv: (kv[0].topic, kv[0].partition)):
        err = result.get(tp) if isinstance(result, dict) else None
        name = getattr(err, "__name__", "NoError") if err is not None else "NoError"
        rows.append({"topic": tp.topic, "partition": tp.partition, "offset": off,
                     "result": "OK" if name == "NoError" else name})
    show(rows, [Table(["topic", "partition", "offset", "result"], rows, title=f"group {group}")])
    bad = [r for r in rows if r["result"] != "OK"]
    if bad:
        raise CliError(f"seek failed for {len(bad)} partition(s): {bad[0]['result']}")


def _seek_partitions(admin: Any, group: str, topics: Sequence[str] | None, tp_cls: Any) -> list:
    if topics:
        tps = []
        for meta in admin.describe_topics(list(topics)):
            if meta.get("error_code"):
                raise CliError(f"unknown topic {meta['name']!r}")
            tps += [tp_cls(meta["name"], p["partition_index"]) for p in meta["partitions"]]
        return tps
    committed = admin.list_group_offsets(group).get(group, {})
    if not committed:
        raise CliError(f"group {group!r} has no committed offsets; name topics with --topic")
    return list(committed)


@groups_app.command("delete")
def delete(groups: Annotated[list[str], typer.Argument(help="Groups to delete.")]) -> None:
    """Delete groups (and their committed offsets)."""
    admin = make_admin()
    try:
        with kafka_errors():
            res = admin.delete_groups(list(groups))
    finally:
        close_quietly(admin)
    rows = [{"group": g, "result": r} for g, r in res.items()]
    show(rows, [Table(["group", "result"], rows)])
    bad = [r for r in rows if r["result"] != "OK"]
    if bad:
        raise CliError("; ".join(f"{r['group']}: {r['result']}" for r in bad))
