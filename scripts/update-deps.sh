#!/usr/bin/env bash
# Refresh uv.lock to the newest versions pyproject.toml's ranges allow, then prove them: install, check
# the model table against the new anthropic SDK, run every test, and show what moved. The old lock is
# kept as uv.lock.previous until you commit; `mv uv.lock.previous uv.lock` undoes the refresh.
# Extra arguments go to `uv lock`, e.g. scripts/update-deps.sh --upgrade-package anthropic
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null   # makes sure the pinned uv exists
uv=uv; command -v uv >/dev/null || { uv=.tools/uv/bin/uv; export PYTHONPATH=".tools/uv${PYTHONPATH:+:$PYTHONPATH}"; }
export UV_PYTHON_DOWNLOADS=never
cp uv.lock uv.lock.previous
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(--upgrade)
"$uv" lock "${args[@]}"
versions() { python3 -c 'import sys, tomllib; [print(p["name"], p.get("version", "")) for p in tomllib.load(open(sys.argv[1], "rb"))["package"]]' "$1" | sort; }
echo "== versions that changed (old -> new)"
join -a1 -a2 -e '-' -o 0,1.2,2.2 <(versions uv.lock.previous) <(versions uv.lock) | awk '$2 != $3 {print "  " $1 ": " $2 " -> " $3}'
scripts/setup.sh
echo "== model table against the new SDK"
.venv/bin/python scripts/check_sdk_models.py
echo "== the whole test suite on the new lock"
scripts/test.sh
echo "update-deps: uv.lock refreshed and every check passed; commit uv.lock (and rm uv.lock.previous)"
