"""AlterConfigs (33), v0-2: replace a topic's or a broker scope's config overrides with the given set.

Broker resources take Kafka's dynamic broker configs (config_resources), per
broker ("0") or cluster-wide (""); static ones are refused as Kafka refuses them.
"""

from __future__ import annotations

from kafka.protocol.admin.configs import AlterConfigsResponse

from chronik.broker.config_resources import (
    BROKER,
    GROUP,
    TOPIC,
    apply_group_incremental,
    check_broker_resource,
    static_names,
    topic_or_error,
)
from chronik.metadata.configs import ConfigError, validate_broker_configs, validate_topic_configs
from chronik.wire.errors import ErrorCode, KafkaApiError

API_KEY = 33

_Resp = AlterConfigsResponse.AlterConfigsResourceResponse


def alter_resource(core, r, validate_only: bool, compute) -> None:
    if r.resource_type == TOPIC:
        topic = topic_or_error(core, r.resource_name)
        new = compute(topic.configs, r.configs, False, ())
        if not validate_only:
            core.set_topic_configs(topic.name, new)
    elif r.resource_type == BROKER:
        scope = check_broker_resource(core, r.resource_name)
        new = compute(core.broker_configs.get(scope, {}), r.configs, True, static_names(core))
        if not validate_only:
            core.set_broker_configs(scope, new)
    elif r.resource_type == GROUP:
        # Group configs (KIP-848) are altered incrementally only, as in Kafka.
        if r.configs and not hasattr(r.configs[0], "config_operation"):
            raise KafkaApiError(ErrorCode.INVALID_REQUEST, "Group configs are altered with IncrementalAlterConfigs")
        if not r.resource_name:
            raise KafkaApiError(ErrorCode.INVALID_REQUEST, "Group id must not be empty")
        current = core.consumer_groups.group_configs.get(r.resource_name, {})
        new = apply_group_incremental(core, current, [(c.name, c.config_operation, c.value) for c in r.configs])
        if not validate_only:
            core.set_group_configs(r.resource_name, new)
    else:
        raise KafkaApiError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {r.resource_type}")


def run(ctx, req, response_cls, compute):
    results = []
    for r in req.resources:
        try:
            alter_resource(ctx.core, r, req.validate_only, compute)
            code, msg = ErrorCode.NONE, None
        except (KafkaApiError, ConfigError) as exc:
            code, msg = exc.code, exc.message
        results.append(
            response_cls.AlterConfigsResourceResponse(
                error_code=code, error_message=msg, resource_type=r.resource_type,
                resource_name=r.resource_name,
            )
        )
    return response_cls(version=ctx.api_version, throttle_time_ms=0, responses=results)


def handle(ctx, req):
    def replace(_current, configs, broker: bool, static):
        given = {c.name: c.value for c in configs}
        return validate_broker_configs(given, static) if broker else validate_topic_configs(given)

    return run(ctx, req, AlterConfigsResponse, replace)
