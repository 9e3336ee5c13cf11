"""The live per-stage progress of `upgradectl plan`: drawn from the graph's stream of updates on a terminal,
silent when stderr is not one."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

from rich.console import Console

from upgradectl.agents.registry import STAGE_NAMES
from upgradectl.app.plan import PlanRequest, plan
from upgradectl.cli.progress import StageProgress, plan_progress

EXE = Path(sys.executable).with_name("upgradectl")


def test_every_stage_completes_with_its_agents_and_findings():
    console = Console(file=io.StringIO(), force_terminal=True, width=240)
    updates: list[dict] = []
    with plan_progress(console) as draw:
        assert isinstance(draw, StageProgress)

        def on_update(update: dict) -> None:
            updates.append(update)
            draw(update)

        planned = plan(PlanRequest(tool="karpenter", to="1.0.10"), on_update=on_update).plan
    tasks = draw.progress.tasks
    stages, total = tasks[:-1], tasks[-1]
    assert [t.description.split()[1] for t in stages] == [str(s) for s in STAGE_NAMES]
    assert all(t.completed == t.total for t in tasks)
    # the final line is the plan's own count, and the stage rows plus the verifier's add up to it (issue 20)
    assert total.description.strip() == "Plan" and total.fields["findings"] == len(planned.findings)
    from_verifier = int(total.fields["last"].split("; ")[1].split()[0])
    assert sum(t.fields["findings"] for t in stages) + from_verifier == len(planned.findings)
    assert f"{len({f.code for f in planned.findings})} distinct problems" in total.fields["last"]
    assert {n for u in updates for n in u} >= {"intake", "stage1", "stage1_tasks", "stage6_tasks", "assemble"}
    drawn = console.file.getvalue()
    assert "Stage 6 Post-upgrade valida…" in drawn and "monitoring-analyst:" in drawn


def test_quiet_when_not_a_terminal():
    with plan_progress(Console(file=io.StringIO())) as draw:
        assert draw is None
    done = subprocess.run(
        [str(EXE), "plan", "--tool", "karpenter", "--fleet", "demo", "--llm", "off", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1) and "Stage 1" not in done.stderr


def test_drawn_on_a_terminal_stderr_while_stdout_stays_json():
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80"}
    env.pop("ANTHROPIC_API_KEY", None)
    drawn: list[bytes] = []

    def read_terminal() -> None:  # keep the pty drained, or the live display blocks on a full buffer
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed its end
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    process = subprocess.Popen(
        [str(EXE), "plan", "--tool", "karpenter", "--fleet", "demo", "--llm", "off", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    stdout, _ = process.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(controller)
    assert process.returncode in (0, 1)
    assert stdout.lstrip().startswith(b"{")  # the progress never reaches stdout
    shown = b"".join(drawn)
    assert b"Stage 1 Upgrade assessment" in shown and b"findings" in shown
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))
    lines = [line for chunk in text.split("\r") for line in chunk.split("\n")]
    assert max(len(line) for line in lines) <= 80  # stable widths: nothing wraps at 80 columns (issue 20)
    assert b"Plan    " in shown and b"distinct problems (" in shown.splitlines()[-1]  # the final line
