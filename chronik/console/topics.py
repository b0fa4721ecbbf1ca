"""Topics: the list, one topic's partitions and configs, and the writes (create, delete, alter configs).

Reads come from the core's topic table (O(topics + partitions), no I/O:
sizes are the logs' in-memory counters). Writes are CreateTopics,
DeleteTopics and IncrementalAlterConfigs requests through their handlers
(chronik.console.kafka_calls), so validation, authorisation and error
codes are Kafka's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka.protocol.admin.configs import IncrementalAlterConfigsRequest
from kafka.protocol.admin.topics import CreateTopicsRequest, DeleteTopicsRequest

from chronik.console.api import ApiError, Call, Route, to_int
from chronik.console.kafka_calls import KafkaCallError, call, http_status
from chronik.security.acl import Operation, ResourceType

if TYPE_CHECKING:
    from chronik.broker.topics import Topic
    from chronik.console.sampler import Sampler

TOPIC = ResourceType.TOPIC
MAX_CONFIGS = 200
_ALTER_OPS = {"set": 0, "delete": 1}
RESOURCE_TOPIC = 2


def _kafka_error(exc: KafkaCallError) -> ApiError:
    return ApiError(http_status(exc.code), exc.message, exc.name)


def topic_or_404(c: Call, name: str, op: Operation = Operation.DESCRIBE) -> Topic:
    t = c.core.topics.get(name)
    # Like Kafka: a topic you may not describe looks the same as one that does not exist.
    if t is None or not c.allowed(op, TOPIC, name) and op is Operation.DESCRIBE:
        raise ApiError(404, f"topic {name!r} does not exist", "UNKNOWN_TOPIC_OR_PARTITION")
    c.require(op, TOPIC, name)
    return t


def summary(t: Topic, searchable: bool, rate: float | None) -> dict[str, Any]:
    cfg = t.effective_config
    size = messages = 0
    for plog in t.partitions:
        if plog.closed:
            continue
        size += plog.size_bytes()
        messages += plog.log_end_offset - plog.log_start_offset
    return {
        "name": t.name,
        "partitions": len(t.partitions),
        "size_bytes": size,
        "messages": messages,
        "messages_per_s": rate or 0.0,
        "retention_ms": int(cfg.get("retention.ms", "-1")),
        "retention_bytes": int(cfg.get("retention.bytes", "-1")),
        "cleanup_policy": cfg.get("cleanup.policy", "delete"),
        "search_enabled": searchable,
        "internal": t.name.startswith("_"),
    }


class TopicRoutes:
    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def routes(self) -> list[Route]:
        return [
            ("GET", r"/console/api/topics", self.list, False),
            ("POST", r"/console/api/topics", self.create, True),
            ("GET", r"/console/api/topics/(?P<topic>[^/]+)", self.detail, False),
            ("POST", r"/console/api/topics/(?P<topic>[^/]+)/delete", self.delete, True),
            ("POST", r"/console/api/topics/(?P<topic>[^/]+)/configs", self.alter_configs, True),
        ]

    def list(self, c: Call) -> Any:
        core = c.core
        rates = self.sampler.topic_rates
        out = [summary(t, core.search.searchable(t), rates.get(t.name))
               for t in core.topics.values() if c.allowed(Operation.DESCRIBE, TOPIC, t.name)]
        out.sort(key=lambda x: (x["internal"], x["name"]))
        return {"topics": out}

    def detail(self, c: Call) -> Any:
        t = topic_or_404(c, c.params["topic"])
        parts = []
        for i, plog in enumerate(t.partitions):
            start, end = plog.log_start_offset, plog.log_end_offset
            parts.append({"partition": i, "start_offset": start, "end_offset": end, "messages": end - start,
                          "size_bytes": plog.size_bytes() if not plog.closed else 0})
        effective = t.effective_config
        configs = [{"name": k, "value": v, "is_default": k not in t.configs} for k, v in sorted(effective.items())]
        out = summary(t, c.core.search.searchable(t), self.sampler.topic_rates.get(t.name))
        out.update({"partitions": parts, "partition_count": len(parts), "configs": configs,
                    "topic_id": str(t.topic_id)})
        return out

    def create(self, c: Call) -> Any:
        body = c.body()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "name: a topic name is required")
        partitions = to_int(body.get("partitions", 1), "partitions", 1, 10_000)
        configs = body.get("configs") or {}
        if not isinstance(configs, dict) or len(configs) > MAX_CONFIGS:
            raise ApiError(400, "configs must be an object of config name -> value")
        T = CreateTopicsRequest.CreatableTopic
        topic = T(name=name, num_partitions=partitions, replication_factor=-1, assignments=[],
                  configs=[T.CreatableTopicConfig(name=str(k), value=None if v is None else str(v))
                           for k, v in configs.items()])
        try:
            resp = call(c.core, c.security, CreateTopicsRequest(topics=[topic], timeout_ms=5000,
                                                                 validate_only=False), 5)
        except KafkaCallError as exc:
            raise _kafka_error(exc) from None
        for r in resp.topics:
            if r.error_code:
                e = KafkaCallError(r.error_code, r.error_message)
                raise _kafka_error(e)
        return 201, {"name": name, "partitions": partitions}

    def delete(self, c: Call) -> Any:
        name = c.params["topic"]
        try:
            resp = call(c.core, c.security, DeleteTopicsRequest(topic_names=[name], timeout_ms=5000), 5)
        except KafkaCallError as exc:
            raise _kafka_error(exc) from None
        for r in resp.responses:
            if r.error_code:
                raise _kafka_error(KafkaCallError(r.error_code, getattr(r, "error_message", None)))
        return {"deleted": name}

    def alter_configs(self, c: Call) -> Any:
        name = c.params["topic"]
        body = c.body()
        sets = body.get("set") or {}
        deletes = body.get("delete") or []
        if not isinstance(sets, dict) or not isinstance(deletes, list):
            raise ApiError(400, "give {\"set\": {name: value}, \"delete\": [name]}")
        if not sets and not deletes:
            raise ApiError(400, "nothing to change: give set and/or delete")
        R = IncrementalAlterConfigsRequest.AlterConfigsResource
        A = R.AlterableConfig
        configs = [A(name=str(k), config_operation=_ALTER_OPS["set"], value=str(v)) for k, v in sets.items()]
        configs += [A(name=str(k), config_operation=_ALTER_OPS["delete"], value=None) for k in deletes]
        req = IncrementalAlterConfigsRequest(
            resources=[R(resource_type=RESOURCE_TOPIC, resource_name=name, configs=configs)], validate_only=False)
        try:
            resp = call(c.core, c.security, req, 1)
        except KafkaCallError as exc:
            raise _kafka_error(exc) from None
        for r in resp.responses:
            if r.error_code:
                raise _kafka_error(KafkaCallError(r.error_code, r.error_message))
        c.params["topic"] = name
        return self.detail(c)
