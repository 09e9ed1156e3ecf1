#!/usr/bin/env bash
# The tests: set up, lint, then run the whole suite (non-zero exit on any failure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --for-tests
.venv/bin/ruff check src tests bench examples
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
