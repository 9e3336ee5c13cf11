#!/usr/bin/env bash
# Set up and run every check: ruff, then pytest (unit, integration on loopback, CLI end to end).
# Extra arguments go to pytest, e.g. scripts/test.sh -k parsing
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests collected"; rc=0; fi
exit "$rc"
