"""Consumer groups: the list, one group's members, assignments and lag, lag over time, offset resets.

Both kinds are shown: classic groups (JoinGroup/SyncGroup; assignments are
the consumer protocol's bytes, parsed here) and consumer-protocol groups
(KIP-848; assignments are kept by the coordinator). Lag is the log end
offset minus the committed offset, per partition (kafka_exporter's
definition, as on /metrics). A reset is what `kafka-consumer-groups.sh
--reset-offsets --execute` does: only for a group without members, as an
OffsetCommit of generation -1 through the OffsetCommit handler (so the
group's and the topics' READ permission is checked as for any client).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from kafka.protocol.consumer.group import OffsetCommitRequest

from chronik.console.api import ApiError, Call, Route, parse_time_ms, to_int
from chronik.console.kafka_calls import KafkaCallError, call, http_status
from chronik.console.sampler import LAG_EVERY_S, group_lag, lag_rows
from chronik.security.acl import Operation, ResourceType

if TYPE_CHECKING:
    from chronik.console.sampler import Sampler

GROUP, TOPIC = ResourceType.GROUP, ResourceType.TOPIC
RESET_TO = ("start", "end", "offset", "time")
INACTIVE = ("Empty", "Dead")


def parse_assignment(data: bytes) -> dict[str, list[int]]:
    """The consumer protocol's assignment (version, [topic, [partition]], user data); {} if not one."""
    out: dict[str, list[int]] = {}
    try:
        pos = 2
        (n,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(max(0, n)):
            (ln,) = struct.unpack_from(">h", data, pos)
            pos += 2
            topic = data[pos:pos + ln].decode()
            pos += ln
            (m,) = struct.unpack_from(">i", data, pos)
            pos += 4
            parts = list(struct.unpack_from(f">{max(0, m)}i", data, pos))
            pos += 4 * max(0, m)
            out[topic] = sorted(parts)
    except (struct.error, UnicodeDecodeError):
        return {}
    return out


class GroupRoutes:
    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def routes(self) -> list[Route]:
        base = r"/console/api/groups/(?P<group>[^/]+)"
        return [
            ("GET", r"/console/api/groups", self.list, False),
            ("GET", base, self.detail, False),
            ("GET", base + "/lag-history", self.lag_history, False),
            ("POST", base + "/reset", self.reset, True),
        ]

    # -- what a group is ---------------------------------------------------------------------
    @staticmethod
    def _state(c: Call, gid: str) -> tuple[str, str, str, list[dict[str, Any]]] | None:
        """(type, state, protocol, members) or None when there is no such group."""
        core = c.core
        cg = core.consumer_groups.group(gid)
        if cg is not None and cg.state.value != "Dead":
            members = [{"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host,
                        "instance_id": m.instance_id,
                        "assignment": [{"topic": t, "partitions": sorted(ps)} for t, ps in sorted(m.assigned.items())]}
                       for m in cg.members.values()]
            return "consumer", cg.state.value, cg.assignor or "", members
        summary = core.groups.describe(gid)
        if summary is None:
            if core.offsets.has_group(gid):
                return "classic", "Empty", "", []
            return None
        members = []
        for m, _meta, assignment in summary.members:
            assigned = parse_assignment(assignment) if assignment else {}
            members.append({"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host,
                            "instance_id": m.instance_id,
                            "assignment": [{"topic": t, "partitions": ps} for t, ps in sorted(assigned.items())]})
        return "classic", summary.state, summary.protocol_name, members

    def _ids(self, c: Call) -> list[str]:
        core = c.core
        ids = {g.group_id for g in core.groups.list_groups()}
        ids |= {g.group_id for g in core.consumer_groups.list_groups() if g.state.value != "Dead"}
        return sorted(ids)

    # -- routes ----------------------------------------------------------------------------------
    def list(self, c: Call) -> Any:
        out = []
        for gid in self._ids(c):
            if not c.allowed(Operation.DESCRIBE, GROUP, gid):
                continue
            st = self._state(c, gid)
            if st is None:
                continue
            kind, state, _proto, members = st
            topics = sorted({t for (t, _p) in c.core.offsets.group_offsets(gid)})
            out.append({"group_id": gid, "type": kind, "state": state, "members": len(members),
                        "lag": group_lag(c.core, gid), "topics": topics})
        return {"groups": out}

    def _group_or_404(self, c: Call) -> tuple[str, tuple[str, str, str, list[dict[str, Any]]]]:
        gid = c.params["group"]
        if not c.allowed(Operation.DESCRIBE, GROUP, gid):
            raise ApiError(403, f"{c.security.principal} may not DESCRIBE group {gid}",
                           "GROUP_AUTHORIZATION_FAILED")
        st = self._state(c, gid)
        if st is None:
            raise ApiError(404, f"group {gid!r} does not exist", "GROUP_ID_NOT_FOUND")
        return gid, st

    def detail(self, c: Call) -> Any:
        gid, (kind, state, proto, members) = self._group_or_404(c)
        core = c.core
        owner = {(a["topic"], p): m["member_id"] for m in members for a in m["assignment"] for p in a["partitions"]}
        rows = []
        total = 0
        for topic, p, off, end, lag in lag_rows(core, gid, set(owner)):
            if not c.allowed(Operation.DESCRIBE, TOPIC, topic):
                continue
            total += lag or 0
            rows.append({"topic": topic, "partition": p, "committed": off, "end_offset": end, "lag": lag,
                         "member_id": owner.get((topic, p))})
        return {"group_id": gid, "type": kind, "state": state, "protocol": proto, "members": members,
                "offsets": rows, "lag": total}

    def lag_history(self, c: Call) -> Any:
        gid, _ = self._group_or_404(c)
        return {"interval_ms": int(LAG_EVERY_S * 1000), "points": self.sampler.lag_history(gid),
                "lag": group_lag(c.core, gid)}

    def reset(self, c: Call) -> Any:
        gid, (kind, state, _proto, members) = self._group_or_404(c)
        body = c.body()
        to = str(body.get("to", "")).lower()
        if to not in RESET_TO:
            raise ApiError(400, f"to must be one of {', '.join(RESET_TO)}, not {body.get('to')!r}")
        if state not in INACTIVE or members:
            raise ApiError(409, f"Assignments can only be reset if the group '{gid}' is inactive, "
                           f"but the current state is {state}.", "NON_EMPTY_GROUP")
        core = c.core
        topic = body.get("topic") or None
        if topic is not None and not isinstance(topic, str):
            raise ApiError(400, "topic must be a string")
        want_parts = body.get("partitions")
        if want_parts is not None and (not isinstance(want_parts, list)):
            raise ApiError(400, "partitions must be a list of partition numbers")
        if topic is not None:
            t = core.topics.get(topic)
            if t is None:
                raise ApiError(404, f"topic {topic!r} does not exist", "UNKNOWN_TOPIC_OR_PARTITION")
            parts = [(topic, p) for p in range(len(t.partitions))]
        else:
            parts = sorted(core.offsets.group_offsets(gid))
            if not parts:
                raise ApiError(400, f"group {gid} has no committed offsets: name the topic to reset")
        if want_parts is not None:
            wanted = {to_int(p, "partition", 0) for p in want_parts}
            parts = [(t, p) for t, p in parts if p in wanted]
        ts = parse_time_ms(body.get("time"), "time") if to == "time" else None
        target_offset = to_int(body.get("offset"), "offset") if to == "offset" else None
        new: dict[str, list[tuple[int, int]]] = {}
        for tname, p in parts:
            plog = core.partition(tname, p)
            if plog is None:
                continue
            start, end = plog.log_start_offset, plog.log_end_offset
            if to == "start":
                off = start
            elif to == "end":
                off = end
            elif to == "offset":
                off = min(max(target_offset or 0, start), end)  # clamped, as kafka-consumer-groups does
            else:
                found = plog.offset_for_timestamp(ts)
                off = found[0] if found is not None else end
            new.setdefault(tname, []).append((p, off))
        if not new:
            raise ApiError(400, "no partitions to reset")
        T = OffsetCommitRequest.OffsetCommitRequestTopic
        P = T.OffsetCommitRequestPartition
        req = OffsetCommitRequest(
            group_id=gid, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
            retention_time_ms=-1,
            topics=[T(name=tn, partitions=[P(partition_index=p, committed_offset=o, committed_leader_epoch=-1,
                                             committed_metadata="") for p, o in ps])
                    for tn, ps in new.items()])
        try:
            resp = call(core, c.security, req, 8)
        except KafkaCallError as exc:
            raise ApiError(http_status(exc.code), exc.message, exc.name) from None
        for rt in resp.topics:
            for rp in rt.partitions:
                if rp.error_code:
                    e = KafkaCallError(rp.error_code)
                    raise ApiError(http_status(rp.error_code), f"resetting {rt.name}-{rp.partition_index}: "
                                   f"{e.name}", e.name)
        return {"group_id": gid, "offsets": [{"topic": tn, "partition": p, "offset": o}
                                             for tn, ps in new.items() for p, o in ps]}
