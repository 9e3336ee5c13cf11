#!/usr/bin/env bash
# Create .venv with exactly the versions in uv.lock (upgradectl itself editable, with its test extras).
# Quiet and idempotent: installs only when uv.lock, pyproject.toml or setup.py changed since the last
# install (a stamp in .venv), sends the installer's output to .venv/setup.log and prints one line, or
# the installer's errors when it fails. Refresh the lock with scripts/update-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9            # the installer itself is pinned too
PYTHON="${PYTHON:-python3}"
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
log=.venv/setup.log
stamp=.venv/.setup-stamp
# the installer's options are part of the stamp: changing them reinstalls once
SYNC_OPTIONS="--locked --extra test --compile-bytecode"
want=$({ cat uv.lock pyproject.toml setup.py; echo "$SYNC_OPTIONS"; } | sha256sum | cut -c1-16)-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/upgradectl ]; then
  echo "setup: .venv is up to date with uv.lock"
  exit 0
fi

uv=uv
if ! command -v uv >/dev/null || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  uv=.tools/uv/bin/uv
  if [ ! -x "$uv" ] || [ "$("$uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    mkdir -p .tools
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --target .tools/uv "uv==$UV_VERSION" >.tools/uv-install.log 2>&1 \
      || { cat .tools/uv-install.log >&2; echo "setup: could not install uv $UV_VERSION with pip (log above)" >&2; exit 1; }
  fi
  export PYTHONPATH=".tools/uv${PYTHONPATH:+:$PYTHONPATH}"
fi

tmplog=$(mktemp)
start=$(date +%s)
# --compile-bytecode: every dependency's .pyc is written now, so no process compiles them again, even where
# PYTHONDONTWRITEBYTECODE is set (each CLI the tests start would otherwise recompile ~4 s of imports)
# shellcheck disable=SC2086
if ! "$uv" sync $SYNC_OPTIONS --python "$PYTHON" >"$tmplog" 2>&1; then
  cat "$tmplog" >&2
  echo "setup: installing from uv.lock failed (the installer's output is above)" >&2
  rm -f "$tmplog"
  exit 1
fi
mv "$tmplog" "$log"
echo "$want" >"$stamp"
summary=$(grep -E '^(Installed|Uninstalled|Audited) ' "$log" | tr '\n' ' ' | sed 's/ $//')
echo "setup: .venv matches uv.lock (${summary:-no changes}; $(( $(date +%s) - start )) s; log: $log)"
