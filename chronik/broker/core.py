"""The typed broker core: one object that owns the broker's state, and its two pipelines.

Everything a handler may ask of the broker is here, as typed attributes
built in one place (`BrokerCore.__init__`):

    topics        TopicTable: topics by name and id, their partition logs
    producers     ProducerStateManager: producer ids, sequence dedupe
    offsets       OffsetStore: committed offsets (DIR/__consumer_offsets)
    groups        GroupCoordinator: classic consumer groups
    consumer_groups  ConsumerGroupCoordinator: KIP-848 consumer groups
    transactions  TransactionCoordinator: transactional ids, markers, LSO
    log_manager   LogManager: segment rolls by age, retention, the cleaner
    purgatory     Purgatory: parked long-polls and joins
    stats         BrokerStats: counters the metrics scrape reads
    users         CredentialStore: SCRAM credentials (salted, hashed), persisted
    authorizer    Authorizer | None: ACLs (None: no --authorizer, all allowed)
    registry      SchemaRegistry: the built-in schema registry on `_schemas`
                  (registry_app: its REST API for the HTTP layer to mount)

and two pipelines that every writer and reader goes through:

    append()  checks (batch headers, control batches, producer sequence,
              transaction state), the write, producer and transaction
              bookkeeping, the append listeners, then wakes long-poll
              waiters. Produce and the transaction markers both use it.
    read()    range checks, isolation level, last stable offset and the
              aborted transactions of a read_committed fetch.

Features that must see every append (metrics, search, audit) register an
`AppendListener`; whoever must forget a deleted topic registers a
`TopicListener`. Listeners run on the loop: O(1) per batch, no I/O.
"""

from __future__ import annotations

import functools
import logging
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronik.broker.config import BrokerConfig
from chronik.broker.consumer_groups import ConsumerGroupCoordinator
from chronik.broker.groups import GroupCoordinator
from chronik.broker.log_manager import LogManager
from chronik.broker.producers import ProducerStateManager
from chronik.broker.purgatory import Purgatory
from chronik.broker.scheduler import Scheduler
from chronik.broker.stats import BrokerStats
from chronik.broker.storage_health import StorageHealth
from chronik.broker.topics import Topic, TopicTable
from chronik.broker.transactions import TransactionCoordinator
from chronik.broker.types import AppendListener, AppendOutcome, Origin, ReadOutcome, TopicListener
from chronik.clock import wall_ms
from chronik.metadata.configs import broker_topic_defaults
from chronik.metadata.offsets import OffsetStore
from chronik.metadata.store import MetadataStore
from chronik.registry import validation as schema_validation
from chronik.registry.log import CoreSchemaLog
from chronik.registry.store import SchemaRegistry
from chronik.search.indexer import SearchIndexer
from chronik.security import scram
from chronik.security.acl import AclBinding, Authorizer
from chronik.security.scram import MECHANISMS, CredentialStore
from chronik.storage.batch import BatchInfo, CorruptBatchError, keyless_records, record_timestamps, scan_batches
from chronik.storage.log import MessageTooLargeError, OffsetOutOfRangeError, PartitionLog
from chronik.wire.errors import ErrorCode, KafkaApiError

if TYPE_CHECKING:
    from chronik.registry.app import RegistryApp

log = logging.getLogger("chronik.core")

PRODUCER_SNAPSHOT_INTERVAL_S = 30.0
_BASE_AND_LENGTH = struct.Struct(">qi")


