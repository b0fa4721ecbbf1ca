"""A lean Kafka client for the CLI's hot commands: produce, consume, completion.

(About 650 lines: the request and record-batch codecs of the lean client are
one fixed protocol surface; they are read and changed together.)

Why not kafka-python here (DESIGN.md §2 says to use its protocol classes): just
importing the `kafka` package costs 115-220 ms on this class of machine, more
than the whole budget of `chronik consume -e` on a small topic or of a Tab
press, and its per-record Python work caps produce at ~80k records/s. So the
commands that move records speak a handful of *fixed, non-flexible* request
versions directly, which every broker since Kafka 1.0 and also Kafka 4.x
(KIP-896) accept:

    ApiVersions v0   Metadata v4   Produce v3   Fetch v4   ListOffsets v1
    ListGroups v0    DescribeConfigs v1 (completion only)

Record batches (magic 2) are built and parsed here; batch CRCs on fetch are
not checked (librdkafka's default, check.crcs=false). Everything else — groups,
transactions, admin — stays on kafka-python. If a broker does not offer one of
these versions, `Unsupported` is raised and the caller falls back to
kafka-python.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA = 0, 1, 2, 3
API_LIST_GROUPS, API_VERSIONS, API_DESCRIBE_CONFIGS = 16, 18, 32
USED = {API_PRODUCE: 3, API_FETCH: 4, API_LIST_OFFSETS: 1, API_METADATA: 4, API_LIST_GROUPS: 0,
        API_DESCRIBE_CONFIGS: 1}
OPTIONAL = {API_LIST_GROUPS, API_DESCRIBE_CONFIGS}  # only completion uses them

EARLIEST, LATEST = -2, -1

_i16 = struct.Struct(">h")
_i32 = struct.Struct(">i")
_i64 = struct.Struct(">q")
_hdr = struct.Struct(">hhi")
_batch_head = struct.Struct(">qiiBIhiqqqhii")  # the 61-byte record batch header


class WireError(Exception):
    """A Kafka error code in a response (name as kafka-python spells it, e.g. UNKNOWN_TOPIC_OR_PARTITION)."""

    def __init__(self, code: int, what: str = "") -> None:
        self.code = code
        self.name = ERROR_NAMES.get(code, f"KAFKA_ERROR_{code}")
        super().__init__(f"{what}: {self.name}" if what else self.name)


class Unsupported(Exception):
    """The broker does not offer a request version this client speaks."""


ERROR_NAMES = {
    -1: "UNKNOWN_SERVER_ERROR", 1: "OFFSET_OUT_OF_RANGE", 2: "CORRUPT_MESSAGE",
    3: "UNKNOWN_TOPIC_OR_PARTITION", 5: "LEADER_NOT_AVAILABLE", 6: "NOT_LEADER_OR_FOLLOWER",
    7: "REQUEST_TIMED_OUT", 10: "MESSAGE_TOO_LARGE", 17: "INVALID_TOPIC", 18: "RECORD_LIST_TOO_LARGE",
    19: "NOT_ENOUGH_REPLICAS", 29: "TOPIC_AUTHORIZATION_FAILED", 31: "CLUSTER_AUTHORIZATION_FAILED",
    32: "INVALID_TIMESTAMP", 35: "UNSUPPORTED_VERSION", 43: "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    45: "OUT_OF_ORDER_SEQUENCE_NUMBER", 74: "FENCED_LEADER_EPOCH", 76: "UNSUPPORTED_COMPRESSION_TYPE",
    87: "INVALID_RECORD",
}
RETRIABLE = {5, 6, 7, 19, 74}


# ------------------------------------------------------------------ primitive encoding


def _str(s: str | None) -> bytes:
    if s is None:
        return b"\xff\xff"
    b = s.encode()
    return _i16.pack(len(b)) + b


def _array(items: Sequence[bytes]) -> bytes:
    return _i32.pack(len(items)) + b"".join(items)


class Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes | memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def i8(self) -> int:
        v = self.buf[self.pos]
        self.pos += 1
        return v - 256 if v > 127 else v

    def i16(self) -> int:
        v = _i16.unpack_from(self.buf, self.pos)[0]
        self.pos += 2
        return v

    def i32(self) -> int:
        v = _i32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
        return v

    def i64(self) -> int:
        v = _i64.unpack_from(self.buf, self.pos)[0]
        self.pos += 8
        return v

    def str(self) -> str | None:
        n = self.i16()
        if n < 0:
            return None
        v = bytes(self.buf[self.pos:self.pos + n]).decode()
        self.pos += n
        return v

    def bytes(self) -> memoryview | None:
        n = self.i32()
        if n < 0:
            return None
        v = memoryview(self.buf)[self.pos:self.pos + n]
        self.pos += n
        return v


# ----------------------------------------------------------------------- connection


def split_hostport(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return host.strip("[]"), int(port)


class Connection:
    """One blocking socket to one broker; requests may be pipelined (send now, read later)."""

    def __init__(self, host: str, port: int, timeout: float, client_id: str = "chronik-cli") -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = _str(client_id)
        self.corr = 0
        self.pending: list[int] = []
        self._rbuf = bytearray()

    def send(self, api_key: int, body: bytes) -> int:
        self.corr += 1
        header = _hdr.pack(api_key, USED.get(api_key, 0), self.corr) + self.client_id
        size = len(header) + len(body)
        self.sock.sendall(_i32.pack(size) + header + body if size < 65536 else _i32.pack(size) + header)
        if size >= 65536:
            self.sock.sendall(body)
        self.pending.append(self.corr)
        return self.corr

    def _recv_exact(self, n: int) -> bytes:
        buf = self._rbuf
        while len(buf) < n:
            chunk = self.sock.recv(max(n - len(buf), 1 << 16))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            buf += chunk
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def receive(self) -> Reader:
        """The next response (in order); the correlation id is checked and stripped."""
        size = _i32.unpack(self._recv_exact(4))[0]
        frame = self._recv_exact(size)
        corr = _i32.unpack_from(frame)[0]
        expected = self.pending.pop(0)
        if corr != expected:
            raise ConnectionError(f"response {corr} does not match request {expected}")
        r = Reader(frame)
        r.pos = 4
        return r

    def call(self, api_key: int, body: bytes) -> Reader:
        self.send(api_key, body)
        return self.receive()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------------ the client


@dataclass
class PartitionMeta:
    topic: str
    partition: int
    leader: int
    error: int = 0
    replicas: int = 1


@dataclass
class TopicMeta:
    name: str
    error: int
    internal: bool
    partitions: dict[int, PartitionMeta]


class Client:
    """Bootstrap to the first reachable server, then one connection per leader."""

    def __init__(self, servers: Sequence[str], timeout: float, client_id: str = "chronik-cli",
                 retry: bool = True) -> None:
        self.timeout = timeout
        self.client_id = client_id
        self.brokers: dict[int, tuple[str, int]] = {}
        self.conns: dict[int, Connection] = {}
        self.boot: Connection | None = None
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while self.boot is None:
            for server in servers:
                try:
                    host, port = split_hostport(server)
                    left = max(deadline - time.monotonic(), 0.05)
                    self.boot = Connection(host, port, min(left, timeout), client_id)
                    break
                except OSError as exc:
                    last = exc
            if self.boot is None:
                if time.monotonic() >= deadline or not retry:
                    raise ConnectionError(f"cannot connect: {last}")
                time.sleep(0.1)
        self._check_versions()

    def _check_versions(self) -> None:
        r = self.boot.call(API_VERSIONS, b"")
        err = r.i16()
        if err:
            raise Unsupported(f"ApiVersions v0 answered {ERROR_NAMES.get(err, err)}")
        ranges = {}
        for _ in range(r.i32()):
            key, lo, hi = r.i16(), r.i16(), r.i16()
            ranges[key] = (lo, hi)
        for key, version in USED.items():
            lo, hi = ranges.get(key, (1, 0))
            if not lo <= version <= hi and key not in OPTIONAL:
                raise Unsupported(f"the broker does not offer API {key} v{version}")

    def metadata(self, topics: Sequence[str] | None) -> dict[str, TopicMeta]:
        body = (_array([_str(t) for t in topics]) if topics is not None else _i32.pack(-1)) + b"\x00"
        r = self.boot.call(API_METADATA, body)
        r.i32()  # throttle
        for _ in range(r.i32()):
            node, host, port = r.i32(), r.str(), r.i32()
            r.str()  # rack
            self.brokers[node] = (host or "", port)
        r.str()  # cluster id
        r.i32()  # controller
        out: dict[str, TopicMeta] = {}
        for _ in range(r.i32()):
            err, name, internal = r.i16(), r.str() or "", r.i8() != 0
            parts: dict[int, PartitionMeta] = {}
            for _ in range(r.i32()):
                perr, idx, leader = r.i16(), r.i32(), r.i32()
                nrep = r.i32()
                for _ in range(nrep):
                    r.i32()
                for _ in range(r.i32()):
                    r.i32()
                parts[idx] = PartitionMeta(name, idx, leader, perr, max(nrep, 0))
            out[name] = TopicMeta(name, err, internal, parts)
        return out

    def conn(self, node: int) -> Connection:
        c = self.conns.get(node)
        if c is None:
            host, port = self.brokers[node]
            c = self.conns[node] = Connection(host, port, self.timeout, self.client_id)
        return c

    def list_offsets(self, leader: int, topic: str, query: dict[int, int]) -> dict[int, int]:
        """{partition: timestamp | EARLIEST | LATEST} -> {partition: offset (-1: none)}."""
        parts = [_i32.pack(p) + _i64.pack(ts) for p, ts in query.items()]
        body = _i32.pack(-1) + _array([_str(topic) + _array(parts)])
        r = self.conn(leader).call(API_LIST_OFFSETS, body)
        out: dict[int, int] = {}
        for _ in range(r.i32()):
            r.str()
            for _ in range(r.i32()):
                p, err = r.i32(), r.i16()
                r.i64()  # timestamp
                off = r.i64()
                if err:
                    raise WireError(err, f"{topic}/{p}")
                out[p] = off
        return out

    def list_groups(self) -> list[str]:
        r = self.boot.call(API_LIST_GROUPS, b"")
        r.i16()
        groups = []
        for _ in range(r.i32()):
            groups.append(r.str() or "")
            r.str()
        return groups

    def topic_config_names(self, topic: str) -> list[str]:
        """Names of a topic's configs (DescribeConfigs v1, resource type 2 = topic)."""
        body = _array([b"\x02" + _str(topic) + _i32.pack(-1)]) + b"\x00"
        r = self.boot.call(API_DESCRIBE_CONFIGS, body)
        r.i32()
        names = []
        for _ in range(r.i32()):
            err = r.i16()
            r.str()
            r.i8()
            r.str()
            for _ in range(r.i32()):
                names.append(r.str() or "")
                r.str()
                r.i8()
                r.i8()  # config source
                r.i8()  # sensitive
                for _ in range(r.i32()):  # synonyms
                    r.str()
                    r.str()
                    r.i8()
            if err:
                raise WireError(err, f"topic {topic}")
        return sorted(names)

    def close(self) -> None:
        for c in self.conns.values():
            c.close()
        if self.boot is not None:
            self.boot.close()


