"""`upgradectl ARGS` as a user runs it: a process of its own, with its own arguments, environment, working
directory, output and exit code (no API key from this environment).

The e2e tests run the CLI hundreds of times, and each run of a plan used to spend 1.9 s of its 2.7 s of CPU
importing LangGraph, NumPy, SciPy and the agents before reading anything. So each run is forked from a warm copy
instead: a warm server (tests/cli_zygote.py, one per test worker) imports the CLI and those modules once, and
every `upgradectl()` call has it fork a fresh child that runs `main()` as the installed script does. The child
shares nothing with the test but the imported code: it gets the caller's environment and working directory,
files for its stdout and stderr, and exits with the script's exit code (atexit handlers run first, as in the
script). The script itself (the entry point, the lazy imports of `--help`) is run for real by
tests/e2e/test_cli_startup.py and the tests that need a process they can signal (`EXE`).

UPGRADECTL_TEST_SCRIPT=1 runs every call through the installed script instead (slower; for checking that the
two agree).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

EXE = Path(sys.executable).with_name("upgradectl")
ZYGOTE = Path(__file__).with_name("cli_zygote.py")
_zygote: tuple[subprocess.Popen, str] | None = None


def _warm_server() -> str:
    """The socket of this test worker's warm server (tests/cli_zygote.py), started on first use."""
    global _zygote
    if _zygote is None or _zygote[0].poll() is not None:
        socket_path = f"{tempfile.mkdtemp(prefix='upgradectl-zygote-')}/cli.sock"
        env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
        server = subprocess.Popen([sys.executable, str(ZYGOTE), socket_path], stdout=subprocess.PIPE, env=env,
                                  cwd=tempfile.gettempdir())  # fmt: skip
        if server.stdout is None or server.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the warm upgradectl server did not start (exit {server.wait()})")
        atexit.register(_stop, server, socket_path)
        _zygote = (server, socket_path)
    return _zygote[1]


def _stop(server: subprocess.Popen, socket_path: str) -> None:
    """End the warm server when the test worker exits (waited for, so its CPU time counts as the worker's)."""
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(Path(socket_path).parent, ignore_errors=True)


def _answer(conn: socket.socket, buffer: bytearray) -> dict:
    """The next JSON line the warm server sends on this connection."""
    while b"\n" not in buffer:
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError("the warm upgradectl server closed the connection")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


def upgradectl(
    *args: str, env: dict | None = None, timeout: float = 180, cwd: str | Path | None = None
) -> subprocess.CompletedProcess:
    """`upgradectl ARGS`, its exit code and output (stdout, stderr as text), as `subprocess.run` gives them. The
    environment is this one without ANTHROPIC_API_KEY, updated with `env` (a None value removes that variable)."""
    run_env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    for name, value in (env or {}).items():
        if value is None:
            run_env.pop(name, None)
        else:
            run_env[name] = value
    workdir = str(cwd or os.getcwd())
    argv = [str(EXE), *args]
    if os.environ.get("UPGRADECTL_TEST_SCRIPT") == "1":
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=run_env, cwd=workdir)
    with tempfile.TemporaryDirectory(prefix="upgradectl-run-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        out.touch()
        err.touch()
        request = {"argv": list(args), "env": run_env, "cwd": workdir, "stdout": str(out), "stderr": str(err)}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(_warm_server())
            conn.sendall(json.dumps(request).encode() + b"\n")
            buffer = bytearray()
            pid = _answer(conn, buffer)["pid"]
            conn.settimeout(timeout)
            try:
                code = _answer(conn, buffer)["code"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(argv, timeout, out.read_bytes(), err.read_bytes()) from None
        return subprocess.CompletedProcess(argv, code, out.read_text(errors="replace"), err.read_text(errors="replace"))


def plan(*args: str, env: dict | None = None) -> dict:
    """`upgradectl plan ARGS --format json`: the plan, after checking it ran (0, 1 or 3) without a traceback."""
    result = upgradectl("plan", *args, "--format", "json", env=env)
    assert result.returncode in (0, 1, 3), result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)
