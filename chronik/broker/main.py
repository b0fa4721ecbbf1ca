"""Start-up and shutdown of the broker process."""

from __future__ import annotations

import json
import logging
import signal
import socket
import ssl
import sys
import time
from pathlib import Path

from chronik.broker import log_safety
from chronik.broker.allocator import tune_allocator
from chronik.broker.config import DEFAULT_HTTP_PORT, DEFAULT_SCHEMA_REGISTRY_PORT, BrokerConfig
from chronik.broker.connection import Listener
from chronik.broker.core import BrokerCore
from chronik.broker.dispatch import Dispatcher
from chronik.broker.server import Server
from chronik.metadata.store import MetadataError
from chronik.offline.lock import DataDirLocked, lock_data_dir
from chronik.security.session import Session, new_session

log = logging.getLogger("chronik")

class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (RFC 3339, UTC), level, logger, msg, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def _setup_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log_safety.install(handler)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def _bind(server: Server, host: str, port: int | None, default: int, what: str, option: str,
          factory) -> tuple[int | None, str | None]:
    """(bound port, None), (None, error) for a taken explicit port, or (None, None) for a taken default."""
    try:
        return server.add_stream_listener(host, default if port is None else port, factory), None
    except OSError as exc:
        if port is not None:
            return None, f"cannot listen on {host}:{port} ({option}): {exc.strerror}"
        log.warning("%s port %s:%d is taken (%s); running without it (use %s)",
                    what, host, default, exc.strerror, option)
        return None, None


def _start_http(config: BrokerConfig, server: Server, core: BrokerCore) -> tuple[str | None, str | None, str | None]:
    """(admin URL, registry URL, error): the admin port and the schema registry's own port.

    A taken default port is a warning (that port is left out); a taken
    explicit one is a start-up error. The registry is also on the admin port.
    """
    if not config.http_enabled:
        return None, None, None
    from chronik.http.app import AdminApp

    host = config.http_host or config.host
    url_host = config.advertised if host in ("0.0.0.0", "::", "") else host
    fmt_host = f"[{url_host}]" if ":" in url_host else url_host
    app = AdminApp(core, server, server, f"{config.advertised}:{config.port}", None)
    admin, error = _bind(server, host, config.http_port, DEFAULT_HTTP_PORT, "admin HTTP", "--http-port",
                         app.connection)
    if error:
        return None, None, error
    admin_url = f"http://{fmt_host}:{admin}" if admin is not None else None
    app.http_url = admin_url
    if config.console_enabled and admin is not None:
        from chronik.console.mount import ConsoleMount, owns
        from chronik.http.app import WARM_UP_AFTER_S

        console = ConsoleMount(app, read_only=config.console_read_only)
        app.router.mount(owns, console)
        app.scheduler.call_later(WARM_UP_AFTER_S, console.build)
        core.on_close(console.close)
    registry_url = None
    if config.schema_registry_enabled:
        reg, error = _bind(server, host, config.schema_registry_port, DEFAULT_SCHEMA_REGISTRY_PORT,
                           "schema registry", "--schema-registry-port", app.registry_connection)
        if error:
            return None, None, error
        registry_url = f"http://{fmt_host}:{reg}" if reg is not None else None
    return admin_url, registry_url, None


def _open_console(url: str) -> None:
    """The default browser on the console; in a thread, as a browser launcher may take its time."""
    import threading
    import webbrowser

    def run() -> None:
        try:
            if not webbrowser.open(url):
                log.warning("no browser to open %s; open it by hand", url)
        except Exception as exc:  # a broken browser setup never stops the broker
            log.warning("cannot open %s in a browser: %s", url, exc)

    threading.Thread(target=run, name="open-console", daemon=True).start()


def attach(core: BrokerCore, server: Server) -> None:
    """Let `server` feed requests to `core` (the caller then starts the core's timers)."""
    server.dispatch = Dispatcher(core)
    mechanisms = tuple(core.config.sasl_mechanisms)

    def session(listener: Listener, conn) -> Session:
        return new_session(listener.name, listener.protocol, conn.ip, listener.endpoint, mechanisms, core.users)

    server.new_session = session
    server.deadline_sources.append(core.purgatory)
    from chronik.broker.file_maker import FileMaker

    core.file_maker = FileMaker(server.add_wakeup)
    server.at_shutdown.append(core.file_maker.close)
    if core.config.fsync == "always":
        from chronik.broker.group_commit import GroupCommit

        core.group_commit = GroupCommit(server.add_wakeup)
        server.before_wait.append(core.group_commit.turn_done)
        server.at_shutdown.append(core.group_commit.close)
    # A closed connection's parked fetches and joins have nobody to answer.
    server.on_close.append(lambda conn: core.purgatory.cancel_owner(conn.conn_id))