# -------------------------------------------------------------------------- produce


def produce_body(topic: str, batches: dict[int, bytes], acks: int, timeout_ms: int) -> bytes:
    parts = [_i32.pack(p) + _i32.pack(len(b)) + b for p, b in batches.items()]
    return b"\xff\xff" + _i16.pack(acks) + _i32.pack(timeout_ms) + _array([_str(topic) + _array(parts)])


def parse_produce(r: Reader) -> dict[int, tuple[int, int]]:
    """{partition: (error_code, base_offset)}."""
    out = {}
    for _ in range(r.i32()):
        r.str()
        for _ in range(r.i32()):
            p, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log append time
            out[p] = (err, base)
    return out


# zigzag varints of 0..8191 (zigzag(v) = 2v: one byte below 64, two below 8192):
# most record lengths and deltas, looked up instead of encoded per record.
ZZ_MAX = 8192
ZZ = [bytes((z,)) if z < 128 else bytes(((z & 0x7F) | 0x80, z >> 7)) for z in range(0, 2 * ZZ_MAX, 2)]


def varint(v: int) -> bytes:
    if 0 <= v < ZZ_MAX:
        return ZZ[v]
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


NULL = b"\x01"  # zigzag(-1)
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def compress(codec: int, data: bytes) -> bytes:
    if codec == 1:
        import gzip

        return gzip.compress(data, compresslevel=6, mtime=0)
    if codec == 3:
        import lz4.frame

        return lz4.frame.compress(data)
    if codec == 4:
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    if codec == 2:
        import cramjam

        # Xerial framing, as the Java client writes snappy batches.
        out = bytearray(b"\x82SNAPPY\x00" + _i32.pack(1) + _i32.pack(1))
        for i in range(0, len(data), 32 * 1024):
            block = bytes(cramjam.snappy.compress_raw(data[i:i + 32 * 1024]))
            out += _i32.pack(len(block)) + block
        return bytes(out)
    return data


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    if codec == 1:
        import zlib

        return zlib.decompress(data, 47)
    if codec == 3:
        import lz4.frame

        return lz4.frame.decompress(bytes(data))
    if codec == 4:
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(bytes(data))
    if codec == 2:
        import cramjam

        raw = bytes(data)
        if raw[:8] == b"\x82SNAPPY\x00":
            out = bytearray()
            pos = 16
            while pos < len(raw):
                n = _i32.unpack_from(raw, pos)[0]
                out += bytes(cramjam.snappy.decompress_raw(raw[pos + 4:pos + 4 + n]))
                pos += 4 + n
            return bytes(out)
        return bytes(cramjam.snappy.decompress_raw(raw))
    raise WireError(76, f"compression codec {codec}")


