"""`chronik integrated`: run the broker in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chronik.cli import app
from chronik.cli.state import CliError

LOG_LEVELS = ("debug", "info", "warning", "error")


@app.command()
def integrated(
    port: Annotated[int, typer.Option("-p", "--port", help="Port to listen on.")] = 9092,
    data_dir: Annotated[Path, typer.Option("-d", "--data-dir", help="Data directory.")] = Path(
        "./data"
    ),
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    advertised_host: Annotated[
        str | None,
        typer.Option("--advertised-host", help="Host advertised to clients (default: --host)."),
    ] = None,
    partitions: Annotated[
        int, typer.Option("--partitions", min=1, help="Partitions of auto-created topics.")
    ] = 1,
    no_auto_create: Annotated[
        bool, typer.Option("--no-auto-create", help="Do not create topics on first use.")
    ] = False,
    max_request_bytes: Annotated[
        int,
        typer.Option("--max-request-bytes", min=1024, help="Largest request frame accepted."),
    ] = 100 * 1024 * 1024,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug|info|warning|error")
    ] = "info",
    log_retention_check_interval_ms: Annotated[
        int,
        typer.Option(
            "--log-retention-check-interval-ms",
            min=10,
            help="How often retention deletes old segments (segment.ms rolls and "
            "compaction are checked at least every 15 s).",
        ),
    ] = 300_000,
    group_initial_rebalance_delay_ms: Annotated[
        int,
        typer.Option(
            "--group-initial-rebalance-delay-ms",
            min=0,
            help="How long a new group waits for more members before its first rebalance "
            "(Kafka's default is 3000; 0 answers a lone consumer at once).",
        ),
    ] = 0,
    offsets_retention_minutes: Annotated[
        int,
        typer.Option(
            "--offsets-retention-minutes",
            min=1,
            help="How long committed offsets of an empty group are kept.",
        ),
    ] = 7 * 24 * 60,
    transaction_max_timeout_ms: Annotated[
        int,
        typer.Option(
            "--transaction-max-timeout-ms",
            min=1,
            help="Largest transaction.timeout.ms a transactional producer may ask for.",
        ),
    ] = 15 * 60 * 1000,
    search: Annotated[
        bool,
        typer.Option("--search", help="Index every topic for search (else only topics with "
                     "chronik.search.enable=true)."),
    ] = False,
) -> None:
    """Run a single-node Kafka-compatible broker on PORT with data in DIR."""
    from chronik.broker.config import BrokerConfig
    from chronik.broker.main import run_broker

    if log_level.lower() not in LOG_LEVELS:
        raise CliError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    if not 0 <= port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, not {port}")
    config = BrokerConfig(
        port=port,
        data_dir=data_dir,
        host=host,
        advertised_host=advertised_host,
        default_partitions=partitions,
        auto_create_topics=not no_auto_create,
        max_request_bytes=max_request_bytes,
        log_level=log_level,
        log_retention_check_interval_ms=log_retention_check_interval_ms,
        group_initial_rebalance_delay_ms=group_initial_rebalance_delay_ms,
        offsets_retention_minutes=offsets_retention_minutes,
        transaction_max_timeout_ms=transaction_max_timeout_ms,
        search=search,
    )
    raise typer.Exit(run_broker(config))
