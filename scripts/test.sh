#!/usr/bin/env bash
# Install Chronik with its test dependencies into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check chronik tests bench
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