def murmur2(data: bytes) -> int:
    """Kafka's default partitioner hash (Utils.murmur2), so keys land where Java puts them."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length & 3
    tail = n4 * 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for_key(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def encode_record(offset_delta: int, ts_delta: int, key: bytes | None, value: bytes | None,
                  headers: Sequence[tuple[str, bytes | None]] = ()) -> bytes:
    body = b"".join((
        b"\x00", varint(ts_delta), varint(offset_delta),
        NULL if key is None else varint(len(key)) + key,
        NULL if value is None else varint(len(value)) + value,
        varint(len(headers)),
        *(varint(len(k.encode())) + k.encode() + (NULL if v is None else varint(len(v)) + v)
          for k, v in headers),
    ))
    return varint(len(body)) + body


def build_batch(records: Sequence[bytes], base_ts: int, max_ts: int, codec: int = 0) -> bytes:
    """A magic-2 batch around encoded records (offset deltas 0..n-1); CRC32C filled in."""
    import crc32c

    payload = b"".join(records)
    if codec:
        payload = compress(codec, payload)
    n = len(records)
    # attributes .. end is what the CRC covers
    tail = struct.pack(">hiqqqhii", codec, n - 1, base_ts, max_ts, -1, -1, -1, n) + payload
    crc = crc32c.crc32c(tail)
    return struct.pack(">qiiBI", 0, len(tail) + 9, -1, 2, crc) + tail


# -------------------------------------------------------------------------- consume


def fetch_body(topic_parts: dict[str, dict[int, int]], max_wait_ms: int, isolation: int,
               max_bytes: int = 50 << 20, part_bytes: int = 8 << 20) -> bytes:
    topics = [
        _str(t) + _array([_i32.pack(p) + _i64.pack(off) + _i32.pack(part_bytes) for p, off in parts.items()])
        for t, parts in topic_parts.items()
    ]
    return (_i32.pack(-1) + _i32.pack(max_wait_ms) + _i32.pack(1) + _i32.pack(max_bytes)
            + bytes([isolation]) + _array(topics))


@dataclass
class FetchedPartition:
    topic: str
    partition: int
    error: int
    high_watermark: int
    records: memoryview | None
    aborted: list[tuple[int, int]]


def parse_fetch(r: Reader) -> list[FetchedPartition]:
    r.i32()  # throttle
    out = []
    for _ in range(r.i32()):
        topic = r.str() or ""
        for _ in range(r.i32()):
            p, err, hw = r.i32(), r.i16(), r.i64()
            r.i64()  # last stable offset
            n = r.i32()
            aborted = [(r.i64(), r.i64()) for _ in range(max(n, 0))]
            out.append(FetchedPartition(topic, p, err, hw, r.bytes(), aborted))
    return out


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = 0
    z = 0
    while True:
        b = buf[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if b < 0x80:
            return (z >> 1) ^ -(z & 1), pos
        shift += 7


def iter_batches(data: memoryview) -> Iterator[tuple[int, int, int, int, int, bytes]]:
    """(base_offset, last_offset_delta, base_ts, max_ts, attributes, records) of each whole batch.

    attributes: bits 0-2 codec, 3 log-append time, 4 transactional, 5 control.
    """
    pos = 0
    end = len(data)
    while pos + 61 <= end:
        (base, length, _epoch, magic, _crc, attrs, last_delta, base_ts, max_ts, _pid, _pe, _seq,
         _count) = _batch_head.unpack_from(data, pos)
        if pos + 12 + length > end:
            break  # a partial batch at the end of a fetch: fetched again next time
        if magic != 2:
            raise WireError(43, "only record batches of magic 2 are read by the fast path")
        body = data[pos + 61:pos + 12 + length]
        codec = attrs & 0x07
        records = decompress(codec, body) if codec else bytes(body)
        yield base, last_delta, base_ts, max_ts, attrs, records
        pos += 12 + length


def iter_records(records: bytes, base_offset: int, base_ts: int, log_append_ts: int | None = None
                 ) -> Iterator[tuple[int, int, bytes | None, bytes | None, list]]:
    """(offset, timestamp, key, value, headers) of each record in a batch's records section."""
    rv = _read_varint
    pos = 0
    end = len(records)
    while pos < end:
        length, pos = rv(records, pos)
        rec_end = pos + length
        pos += 1  # attributes
        ts_delta, pos = rv(records, pos)
        off_delta, pos = rv(records, pos)
        klen, pos = rv(records, pos)
        if klen >= 0:
            key = records[pos:pos + klen]
            pos += klen
        else:
            key = None
        vlen, pos = rv(records, pos)
        if vlen >= 0:
            value = records[pos:pos + vlen]
            pos += vlen
        else:
            value = None
        nh, pos = rv(records, pos)
        headers = []
        for _ in range(nh):
            hk, pos = rv(records, pos)
            hkey = records[pos:pos + hk].decode("utf-8", "replace")
            pos += hk
            hv, pos = rv(records, pos)
            if hv >= 0:
                headers.append((hkey, records[pos:pos + hv]))
                pos += hv
            else:
                headers.append((hkey, None))
        pos = rec_end
        yield (base_offset + off_delta, log_append_ts if log_append_ts is not None else base_ts + ts_delta,
               key, value, headers)


