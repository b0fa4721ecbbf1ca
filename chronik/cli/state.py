"""Global CLI options shared by every command, and the CLI's error types.

Exit codes (documented in the README):

    0   success (also when the reader of our output went away: `| head`)
    1   an error: the broker said no, a record failed, a file is unreadable
    2   a usage error: an unknown option, a bad offset/format/config spec
    130 interrupted by Ctrl-C before anything was done
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """An error shown to the user as one line on stderr, with a non-zero exit.

    `name` is the Kafka error name when the broker answered with one
    (UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG, ...); `hint` says what to do next.
    """

    exit_code = EXIT_ERROR

    def __init__(
        self, message: str, exit_code: int | None = None, *, name: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.name = name
        self.hint = hint

    def line(self) -> str:
        msg = str(self)
        if self.name and not msg.startswith(self.name):
            msg = f"{self.name}: {msg}"
        if self.hint:
            msg = f"{msg} (hint: {self.hint})"
        return " ".join(msg.split("\n"))


class UsageError(CliError):
    """A bad option value or argument: exit status 2, like click's own usage errors."""

    exit_code = EXIT_USAGE


@dataclass
class GlobalState:
    brokers: str = "localhost:9092"
    output: str | None = None
    debug: bool = False
    # -X key=value client settings, passed to every kafka-python client.
    client_config: dict[str, str] = field(default_factory=dict)
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


def secured() -> bool:
    """Whether the cluster needs TLS or SASL: then the kafka-python client speaks for us, not the lean one."""
    return bool(state.profile or state.security_protocol or state.user or state.tls_ca or state.tls_cert)
