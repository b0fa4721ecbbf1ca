#!/usr/bin/env bash
# Install Chronik with its test dependencies into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
# kafkajs for the Node.js client test (skipped where npm is missing).
if command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix tests/integration/js
    # axe-core, injected into the console's pages by the browser tests (tests/browser/)
    npm install --silent --no-audit --no-fund --prefix tests/browser
fi
.venv/bin/ruff check chronik tests bench
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
