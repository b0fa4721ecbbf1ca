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

from chronik.cli.state import CliError, UsageError, state

DEFAULT_TIMEOUT_MS = 4000

# What to do next, by Kafka error name (kafka-python's `errors.X.message`).
HINTS = {
    "UNKNOWN_TOPIC_OR_PARTITION": "see `chronik topics list`; `produce --create` creates a topic",
    "TOPIC_ALREADY_EXISTS": "use --if-not-exists to accept an existing topic",
    "INVALID_CONFIG": "see `chronik topics describe TOPIC` for config names and values",
    "INVALID_PARTITIONS": "the partition count must be >= 1 and can only grow",
    "INVALID_REPLICATION_FACTOR": "a single-node broker needs --replication-factor 1",
    "INVALID_TOPIC": "topic names use letters, digits, '.', '_' and '-' (max 249)",
    "GROUP_ID_NOT_FOUND": "see `chronik groups list`",
    "NON_EMPTY_GROUP": "stop the group's consumers first",
    "OFFSET_OUT_OF_RANGE": "see the partition's start and end in `chronik topics describe TOPIC`",
    "MESSAGE_TOO_LARGE": "raise the topic's max.message.bytes, or send smaller records",
    "RECORD_LIST_TOO_LARGE": "raise the topic's max.message.bytes, or send smaller records",
    "POLICY_VIOLATION": "the broker refused the change by policy",
    "TOPIC_AUTHORIZATION_FAILED": "the principal lacks an ACL for this topic",
    "CLUSTER_AUTHORIZATION_FAILED": "the principal lacks a cluster ACL",
    "UNSUPPORTED_VERSION": "the broker is too old for this command",
}


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


def parse_client_config(pairs: list[str]) -> dict[str, Any]:
    """-X KEY=VALUE pairs -> kafka-python keyword arguments.

    Kafka's dotted names (`request.timeout.ms`) become kafka-python's
    (`request_timeout_ms`); integers and true/false are converted.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"bad -X {pair!r}: expected KEY=VALUE, e.g. -X request.timeout.ms=5000")
        value: Any = raw
        if raw.lstrip("-").isdigit():
            value = int(raw)
        elif raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        out[key.replace(".", "_").replace("-", "_")] = value
    return out


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


def _with_client_config(config: dict[str, Any], cls: Any) -> dict[str, Any]:
    """Apply -X settings, refusing names this client does not know (one clear line)."""
    extra = state.client_config
    if not extra:
        return config
    known = getattr(cls, "DEFAULT_CONFIG", None)
    if known is not None:
        unknown = sorted(k for k in extra if k not in known)
        if unknown:
            raise UsageError(
                f"unknown client setting(s) for {cls.__name__}: {', '.join(unknown)}",
                hint="-X takes Kafka client settings such as request.timeout.ms or client.id",
            )
    return {**config, **extra}


def make_admin() -> Any:
    from kafka import KafkaAdminClient

    _quiet_logging()
    config = _with_client_config(_common(), KafkaAdminClient)
    with kafka_errors():
        return KafkaAdminClient(**config)


def make_producer(**overrides: Any) -> Any:
    from kafka import KafkaProducer

    _quiet_logging()
    config = _common()
    config["max_block_ms"] = timeout_ms()
    config.update(overrides)
    config = _with_client_config(config, KafkaProducer)
    with kafka_errors():
        return KafkaProducer(**config)


def make_consumer(**overrides: Any) -> Any:
    from kafka import KafkaConsumer

    _quiet_logging()
    config = _common()
    # Asking for an unknown topic must not create it as a side effect.
    config["allow_auto_create_topics"] = False
    config.update(overrides)
    config = _with_client_config(config, KafkaConsumer)
    with kafka_errors():
        return KafkaConsumer(**config)


def kafka_name(exc: BaseException) -> str | None:
    """The Kafka error name of a kafka-python error (UNKNOWN_TOPIC_OR_PARTITION), if any."""
    name = getattr(type(exc), "message", None)
    return name if isinstance(name, str) and name.isupper() else None


def error_from_code(code: int, message: str | None = None, what: str = "") -> CliError:
    """A per-resource error code from a response -> CliError naming it, with a hint."""
    from kafka import errors as E

    cls = E.for_code(code)
    name = getattr(cls, "message", None) or cls.__name__
    text = f"{what}: {message}" if what and message else (what or message or cls.description)
    return CliError(text or name, name=name, hint=HINTS.get(name))


def error_from_text(text: str, what: str = "") -> CliError:
    """kafka-python's "[Error 40] InvalidConfigurationError: msg" strings -> CliError."""
    import re

    m = re.match(r"\[Error (-?\d+)\] \w+:?\s*(.*)", text)
    if m:
        return error_from_code(int(m.group(1)), m.group(2) or None, what)
    return CliError(f"{what}: {text}" if what else text)


