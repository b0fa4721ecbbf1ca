"""IncrementalAlterConfigs (44), v0-1: SET / DELETE / APPEND / SUBTRACT per config."""

from __future__ import annotations

from kafka.protocol.admin.configs import IncrementalAlterConfigsResponse

from chronik.broker.config_resources import apply_incremental
from chronik.broker.handlers.alter_configs import run

API_KEY = 44


def handle(ctx, req):
    return run(
        ctx, req, IncrementalAlterConfigsResponse,
        lambda current, configs, broker, static: apply_incremental(
            current, [(c.name, c.config_operation, c.value) for c in configs], broker, static
        ),
    )
