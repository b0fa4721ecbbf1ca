"""Fixtures for CLI tests: run the real `chronik` command against a started broker.

`cli` yields a runner bound to a broker. It is Chronik by default; set
CHRONIK_CLI_TARGETS=chronik,tansu (or just tansu) to run the same tests against
Tansu as well, which is how they were developed before the broker existed.
"""

from __future__ import annotations

import os

import pytest
from clihelp import Cli

TARGETS = [t for t in os.environ.get("CHRONIK_CLI_TARGETS", "chronik").split(",") if t]


@pytest.fixture(params=TARGETS)
def cli(request) -> Cli:
    if request.param == "tansu":
        return Cli(request.getfixturevalue("tansu"), "tansu")
    return Cli(request.getfixturevalue("broker").bootstrap, "chronik")


@pytest.fixture
def tansu_cli(tansu: str) -> Cli:
    return Cli(tansu, "tansu")
