#!/usr/bin/env bash
# Set up and run every check: ruff, then pytest (tests/unit, tests/integration: real servers on loopback,
# tests/e2e: the CLI, MCP and LangGraph Server as users run them). The offline eval suite (`upgradectl eval`)
# runs once, inside the e2e lane (tests/e2e/test_evals.py), and fails it when a threshold is missed.
# Tests run in parallel (pytest-xdist: one worker per core for the unit lane; one more than the cores for the whole
# suite, whose tests often wait on servers, timeouts and subprocesses; PYTEST_WORKERS overrides).
#   scripts/test.sh --fast     ruff and the unit lane only (under a minute): run it before every commit
#   scripts/test.sh -k parsing extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
if [ "${1:-}" = "--fast" ]; then fast=1; shift; fi
scripts/setup.sh
.venv/bin/ruff check .
# upgradectl's own modules compiled once up front (the dependencies' are, by setup.sh): the tests start the CLI
# hundreds of times, and with PYTHONDONTWRITEBYTECODE set each start would compile them again
.venv/bin/python -m compileall -q -j 0 upgradectl agents graph tools evals >/dev/null
if [ "$fast" -eq 1 ]; then
  exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" tests/unit "$@"
fi
set +e
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-$(( $(nproc) + 1 ))}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests collected"; rc=0; fi
exit "$rc"
