"""Helpers for CLI tests: run the real `chronik` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Cli:
    """Runs `python -m chronik -b BOOTSTRAP ...` as a subprocess."""

    bootstrap: str
    kind: str

    def run(
        self, *args: str, input: bytes | str | None = None, timeout: float = 60,
        check: bool = True, brokers: str | None = None,
    ) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "chronik", "-b", brokers or self.bootstrap, *args]
        data = input.encode() if isinstance(input, str) else input
        env = dict(os.environ, CHRONIK_TIMEOUT_MS="3000")
        env.pop("CHRONIK_BROKERS", None)
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, cwd=REPO,
                              env=env)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode()}"
            )
        return proc

    def out(self, *args: str, **kw) -> str:
        return self.run(*args, **kw).stdout.decode()


def new_topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"



def cli(request) -> Cli:
    if request.param == "tansu":
        return Cli(request.getfixturevalue("tansu"), "tansu")
    return Cli(request.getfixturevalue("broker").bootstrap, "chronik")
