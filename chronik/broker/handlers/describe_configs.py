"""DescribeConfigs (32), v1-4: every topic or broker config with value, source, default."""

from __future__ import annotations

from kafka.protocol.admin.configs import DescribeConfigsResponse

from chronik.broker.config_resources import (
    BROKER,
    BROKER_LOGGER,
    DEFAULT_CONFIG,
    DYNAMIC_TOPIC_CONFIG,
    TOPIC,
    broker_configs,
    check_broker_resource,
    topic_or_error,
)
from chronik.metadata.configs import CONFIG_TYPE_IDS, TOPIC_CONFIGS
from chronik.wire.errors import ErrorCode, KafkaApiError

API_KEY = 32

_Result = DescribeConfigsResponse.DescribeConfigsResult
_Entry = _Result.DescribeConfigsResourceResult
_Synonym = _Entry.DescribeConfigsSynonym


def _entry(name, value, source, ctype, doc, synonyms, include_docs):
    return _Entry(
        name=name,
        value=value,
        read_only=False,
        config_source=source,
        is_default=source == DEFAULT_CONFIG,
        is_sensitive=False,
        synonyms=synonyms,
        config_type=CONFIG_TYPE_IDS.get(ctype, 0),
        documentation=doc if include_docs else None,
    )


def _topic_entries(core, name, keys, synonyms, docs):
    topic = topic_or_error(core, name)
    out = []
    for cname, spec in TOPIC_CONFIGS.items():
        if keys is not None and cname not in keys:
            continue
        syn = []
        if cname in topic.configs:
            value, source = topic.configs[cname], DYNAMIC_TOPIC_CONFIG
            if synonyms:
                syn.append(_Synonym(name=cname, value=value, source=DYNAMIC_TOPIC_CONFIG))
        else:
            value, source = spec.default, DEFAULT_CONFIG
        if synonyms:
            syn.append(_Synonym(name=cname, value=spec.default, source=DEFAULT_CONFIG))
        out.append(_entry(cname, value, source, spec.type, spec.doc, syn, docs))
    return out


def _broker_entries(core, name, keys, synonyms, docs):
    check_broker_resource(core, name)
    out = []
    for cname, value, source, ctype in broker_configs(core):
        if keys is not None and cname not in keys:
            continue
        syn = [_Synonym(name=cname, value=value, source=source)] if synonyms else []
        out.append(_entry(cname, value, source, ctype, "", syn, docs))
    return out


def handle(ctx, req):
    core = ctx.core
    v = ctx.api_version
    synonyms = bool(req.include_synonyms)
    docs = v >= 3 and bool(req.include_documentation)
    results = []
    for r in req.resources:
        keys = set(r.configuration_keys) if r.configuration_keys is not None else None
        try:
            if r.resource_type == TOPIC:
                entries = _topic_entries(core, r.resource_name, keys, synonyms, docs)
            elif r.resource_type == BROKER:
                entries = _broker_entries(core, r.resource_name, keys, synonyms, docs)
            elif r.resource_type == BROKER_LOGGER:
                check_broker_resource(core, r.resource_name)
                entries = []
            else:
                raise KafkaApiError(ErrorCode.INVALID_REQUEST,
                                    f"Unsupported resource type {r.resource_type}")
            code, msg = ErrorCode.NONE, None
        except KafkaApiError as exc:
            entries, code, msg = [], exc.code, exc.message
        results.append(
            _Result(error_code=code, error_message=msg, resource_type=r.resource_type,
                    resource_name=r.resource_name, configs=entries)
        )
    return DescribeConfigsResponse(version=v, throttle_time_ms=0, results=results)
