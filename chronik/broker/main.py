"""Start-up and shutdown of the broker process."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
from pathlib import Path

from chronik.broker import log_safety
from chronik.broker.config import BrokerConfig
from chronik.broker.core import BrokerCore
from chronik.broker.dispatch import Dispatcher
from chronik.broker.server import Server
from chronik.metadata.store import MetadataError
from chronik.offline.lock import DataDirLocked, lock_data_dir

log = logging.getLogger("chronik")

def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        log_safety.install(handler)


def attach(core: BrokerCore, server: Server) -> None:
    """Let `server` feed requests to `core`, and start the core's timers."""
    server.dispatch = Dispatcher(core)
    server.deadline_sources.append(core.purgatory)
    # A closed connection's parked fetches and joins have nobody to answer.
    server.on_close.append(lambda conn: core.purgatory.cancel_owner(conn.conn_id))
    core.start()


def run_broker(config: BrokerConfig) -> int:
    _setup_logging(config.log_level)
    started = time.monotonic()
    data_dir = Path(config.data_dir)
    try:
        lock = lock_data_dir(data_dir)
    except (DataDirLocked, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    server = Server(config.host, config.port, config.max_request_bytes,
                    max_connections=config.max_connections,
                    max_connections_per_ip=config.max_connections_per_ip)
    try:
        server.listen()
    except OSError as exc:
        print(f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        lock.close()
        return 1
    config.port = server.port

    try:
        core = BrokerCore(config, server)
    except MetadataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        server.shutdown()
        lock.close()
        return 1
    attach(core, server)

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
    print(
        f"chronik listening on {config.host}:{server.port} "
        f"(advertised {config.advertised}:{server.port}, data {data_dir}, "
        f"{len(core.topics)} topics, started in {elapsed:.0f} ms)",
        flush=True,
    )
    try:
        server.run()
    finally:
        log.info("shutting down")
        server.shutdown()
        core.snapshot_producers()
        core.close()
        signal.set_wakeup_fd(-1)
        rsock.close()
        wsock.close()
        lock.close()
    print("chronik stopped", flush=True)
    return 0
