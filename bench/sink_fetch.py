"""The read side of the bench sink: retained batches, Fetch, and a one-member group.

The sink keeps the record batches producers send it, exactly as they came (only
the base offset is patched when they are served), and answers Fetch from them in
memory: no disk, no index, no copy beyond building the response. It also plays
group coordinator for a subscribe()-based consumer (FindCoordinator, JoinGroup,
SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, OffsetCommit, ListOffsets), with
every group having the one member that joins it. So its consume figure is the
most this client can read from a broker on this machine: the CEILING of the
consume benchmark, not a broker.

Memory is bounded by `retain_bytes`: a partition whose batches no longer fit is
marked incomplete and fetches past what it kept fail with KAFKA_STORAGE_ERROR
(the bench's consume leg reads the first 1 KiB topic, 205 MB, kept within the
default budget). Keeping batches is not free for the produce ceiling: each
request then lands in fresh memory (page faults) instead of reused memory, and
the sink's CPU while producing rose from 0.29-0.39 to 0.63-0.83 s/GB when it
kept everything. With 256 MiB only the first 1 KiB produce sample pays that;
the produce figures are medians of five.
"""

from __future__ import annotations

import bisect
import struct
import sys
import time
from dataclasses import dataclass, field

from kafka.protocol.consumer.fetch import FetchRequest
from kafka.protocol.consumer.group import (
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse

from chronik.wire.fetch_codec import FetchableTopicResponse, FetchResponseData, PartitionData

KAFKA_STORAGE_ERROR = 56
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
EARLIEST = -2
DEFAULT_RETAIN_BYTES = 256 << 20

# Versions the sink answers (min, max). Fetch stops at v12 (v13 names topics by id);
# OffsetFetch at v7 (v8 batches groups); FindCoordinator at v3 (v4 batches keys).
# Each is far above what decides throughput; the data path is the same.
READ_APIS: dict[type, tuple[int, int]] = {
    FetchRequest: (4, 12),
    ListOffsetsRequest: (1, 7),
    FindCoordinatorRequest: (0, 3),
    JoinGroupRequest: (0, 9),
    SyncGroupRequest: (0, 5),
    HeartbeatRequest: (0, 4),
    LeaveGroupRequest: (0, 5),
    OffsetFetchRequest: (1, 7),
    OffsetCommitRequest: (2, 8),
}

# Record batch v2: baseOffset(8) batchLength(4) leaderEpoch(4) magic(1) crc(4)
# attributes(2) lastOffsetDelta(4). The CRC covers attributes onwards, so the base
# offset can be patched without re-encoding.
BASE_OFFSET = struct.Struct(">q")
BATCH_LENGTH = struct.Struct(">i")
LAST_OFFSET_DELTA = struct.Struct(">i")
LAST_OFFSET_DELTA_POS = 23
BATCH_OVERHEAD = 12  # baseOffset(8) + batchLength(4) precede the length-counted part


def batch_spans(payload: bytes | memoryview) -> list[tuple[int, int]]:
    """(start, end) of each v2 batch in a produce payload."""
    spans, pos, n = [], 0, len(payload)
    while pos + BATCH_OVERHEAD <= n:
        (length,) = BATCH_LENGTH.unpack_from(payload, pos + 8)
        end = pos + BATCH_OVERHEAD + length
        spans.append((pos, min(end, n)))
        pos = end
    return spans


@dataclass
class RetainedPartition:
    """Batches in offset order: base offsets, the batch bytes, and the next offset."""

    bases: list[int] = field(default_factory=list)
    batches: list[bytes | memoryview | bytearray] = field(default_factory=list)
    end_offset: int = 0
    kept_to: int = 0  # offsets below this are all retained
    complete: bool = True

    def read(self, offset: int, max_bytes: int) -> list[bytearray]:
        """Whole batches from the one holding `offset`, up to max_bytes (at least one batch).

        The rule Chronik follows (KIP-74: the first batch may exceed the limit). The
        batches go out as they are held, without a copy: each is patched with its base
        offset (a copy) the first time it is served.
        """
        i = bisect.bisect_right(self.bases, offset) - 1
        if i < 0 or offset >= self.kept_to:
            return []
        out: list[bytearray] = []
        size = 0
        while i < len(self.batches):
            batch = self.batches[i]
            if out and size + len(batch) > max_bytes:
                break
            if not isinstance(batch, bytearray):
                batch = bytearray(batch)
                BASE_OFFSET.pack_into(batch, 0, self.bases[i])
                self.batches[i] = batch
            out.append(batch)
            size += len(batch)
            i += 1
        return out


class RetainedLogs:
    def __init__(self, retain_bytes: int = DEFAULT_RETAIN_BYTES) -> None:
        self.partitions: dict[tuple[str, int], RetainedPartition] = {}
        self.retain_bytes = retain_bytes
        self.retained = 0

    def topics(self) -> list[str]:
        return sorted({topic for topic, _ in self.partitions})

    def ensure(self, topic: str, partition: int) -> RetainedPartition:
        return self.partitions.setdefault((topic, partition), RetainedPartition())

    def append(self, topic: str, partition: int, payload: bytes | memoryview | None) -> int:
        """Keep a produce payload's batches; returns the base offset assigned to it."""
        log = self.ensure(topic, partition)
        base = log.end_offset
        if not payload:
            return base
        for start, end in batch_spans(payload):
            batch = payload[start:end]
            (last_delta,) = LAST_OFFSET_DELTA.unpack_from(batch, LAST_OFFSET_DELTA_POS)
            if log.complete and self.retained + len(batch) <= self.retain_bytes:
                log.bases.append(log.end_offset)
                log.batches.append(batch)
                self.retained += len(batch)
                log.kept_to = log.end_offset + last_delta + 1
            elif log.complete:
                log.complete = False
                print(f"sink: retain budget {self.retain_bytes} B used up; {topic}-{partition} "
                      f"is kept only below offset {log.kept_to}", file=sys.stderr, flush=True)
            log.end_offset += last_delta + 1
        return base


@dataclass
class Group:
    member_id: str
    generation: int = 0
    protocol: str | None = None
    assignment: bytes = b""


@dataclass
class ReadState:
    host: str
    port: int
    node_id: int
    logs: RetainedLogs
    groups: dict[str, Group] = field(default_factory=dict)


# -- Fetch and ListOffsets -------------------------------------------------------------------

def fetch(state: ReadState, req, version: int) -> tuple[FetchResponseData, float]:
    """The response and how long to hold it (max_wait_ms if no data was found).

    The response is encoded by hand (chronik.wire.fetch_codec, checked byte for byte
    against kafka-python) with the held batches as its record-set buffers, so serving
    copies nothing. The sink never wakes a parked fetch on produce: it is the ceiling
    for reading data that is already there, which is what the consume leg measures.
    """
    remaining = req.max_bytes if req.max_bytes > 0 else 0x7FFFFFFF
    total = 0
    topics = []
    for ft in req.topics:
        parts = []
        for fp in ft.partitions:
            log = state.logs.partitions.get((ft.topic, fp.partition))
            if log is None:
                parts.append(PartitionData(fp.partition, UNKNOWN_TOPIC_OR_PARTITION))
                continue
            if not 0 <= fp.fetch_offset <= log.end_offset:
                parts.append(PartitionData(fp.partition, OFFSET_OUT_OF_RANGE))
                continue
            if fp.fetch_offset < log.end_offset and fp.fetch_offset >= log.kept_to:
                parts.append(PartitionData(fp.partition, KAFKA_STORAGE_ERROR, log.end_offset,
                                           log.end_offset, 0))
                continue
            batches: list[bytearray] = []
            if remaining > 0:
                budget = min(fp.partition_max_bytes, remaining)
                batches = log.read(fp.fetch_offset, budget)
                size = sum(len(b) for b in batches)
                if total and size > budget:
                    batches, size = [], 0
                remaining -= size
                total += size
            parts.append(PartitionData(fp.partition, 0, log.end_offset, log.end_offset, 0, None,
                                       batches or b""))
        topics.append(FetchableTopicResponse(ft.topic, None, parts))
    hold = 0.0 if total >= max(req.min_bytes, 1) else max(req.max_wait_ms, 0) / 1000
    return FetchResponseData(topics), hold


_ListTopic = ListOffsetsResponse.ListOffsetsTopicResponse
_ListPart = _ListTopic.ListOffsetsPartitionResponse


def list_offsets(state: ReadState, req, version: int) -> ListOffsetsResponse:
    topics = []
    for rt in req.topics:
        parts = []
        for rp in rt.partitions:
            log = state.logs.partitions.get((rt.name, rp.partition_index))
            if log is None:
                parts.append(_ListPart(partition_index=rp.partition_index,
                                       error_code=UNKNOWN_TOPIC_OR_PARTITION, timestamp=-1,
                                       offset=-1, leader_epoch=-1))
                continue
            # Earliest is 0; anything else (latest, a timestamp) answers the end.
            offset = 0 if rp.timestamp == EARLIEST else log.end_offset
            parts.append(_ListPart(partition_index=rp.partition_index, error_code=0,
                                   timestamp=-1, offset=offset, leader_epoch=0))
        topics.append(_ListTopic(name=rt.name, partitions=parts))
    return ListOffsetsResponse(throttle_time_ms=0, topics=topics)


# -- the group coordinator: every group has the one member that joins it ---------------------

def find_coordinator(state: ReadState, req, version: int) -> FindCoordinatorResponse:
    return FindCoordinatorResponse(throttle_time_ms=0, error_code=0, error_message=None,
                                   node_id=state.node_id, host=state.host, port=state.port)


def join_group(state: ReadState, req, version: int) -> JoinGroupResponse:
    member_id = req.member_id or f"sink-member-{time.monotonic_ns()}"
    group = state.groups.setdefault(req.group_id, Group(member_id))
    group.member_id = member_id
    group.generation += 1
    chosen = req.protocols[0]
    group.protocol = chosen.name
    metadata = chosen.metadata
    member = JoinGroupResponse.JoinGroupResponseMember(
        member_id=member_id, group_instance_id=None, metadata=metadata)
    return JoinGroupResponse(
        throttle_time_ms=0, error_code=0, generation_id=group.generation,
        protocol_type=req.protocol_type, protocol_name=chosen.name, leader=member_id,
        skip_assignment=False, member_id=member_id, members=[member])


def sync_group(state: ReadState, req, version: int) -> SyncGroupResponse:
    group = state.groups.get(req.group_id)
    assignment = b""
    for a in req.assignments or ():
        if a.member_id == req.member_id:
            assignment = a.assignment
    if group is not None:
        group.assignment = assignment
    return SyncGroupResponse(throttle_time_ms=0, error_code=0, protocol_type="consumer",
                             protocol_name=group.protocol if group else None, assignment=assignment)


def heartbeat(state: ReadState, req, version: int) -> HeartbeatResponse:
    return HeartbeatResponse(throttle_time_ms=0, error_code=0)


def leave_group(state: ReadState, req, version: int) -> LeaveGroupResponse:
    state.groups.pop(req.group_id, None)
    members = [LeaveGroupResponse.MemberResponse(member_id=m.member_id, group_instance_id=None,
                                                 error_code=0)
               for m in (req.members or []) if version >= 3]
    return LeaveGroupResponse(throttle_time_ms=0, error_code=0, members=members)


_OffTopic = OffsetFetchResponse.OffsetFetchResponseTopic
_OffPart = _OffTopic.OffsetFetchResponsePartition


def offset_fetch(state: ReadState, req, version: int) -> OffsetFetchResponse:
    # Nothing is ever committed here: every partition answers "no offset" (-1).
    topics = [_OffTopic(name=t.name, partitions=[
        _OffPart(partition_index=p, committed_offset=-1, committed_leader_epoch=-1, metadata="",
                 error_code=0) for p in t.partition_indexes])
        for t in req.topics or ()]
    return OffsetFetchResponse(throttle_time_ms=0, topics=topics, error_code=0)


_CommitTopic = OffsetCommitResponse.OffsetCommitResponseTopic
_CommitPart = _CommitTopic.OffsetCommitResponsePartition


def offset_commit(state: ReadState, req, version: int) -> OffsetCommitResponse:
    topics = [_CommitTopic(name=t.name, partitions=[
        _CommitPart(partition_index=p.partition_index, error_code=0) for p in t.partitions])
        for t in req.topics]
    return OffsetCommitResponse(throttle_time_ms=0, topics=topics)


READ_HANDLERS = {
    FetchRequest: fetch,
    ListOffsetsRequest: list_offsets,
    FindCoordinatorRequest: find_coordinator,
    JoinGroupRequest: join_group,
    SyncGroupRequest: sync_group,
    HeartbeatRequest: heartbeat,
    LeaveGroupRequest: leave_group,
    OffsetFetchRequest: offset_fetch,
    OffsetCommitRequest: offset_commit,
}
