"""The installed `upgradectl` script, run as a user runs it (a subprocess, no API key from this environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).with_name("upgradectl")


def upgradectl(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """`upgradectl ARGS`, its exit code and output."""
    run_env = {**os.environ, **(env or {})}
    run_env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env=run_env)


def plan(*args: str, env: dict | None = None) -> dict:
    """`upgradectl plan ARGS --format json`: the plan, after checking it ran (0, 1 or 3) without a traceback."""
    result = upgradectl("plan", *args, "--format", "json", env=env)
    assert result.returncode in (0, 1, 3), result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)
