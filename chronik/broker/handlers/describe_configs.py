"""DescribeConfigs (32), v1-4: every topic or broker config with value, source, default.

A topic config not set on the topic shows where its value comes from: a
dynamic broker config (this broker's, then the cluster-wide default), else
Kafka's default; synonyms list that chain, most specific first, as Kafka does.
"""

from __future__ import annotations

from kafka.protocol.admin.configs import DescribeConfigsResponse

from chronik.broker.config_resources import (
    BROKER,
    BROKER_LOGGER,
    DEFAULT_CONFIG,
    DYNAMIC_BROKER_CONFIG,
    DYNAMIC_DEFAULT_BROKER_CONFIG,
    DYNAMIC_TOPIC_CONFIG,
    GROUP,
    TOPIC,
    broker_configs,
    check_broker_resource,
    group_configs,
    topic_or_error,
)
from chronik.metadata.configs import CONFIG_TYPE_IDS, TOPIC_BROKER_SYNONYMS, TOPIC_CONFIGS
from chronik.wire.errors import ErrorCode, KafkaApiError

API_KEY = 32

_Result = DescribeConfigsResponse.DescribeConfigsResult
_Entry = _Result.DescribeConfigsResourceResult
_Synonym = _Entry.DescribeConfigsSynonym


def _entry(name, value, source, ctype, doc, synonyms, include_docs, read_only=False):
    return _Entry(
        name=name,
        value=value,
        read_only=read_only,
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
        chain = []
        if cname in topic.configs:
            chain.append((cname, topic.configs[cname], DYNAMIC_TOPIC_CONFIG))
        broker_name = TOPIC_BROKER_SYNONYMS.get(cname)
        if broker_name is not None:
            own = core.broker_configs.get(str(core.config.node_id), {})
            cluster = core.broker_configs.get("", {})
            if broker_name in own:
                chain.append((broker_name, own[broker_name], DYNAMIC_BROKER_CONFIG))
            if broker_name in cluster:
                chain.append((broker_name, cluster[broker_name], DYNAMIC_DEFAULT_BROKER_CONFIG))
        chain.append((broker_name or cname, spec.default, DEFAULT_CONFIG))
        _, value, source = chain[0]
        syn = [_Synonym(name=n, value=val, source=src) for n, val, src in chain] if synonyms else []
        out.append(_entry(cname, value, source, spec.type, spec.doc, syn, docs))
    return out


def _broker_entries(core, name, keys, synonyms, docs):
    scope = check_broker_resource(core, name)
    out = []
    for cname, value, source, ctype, read_only in broker_configs(core, scope):
        if keys is not None and cname not in keys:
            continue
        syn = [_Synonym(name=cname, value=value, source=source)] if synonyms else []
        out.append(_entry(cname, value, source, ctype, "", syn, docs, read_only))
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
            elif r.resource_type == GROUP:
                entries = [_entry(n, val, src, ctype, "", [_Synonym(name=n, value=val, source=src)] if synonyms
                                  else [], docs, ro) for n, val, src, ctype, ro in group_configs(core, r.resource_name)
                           if keys is None or n in keys]
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
