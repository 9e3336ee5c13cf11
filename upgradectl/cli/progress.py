"""Live progress of a plan run on a terminal: one line per stage, advanced as each agent task finishes.

The graph renders nothing; `app.plan.plan(on_update=...)` hands this module LangGraph's stream_mode="updates"
chunks ({node name: state update}) and it draws them with rich on stderr. Node names say where the run
is: `intake` (stage 1 inventory), `stageN` (stage N opens), `stageN_tasks` (one agent task of stage N
finished: its task log record names the agent and the task, its findings are counted).
When stderr is not a terminal (CI, pipes, the MCP server) nothing is drawn at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from upgradectl.agents.registry import STAGE_NAMES, tasks_for_stage

OnUpdate = Callable[[dict[str, Any]], None]


class StageProgress:
    """Turns graph updates into per-stage bars: tasks done / total, findings so far, the last agent and task."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.bars: dict[int, TaskID] = {}
        self.broken = False
        self.final_line = ""  # printed under the bars when the run ends: the plan's own counts
        for stage, name in STAGE_NAMES.items():
            total = len(tasks_for_stage(stage)) + (1 if stage == 1 else 0)  # stage 1 also runs the inventory
            self.bars[stage] = progress.add_task(
                stage_label(stage, name), total=total, findings=0, last="waiting", start=False
            )

    def __call__(self, update: dict[str, Any]) -> None:
        """One stream chunk; a display problem must never stop the plan, so it only stops the drawing."""
        if self.broken:
            return
        try:
            self._draw(update)
        except Exception:  # noqa: BLE001 - the plan matters, the progress bar does not
            self.broken = True

    def _draw(self, update: dict[str, Any]) -> None:
        for node, change in update.items():
            if node == "verify" and (change or {}).get("plan") is not None:
                self._finish(change["plan"])
                continue
            stage = _stage_of(node)
            if stage is None:
                continue
            bar = self.bars[stage]
            self.progress.start_task(bar)
            if node == "intake" or node.endswith("_tasks"):
                self._task_done(bar, change or {})
            else:
                self.progress.update(bar, last="started")

    def _task_done(self, bar: TaskID, change: dict[str, Any]) -> None:
        records = change.get("task_log") or []
        findings = len(change.get("findings") or [])
        record = records[0] if records else None
        agent = getattr(record, "agent", "") or "agent"
        title = getattr(record, "task", "") or "task"
        failed = " FAILED" if getattr(record, "error", "") else ""
        before = self.progress.tasks[bar].fields.get("findings", 0)
        self.progress.update(bar, advance=1, findings=before + findings, last=f"{agent}: {title}{failed}")


    def _finish(self, plan: Any) -> None:
        """Recount from the finished plan, so the rows add up to it: each finding under the first stage whose
        task reported its code, the rest (merged, or added by the verifier) in the total's note."""
        first_stage: dict[tuple[str, str], int] = {}
        for record in sorted(plan.task_log, key=lambda r: r.stage):
            for code in record.finding_codes:
                first_stage.setdefault((record.agent, code), record.stage)
        per_stage = Counter(first_stage.get((f.agent, f.code)) for f in plan.findings)
        for stage, bar in self.bars.items():
            self.progress.update(bar, findings=per_stage[stage])
        distinct = len({f.code for f in plan.findings})
        self.progress.add_task(
            "Plan".ljust(STAGE_LABEL), total=1, completed=1, findings=len(plan.findings),
            last=f"{distinct} distinct problems; {per_stage[None]} from the verifier",
        )  # fmt: skip
        elapsed = self.progress.tasks[self.bars[1]].elapsed or 0.0
        self.final_line = (f"planned in {elapsed:.1f} s: {len(plan.findings)} findings, {distinct} distinct "
                           f"problems ({per_stage[None]} from the verifier)")  # fmt: skip


def _stage_of(node: str) -> int | None:
    if node == "intake":
        return 1
    if node.startswith("stage"):
        digits = node[len("stage") :].split("_", 1)[0]
        if digits.isdigit() and int(digits) in STAGE_NAMES:
            return int(digits)
    return None


STAGE_LABEL = 28  # "Stage 6 Post-upgrade valida…": one width for every stage, so the bars line up


def stage_label(stage: int, name: str) -> str:
    """'Stage N name', cut to STAGE_LABEL characters (…) and padded, so no line is longer than another."""
    label = f"Stage {stage} {name}"
    return (label if len(label) <= STAGE_LABEL else label[: STAGE_LABEL - 1] + "…").ljust(STAGE_LABEL)


@contextmanager
def plan_progress(console: Console) -> Iterator[OnUpdate | None]:
    """Yield an `on_update` callback drawing live progress on `console`, or None when it is not a terminal.

    Fixed-width columns (label 28, bar 10, tasks 5, findings 13, elapsed 7: 72 columns with the spinner and the
    gaps) fit 80 columns; the last agent and task fill what is left of the terminal's width, cut with '…'."""
    if not console.is_terminal or console.is_dumb_terminal:
        yield None
        return
    last_width = max(console.width - 72, 0)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", table_column=Column(width=STAGE_LABEL, no_wrap=True)),
        BarColumn(bar_width=10),
        MofNCompleteColumn(table_column=Column(width=5, no_wrap=True)),
        TextColumn("{task.fields[findings]:>4} findings", table_column=Column(width=13, no_wrap=True)),
        TimeElapsedColumn(table_column=Column(width=7, no_wrap=True)),
        TextColumn("[dim]{task.fields[last]}", table_column=Column(width=last_width, no_wrap=True,
                                                                     overflow="ellipsis")),
        console=console,
        transient=False,
        expand=False,
    )
    stages = StageProgress(progress)
    with progress:
        yield stages
    if stages.final_line:
        console.print(stages.final_line, markup=False, highlight=False, overflow="ellipsis", no_wrap=True)
