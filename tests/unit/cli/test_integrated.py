"""`chronik integrated` options reach the broker's config (no broker started)."""

from __future__ import annotations

import pytest

from chronik.cli import integrated
from chronik.cli import main as cli_main


def run(monkeypatch, *args: str):
    seen = []
    monkeypatch.setattr(integrated, "_run", lambda config: seen.append(config) or 0)
    with pytest.raises(SystemExit) as e:
        cli_main(["integrated", *args])
    assert e.value.code == 0
    return seen[0]


def test_console_options(monkeypatch, tmp_path):
    c = run(monkeypatch, "-d", str(tmp_path))
    assert (c.console_enabled, c.console_read_only, c.console_open) == (True, False, False)
    c = run(monkeypatch, "-d", str(tmp_path), "--open", "--console-read-only")
    assert (c.console_enabled, c.console_read_only, c.console_open) == (True, True, True)
    assert run(monkeypatch, "-d", str(tmp_path), "--no-console").console_enabled is False
