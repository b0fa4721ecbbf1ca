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


state = GlobalState()
