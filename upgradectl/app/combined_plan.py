"""Combined plans: a request naming several tools (one section per tool, one rollout in a dependency-correct order),
and a Kubernetes upgrade (the tools that must move first, the control-plane hops, the tools after).

Each section is a complete single-tool plan made by the same graph (`plan --tool T` would give it), so every step
in a combined plan has passed the plan verifier; graph/combine.py orders and merges them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from upgradectl.agents.request import KUBERNETES, RequestError, find_target_version
from upgradectl.app.errors import UseCaseError
from upgradectl.graph.combine import OrderError, combine
from upgradectl.graph.state import RunContext
from upgradectl.models import CombinedPlan, Plan

# app/plan.py's run_graph, handed in (this module sits below app/plan.py, which dispatches here)
RunGraph = Callable[..., tuple[Plan, list[str]]]


def plan_combined(request: BaseModel, tools: list[str], context: RunContext, run_graph: RunGraph,
                  on_update: Callable[[dict[str, Any]], None] | None = None) -> tuple[CombinedPlan, list[str]]:
    """Plan several tools together, or (tools == ['kubernetes']) a Kubernetes upgrade; raises what run_graph raises
    for bad input, and UseCaseError when the combination cannot be planned."""
    if tools == [KUBERNETES]:
        from upgradectl.app.kubernetes_plan import plan_kubernetes  # reason: only Kubernetes requests load it

        return plan_kubernetes(request, context, run_graph, on_update)
    if request.to:
        raise UseCaseError(
            f"--to {request.to} names one version but the request names {len(tools)} tools ({', '.join(tools)}): "
            "drop --to (each tool gets its newest release compatible with every target cluster), or plan each tool "
            "with its own --to"
        )
    named, _ = find_target_version(request.text)
    if named:
        raise UseCaseError(
            f"the request names the version {named} and {len(tools)} tools ({', '.join(tools)}): it is not clear "
            "which tool it is for; plan that tool on its own with --to, or drop the version"
        )
    sections: list[Plan] = []
    warnings: list[str] = []
    for tool in tools:
        section, section_warnings = run_graph(request.model_copy(update={"tool": tool}).graph_input(), context,
                                              on_update)
        sections.append(section)
        warnings.extend(f"{tool}: {w}" for w in section_warnings)
    try:
        return combine(request.text, context.fleet_ref, sections), warnings
    except (OrderError, RequestError) as exc:
        raise UseCaseError(str(exc)) from None
