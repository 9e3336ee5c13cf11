"""Run the plan graph for one request on one fleet and return the validated Plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upgradectl.graph.build import build_graph
from upgradectl.graph.runs import DEFAULT_STATE_DIR
from upgradectl.graph.state import RunContext
from upgradectl.models import Plan, UpgradeRequest
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.verify.commands import CommandParser

if TYPE_CHECKING:
    from upgradectl.agents.llm.client import LLMSession


def default_chart_store(charts_dir: Path | None = None, fetch: bool = True) -> ChartStore:
    """Target charts for the values checks: a local directory first, then the cache under the state directory
    (`<state-dir>/charts`), then the chart's repository (when `fetch`)."""
    return ChartStore(cache_dir=DEFAULT_STATE_DIR / "charts", charts_dir=charts_dir, fetch=fetch)


def run_plan(
    request: UpgradeRequest,
    fleet: Fleet,
    fleet_ref: str,
    llm_mode: str = "off",
    model: str = "",
    llm: LLMSession | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
    charts: ChartStore | None = None,
    command_parser: CommandParser | None = None,
    today: date | None = None,
) -> Plan:
    """With an LLM session the agents also run their Claude loops and the plan gets a narrative.

    `charts` defaults to `default_chart_store()`; `command_parser` (the CLI's, upgradectl/cli/argv.py) lets the
    plan verifier prove upgradectl's own commands parse: without one that check is reported as not run.
    `on_update` receives each node's state update as it finishes ({node name: update}, LangGraph's
    stream_mode="updates"), e.g. for the CLI's progress display; the graph itself renders nothing.
    `today` pins the day support windows and knowledge age are judged on (default: UPGRADECTL_TODAY or now).
    """
    if llm is not None:
        llm_mode, model = "on", llm.model
    if charts is None:
        charts = default_chart_store()
    graph = build_graph()
    context = RunContext(fleet=fleet, fleet_ref=fleet_ref, llm_mode=llm_mode, model=model, llm=llm, charts=charts,
                         command_parser=command_parser)
    if today is not None:
        context.today = today
    if on_update is None:
        plan = graph.invoke({"request": request}, context=context)["plan"]
    else:
        plan = None
        for update in graph.stream({"request": request}, context=context, stream_mode="updates"):
            on_update(update)
            plan = (update.get("verify") or update.get("assemble") or {}).get("plan", plan)
    return plan if isinstance(plan, Plan) else Plan.model_validate(plan)
