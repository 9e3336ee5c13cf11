"""Run the plan graph for one request on one fleet and return the validated Plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from upgradectl.graph.build import build_graph
from upgradectl.graph.state import RunContext
from upgradectl.models import Plan, UpgradeRequest
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.verify.commands import CommandParser

if TYPE_CHECKING:
    from upgradectl.agents.llm.client import LLMSession


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
) -> Plan:
    """With an LLM session the agents also run their Claude loops and the plan gets a narrative.

    `on_update` receives each node's state update as it finishes ({node name: update}, LangGraph's
    stream_mode="updates"), e.g. for the CLI's progress display; the graph itself renders nothing.
    """
    if llm is not None:
        llm_mode, model = "on", llm.model
    graph = build_graph()
    context = RunContext(fleet=fleet, fleet_ref=fleet_ref, llm_mode=llm_mode, model=model, llm=llm, charts=charts,
                         command_parser=command_parser)
    if on_update is None:
        plan = graph.invoke({"request": request}, context=context)["plan"]
    else:
        plan = None
        for update in graph.stream({"request": request}, context=context, stream_mode="updates"):
            on_update(update)
            plan = (update.get("verify") or update.get("assemble") or {}).get("plan", plan)
    return plan if isinstance(plan, Plan) else Plan.model_validate(plan)
