"""The `chronik` command: entry point, kept free of heavy imports.

`main()` answers `--version` and shell completion without importing Typer,
moves global options to the front (`chronik.cli.argv`), loads only the command
module asked for (`chronik.cli.tree.load`) and turns every error into one line
on stderr with a documented exit status (see `chronik.cli.state`).
"""

from __future__ import annotations

import os
import sys
from typing import Any


def __getattr__(name: str) -> Any:
    # `from chronik.cli import app` in the command modules: the Typer app lives in
    # chronik.cli.tree so that importing this package stays cheap.
    if name == "app":
        from chronik.cli.tree import app

        return app
    raise AttributeError(name)


def _silence_stdout() -> None:
    """The reader of our stdout went away (`| head`): drop further output quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _err(line: str) -> None:
    try:
        color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        sys.stderr.write(f"\x1b[31merror: {line}\x1b[0m\n" if color else f"error: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("_CHRONIK_COMPLETE"):
        from chronik.cli.complete import main as complete

        sys.exit(complete())
    from chronik.cli.argv import command_words, hoist

    args = hoist(args)
    words = command_words(args)
    first = args.index(words[0]) if words else len(args)
    if "--version" in args[:first]:
        from chronik import __version__

        sys.stdout.write(f"chronik {__version__}\n")
        return
    sys.exit(_run(args, words[0] if words else None, debug="--debug" in args[:first]))


def _run(args: list[str], command: str | None, debug: bool) -> int:
    from chronik.cli.state import CliError, state

    try:
        from chronik.cli.tree import load

        app = load(command)
        import typer.main

        # click's own main() turns a closed stdout (EPIPE) into exit status 1;
        # `chronik consume t | head` must end with 0, so invoke the command ourselves.
        cmd = typer.main.get_command(app)
        with cmd.make_context("chronik", args) as ctx:
            rc = cmd.invoke(ctx)
        sys.stdout.flush()
        return rc if isinstance(rc, int) else 0
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except CliError as exc:
        if state.debug or debug:
            raise
        _err(exc.line())
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        return _unexpected(exc, state.debug or debug)


def _unexpected(exc: Exception, debug: bool) -> int:
    import typer

    from chronik.cli.state import EXIT_ERROR

    Abort, Exit = typer.Abort, typer.Exit
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older typer releases use click itself
        from click.exceptions import ClickException
    if isinstance(exc, Exit):
        return exc.exit_code
    if isinstance(exc, Abort):
        _err("aborted")
        return EXIT_ERROR
    if isinstance(exc, ClickException):
        exc.show()
        return exc.exit_code
    if debug:
        raise exc
    _err(f"{type(exc).__name__}: {exc} (this is a bug in chronik; --debug shows the traceback)")
    return EXIT_ERROR