def describe_error(exc: BaseException) -> CliError:
    """One readable line (as a CliError) for a kafka-python exception."""
    from kafka import errors as E

    brokers = ",".join(bootstrap_servers())
    no_brokers = getattr(E, "NoBrokersAvailable", E.KafkaConnectionError)
    if isinstance(exc, no_brokers) or (
        isinstance(exc, E.KafkaTimeoutError) and "bootstrap" in str(exc).lower()
    ) or isinstance(exc, ConnectionError):
        return CliError(
            f"cannot reach a broker at {brokers} within {timeout_ms() / 1000:g}s",
            name="BROKER_NOT_AVAILABLE",
            hint="is it running? start one with `chronik integrated`, or pass -b HOST:PORT",
        )
    if isinstance(exc, E.KafkaTimeoutError):
        return CliError(f"timed out talking to {brokers}: {exc}", name="REQUEST_TIMED_OUT",
                        hint="raise CHRONIK_TIMEOUT_MS or -X request.timeout.ms")
    if isinstance(exc, E.IncompatibleBrokerVersion | E.UnsupportedVersionError):
        return CliError(f"the broker does not support this operation: {exc}",
                        name="UNSUPPORTED_VERSION")
    name = kafka_name(exc)
    if name is not None:
        msg = str(exc)
        cls = type(exc).__name__
        # kafka-python's str() is "[Error N] ClassName: details" or "ClassName: details".
        for prefix in (f"{cls}: ", cls):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        if msg.startswith("[Error"):
            return error_from_text(msg)
        return CliError(msg or type(exc).description, name=name, hint=HINTS.get(name))
    if isinstance(exc, E.KafkaConfigurationError):
        return UsageError(f"bad client setting: {exc}")
    if isinstance(exc, E.KafkaError):
        return CliError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if isinstance(exc, OSError) and exc.strerror:
        return CliError(f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else ""))
    return CliError(f"{type(exc).__name__}: {exc}")


@contextmanager
def kafka_errors() -> Iterator[None]:
    """Turn kafka-python exceptions raised inside the block into CliError."""
    from kafka import errors as E

    try:
        yield
    except (CliError, BrokenPipeError):
        raise
    except (E.KafkaError, ValueError, OSError, AssertionError) as exc:
        if state.debug:
            raise
        raise describe_error(exc) from exc


def wire_client() -> Any:
    """A chronik.cli.kwire.Client to the -b brokers, or None if the broker lacks its versions."""
    from chronik.cli import kwire

    try:
        return kwire.Client(bootstrap_servers(), timeout_ms() / 1000)
    except kwire.Unsupported:
        return None


@contextmanager
def wire_errors() -> Iterator[None]:
    """chronik.cli.kwire errors -> CliError (one line with the Kafka error name)."""
    from chronik.cli import kwire

    try:
        yield
    except (CliError, BrokenPipeError, kwire.Unsupported):
        raise
    except kwire.WireError as exc:
        if state.debug:
            raise
        raise CliError(str(exc).split(": ")[0] if ": " in str(exc) else str(exc), name=exc.name,
                       hint=HINTS.get(exc.name)) from exc
    except (OSError, ConnectionError) as exc:
        if state.debug:
            raise
        raise CliError(
            f"cannot reach a broker at {','.join(bootstrap_servers())} within {timeout_ms() / 1000:g}s"
            + (f" ({exc.strerror or exc})" if isinstance(exc, OSError) else ""),
            name="BROKER_NOT_AVAILABLE",
            hint="is it running? start one with `chronik integrated`, or pass -b HOST:PORT",
        ) from exc


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
