"""A warm `upgradectl`: imports the CLI and what a plan loads once, then forks one child per request that runs
`main()` as the installed script does (tests/run_cli.py starts one per test worker and talks to it).

Protocol, one request per connection on a Unix socket: the client sends one JSON line {argv, env, cwd, stdout,
stderr} (the last two: files to write the output to); the server answers {"pid": N} once the child runs and
{"code": C} when it has exited (C as subprocess reports it: negative for a signal). The server forks from its only
thread and exits when the test worker that started it is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import select
import socket
import sys
from pathlib import Path

EXE = Path(sys.executable).with_name("upgradectl")
PRELOAD = [  # what a plan imports (the CLI's own modules load lazily; the script's start-up is tested for real)
    "upgradectl.cli.app", "upgradectl.cli.commands.plan", "upgradectl.app.plan", "upgradectl.app.report",
    "upgradectl.app.summary", "upgradectl.cli.progress", "upgradectl.graph.build", "upgradectl.tools.cost.plots",
    "scipy.optimize", "matplotlib.figure", "matplotlib.ticker",  # plots are drawn in a child forked from the run
]


def run_child(request: dict) -> None:
    """In the forked child: the request's output files, environment, cwd and argv, then the script's body."""
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                            (2, request["stderr"], os.O_WRONLY)):  # fmt: skip
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [str(EXE), *request["argv"]]
    code: object = 0
    try:
        from upgradectl.cli.app import main

        code = main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # as the interpreter would: the traceback on stderr, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        sys.stderr.flush()
        code = 1
    os._exit(code & 0xFF)


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def serve(socket_path: str) -> None:
    """Preload, then fork a child per request and report its pid and exit code, until the parent is gone."""
    parent = os.getppid()
    sys.path[0] = str(EXE.parent)  # as the script's interpreter has it
    for module in PRELOAD:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()  # children leave the preloaded objects alone instead of copying them when the collector runs
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    print("ready", flush=True)
    waiting: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        ready, _, _ = select.select([listener], [], [], 0.02)
        if ready:
            conn, _ = listener.accept()
            request = json.loads(_read_line(conn))
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                for other in waiting.values():
                    other.close()
                run_child(request)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            waiting[pid] = conn
        while waiting:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = waiting.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):  # the client may have given up on it (a timeout)
                    conn.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
