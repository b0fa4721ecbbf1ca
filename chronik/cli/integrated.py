"""`chronik integrated`: run the broker; `chronik stop -d DIR`: stop a detached one.

    chronik integrated -p 9092 -d ./data      foreground, Ctrl-C stops it
    chronik integrated --ephemeral            data in a temp dir, removed at exit
    chronik integrated --detach -d ./data     start in the background, return once
                                              it accepts connections; log in DIR/chronik.log
    chronik stop -d ./data                    SIGTERM to the PID in DIR/.lock, wait

The broker holds an exclusive flock on DIR/.lock and writes its PID into it
(chronik.offline.lock.lock_data_dir); `stop` trusts the PID only while that lock
is held, so a stale file never leads to signalling an unrelated process.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from chronik.broker.config import BrokerConfig
from chronik.cli import app
from chronik.cli.state import CliError, UsageError
from chronik.offline.lock import LOCK_FILE

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
FSYNC_MODES = ("never", "always")
DETACHED_LOG = "chronik.log"
READY_LINE = "chronik listening on "
# The broker's defaults live in one place (BrokerConfig); the options show them.
_D = BrokerConfig()


def client_settings(bootstrap: str) -> str:
    """Copy-paste settings for clients, printed once the broker is up."""
    return (
        "connect with:\n"
        f"  export CHRONIK_BROKERS={bootstrap}        # for the chronik CLI\n"
        f"  kcat -b {bootstrap} -L\n"
        f"  bootstrap.servers={bootstrap}          # Java, librdkafka, confluent-kafka\n"
        f"  KafkaProducer(bootstrap_servers=\"{bootstrap}\")   # kafka-python, aiokafka\n"
    )


def _bootstrap_from(line: str) -> str | None:
    # "chronik listening on H:P (advertised A:P, data ...)"
    if READY_LINE not in line:
        return None
    rest = line.split(READY_LINE, 1)[1]
    if "(advertised " in rest:
        return rest.split("(advertised ", 1)[1].split(",", 1)[0].strip()
    return rest.split()[0]


class _AnnounceSettings:
    """stdout wrapper: after the broker's "listening on" line, print client settings."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._pending: str | None = None
        self._done = False

    def write(self, text: str) -> int:
        n = self._out.write(text)
        if self._done:
            return n
        if self._pending is None:
            self._pending = _bootstrap_from(text)
        # print() writes the line and its newline separately: add ours after the newline.
        if self._pending and text.endswith("\n"):
            self._done = True
            self._out.write(client_settings(self._pending))
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


