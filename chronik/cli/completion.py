"""Write shell completion scripts for bash, zsh and fish into a directory.

The scripts are Typer's: they call `chronik` back with `_CHRONIK_COMPLETE` set,
so completions always match the installed command tree. Regenerate them with
`make completions` (or `python -m chronik.cli.completion completions/`) after
changing commands or options.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROG = "chronik"
COMPLETE_VAR = "_CHRONIK_COMPLETE"
FILES = {"bash": "chronik.bash", "zsh": "_chronik", "fish": "chronik.fish"}


def script(shell: str) -> str:
    # Typer exposes the script text only through this module; it is what
    # `chronik --show-completion SHELL` prints, minus the shell auto-detection.
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        path = directory / name
        path.write_text(script(shell))
        written.append(path)
    return written


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else Path("completions")
    for path in write_all(target):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
