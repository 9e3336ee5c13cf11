"""Live progress of a plan run on a terminal: one line per stage, advanced as each agent task finishes.

The graph renders nothing; `app.plan.plan(on_update=...)` hands this module LangGraph's stream_mode="updates"
chunks ({node name: state update}) and it draws them with rich on stderr. Node names say where the run
is: `intake` (stage 1 inventory), `stageN` (stage N opens), `stageN_tasks` (one agent task of stage N
finished: its task log record names the agent and the task, its findings are counted).
When stderr is not a terminal (CI, pipes, the MCP server) nothing is drawn at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from upgradectl.agents.registry import STAGE_NAMES, tasks_for_stage

OnUpdate = Callable[[dict[str, Any]], None]


class StageProgress:
    """Turns graph updates into per-stage bars: tasks done / total, findings so far, the last agent and task."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.bars: dict[int, TaskID] = {}
        self.broken = False
        for stage, name in STAGE_NAMES.items():
            total = len(tasks_for_stage(stage)) + (1 if stage == 1 else 0)  # stage 1 also runs the inventory
            self.bars[stage] = progress.add_task(
                f"Stage {stage} {name}", total=total, findings=0, last="waiting", start=False
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
        self.progress.update(
            bar, advance=1, findings=before + findings, last=f"{agent}: {title} ({findings} findings){failed}"
        )


def _stage_of(node: str) -> int | None:
    if node == "intake":
        return 1
    if node.startswith("stage"):
        digits = node[len("stage") :].split("_", 1)[0]
        if digits.isdigit() and int(digits) in STAGE_NAMES:
            return int(digits)
    return None


@contextmanager
def plan_progress(console: Console) -> Iterator[OnUpdate | None]:
    """Yield an `on_update` callback drawing live progress on `console`, or None when it is not a terminal."""
    if not console.is_terminal or console.is_dumb_terminal:
        yield None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<52}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn("{task.fields[findings]:>4} findings"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[last]}"),
        console=console,
        transient=False,
    )
    with progress:
        yield StageProgress(progress)
