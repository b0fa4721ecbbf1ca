"""A do-nothing Kafka sink: the CEILING of the produce and consume benchmarks, NOT a broker.

It speaks just enough of the Kafka protocol for librdkafka to create a topic and
produce to it: ApiVersions, Metadata, CreateTopics, InitProducerId and Produce.
Produce batches are acknowledged and kept in memory as they came (no disk, no
index; see sink_fetch for the budget), so that a subscribe()-based consumer can
read them back through Fetch and a one-member group (bench/sink_fetch.py).
Whatever the sink achieves is the most the client and the loopback link allow on
this machine, so a broker's produce and consume figures are read against it.

Run: python bench/sink.py --port PORT  (prints "listening on ..." once ready)
"""

from __future__ import annotations

import argparse
import itertools
import selectors
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka.protocol.admin.topics import CreateTopicsRequest, CreateTopicsResponse
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
from sink_fetch import DEFAULT_RETAIN_BYTES, READ_APIS, READ_HANDLERS, ReadState, RetainedLogs

from chronik.broker.streams import drop_sent
from chronik.wire.encoding import skip_tagged_fields

UNSUPPORTED_VERSION = 35
NODE_ID = 0
# Produce v13 addresses topics by id; capping at 12 keeps names on the wire.
PRODUCE_MAX_VERSION = 12

# sendmsg takes at most IOV_MAX (1024 on Linux) buffers; below SMALL bytes a piece is copied.
MAX_IOV = 1024
SMALL = 16 * 1024

HEADER = struct.Struct(">hhi")  # api_key, api_version, correlation_id
INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")


@dataclass
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    body_offset: int


def parse_header(buf: memoryview, request_cls: type | None) -> RequestHeader:
    """Parse a request header v1/v2 (v2 adds tagged fields for flexible requests)."""
    api_key, api_version, correlation_id = HEADER.unpack_from(buf, 0)
    (client_id_len,) = INT16.unpack_from(buf, 8)
    pos = 10 + max(client_id_len, 0)  # -1 means a null client id
    if request_cls is not None and request_cls.flexible_version_q(api_version):
        pos = skip_tagged_fields(buf, pos)
    return RequestHeader(api_key, api_version, correlation_id, pos)


def frame(correlation_id: int, body: bytes, flexible_header: bool) -> bytes:
    """Length-prefix a response; flexible headers carry an empty tagged-field set."""
    header = INT32.pack(correlation_id) + (b"\x00" if flexible_header else b"")
    return INT32.pack(len(header) + len(body)) + header + body


def frame_buffers(correlation_id: int, body: list, flexible_header: bool) -> list:
    """frame() for a body given as buffers (a Fetch response with its batches spliced in)."""
    header = INT32.pack(correlation_id) + (b"\x00" if flexible_header else b"")
    size = len(header) + sum(len(b) for b in body)
    return [INT32.pack(size) + header, *body]


@dataclass
class SinkState:
    host: str
    port: int
    # the produced batches per (topic, partition), with their offsets
    logs: RetainedLogs = field(default_factory=RetainedLogs)

    def read_state(self) -> ReadState:
        return ReadState(self.host, self.port, NODE_ID, self.logs)


@dataclass
class Held:
    """A response to send no earlier than `at` (an empty fetch waits max_wait_ms)."""

    data: bytes | list
    at: float


Handler = Callable[[SinkState, RequestHeader, memoryview], bytes | list | Held | None]


def handle_api_versions(state: SinkState, hdr: RequestHeader, buf: memoryview) -> bytes:
    # The response header is always v0 for ApiVersions (no tagged fields).
    version = hdr.api_version
    if version > ApiVersionsResponse.max_version:
        body = ApiVersionsResponse(error_code=UNSUPPORTED_VERSION, api_keys=api_key_list())
        return frame(hdr.correlation_id, body.encode(version=0), flexible_header=False)
    body = ApiVersionsResponse(error_code=0, api_keys=api_key_list(), throttle_time_ms=0)
    return frame(hdr.correlation_id, body.encode(version=version), flexible_header=False)


def api_key_list() -> list[ApiVersionsResponse.ApiVersion]:
    entry = ApiVersionsResponse.ApiVersion
    keys = [
        entry(api_key=cls.API_KEY, min_version=0, max_version=max_v)
        for cls, max_v in (
            (ProduceRequest, PRODUCE_MAX_VERSION),
            (MetadataRequest, MetadataRequest.max_version),
            (ApiVersionsRequest, ApiVersionsRequest.max_version),
            (CreateTopicsRequest, CreateTopicsRequest.max_version),
            (InitProducerIdRequest, InitProducerIdRequest.max_version),
        )
    ]
    keys += [entry(api_key=cls.API_KEY, min_version=lo, max_version=hi)
             for cls, (lo, hi) in READ_APIS.items()]
    return sorted(keys, key=lambda k: k.api_key)


