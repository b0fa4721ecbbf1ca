"""Start-up and shutdown of the broker process."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from chronik.broker.config import BrokerConfig
from chronik.broker.dispatch import Dispatcher
from chronik.broker.server import Server
from chronik.broker.state import BrokerState
from chronik.metadata.store import MetadataError

log = logging.getLogger("chronik")

LOCK_FILE = ".lock"
PRODUCER_SNAPSHOT_INTERVAL_S = 30.0


class DataDirLocked(Exception):
    pass


def lock_data_dir(data_dir: Path):
    """Hold an exclusive lock on DIR/.lock for the life of the process."""
    data_dir.mkdir(parents=True, exist_ok=True)
    f = open(data_dir / LOCK_FILE, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise DataDirLocked(
            f"data directory {data_dir} is in use by another chronik process (pid {holder})"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_broker(config: BrokerConfig) -> int:
    _setup_logging(config.log_level)
    started = time.monotonic()
    data_dir = Path(config.data_dir)
    try:
        lock = lock_data_dir(data_dir)
    except (DataDirLocked, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    server = Server(config.host, config.port, config.max_request_bytes)
    try:
        server.listen()
    except OSError as exc:
        print(f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        lock.close()
        return 1
    config.port = server.port

    try:
        state = BrokerState(config, server.clock)
    except MetadataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        server.shutdown()
        lock.close()
        return 1
    server.dispatch = Dispatcher(state)
    server.deadline_sources.append(state.purgatory)
    _install_extensions(state, server)

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

    def snapshot_producers() -> None:
        _snapshot(state)
        server.call_later(PRODUCER_SNAPSHOT_INTERVAL_S, snapshot_producers)

    server.call_later(PRODUCER_SNAPSHOT_INTERVAL_S, snapshot_producers)

    elapsed = (time.monotonic() - started) * 1000
    print(
        f"chronik listening on {config.host}:{server.port} "
        f"(advertised {config.advertised}:{server.port}, data {data_dir}, "
        f"{len(state.topics)} topics, started in {elapsed:.0f} ms)",
        flush=True,
    )
    try:
        server.run()
    finally:
        log.info("shutting down")
        server.shutdown()
        _snapshot(state)
        state.close()
        signal.set_wakeup_fd(-1)
        rsock.close()
        wsock.close()
        lock.close()
    print("chronik stopped", flush=True)
    return 0


def _snapshot(state: BrokerState) -> None:
    try:
        ends = {
            (t.name, i): p.log_end_offset
            for t in state.topics.values()
            for i, p in enumerate(t.partitions)
        }
        state.producers.snapshot(ends)
    except Exception:
        log.exception("producer state snapshot failed")


def _install_extensions(state: BrokerState, server: Server) -> None:
    """Let optional components (groups, transactions, retention) hook into the broker."""
    import importlib

    for name in ("chronik.broker.groups", "chronik.broker.transactions", "chronik.storage.retention"):
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        install = getattr(mod, "install", None)
        if install is not None:
            install(state, server)
