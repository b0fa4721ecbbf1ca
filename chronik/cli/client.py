"""kafka-python clients built from the global options, and their errors as CliError.

The CLI only uses kafka-python's KafkaProducer / KafkaConsumer / KafkaAdminClient so
it works unchanged against Apache Kafka, Redpanda, Tansu and Chronik. The clients'
defaults are made for long-running services (30-60 s timeouts); a CLI must fail
fast, so bootstrap and blocking timeouts are cut to a few seconds
(`CHRONIK_TIMEOUT_MS` overrides).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chronik.cli.state import CliError, state

DEFAULT_TIMEOUT_MS = 4000


def timeout_ms() -> int:
    raw = os.environ.get("CHRONIK_TIMEOUT_MS", "")
    try:
        return int(raw) if raw else DEFAULT_TIMEOUT_MS
    except ValueError:
        raise CliError(f"bad CHRONIK_TIMEOUT_MS {raw!r}: expected milliseconds") from None


def bootstrap_servers(brokers: str | None = None) -> list[str]:
    """`a:1,b:2` -> ["a:1", "b:2"]; a missing port means 9092."""
    raw = state.brokers if brokers is None else brokers
    servers = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep:
            host, port = part, "9092"
        if not host or not port.isdigit():
            raise CliError(f"bad broker address {part!r}: expected host:port")
        servers.append(f"{host}:{port}")
    if not servers:
        raise CliError("no brokers given (-b host:port)")
    return servers


def _quiet_logging() -> None:
    # kafka-python logs connection failures at ERROR/WARNING on its own; the CLI
    # reports them as one line instead, unless --debug asks for everything.
    logging.getLogger("kafka").setLevel(logging.DEBUG if state.debug else logging.CRITICAL)
    if state.debug:
        logging.basicConfig(level=logging.DEBUG)


PROFILE_KEYS = ("brokers", "security_protocol", "sasl_mechanism", "user", "password", "tls_ca", "tls_cert",
                "tls_key")


def profiles_path() -> str:
    return os.environ.get("CHRONIK_CONFIG") or os.path.expanduser("~/.config/chronik/profiles.yaml")


def load_profile(name: str) -> dict[str, Any]:
    """A named profile (like rpk's): `profiles: {NAME: {brokers, security_protocol, ...}}` in profiles.yaml."""
    import yaml

    path = profiles_path()
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise CliError(f"profile {name!r}: no profiles file at {path}") from None
    prof = (doc.get("profiles") or {}).get(name)
    if not isinstance(prof, dict):
        raise CliError(f"profile {name!r} is not in {path}")
    unknown = set(prof) - set(PROFILE_KEYS) - {"password_env"}
    if unknown:
        raise CliError(f"profile {name!r}: unknown keys {', '.join(sorted(unknown))}")
    if "password_env" in prof and "password" not in prof:
        prof["password"] = os.environ.get(prof["password_env"])
    return prof


def apply_profile() -> None:
    """Fill the global options the command line left unset from the -P profile."""
    if not state.profile:
        return
    prof = load_profile(state.profile)
    for key in PROFILE_KEYS:
        if key == "brokers":
            if prof.get("brokers") and not os.environ.get("CHRONIK_BROKERS") and state.brokers == "localhost:9092":
                state.brokers = str(prof["brokers"])
        elif getattr(state, key) is None and prof.get(key) is not None:
            setattr(state, key, str(prof[key]))


def security_settings() -> dict[str, Any]:
    """kafka-python settings for the cluster's listener: TLS and SASL (PLAIN, SCRAM)."""
    proto = (state.security_protocol or "").upper()
    if not proto:
        proto = ("SASL_SSL" if state.tls_ca else "SASL_PLAINTEXT") if state.user else (
            "SSL" if state.tls_ca or state.tls_cert else "PLAINTEXT")
    if proto not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise CliError(f"--security-protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not {proto!r}")
    out: dict[str, Any] = {"security_protocol": proto}
    if proto.endswith("SSL"):
        out.update({k: v for k, v in (("ssl_cafile", state.tls_ca), ("ssl_certfile", state.tls_cert),
                                      ("ssl_keyfile", state.tls_key)) if v})
        out["ssl_check_hostname"] = True
    if proto.startswith("SASL"):
        mech = (state.sasl_mechanism or "SCRAM-SHA-512").upper()
        if mech not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise CliError(f"--sasl-mechanism {mech}: the CLI speaks PLAIN and SCRAM-SHA-256/512")
        if not state.user:
            raise CliError(f"{proto} needs --user (and --password or CHRONIK_PASSWORD)")
        if state.password is None:
            import getpass

            state.password = getpass.getpass(f"Password for {state.user}: ")
        out.update(sasl_mechanism=mech, sasl_plain_username=state.user, sasl_plain_password=state.password)
    return out


def _common() -> dict[str, Any]:
    t = timeout_ms()
    apply_profile()
    return {
        **security_settings(),
        "bootstrap_servers": bootstrap_servers(),
        "client_id": "chronik-cli",
        "bootstrap_timeout_ms": t,
        "request_timeout_ms": max(t * 2, 10_000),
        # Retry a dead broker quickly but without busy-looping.
        "reconnect_backoff_max_ms": 1000,
    }


def make_admin() -> Any:
    from kafka import KafkaAdminClient

    _quiet_logging()
    with kafka_errors():
        return KafkaAdminClient(**_common())


def make_producer(**overrides: Any) -> Any:
    from kafka import KafkaProducer

    _quiet_logging()
    config = _common()
    config["max_block_ms"] = timeout_ms()
    config.update(overrides)
    with kafka_errors():
        return KafkaProducer(**config)


def make_consumer(**overrides: Any) -> Any:
    from kafka import KafkaConsumer

    _quiet_logging()
    config = _common()
    # Asking for an unknown topic must not create it as a side effect.
    config["allow_auto_create_topics"] = False
    config.update(overrides)
    with kafka_errors():
        return KafkaConsumer(**config)


def describe_error(exc: BaseException) -> str:
    """One readable line for a kafka-python exception."""
    from kafka import errors as E

    brokers = ",".join(bootstrap_servers())
    no_brokers = getattr(E, "NoBrokersAvailable", E.KafkaConnectionError)
    if isinstance(exc, no_brokers) or (
        isinstance(exc, E.KafkaTimeoutError) and "bootstrap" in str(exc).lower()
    ):
        return f"cannot reach a broker at {brokers} within {timeout_ms() / 1000:g}s"
    if isinstance(exc, E.KafkaTimeoutError):
        return f"timed out talking to {brokers}: {exc}"
    if isinstance(exc, E.UnknownTopicOrPartitionError):
        return "unknown topic or partition" + (f": {exc.args[0]}" if exc.args else "")
    if isinstance(exc, E.TopicAlreadyExistsError):
        return "topic already exists"
    if isinstance(exc, E.IncompatibleBrokerVersion | E.UnsupportedVersionError):
        return f"the broker does not support this operation: {exc}"
    if isinstance(exc, E.KafkaError):
        name = type(exc).__name__
        msg = str(exc)
        return msg if msg.startswith(name) else f"{name}: {msg}" if msg else name
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def kafka_errors() -> Iterator[None]:
    """Turn kafka-python exceptions raised inside the block into CliError."""
    from kafka import errors as E

    try:
        yield
    except CliError:
        raise
    except (E.KafkaError, ValueError, OSError) as exc:
        if state.debug:
            raise
        raise CliError(describe_error(exc)) from exc


def close_quietly(client: Any) -> None:
    """Close a client without letting a shutdown hiccup hide the real result."""
    if client is None:
        return
    try:
        client.close(timeout=2) if _takes_timeout(client) else client.close()
    except Exception:  # noqa: BLE001 - closing is best-effort
        pass


def _takes_timeout(client: Any) -> bool:
    from kafka import KafkaProducer

    return isinstance(client, KafkaProducer)