def handle_metadata(state: SinkState, hdr: RequestHeader, buf: memoryview) -> bytes:
    version = hdr.api_version
    req = MetadataRequest.decode(buf[hdr.body_offset :], version=version)
    names = [t.name for t in (req.topics or []) if t.name] or state.logs.topics()
    resp = MetadataResponse(
        throttle_time_ms=0,
        brokers=[MetadataResponse.MetadataResponseBroker(
            node_id=NODE_ID, host=state.host, port=state.port, rack=None)],
        cluster_id="chronik-bench-sink",
        controller_id=NODE_ID,
        topics=[topic_metadata(name) for name in names],
    )
    flexible = MetadataResponse.flexible_version_q(version)
    return frame(hdr.correlation_id, resp.encode(version=version), flexible)


def topic_metadata(name: str) -> MetadataResponse.MetadataResponseTopic:
    # Every topic "exists" with one partition led by the sink itself.
    partition = MetadataResponse.MetadataResponseTopic.MetadataResponsePartition(
        error_code=0, partition_index=0, leader_id=NODE_ID, leader_epoch=0,
        replica_nodes=[NODE_ID], isr_nodes=[NODE_ID], offline_replicas=[],
    )
    return MetadataResponse.MetadataResponseTopic(
        error_code=0, name=name, is_internal=False, partitions=[partition],
    )


def handle_create_topics(state: SinkState, hdr: RequestHeader, buf: memoryview) -> bytes:
    version = hdr.api_version
    req = CreateTopicsRequest.decode(buf[hdr.body_offset :], version=version)
    results = []
    for topic in req.topics:
        state.logs.ensure(topic.name, 0)
        results.append(CreateTopicsResponse.CreatableTopicResult(
            name=topic.name, error_code=0, error_message=None,
            num_partitions=1, replication_factor=1,
        ))
    resp = CreateTopicsResponse(throttle_time_ms=0, topics=results)
    flexible = CreateTopicsResponse.flexible_version_q(version)
    return frame(hdr.correlation_id, resp.encode(version=version), flexible)


def handle_init_producer_id(state: SinkState, hdr: RequestHeader, buf: memoryview) -> bytes:
    version = hdr.api_version
    resp = InitProducerIdResponse(
        throttle_time_ms=0, error_code=0, producer_id=1, producer_epoch=0,
    )
    flexible = InitProducerIdResponse.flexible_version_q(version)
    return frame(hdr.correlation_id, resp.encode(version=version), flexible)


def handle_produce(state: SinkState, hdr: RequestHeader, buf: memoryview) -> bytes | None:
    version = hdr.api_version
    req = ProduceRequest.decode(buf[hdr.body_offset :], version=version)
    topics = []
    for topic in req.topic_data:
        partitions = []
        for part in topic.partition_data:
            base = state.logs.append(topic.name, part.index, part.records)
            partitions.append(ProduceResponse.TopicProduceResponse.PartitionProduceResponse(
                index=part.index, error_code=0, base_offset=base,
                log_append_time_ms=-1, log_start_offset=0,
            ))
        topics.append(ProduceResponse.TopicProduceResponse(
            name=topic.name, partition_responses=partitions))
    if req.acks == 0:
        return None  # acks=0 producers expect no response at all
    resp = ProduceResponse(responses=topics, throttle_time_ms=0)
    flexible = ProduceResponse.flexible_version_q(version)
    return frame(hdr.correlation_id, resp.encode(version=version), flexible)


HANDLERS: dict[int, tuple[type, Handler]] = {
    ApiVersionsRequest.API_KEY: (ApiVersionsRequest, handle_api_versions),
    MetadataRequest.API_KEY: (MetadataRequest, handle_metadata),
    CreateTopicsRequest.API_KEY: (CreateTopicsRequest, handle_create_topics),
    InitProducerIdRequest.API_KEY: (InitProducerIdRequest, handle_init_producer_id),
    ProduceRequest.API_KEY: (ProduceRequest, handle_produce),
}


def read_handler(request_cls: type, serve: Callable) -> Handler:
    """Adapt a sink_fetch handler (decoded request in, response object out) to the wire."""

    def handle(state: SinkState, hdr: RequestHeader, buf: memoryview) -> bytes | list | Held:
        version = hdr.api_version
        req = request_cls.decode(buf[hdr.body_offset :], version=version)
        out = serve(state.read_state(), req, version)
        resp, hold = out if isinstance(out, tuple) else (out, 0.0)
        # Kafka's request and response of an API turn flexible at the same version.
        flexible = request_cls.flexible_version_q(version)
        encoded = resp.encode(version=version)
        data: bytes | list = (frame_buffers(hdr.correlation_id, encoded, flexible) if isinstance(encoded, list)
                              else frame(hdr.correlation_id, bytes(encoded), flexible))
        return Held(data, time.monotonic() + hold) if hold else data

    return handle


