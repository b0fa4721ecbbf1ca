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
            help="How long a new group waits for more members before its first rebalance; "
            "each member joining meanwhile extends it, as in Kafka (whose default is 3000).",
        ),
    ] = 200,
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
    listener: Annotated[
        list[str] | None,
        typer.Option("--listener", help="NAME=PROTOCOL://HOST:PORT (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); "
                     "repeatable; replaces -p/--host.", rich_help_panel="Security"),
    ] = None,
    advertised_listener: Annotated[
        list[str] | None,
        typer.Option("--advertised-listener", help="NAME=HOST:PORT told to clients of listener NAME.",
                     rich_help_panel="Security"),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Broker certificate (PEM).",
                                                  rich_help_panel="Security")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Broker private key (PEM).",
                                                 rich_help_panel="Security")] = None,
    tls_ca: Annotated[Path | None, typer.Option("--tls-ca", help="CA bundle that verifies client certificates.",
                                                rich_help_panel="Security")] = None,
    tls_client_auth: Annotated[str, typer.Option("--tls-client-auth", help="none|requested|required",
                                                 rich_help_panel="Security")] = "none",
    sasl_mechanism: Annotated[
        list[str] | None,
        typer.Option("--sasl-mechanism", help="Enabled SASL mechanisms (default: PLAIN, SCRAM-SHA-256, "
                     "SCRAM-SHA-512, OAUTHBEARER).", rich_help_panel="Security"),
    ] = None,
    sasl_user: Annotated[
        list[str] | None,
        typer.Option("--sasl-user", help="NAME:PASSWORD, a SCRAM (and PLAIN) user created at start; repeatable.",
                     rich_help_panel="Security"),
    ] = None,
    authorizer: Annotated[bool, typer.Option("--authorizer", help="Enforce ACLs (Kafka's StandardAuthorizer).",
                                             rich_help_panel="Security")] = False,
    super_user: Annotated[
        list[str] | None,
        typer.Option("--super-user", help="User:NAME allowed everything; repeatable.", rich_help_panel="Security"),
    ] = None,
    allow_everyone_if_no_acl_found: Annotated[
        bool, typer.Option("--allow-everyone-if-no-acl-found", help="Resources without ACLs are open to all.",
                           rich_help_panel="Security"),
    ] = False,
) -> None:
    """Run a single-node Kafka-compatible broker on PORT with data in DIR."""
    from chronik.broker.config import BrokerConfig
    from chronik.broker.main import run_broker

    if log_level.lower() not in LOG_LEVELS:
        raise CliError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    if not 0 <= port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, not {port}")
    from chronik.security.listeners import CLIENT_AUTH, ListenerSpecError, parse_advertised, parse_listener
    from chronik.security.mechanisms import ALL_MECHANISMS

    try:
        listeners = [parse_listener(x) for x in listener or []]
        advertised = {n: (h, p) for n, h, p in (parse_advertised(x) for x in advertised_listener or [])}
    except ListenerSpecError as exc:
        raise CliError(str(exc)) from None
    names = [x[0] for x in listeners]
    if len(set(names)) != len(names):
        raise CliError("listener names must be unique (--listener NAME=PROTOCOL://HOST:PORT)")
    for name in advertised:
        if name not in names:
            raise CliError(f"--advertised-listener {name}: no --listener of that name")
    if tls_client_auth not in CLIENT_AUTH:
        raise CliError(f"--tls-client-auth must be one of {', '.join(CLIENT_AUTH)}")
    mechanisms = tuple(m.upper() for m in sasl_mechanism or ALL_MECHANISMS)
    for m in mechanisms:
        if m not in ALL_MECHANISMS:
            raise CliError(f"--sasl-mechanism must be one of {', '.join(ALL_MECHANISMS)}, not {m!r}")
    users = []
    for spec in sasl_user or []:
        name, sep, password = spec.partition(":")
        if not sep or not name or not password:
            raise CliError("--sasl-user must be NAME:PASSWORD")
        users.append((name, password))
    for su in super_user or []:
        if ":" not in su:
            raise CliError(f"--super-user must be TYPE:NAME (User:alice), not {su!r}")
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
        listeners=listeners,
        advertised_listeners=advertised,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_ca=tls_ca,
        tls_client_auth=tls_client_auth,
        sasl_mechanisms=mechanisms,
        sasl_users=users,
        authorizer=authorizer,
        super_users=tuple(super_user or ()),
        allow_everyone_if_no_acl_found=allow_everyone_if_no_acl_found,
    )
    raise typer.Exit(run_broker(config))