def values_only(records: bytes) -> list[bytes]:
    """Just the values (null as b"") of a records section: the `%v\\n` fast path.

    One- and two-byte varints (lengths below 8 KiB) are decoded inline: a
    function call per varint would cost as much as everything else here.
    """
    rv = _read_varint
    out = []
    append = out.append
    pos = 0
    end = len(records)
    while pos < end:
        b = records[pos]
        if b < 0x80:
            length = (b >> 1) ^ -(b & 1)
            pos += 1
        elif records[pos + 1] < 0x80:
            z = (b & 0x7F) | (records[pos + 1] << 7)
            length = (z >> 1) ^ -(z & 1)
            pos += 2
        else:
            length, pos = rv(records, pos)
        rec_end = pos + length
        p = pos + 1  # attributes
        for _ in (0, 1):  # timestamp delta, offset delta
            if records[p] < 0x80:
                p += 1
            elif records[p + 1] < 0x80:
                p += 2
            else:
                p = rv(records, p)[1]
        b = records[p]
        if b < 0x80:
            klen = (b >> 1) ^ -(b & 1)
            p += 1
        else:
            klen, p = rv(records, p)
        if klen > 0:
            p += klen
        b = records[p]
        if b < 0x80:
            vlen = (b >> 1) ^ -(b & 1)
            p += 1
        elif records[p + 1] < 0x80:
            z = (b & 0x7F) | (records[p + 1] << 7)
            vlen = (z >> 1) ^ -(z & 1)
            p += 2
        else:
            vlen, p = rv(records, p)
        append(records[p:p + vlen] if vlen > 0 else b"")
        pos = rec_end
    return out
