"""The `chronik` command tree.

Each command group lives in its own module and registers itself on `app`
(or as a sub-Typer). This module only wires them together and turns
errors into one clear line on stderr with a non-zero exit.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chronik import __version__
from chronik.cli.state import CliError, state

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
            help="Output for listing commands: table|json|yaml|text|wide "
            "(default: table on a terminal, json when piped).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    state.brokers = brokers
    state.output = output
    state.debug = debug


def _register() -> None:
    # Imported here so each module can import `app` from this package.
    import chronik.cli.consume  # noqa: F401
    import chronik.cli.groups  # noqa: F401
    import chronik.cli.produce  # noqa: F401
    import chronik.cli.search  # noqa: F401
    import chronik.cli.segments  # noqa: F401
    import chronik.cli.topics  # noqa: F401
    from chronik.cli import integrated  # noqa: F401


_register()


def _click_exception() -> type[Exception]:
    # typer 0.2x carries its own copy of click; older releases use the package.
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - depends on the typer release
        from click.exceptions import ClickException
    return ClickException


def main() -> None:
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except CliError as exc:
        if state.debug:
            raise
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("aborted", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - last-resort: one line, not a traceback
        if isinstance(exc, _click_exception()):
            exc.show()
            sys.exit(exc.exit_code)
        if state.debug:
            raise
        typer.secho(f"error: {type(exc).__name__}: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
