"""Ctrl-C stops what a user started (issue 20): `upgradectl mcp` on stdio, run on a terminal as Claude Code or a
person would, exits 130 at the first Ctrl-C instead of waiting for stdin forever; a plan says "interrupted" and
exits 130."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import time

from run_cli import EXE


def test_mcp_on_stdio_stops_on_ctrl_c():
    pid, terminal = pty.fork()
    done = 0
    if pid == 0:  # the child: the installed script on the pty, as a shell starts it
        os.execv(str(EXE), [str(EXE), "mcp"])
    try:
        time.sleep(3)  # let it start serving
        os.write(terminal, b"\x03")  # what the terminal sends on Ctrl-C
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("upgradectl mcp still running 15 s after Ctrl-C")
    finally:
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 130


def test_plan_says_interrupted_and_exits_130_on_ctrl_c():
    """Ctrl-C while a plan loads and runs: one word on stderr and exit 130, no traceback (typer turns the
    interrupt into its own exit 130, silently; the CLI names it)."""
    process = subprocess.Popen(
        [str(EXE), "plan", "--tool", "karpenter", "--fleet", "demo", "--llm", "off", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a shell starts it (not ignored)
    )
    time.sleep(1.2)  # inside the command (it starts in ~0.1 s and plans for 2 s or more): loading or planning
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out[-300:], err)
    assert err.strip().splitlines()[-1:] == ["interrupted"] and "Traceback" not in err, err
