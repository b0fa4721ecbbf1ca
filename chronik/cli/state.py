"""Global CLI options shared by every command, and the CLI's error type."""

from __future__ import annotations

from dataclasses import dataclass


class CliError(Exception):
    """An error shown to the user as one line on stderr, with a non-zero exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class GlobalState:
    brokers: str = "localhost:9092"
    output: str | None = None
    debug: bool = False
    # Security of the cluster the CLI talks to (issue 15); a profile fills what options leave out.
    profile: str | None = None
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    user: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


state = GlobalState()
