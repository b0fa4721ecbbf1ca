"""dist/chronik.pex: one file that runs the CLI (and the broker) with a bare Python.

Uses an existing dist/chronik.pex that is newer than the sources, otherwise
builds one with `make dist` in a brand-new build venv (make installs pex into
it by itself, as on a fresh machine; about a minute).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from clihelp import REPO, new_topic

PEX = REPO / "dist" / "chronik.pex"


def _stale() -> bool:
    if not PEX.exists():
        return True
    built = PEX.stat().st_mtime
    sources = [*REPO.joinpath("chronik").rglob("*.py"), REPO / "pyproject.toml"]
    return any(p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="module")
def pex_file(tmp_path_factory):
    if _stale():
        if shutil.which("make") is None:
            pytest.skip("make is not installed")
        build_venv = tmp_path_factory.mktemp("build") / "venv"  # no pex in it yet
        # Only this interpreter: enough to prove the file works, and faster.
        res = subprocess.run(
            ["make", "dist", f"PYTHON={sys.executable}", f"PEX_PYTHONS=--python={sys.executable}",
             f"BUILD_VENV={build_venv}"],
            cwd=REPO, capture_output=True, timeout=900,
        )
        assert res.returncode == 0, res.stdout.decode()[-2000:] + res.stderr.decode()[-2000:]
        assert (build_venv / "bin" / "pex").exists()
    return PEX


def _bare_env(tmp_path) -> dict[str, str]:
    # Nothing of the venv or the repo: the pex must carry everything.
    return {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HOME": str(tmp_path),
            "CHRONIK_TIMEOUT_MS": "3000"}


def test_pex_version_and_round_trip(pex_file, broker, tmp_path) -> None:
    env = _bare_env(tmp_path)

    def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(pex_file), *args], input=input, env=env,
                              cwd=tmp_path, capture_output=True, timeout=120, check=True)

    from chronik import __version__

    assert run("--version").stdout.decode().strip() == f"chronik {__version__}"
    # Run as a program: the /bin/sh boot script installs a venv once, then execs it directly.
    for _ in range(2):
        direct = subprocess.run([str(pex_file), "--version"], env=env, cwd=tmp_path, capture_output=True,
                                timeout=120)
        assert direct.stdout.decode().strip() == f"chronik {__version__}", direct.stderr
    topic = new_topic()
    run("-b", broker.bootstrap, "produce", topic, "--create", "-z", "zstd", input=b"a\nb\n")
    out = run("-b", broker.bootstrap, "consume", topic, "-e", "-f", r"%o %v\n").stdout
    assert out == b"0 a\n1 b\n"
