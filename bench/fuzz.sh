#!/usr/bin/env bash
# A longer fuzzing run than CI's: new random examples each time.
#   bash bench/fuzz.sh [EXAMPLES]     (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
CHRONIK_FUZZ_EXAMPLES="${1:-20000}" CHRONIK_FUZZ_RANDOM=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/fuzz "${@:2}"