class BrokerCore:
    def __init__(self, config: BrokerConfig, scheduler: Scheduler) -> None:
        self.config = config
        self.scheduler = scheduler
        self.data_dir = Path(config.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = MetadataStore(self.data_dir)
        self.cluster_id = self.store.cluster_id()
        self.purgatory = Purgatory(scheduler.clock)
        # --fsync always: the GroupCommit that holds acks=all answers until fsynced (set by main.attach).
        self.group_commit: Any = None
        # The FileMaker that creates a partition's first files off the loop (set by main.attach).
        self.file_maker: Any = None
        self.storage = StorageHealth()
        self.producers = ProducerStateManager(self.store)
        self.topics = TopicTable(self.data_dir, self.store)
        # Dynamic broker configs by scope: "" (cluster-wide default) and this broker's id.
        self.broker_configs = self.store.load_broker_configs()
        self.topics.defaults.update(self._topic_defaults())
        # Partition logs open lazily (chronik.broker.topics): producer state and
        # transaction indexes are rebuilt as each one opens.
        self.topics.on_partition_open = self._partition_opened
        self.topics.load()
        self.offsets = OffsetStore(self.data_dir)
        self.groups = GroupCoordinator(
            self.offsets,
            scheduler,
            initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
            offsets_retention_ms=config.offsets_retention_minutes * 60_000,
        )
        self.consumer_groups = ConsumerGroupCoordinator(
            self.offsets,
            scheduler,
            self.topic_partition_counts,
            classic=self.groups,
            session_timeout_ms=config.group_consumer_session_timeout_ms,
            heartbeat_interval_ms=config.group_consumer_heartbeat_interval_ms,
            assignors=tuple(a.strip() for a in config.group_consumer_assignors.split(",") if a.strip()),
            max_size=config.group_consumer_max_size,
        )
        self.groups.other = self.consumer_groups
        self.consumer_groups.group_configs = self.store.load_group_configs()
        self.transactions = TransactionCoordinator(self)
        self.log_manager = LogManager(self, scheduler)
        self.stats = BrokerStats()
        self.append_listeners: list[AppendListener] = [self.transactions, self.stats]
        self.topic_listeners: list[TopicListener] = [self.transactions, self.groups, self.consumer_groups, self.stats]
        # Set by start(): recovery done, the loop is serving (the /readyz probe).
        self.ready = False
        self._closers: list[Callable[[], None]] = []
        # Security: SCRAM credentials always (users can be made before ACLs are on); the
        # authorizer only with --authorizer, so without it a request pays one attribute check.
        self.users = CredentialStore(self.store.load_scram_credentials(), self.store.save_scram_credentials)
        for name, password in config.sasl_users:
            for mech in MECHANISMS:
                self.users.put(name, mech, scram.from_password(mech, password), persist=False)
        if config.sasl_users:
            self.users.persist()
        self.authorizer: Authorizer | None = None
        if config.authorizer:
            self.authorizer = Authorizer(
                [AclBinding.from_json(row) for row in self.store.load_acls()],
                super_users=tuple(config.super_users),
                allow_everyone_if_no_acl_found=config.allow_everyone_if_no_acl_found,
                save=self.store.save_acls,
            )
        # The schema registry keeps its state in `_schemas`, through append() and read().
        self.registry = SchemaRegistry(CoreSchemaLog(self))
        # Search (chronik.search): topics with chronik.search.enable=true, or all with --search.
        self.search = SearchIndexer(self, search_all=config.search)
        self.append_listeners.append(self.search)
        self.topic_listeners.append(self.search)
        self._closers.append(self.search.close)

    @functools.cached_property
    def registry_app(self) -> RegistryApp:
        """The registry's REST API, built on the first HTTP call (not on the path to serving Kafka)."""
        from chronik.registry.app import RegistryApp

        return RegistryApp(self.registry)

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        """Recovery first (timers at 0 run before the first select), then housekeeping."""
        sched = self.scheduler
        self.registry.recover()
        sched.call_later(0, self.transactions.recover)
        # Ready (/readyz) once every partition log is recovered (the log manager
        # opens them in slices after the first select; the first slice may be all).
        self.log_manager.on_all_open.append(self._set_ready)
        self._every(max(0.05, min(self.config.housekeeping_interval_ms, 1000) / 1000.0),
                    self.transactions.housekeeping)
        offsets_check_s = max(self.config.offsets_retention_check_interval_ms, 1000) / 1000.0
        self._every(offsets_check_s, self.groups.expire_offsets)
        retention_ms = self.config.offsets_retention_minutes * 60_000
        self._every(offsets_check_s, lambda: self.consumer_groups.expire(retention_ms))
        self._every(PRODUCER_SNAPSHOT_INTERVAL_S, self.snapshot_producers)
        self.log_manager.start()
        self.search.start()

    def _partition_opened(self, name: str, partition: int, plog: PartitionLog) -> None:
        self.producers.rebuild(name, partition, plog)
        transactions = getattr(self, "transactions", None)
        if transactions is not None:
            transactions.partition_opened(name, partition, plog)

    def _set_ready(self) -> None:
        self.ready = True

    def _every(self, interval: float, job: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                job()
            finally:
                self.scheduler.call_later(interval, run)

        self.scheduler.call_later(interval, run)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        self.purgatory.cancel_all()
        for closer in (*self._closers, self.log_manager.stop, self.transactions.close, self.offsets.close):
            try:
                closer()
            except Exception:
                log.exception("closing %s failed", closer)
        self.topics.close()
        self.store.close()

    def snapshot_producers(self) -> None:
        try:
            # Partitions not opened yet (lazy logs) keep their entries of the last
            # snapshot: their state has not changed, and opening them here would
            # make a stop right after start recover every partition.
            ends: dict[tuple[str, int], int] = {}
            unchanged: list[str] = []
            for t in self.topics.values():
                for i, p in enumerate(t.partitions):
                    if p.opened:
                        ends[(t.name, i)] = p.log_end_offset
                    elif not p.closed:
                        unchanged.append(f"{t.name}-{i}")
            self.producers.snapshot(ends, unchanged)
        except Exception:
            log.exception("producer state snapshot failed")

    # -- topics --------------------------------------------------------------------
    def topic_partition_counts(self) -> dict[str, int]:
        return {t.name: len(t.partitions) for t in self.topics.values()}

    @property
    def topics_by_id(self):
        return self.topics.by_id

    def partition(self, topic: str, partition: int) -> PartitionLog | None:
        return self.topics.partition(topic, partition)

    def create_topic(self, name: str, num_partitions: int, configs: dict[str, str | None] | None = None) -> Topic:
        return self.topics.create(name, num_partitions, configs)

    def create_topics(self, specs: list[tuple[str, int, dict[str, str | None] | None]]) -> list[Topic | KafkaApiError]:
        """Several topics, one metadata write: each a Topic, or the error that refused it."""
        return self.topics.create_many(specs)

    def check_new_topic(self, name: str, num_partitions: int, configs: dict[str, str | None]) -> dict[str, str]:
        return self.topics.check_new(name, num_partitions, configs)

    def add_partitions(self, name: str, total: int) -> None:
        self.topics.add_partitions(name, total)

    def set_topic_configs(self, name: str, overrides: dict[str, str]) -> None:
        self.topics.set_configs(name, overrides)

    def _topic_defaults(self) -> dict[str, str]:
        c = self.broker_configs
        return broker_topic_defaults(c.get("", {}), c.get(str(self.config.node_id), {}))

    def set_broker_configs(self, scope: str, overrides: dict[str, str]) -> None:
        """Replace the dynamic broker configs of a scope; every topic follows at once."""
        configs = {k: dict(v) for k, v in self.broker_configs.items()}
        if overrides:
            configs[scope] = dict(overrides)
        else:
            configs.pop(scope, None)
        self.store.save_broker_configs(configs)
        self.broker_configs = configs
        self.topics.set_defaults(self._topic_defaults())
        log.info("dynamic broker configs of %s now %s", f"broker {scope}" if scope else "the cluster", overrides)

    def group_config_defaults(self) -> dict[str, int]:
        return {"consumer.session.timeout.ms": self.config.group_consumer_session_timeout_ms,
                "consumer.heartbeat.interval.ms": self.config.group_consumer_heartbeat_interval_ms}

    def set_group_configs(self, group_id: str, overrides: dict[str, str]) -> None:
        """A consumer group's configs (KIP-848); members get them at their next heartbeat."""
        configs = {g: dict(c) for g, c in self.consumer_groups.group_configs.items()}
        if overrides:
            configs[group_id] = dict(overrides)
        else:
            configs.pop(group_id, None)
        self.store.save_group_configs(configs)
        self.consumer_groups.group_configs = configs

    def auto_create(self, name: str) -> Topic:
        return self.topics.create(name, self.config.default_partitions)

    def delete_topic(self, name: str) -> None:
        topic = self.topics.remove(name)
        self.stats.rolls_of_deleted_topics += sum(p.rolls for p in topic.partitions)
        for p in range(len(topic.partitions)):
            self.producers.drop_partition(name, p)
        for listener in self.topic_listeners:
            listener.on_topic_deleted(name)

    # -- the append pipeline ----------------------------------------------------------
    def append(self, topic: str, partition: int, records: Any, origin: Origin = Origin.CLIENT) -> AppendOutcome:
        """Append a record set (v2 batches) to a partition; all-or-nothing per call."""
        t = self.topics.get(topic)
        plog = t.partition(partition) if t is not None else None
        if plog is None:
            return AppendOutcome(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        if not plog.opened:
            # Its producer state is rebuilt as it opens: before the dedupe checks.
            try:
                plog.open()
            except OSError as exc:
                self.storage.failed("partition logs", exc)
                return AppendOutcome(ErrorCode.KAFKA_STORAGE_ERROR, message=exc.strerror or str(exc))
        if not records:
            return AppendOutcome(ErrorCode.CORRUPT_MESSAGE, message="empty record set")
        # The request frame is decoded with writable views (chronik.wire.zero_copy),
        # so offsets are patched in place; anything else is copied once.
        data = records if isinstance(records, memoryview) and not records.readonly else bytearray(records)
        try:
            batches = scan_batches(data)
        except CorruptBatchError as exc:
            return AppendOutcome(ErrorCode.CORRUPT_MESSAGE, message=str(exc))
        if origin is Origin.CLIENT:
            cfg = t.config
            if cfg.message_timestamp_type == "CreateTime":
                refused = self._check_timestamps(cfg.message_timestamp_before_max_ms,
                                                 cfg.message_timestamp_after_max_ms, data, batches)
                if refused is not None:
                    return refused
            if cfg.compact:
                refused = self._check_keys(topic, partition, data, batches)
                if refused is not None:
                    return refused
            code, dup = self._check_client_batches(topic, partition, batches)
            if code:
                return AppendOutcome(code)
            if dup is not None:
                return AppendOutcome(ErrorCode.NONE, dup, -1, plog.log_start_offset)
            # Only topics with confluent.{key,value}.schema.validation decode their records.
            if cfg.confluent_key_schema_validation or cfg.confluent_value_schema_validation:
                refused = schema_validation.refuse(topic, data, cfg.confluent_key_schema_validation,
                                                   cfg.confluent_value_schema_validation, self.registry.live_ids)
                if refused is not None:
                    return AppendOutcome(ErrorCode.INVALID_RECORD, record_errors=refused[0], message=refused[1])
        try:
            res = plog.append(data, batches)
        except MessageTooLargeError as exc:
            return AppendOutcome(ErrorCode.MESSAGE_TOO_LARGE, message=str(exc))
        except CorruptBatchError as exc:
            return AppendOutcome(ErrorCode.CORRUPT_MESSAGE, message=str(exc))
        except OSError as exc:
            # The log rolled itself back: nothing of this record set is visible.
            self.storage.failed("partition logs", exc)
            return AppendOutcome(ErrorCode.KAFKA_STORAGE_ERROR, message=exc.strerror or str(exc))
        if self.storage.failing:
            self.storage.ok("partition logs")
        offset = res.base_offset
        for b in batches:
            self.producers.update(topic, partition, b, offset)
            offset += b.last_offset_delta + 1
        for listener in self.append_listeners:
            listener.on_append(topic, partition, batches, res)
        # Long-poll fetches (and read_committed ones waiting for the LSO) may answer now.
        self.purgatory.notify((topic, partition))
        return AppendOutcome(ErrorCode.NONE, res.base_offset, res.log_append_time, res.log_start_offset,
                             batches=batches)

    @staticmethod
    def _check_timestamps(before_ms: int, after_ms: int, data: Any, batches: list[BatchInfo]) -> AppendOutcome | None:
        """CreateTime timestamps too far from the broker's clock are refused (Kafka 4, KIP-937).

        The batch headers tell whether any record can be out of range; only then
        are records decoded to name them.
        """
        now = wall_ms()
        low, high = now - before_ms, now + after_ms
        suspects = [b for b in batches if not b.is_control and (b.max_timestamp > high or b.base_timestamp < low)]
        errors = []
        for b in suspects:
            for i, ts in enumerate(record_timestamps(memoryview(data)[b.position:b.position + b.size])):
                if not low <= ts <= high:
                    errors.append((i, f"Timestamp {ts} of message with offset {i} is out of range. "
                                      f"The timestamp should be within [{low}, {high}]"))
        if not errors:
            return None
        return AppendOutcome(ErrorCode.INVALID_TIMESTAMP, record_errors=errors,
                             message="One or more records have been rejected due to invalid timestamp")

    @staticmethod
    def _check_keys(topic: str, partition: int, data: Any, batches: list[BatchInfo]) -> AppendOutcome | None:
        """A compacted topic refuses records without a key, one by one, as Kafka's LogValidator does."""
        why = f"Compacted topic cannot accept message without key in topic partition {topic}-{partition}"
        errors = [(i, why) for b in batches if not b.is_control
                  for i in keyless_records(memoryview(data)[b.position:b.position + b.size])]
        if not errors:
            return None
        shown = ", ".join(f"RecordError(batchIndex={i}, message='{m}')" for i, m in errors[:3])
        return AppendOutcome(
            ErrorCode.INVALID_RECORD, record_errors=errors,
            message=f"One or more records have been rejected due to {len(errors)} record errors in total, "
                    f"and only showing the first three errors at most: [{shown}]")

    def _check_client_batches(self, topic: str, partition: int,
                              batches: list[BatchInfo]) -> tuple[ErrorCode, int | None]:
        """(error, base offset of a duplicate) for batches a client sends."""
        dup = None
        for b in batches:
            if b.is_control:
                return ErrorCode.INVALID_RECORD, None
            code, cached = self.producers.check(topic, partition, b)
            if code:
                return code, None
            if cached is not None:
                dup = cached
            code = self.transactions.produce_check(topic, partition, b)
            if code:
                return code, None
        # A retried request of one batch is answered with its first offsets.
        if dup is not None and len(batches) == 1:
            return ErrorCode.NONE, dup.base_offset
        return ErrorCode.NONE, None

    # -- the read pipeline ----------------------------------------------------------------
    def last_stable_offset(self, topic: str, partition: int) -> int:
        return self.transactions.last_stable_offset(topic, partition)

    def read(self, topic: Topic, partition: int, offset: int, max_bytes: int,
             read_committed: bool, want_data: bool = True) -> ReadOutcome:
        """Whole batches from `offset`, up to `max_bytes` (at least one batch)."""
        plog = topic.partition(partition)
        if plog is None:
            return ReadOutcome(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        hw = plog.log_end_offset
        start = plog.log_start_offset
        lso = self.transactions.last_stable_offset(topic.name, partition)
        if offset < start or offset > hw:
            # Kafka leaves the offsets unknown (-1) in an out-of-range answer.
            return ReadOutcome(ErrorCode.OFFSET_OUT_OF_RANGE)
        limit = lso if read_committed else hw
        out = ReadOutcome(ErrorCode.NONE, hw, lso, start)
        if not want_data or offset >= limit:
            return out
        try:
            data = plog.read(offset, max_bytes).data
        except OffsetOutOfRangeError:
            return ReadOutcome(ErrorCode.OFFSET_OUT_OF_RANGE)
        except CorruptBatchError:
            # Damaged on disk (logged once by the log): never served, never a silent stop.
            return ReadOutcome(ErrorCode.CORRUPT_MESSAGE, hw, lso, start)
        except OSError as exc:
            self.storage.failed("partition logs (reading)", exc)
            return ReadOutcome(ErrorCode.KAFKA_STORAGE_ERROR, hw, lso, start)
        if read_committed and data:
            data = cut_at(data, limit)
            out.aborted = self.transactions.aborted_transactions(topic.name, partition, offset, limit)
        out.data = data
        return out


def cut_at(data: Any, limit: int) -> Any:
    """Drop whole batches that start at or past `limit` (the last stable offset)."""
    pos = 0
    n = len(data)
    while pos + 12 <= n:
        base, length = _BASE_AND_LENGTH.unpack_from(data, pos)
        if base >= limit:
            break
        pos += 12 + length
    return data[:pos] if pos < n else data
