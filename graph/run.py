"""Run the plan graph for one request on one fleet and return the validated Plan."""

from __future__ import annotations

from upgradectl.graph.build import build_graph
from upgradectl.graph.state import RunContext
from upgradectl.models import Plan, UpgradeRequest
from upgradectl.tools.fleet import Fleet


def run_plan(request: UpgradeRequest, fleet: Fleet, fleet_ref: str, llm_mode: str = "off", model: str = "") -> Plan:
    graph = build_graph()
    result = graph.invoke(
        {"request": request}, context=RunContext(fleet=fleet, fleet_ref=fleet_ref, llm_mode=llm_mode, model=model)
    )
    plan = result["plan"]
    return plan if isinstance(plan, Plan) else Plan.model_validate(plan)
