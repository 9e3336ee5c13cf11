#!/usr/bin/env bash
# Set up and run the demo: plan a Karpenter upgrade on the bundled demo fleet, offline.
# Prints the plan's summary (at most 60 lines in all) and writes the full report to out/demo/
# (plan.md, plan.html to share, plan.json for `changes`, `verify-plan` and `execute`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh | tail -n 1
set +e
.venv/bin/upgradectl plan "Karpenter needs upgrade for better bin packing and cost optimization" \
  --fleet demo --out out/demo "$@"
rc=$?
set -e
# exit 1 only means "findings at or above --fail-on": the demo fleet is meant to have them
if [ "$rc" -eq 1 ]; then rc=0; fi
exit "$rc"
