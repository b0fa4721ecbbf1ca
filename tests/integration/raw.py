"""A raw Kafka connection for tests: exact request versions, kafka-python's codec, no client logic."""

from __future__ import annotations

import socket
import struct

from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse


class RawConn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.corr = 0
        self._ranges: dict[int, tuple[int, int]] | None = None

    def call(self, req, resp_cls, version: int):
        """Send `req` at `version`; decode the answer with `resp_cls` at the same version."""
        body = self.call_raw(req, version)
        return resp_cls.decode(body, version=version)

    def call_raw(self, req, version: int) -> bytes:
        """Send `req` at `version`; return the response body (header checked and removed)."""
        self.corr += 1
        req.API_VERSION = version
        req.with_header(correlation_id=self.corr, client_id="raw")
        self.sock.sendall(req.encode(header=True, framed=True))
        size = struct.unpack(">i", self._recv(4))[0]
        frame = self._recv(size)
        assert struct.unpack(">i", frame[:4])[0] == self.corr
        # Flexible versions answer with response header v1 (one empty tag-section byte),
        # except ApiVersions, whose response header never has tags.
        flexible = type(req).flexible_version_q(version) and type(req).API_KEY != 18
        return frame[5:] if flexible else frame[4:]

    def versions(self, cls) -> range:
        """The versions of `cls`'s API that the broker advertises (and the class can encode)."""
        if self._ranges is None:
            resp = self.call(ApiVersionsRequest(), ApiVersionsResponse, 3)
            self._ranges = {a.api_key: (a.min_version, a.max_version) for a in resp.api_keys}
        lo, hi = self._ranges[cls.API_KEY]
        return range(max(lo, cls.min_version), hi + 1)

    def close(self) -> None:
        self.sock.close()

    def _recv(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "connection closed"
            buf += chunk
        return buf


# -- small helpers for tests and benches that speak the protocol directly ---------------


def record_batch(value_size: int, n: int = 1, key: bytes | None = None, timestamp_ms: int = 1_700_000_000_000):
    """One uncompressed v2 batch of `n` records with values of `value_size` bytes."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 24)
    for i in range(n):
        b.append(i, timestamp=timestamp_ms, key=key, value=bytes([i % 251]) * value_size, headers=[])
    return bytes(b.build())


def produce(conn: RawConn, topic: str, records: bytes, partition: int = 0, acks: int = -1):
    """Produce one record set; the partition's response (error_code, base_offset, ...)."""
    from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

    part = ProduceRequest.TopicProduceData.PartitionProduceData(index=partition, records=records)
    req = ProduceRequest(transactional_id=None, acks=acks, timeout_ms=5000,
                         topic_data=[ProduceRequest.TopicProduceData(name=topic, partition_data=[part])])
    return conn.call(req, ProduceResponse, 9).responses[0].partition_responses[0]


def create_topics(conn: RawConn, *names: str, partitions: int = 1) -> None:
    from kafka.protocol.admin.topics import CreateTopicsRequest, CreateTopicsResponse

    ct = CreateTopicsRequest.CreatableTopic
    topics = [ct(name=n, num_partitions=partitions, replication_factor=1, assignments=[], configs=[])
              for n in names]
    resp = conn.call(CreateTopicsRequest(topics=topics, timeout_ms=5000), CreateTopicsResponse, 5)
    assert all(t.error_code == 0 for t in resp.topics), resp


def fetch_frame(topic: str, correlation_id: int, max_bytes: int = 1 << 20, max_wait_ms: int = 0) -> bytes:
    """A whole framed Fetch v11 request for partition 0 from offset 0."""
    from kafka.protocol.consumer.fetch import FetchRequest

    part = FetchRequest.FetchTopic.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=max_bytes,
                                                  current_leader_epoch=-1, log_start_offset=-1)
    req = FetchRequest(replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=0 if max_wait_ms == 0 else 1,
                       max_bytes=max_bytes, isolation_level=0, session_id=0, session_epoch=-1,
                       topics=[FetchRequest.FetchTopic(topic=topic, partitions=[part])],
                       forgotten_topics_data=[], rack_id="")
    req.API_VERSION = 11
    req.with_header(correlation_id=correlation_id, client_id="raw")
    return bytes(req.encode(header=True, framed=True))
