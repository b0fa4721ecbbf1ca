"""The `chronik` command tree (Typer).

Each command group lives in its own module and registers itself on `app` (or
as a sub-Typer). `load(command)` imports only the module a command needs, so
`chronik topics list` does not pay for importing `produce`, `segments` or the
broker; `--help` and unknown commands load everything. Errors are turned into
one line in `chronik.cli.main`.
"""

from __future__ import annotations

import sys
from typing import Annotated

from chronik import __version__
from chronik.cli.state import state


def _import_typer_without_rich():  # noqa: ANN202
    """Typer imports rich (~50 ms) only for its help screens; plain click help is fine.

    rich stays importable for our own tables (chronik.cli.render imports it on a TTY).
    """
    if "typer" in sys.modules:
        return sys.modules["typer"]
    saved = sys.modules.get("rich", ...)
    sys.modules["rich"] = None  # type: ignore[assignment] - makes `import rich` fail
    try:
        import typer
    finally:
        if saved is ...:
            del sys.modules["rich"]
        else:
            sys.modules["rich"] = saved
    return typer


typer = _import_typer_without_rich()


app = typer.Typer(
    name="chronik",
    help="Chronik: a Kafka-compatible broker for the laptop, and a Kafka CLI.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"chronik {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    brokers: Annotated[
        str,
        typer.Option(
            "-b",
            "--brokers",
            envvar="CHRONIK_BROKERS",
            help="Bootstrap brokers, host:port[,host:port...].",
        ),
    ] = "localhost:9092",
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="Output for listing commands: table|wide|text|json|yaml "
            "(default: table on a terminal, tab-separated text when piped). "
            "Works before or after the command; in `consume`, -o is the offset.",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    client_config: Annotated[
        list[str] | None,
        typer.Option(
            "-X",
            help="Client setting KEY=VALUE passed to the Kafka client, e.g. -X request.timeout.ms=5000 "
            "(repeatable; Kafka's dotted names or kafka-python's).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
    profile: Annotated[str | None, typer.Option("-P", "--profile", envvar="CHRONIK_PROFILE",
                                                help="Named profile from ~/.config/chronik/profiles.yaml.")] = None,
    security_protocol: Annotated[str | None, typer.Option("--security-protocol",
                                                          help="PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL")] = None,
    sasl_mechanism: Annotated[str | None, typer.Option("--sasl-mechanism",
                                                       help="PLAIN|SCRAM-SHA-256|SCRAM-SHA-512")] = None,
    user: Annotated[str | None, typer.Option("--user", envvar="CHRONIK_USER", help="SASL user.")] = None,
    password: Annotated[str | None, typer.Option("--password", envvar="CHRONIK_PASSWORD", show_default=False,
                                                 help="SASL password (prompted when absent).")] = None,
    tls_ca: Annotated[str | None, typer.Option("--tls-ca", help="CA file that verifies the brokers.")] = None,
    tls_cert: Annotated[str | None, typer.Option("--tls-cert", help="Client certificate (PEM).")] = None,
    tls_key: Annotated[str | None, typer.Option("--tls-key", help="Client key (PEM).")] = None,
) -> None:
    state.brokers = brokers
    state.output = output
    state.debug = debug
    state.profile, state.security_protocol, state.sasl_mechanism = profile, security_protocol, sasl_mechanism
    state.user, state.password, state.tls_ca, state.tls_cert, state.tls_key = user, password, tls_ca, tls_cert, tls_key
    from chronik.cli.client import parse_client_config

    state.client_config = parse_client_config(client_config or [])


COMMANDS = {
    "produce": "chronik.cli.produce",
    "consume": "chronik.cli.consume",
    "topics": "chronik.cli.topics",
    "groups": "chronik.cli.groups",
    "segments": "chronik.cli.segments",
    "search": "chronik.cli.search",
    "top": "chronik.cli.top",
    "users": "chronik.cli.users",
    "acls": "chronik.cli.acls",
    "certs": "chronik.cli.certs",
    "schemas": "chronik.cli.schemas",
    "integrated": "chronik.cli.integrated",
    "stop": "chronik.cli.integrated",
}
_loaded: set[str] = set()


def load(command: str | None = None) -> typer.Typer:
    """Register the module of `command` (all of them for None or an unknown word)."""
    import importlib

    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for mod in modules:
        if mod not in _loaded:
            importlib.import_module(mod)
            _loaded.add(mod)
    return app
