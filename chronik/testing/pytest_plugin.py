"""pytest plugin: the `chronik_broker` fixture (a real broker per session, or per test).

Loaded automatically once chronik is installed (entry point `pytest11`):

    def test_roundtrip(chronik_broker):
        producer = KafkaProducer(bootstrap_servers=chronik_broker.bootstrap_servers)

Scope: one broker for the whole session by default; `--chronik-broker-scope=function`
(or `chronik_broker_scope = function` in the ini file) gives each test its own
broker with an empty data directory. `chronik_bootstrap_servers` is the address
alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chronik.testing import Broker, broker

SCOPES = ("session", "package", "module", "class", "function")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chronik")
    group.addoption("--chronik-broker-scope", choices=SCOPES, default=None,
                    help="scope of the chronik_broker fixture (default: session)")
    parser.addini("chronik_broker_scope", "scope of the chronik_broker fixture", default="session")


def _scope(fixture_name: str, config: pytest.Config) -> str:
    scope = config.getoption("--chronik-broker-scope") or config.getini("chronik_broker_scope")
    if scope not in SCOPES:
        raise pytest.UsageError(f"chronik_broker_scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return scope


@pytest.fixture(scope=_scope)
def chronik_broker() -> Iterator[Broker]:
    """A running Chronik broker (auto-create on, 1 partition per new topic)."""
    with broker() as b:
        yield b


@pytest.fixture
def chronik_bootstrap_servers(chronik_broker: Broker) -> str:
    return chronik_broker.bootstrap_servers
