"""Kafka-style listener specs: `NAME=PROTOCOL://HOST:PORT` (or `PROTOCOL://HOST:PORT`)."""

from __future__ import annotations

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
CLIENT_AUTH = ("none", "requested", "required")


class ListenerSpecError(ValueError):
    pass


def parse_endpoint(text: str) -> tuple[str, str, int]:
    """('NAME', 'host', port) from 'NAME://host:port' (IPv6 hosts in brackets)."""
    name, sep, rest = text.partition("://")
    if not sep or not name:
        raise ListenerSpecError(f"listener {text!r} is not NAME=PROTOCOL://HOST:PORT")
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ListenerSpecError(f"listener {text!r} has no valid :PORT")
    host = host.strip("[]") or "0.0.0.0"
    return name, host, int(port)


def parse_listener(text: str) -> tuple[str, str, str, int]:
    """(name, protocol, host, port)."""
    name, eq, spec = text.partition("=")
    if not eq:
        name, spec = "", text
    protocol, host, port = parse_endpoint(spec)
    protocol = protocol.upper()
    if protocol not in PROTOCOLS:
        raise ListenerSpecError(f"listener {text!r}: protocol must be one of {', '.join(PROTOCOLS)}")
    return (name.upper() or protocol), protocol, host, port


def parse_advertised(text: str) -> tuple[str, str, int]:
    """(name, host, port) from 'NAME=host:port' or 'NAME://host:port'."""
    if "://" in text:
        name, host, port = parse_endpoint(text.split("=", 1)[-1] if "=" in text.split("://")[0] else text)
        if "=" in text.split("://")[0]:
            name = text.split("=", 1)[0]
        return name.upper(), host, port
    name, eq, hp = text.partition("=")
    host, colon, port = hp.rpartition(":")
    if not eq or not colon or not port.isdigit():
        raise ListenerSpecError(f"advertised listener {text!r} is not NAME=HOST:PORT")
    return name.upper(), host.strip("[]"), int(port)
