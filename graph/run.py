"""Run the plan graph for one request on one fleet and return the validated Plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from upgradectl.graph.build import build_graph
from upgradectl.graph.state import RunContext
from upgradectl.models import Plan, UpgradeRequest
from upgradectl.tools.cluster.fleet import Fleet

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
    today: date | None = None,
) -> Plan:
    """With an LLM session the agents also run their Claude loops and the plan gets a narrative.

    `on_update` receives each node's state update as it finishes ({node name: update}, LangGraph's
    stream_mode="updates"), e.g. for the CLI's progress display; the graph itself renders nothing.
    `today` pins the day support windows and knowledge age are judged on (default: UPGRADECTL_TODAY or now).
    """
    if llm is not None:
        llm_mode, model = "on", llm.model
    graph = build_graph()
    context = RunContext(fleet=fleet, fleet_ref=fleet_ref, llm_mode=llm_mode, model=model, llm=llm)
    if today is not None:
        context.today = today
    if on_update is None:
        plan = graph.invoke({"request": request}, context=context)["plan"]
    else:
        plan = None
        for update in graph.stream({"request": request}, context=context, stream_mode="updates"):
            on_update(update)
            plan = (update.get("assemble") or {}).get("plan", plan)
    return plan if isinstance(plan, Plan) else Plan.model_validate(plan)
