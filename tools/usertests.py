"""The user's own tests as gates: a command (exit 0 passes) or an HTTP check (status, and body text if given),
each under its timeout. A test that fails or times out fails the gate; one that cannot start (command not
found, connection refused) fails too, since the stage cannot be shown healthy without it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from upgradectl.models import UserCheck
from upgradectl.tools.deadline import DeadlineExceeded, call_with_deadline

OUTPUT_TAIL = 400  # characters of a command's output kept in the gate's message


def _tail(text: str) -> str:
    text = " ".join(text.split())
    return text[-OUTPUT_TAIL:]


def run_command(check: UserCheck, cwd: Path, env: dict[str, str]) -> tuple[str, str]:
    """(result, message) of a command test run from `cwd` with `env` added to the environment."""
    try:
        done = subprocess.run(check.command, cwd=cwd, capture_output=True, text=True, errors="replace",
                              timeout=check.timeout_seconds, env={**os.environ, **env})  # fmt: skip
    except subprocess.TimeoutExpired:
        return "fail", f"timed out after {check.timeout_seconds:g}s"
    except OSError as exc:
        return "fail", f"could not start {check.command[0]!r}: {exc.strerror or exc}"
    if done.returncode == 0:
        return "pass", "exit 0"
    output = _tail(done.stderr or done.stdout)
    return "fail", f"exit {done.returncode}" + (f": {output}" if output else "")


def run_http(check: UserCheck) -> tuple[str, str]:
    """(result, message) of an HTTP test: GET, then status and body text compared."""
    try:
        with httpx.Client(timeout=check.timeout_seconds, follow_redirects=True) as client:
            response = call_with_deadline(lambda: client.get(check.url), check.timeout_seconds, on_expiry=client.close)
    except DeadlineExceeded:
        return "fail", f"no full answer within {check.timeout_seconds:g}s"
    except httpx.HTTPError as exc:
        return "fail", f"{type(exc).__name__}: {exc}"
    if response.status_code != check.expect_status:
        return "fail", f"HTTP {response.status_code}, expected {check.expect_status}"
    if check.expect_body and check.expect_body not in response.text:
        return "fail", f"HTTP {response.status_code} but the body lacks {check.expect_body!r}"
    return "pass", f"HTTP {response.status_code}"


def run_check(check: UserCheck, cwd: Path, env: dict[str, str] | None = None) -> dict:
    """The test's result as a gate record: name, result (pass | fail), message, seconds."""
    started = time.monotonic()
    result, message = run_http(check) if check.kind == "http" else run_command(check, cwd, env or {})
    return {"name": f"test: {check.name}", "result": result, "message": message, "kind": check.kind,
            "seconds": round(time.monotonic() - started, 2)}  # fmt: skip