for _cls, _serve in READ_HANDLERS.items():
    HANDLERS[_cls.API_KEY] = (_cls, read_handler(_cls, _serve))


def dispatch(state: SinkState, request: memoryview) -> bytes | list | Held | None:
    (api_key,) = INT16.unpack_from(request, 0)
    request_cls, handler = HANDLERS.get(api_key, (None, None))
    if handler is None:
        # Unknown API: there is no generic error body, so closing is the honest answer.
        raise ConnectionError(f"unsupported api_key {api_key}")
    return handler(state, parse_header(request, request_cls), request)


@dataclass(eq=False)  # hashed by identity: held responses keep a set of connections
class Connection:
    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    # What is left to send: small responses are gathered in a bytearray, batches served by
    # Fetch go out as the buffers the sink holds them in (sendmsg, no copy).
    out: deque = field(default_factory=deque)
    # Responses behind a held one wait with it: answers go out in request order.
    held: deque[Held] = field(default_factory=deque)
    want_write: bool = False  # EVENT_WRITE is registered


def queue(conn: Connection, data: bytes | list) -> None:
    """Queue buffers to send. Large ones (held batches) go as read-only views, never copied
    and never grown; small pieces are gathered into bytearrays of our own (fewer iovecs)."""
    out = conn.out
    for buf in data if isinstance(data, list) else (data,):
        if len(buf) >= SMALL:
            out.append(memoryview(buf).toreadonly())
        elif out and isinstance(out[-1], bytearray):
            out[-1] += buf
        else:
            out.append(bytearray(buf))


class Sink:
    """Single-threaded selectors loop: read frames, answer them in order."""

    def __init__(self, host: str, port: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server((host, port), backlog=128)
        self.listener.setblocking(False)
        bound_port = self.listener.getsockname()[1]
        self.state = SinkState(host=host, port=bound_port)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.holding: set[Connection] = set()

    def serve_forever(self) -> None:
        while True:
            timeout = None
            if self.holding:
                timeout = max(0.0, min(c.held[0].at for c in self.holding) - time.monotonic())
            for key, events in self.selector.select(timeout):
                if key.data is None:
                    self.accept()
                else:
                    self.service(key.data, events)
            self.release_held()

    def release_held(self) -> None:
        now = time.monotonic()
        for conn in list(self.holding):
            while conn.held and conn.held[0].at <= now:
                queue(conn, conn.held.popleft().data)
            if not conn.held:
                self.holding.discard(conn)
            if conn.out:
                try:
                    self.write(conn)
                except OSError:
                    self.close(conn)

    def accept(self) -> None:
        sock, _ = self.listener.accept()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.selector.register(sock, selectors.EVENT_READ, Connection(sock))

    def service(self, conn: Connection, events: int) -> None:
        try:
            if events & selectors.EVENT_READ:
                self.read(conn)
            if conn.out:
                self.write(conn)
        except (ConnectionError, OSError):
            self.close(conn)

    def read(self, conn: Connection) -> None:
        data = conn.sock.recv(1 << 20)
        if not data:
            raise ConnectionResetError("peer closed")
        conn.inbuf += data
        self.process_frames(conn)

    def process_frames(self, conn: Connection) -> None:
        buf, pos = conn.inbuf, 0
        while len(buf) - pos >= 4:
            (size,) = INT32.unpack_from(buf, pos)
            if len(buf) - pos - 4 < size:
                break
            # Copy the frame out: decoded fields may keep views into it after the
            # bytearray is compacted below.
            request = memoryview(bytes(buf[pos + 4 : pos + 4 + size]))
            response = dispatch(self.state, request)
            if isinstance(response, Held) or (response is not None and conn.held):
                conn.held.append(response if isinstance(response, Held) else Held(response, 0.0))
                self.holding.add(conn)
            elif response is not None:
                queue(conn, response)
            pos += 4 + size
        del buf[:pos]

    def write(self, conn: Connection) -> None:
        out = conn.out
        drop_sent(out, conn.sock.sendmsg(list(itertools.islice(out, MAX_IOV))))
        # Only ask for writability while a backlog exists, to avoid busy wake-ups; and
        # only tell epoll when that changes (a syscall per response otherwise).
        if conn.want_write != bool(out):
            conn.want_write = bool(out)
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
            self.selector.modify(conn.sock, wanted, conn)

    def close(self, conn: Connection) -> None:
        self.holding.discard(conn)
        self.selector.unregister(conn.sock)
        conn.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Kafka produce sink (benchmark ceiling)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--retain-mb", type=int, default=DEFAULT_RETAIN_BYTES >> 20,
                        help="memory for produced batches that Fetch can serve (MiB)")
    args = parser.parse_args()
    sink = Sink(args.host, args.port)
    sink.state.logs.retain_bytes = args.retain_mb << 20
    print(f"sink listening on {args.host}:{sink.state.port}", flush=True)
    try:
        sink.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