@app.command()
def integrated(
    port: Annotated[int, typer.Option("-p", "--port", help="Port to listen on.")] = _D.port,
    data_dir: Annotated[Path, typer.Option("-d", "--data-dir", help="Data directory.")] = _D.data_dir,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = _D.host,
    advertised_host: Annotated[
        str | None,
        typer.Option("--advertised-host", help="Host advertised to clients (default: --host)."),
    ] = None,
    partitions: Annotated[
        int, typer.Option("--partitions", min=1, help="Partitions of auto-created topics.")
    ] = _D.default_partitions,
    no_auto_create: Annotated[
        bool, typer.Option("--no-auto-create", help="Do not create topics on first use.")
    ] = False,
    max_request_bytes: Annotated[
        int,
        typer.Option("--max-request-bytes", min=1024, help="Largest request frame accepted."),
    ] = _D.max_request_bytes,
    max_connections: Annotated[
        int,
        typer.Option("--max-connections", min=0,
                     help="Kafka's max.connections: past it new connections wait (0: no limit)."),
    ] = _D.max_connections,
    max_connections_per_ip: Annotated[
        int,
        typer.Option("--max-connections-per-ip", min=0,
                     help="Kafka's max.connections.per.ip: past it new connections are closed (0: no limit)."),
    ] = _D.max_connections_per_ip,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug|info|warning|error")
    ] = _D.log_level,
    log_retention_check_interval_ms: Annotated[
        int,
        typer.Option(
            "--log-retention-check-interval-ms",
            min=10,
            help="How often retention deletes old segments (Kafka: 300000; Chronik's 10 s "
            "default is Redpanda's housekeeping interval, so retention.ms tries show at once).",
        ),
    ] = _D.log_retention_check_interval_ms,
    group_initial_rebalance_delay_ms: Annotated[
        int,
        typer.Option(
            "--group-initial-rebalance-delay-ms",
            min=0,
            help="How long a new group waits for more members before its first rebalance; "
            "each member joining meanwhile extends it, as in Kafka (whose default is 3000).",
        ),
    ] = _D.group_initial_rebalance_delay_ms,
    offsets_retention_minutes: Annotated[
        int,
        typer.Option(
            "--offsets-retention-minutes",
            min=1,
            help="How long committed offsets of an empty group are kept.",
        ),
    ] = _D.offsets_retention_minutes,
    offsets_retention_check_interval_ms: Annotated[
        int,
        typer.Option(
            "--offsets-retention-check-interval-ms",
            min=1000,
            help="How often expired offsets, and empty groups left without offsets, are removed "
            "(Kafka's default, 600000).",
        ),
    ] = _D.offsets_retention_check_interval_ms,
    transaction_max_timeout_ms: Annotated[
        int,
        typer.Option(
            "--transaction-max-timeout-ms",
            min=1,
            help="Largest transaction.timeout.ms a transactional producer may ask for.",
        ),
    ] = _D.transaction_max_timeout_ms,
    group_consumer_session_timeout_ms: Annotated[
        int,
        typer.Option("--group-consumer-session-timeout-ms", min=1,
                     help="Consumer group protocol (KIP-848): a member that does not heartbeat this long is fenced."),
    ] = _D.group_consumer_session_timeout_ms,
    group_consumer_heartbeat_interval_ms: Annotated[
        int,
        typer.Option("--group-consumer-heartbeat-interval-ms", min=1,
                     help="Consumer group protocol: how often members heartbeat (told to them by the broker)."),
    ] = _D.group_consumer_heartbeat_interval_ms,
    group_consumer_assignors: Annotated[
        str,
        typer.Option("--group-consumer-assignors",
                     help="Consumer group protocol: server-side assignors offered (uniform, range); the first "
                     "is the default."),
    ] = _D.group_consumer_assignors,
    group_consumer_max_size: Annotated[
        int,
        typer.Option("--group-consumer-max-size", min=0,
                     help="Consumer group protocol: most members per group (0: no limit)."),
    ] = _D.group_consumer_max_size,
    ephemeral: Annotated[
        bool, typer.Option("--ephemeral", help="Keep data in a temp directory, removed at exit.")
    ] = False,
    detach: Annotated[
        bool,
        typer.Option("--detach", help="Run in the background (log in DIR/chronik.log); "
                     "stop it with `chronik stop -d DIR`."),
    ] = False,
    http_port: Annotated[
        int | None,
        typer.Option(
            "--http-port",
            min=0,
            max=65535,
            help="Admin HTTP port (/metrics, /healthz, /readyz, /v1/status); default 9644, "
            "skipped with a warning when taken. 0 picks a free port.",
        ),
    ] = None,
    http_host: Annotated[
        str | None, typer.Option("--http-host", help="Address the admin HTTP port binds (default: --host).")
    ] = None,
    no_http: Annotated[bool, typer.Option("--no-http", help="Do not serve the admin HTTP port.")] = False,
    schema_registry_port: Annotated[
        int | None,
        typer.Option("--schema-registry-port", min=0, max=65535,
                     help="The schema registry's own port (it is on the admin port too); default 8081, "
                     "skipped with a warning when taken. 0 picks a free port."),
    ] = None,
    no_schema_registry_port: Annotated[
        bool, typer.Option("--no-schema-registry-port", help="Serve the registry on the admin port only."),
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Broker log lines: text|json (one JSON object a line).")
    ] = _D.log_format,
    fsync: Annotated[
        str, typer.Option("--fsync", help="never: acknowledge once written to the file; always: acks=all "
                          "answers wait for an fsync (group commit per loop turn), so they survive power loss.")
    ] = _D.fsync,
    listener: Annotated[
        list[str] | None,
        typer.Option("--listener", help="NAME=PROTOCOL://HOST:PORT (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); "
                     "repeatable; replaces -p/--host."),
    ] = None,
    advertised_listener: Annotated[
        list[str] | None,
        typer.Option("--advertised-listener", help="NAME=HOST:PORT told to clients of listener NAME."),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Broker certificate (PEM).",
                                                  )] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Broker private key (PEM).",
                                                 )] = None,
    tls_ca: Annotated[Path | None, typer.Option("--tls-ca", help="CA bundle that verifies client certificates.",
                                                )] = None,
    tls_client_auth: Annotated[str, typer.Option("--tls-client-auth", help="none|requested|required",
                                                 )] = "none",
    sasl_mechanism: Annotated[
        list[str] | None,
        typer.Option("--sasl-mechanism", help="Enabled SASL mechanisms (default: PLAIN, SCRAM-SHA-256, "
                     "SCRAM-SHA-512, OAUTHBEARER)."),
    ] = None,
    sasl_user: Annotated[
        list[str] | None,
        typer.Option("--sasl-user", help="NAME:PASSWORD, a SCRAM (and PLAIN) user created at start; repeatable."),
    ] = None,
    authorizer: Annotated[bool, typer.Option("--authorizer", help="Enforce ACLs (Kafka's StandardAuthorizer).",
                                             )] = False,
    super_user: Annotated[
        list[str] | None,
        typer.Option("--super-user", help="User:NAME allowed everything; repeatable."),
    ] = None,
    allow_everyone_if_no_acl_found: Annotated[
        bool, typer.Option("--allow-everyone-if-no-acl-found", help="Resources without ACLs are open to all.",
                           ),
    ] = False,
    remove_data_dir: Annotated[bool, typer.Option("--remove-data-dir-at-exit", hidden=True)] = False,
    search: Annotated[
        bool,
        typer.Option("--search", help="Index every topic for search (else only topics with "
                     "chronik.search.enable=true)."),
    ] = False,
    open_console: Annotated[
        bool, typer.Option("--open", help="Open the web console (admin HTTP port, /) in the default browser."),
    ] = False,
    console_read_only: Annotated[
        bool, typer.Option("--console-read-only", help="The web console shows, but changes nothing "
                           "(no create/delete/alter, produce or offset resets)."),
    ] = False,
    no_console: Annotated[
        bool, typer.Option("--no-console", help="Do not serve the web console on the admin HTTP port."),
    ] = False,
) -> None:
    """Run a single-node Kafka-compatible broker on PORT with data in DIR."""
    import shutil
    import tempfile

    if log_level.lower() not in LOG_LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    if log_format.lower() not in LOG_FORMATS:
        raise UsageError(f"--log-format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    if fsync.lower() not in FSYNC_MODES:
        raise UsageError(f"--fsync must be one of {', '.join(FSYNC_MODES)}, not {fsync!r}")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    from chronik.security.listeners import CLIENT_AUTH, ListenerSpecError, parse_advertised, parse_listener
    from chronik.security.mechanisms import ALL_MECHANISMS

    try:
        listeners = [parse_listener(x) for x in listener or []]
        advertised = {n: (h, p) for n, h, p in (parse_advertised(x) for x in advertised_listener or [])}
    except ListenerSpecError as exc:
        raise UsageError(str(exc)) from None
    names = [x[0] for x in listeners]
    if len(set(names)) != len(names):
        raise UsageError("listener names must be unique (--listener NAME=PROTOCOL://HOST:PORT)")
    for name in advertised:
        if name not in names:
            raise UsageError(f"--advertised-listener {name}: no --listener of that name")
    if tls_client_auth not in CLIENT_AUTH:
        raise UsageError(f"--tls-client-auth must be one of {', '.join(CLIENT_AUTH)}")
    mechanisms = tuple(m.upper() for m in sasl_mechanism or ALL_MECHANISMS)
    for m in mechanisms:
        if m not in ALL_MECHANISMS:
            raise UsageError(f"--sasl-mechanism must be one of {', '.join(ALL_MECHANISMS)}, not {m!r}")
    users = []
    for spec in sasl_user or []:
        name, sep, password = spec.partition(":")
        if not sep or not name or not password:
            raise UsageError("--sasl-user must be NAME:PASSWORD")
        users.append((name, password))
    for su in super_user or []:
        if ":" not in su:
            raise UsageError(f"--super-user must be TYPE:NAME (User:alice), not {su!r}")
    if ephemeral:
        if data_dir != _D.data_dir:
            raise UsageError("--ephemeral makes its own data directory: leave out -d")
        data_dir = Path(tempfile.mkdtemp(prefix="chronik-"))
        remove_data_dir = True
    elif data_dir.exists() and not data_dir.is_dir():
        raise CliError(f"data directory {data_dir} exists and is not a directory")
    if detach:
        argv = [a for a in sys.argv[1:] if a not in ("--detach", "--ephemeral")]
        if ephemeral:
            argv += ["-d", str(data_dir), "--remove-data-dir-at-exit"]
        raise typer.Exit(_detach(argv, data_dir))
    config = BrokerConfig(
        port=port,
        data_dir=data_dir,
        host=host,
        advertised_host=advertised_host,
        default_partitions=partitions,
        auto_create_topics=not no_auto_create,
        max_request_bytes=max_request_bytes,
        max_connections=max_connections,
        max_connections_per_ip=max_connections_per_ip,
        log_level=log_level,
        log_retention_check_interval_ms=log_retention_check_interval_ms,
        group_initial_rebalance_delay_ms=group_initial_rebalance_delay_ms,
        offsets_retention_minutes=offsets_retention_minutes,
        offsets_retention_check_interval_ms=offsets_retention_check_interval_ms,
        transaction_max_timeout_ms=transaction_max_timeout_ms,
        http_port=http_port,
        http_host=http_host,
        http_enabled=not no_http,
        schema_registry_port=schema_registry_port,
        schema_registry_enabled=not no_schema_registry_port,
        log_format=log_format.lower(),
        fsync=fsync.lower(),
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
        group_consumer_session_timeout_ms=group_consumer_session_timeout_ms,
        group_consumer_heartbeat_interval_ms=group_consumer_heartbeat_interval_ms,
        group_consumer_assignors=group_consumer_assignors,
        group_consumer_max_size=group_consumer_max_size,
        search=search,
        console_enabled=not no_console,
        console_read_only=console_read_only,
        console_open=open_console,
    )
    try:
        raise typer.Exit(_run(config))
    finally:
        if remove_data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def _run(config: BrokerConfig) -> int:
    from chronik.lazy_imports import defer_package_inits

    defer_package_inits()  # the broker uses kafka-python's codecs and crc32c's function, not their extras
    from chronik.broker.main import run_broker

    real_stdout = sys.stdout
    sys.stdout = _AnnounceSettings(real_stdout)
    try:
        return run_broker(config)
    finally:
        sys.stdout = real_stdout


def _detach(argv: list[str], data_dir: Path, timeout: float = 30.0) -> int:
    """Start `chronik ARGV` in a new session, return once it listens (or failed)."""
    import subprocess

    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / DETACHED_LOG
    with open(log_path, "ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            [sys.executable, "-m", "chronik", *argv], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        if READY_LINE in text:
            line = next(x for x in text.splitlines() if READY_LINE in x)
            sys.stdout.write(f"{line}\n{client_settings(_bootstrap_from(line) or '?')}"
                             f"pid {proc.pid}, log {log_path}; stop with: chronik stop -d {data_dir}\n")
            return 0
        if proc.poll() is not None:
            last = [x for x in text.splitlines() if x.strip()][-1:] or ["(no output)"]
            raise CliError(f"the broker did not start: {last[0].removeprefix('error: ')}")
        time.sleep(0.02)
    proc.terminate()
    raise CliError(f"the broker did not start within {timeout:g}s; see {log_path}")


def broker_pid(data_dir: Path) -> int | None:
    """PID of the broker holding DIR's lock, or None when no broker holds it."""
    import fcntl

    path = data_dir / LOCK_FILE
    if not path.exists():
        return None
    with open(path) as f:  # never truncate: the broker owns the content
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = f.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return None


@app.command()
def stop(
    data_dir: Annotated[Path, typer.Option("-d", "--data-dir", help="Data directory of the broker.")],
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for it to stop.")] = 30,
) -> None:
    """Stop the broker running on DIR (started with --detach): SIGTERM, then wait."""
    import signal

    pid = broker_pid(data_dir)
    if pid is None:
        raise CliError(f"no broker is running on {data_dir}")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        raise CliError(f"the broker on {data_dir} (pid {pid}) is already gone") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker_pid(data_dir) is None:
            typer.echo(f"stopped broker pid {pid} on {data_dir}")
            return
        time.sleep(0.05)
    raise CliError(f"broker pid {pid} did not stop within {timeout:g}s")
