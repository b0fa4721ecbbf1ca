"""Shell completion entry point (called with _CHRONIK_COMPLETE set)."""

from __future__ import annotations


def main() -> int:
    from chronik.cli.tree import load

    app = load(None)
    try:
        app(prog_name="chronik", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