def tls_context(config: BrokerConfig) -> ssl.SSLContext:
    """The server side of SSL and SASL_SSL listeners (Kafka's ssl.keystore / ssl.truststore / ssl.client.auth)."""
    if not config.tls_cert or not config.tls_key:
        raise ValueError("SSL and SASL_SSL listeners need --tls-cert and --tls-key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    if config.tls_ca:
        ctx.load_verify_locations(str(config.tls_ca))
    ctx.verify_mode = {"none": ssl.CERT_NONE, "requested": ssl.CERT_OPTIONAL,
                       "required": ssl.CERT_REQUIRED}[config.tls_client_auth]
    if ctx.verify_mode != ssl.CERT_NONE and not config.tls_ca:
        raise ValueError("--tls-client-auth requested|required needs --tls-ca to verify client certificates")
    return ctx


def make_listeners(config: BrokerConfig) -> list[Listener]:
    specs = config.listeners or [("PLAINTEXT", "PLAINTEXT", config.host, config.port)]
    ctx = None
    if any(proto in ("SSL", "SASL_SSL") for _, proto, _, _ in specs):
        ctx = tls_context(config)
    out = []
    for name, proto, host, port in specs:
        adv = config.advertised_listeners.get(name)
        if adv is None and config.advertised_host:
            adv = (config.advertised_host, 0)
        out.append(Listener(name, proto, host, port, ctx if proto in ("SSL", "SASL_SSL") else None, adv))
    return out


def run_broker(config: BrokerConfig) -> int:
    _setup_logging(config.log_level, config.log_format)
    tune_allocator()
    started = time.monotonic()
    data_dir = Path(config.data_dir)
    try:
        lock = lock_data_dir(data_dir)
    except (DataDirLocked, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    try:
        listeners = make_listeners(config)
    except (ValueError, OSError, ssl.SSLError) as exc:
        print(f"error: TLS: {exc}", file=sys.stderr)
        lock.close()
        return 1
    server = Server(config.host, config.port, config.max_request_bytes,
                    max_connections=config.max_connections,
                    max_connections_per_ip=config.max_connections_per_ip, listeners=listeners)
    try:
        server.listen()
    except OSError as exc:
        where = ", ".join(f"{lst.host}:{lst.port}" for lst in listeners)
        print(f"error: cannot listen on {where}: {exc.strerror}", file=sys.stderr)
        lock.close()
        return 1
    config.host, config.port = listeners[0].host, server.port

    try:
        core = BrokerCore(config, server)
    except MetadataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        server.shutdown()
        lock.close()
        return 1
    attach(core, server)
    http_url, registry_url, http_error = _start_http(config, server, core)
    if http_error:
        print(f"error: {http_error}", file=sys.stderr)
        server.shutdown()
        core.close()
        lock.close()
        return 1
    core.start()

    # Signals only set a flag; the wakeup socket gets the loop out of select().
    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)
    signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)

    def on_signal(signum, _frame):
        server.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def drain_wakeup() -> None:
        try:
            while rsock.recv(512):
                pass
        except BlockingIOError:
            pass

    server.add_wakeup(rsock, drain_wakeup)

    elapsed = (time.monotonic() - started) * 1000
    if config.listeners:
        where = ", ".join(f"{lst.name}={lst.protocol}://{lst.host}:{lst.port}"
                          f" (advertised {lst.endpoint[0]}:{lst.endpoint[1]})" for lst in listeners) + " ("
    else:
        where = f"{config.host}:{server.port} (advertised {config.advertised}:{server.port}, "
    security = ""
    if core.authorizer is not None:
        security = f", authorizer on ({len(core.authorizer.acls())} ACLs)"
    print(
        f"chronik listening on {where}data {data_dir}, "
        f"{len(core.topics)} topics{security}, started in {elapsed:.0f} ms)"
        + (f"; admin {http_url} (/metrics /healthz /readyz /v1/status)" if http_url else "")
        + (f"; console {http_url}/" if http_url and config.console_enabled else "")
        + (f"; schema registry {registry_url}" if registry_url else ""),
        flush=True,
    )
    if config.console_open and http_url:
        _open_console(http_url + "/")
    try:
        server.run()
    finally:
        log.info("shutting down")
        if core.group_commit is not None:
            core.group_commit.drain()  # answers held for an fsync go out before the sockets close
        server.shutdown()
        core.snapshot_producers()
        core.close()
        signal.set_wakeup_fd(-1)
        rsock.close()
        wsock.close()
        lock.close()
    print("chronik stopped", flush=True)
    return 0
