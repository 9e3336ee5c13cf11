"""The plan use case: a request and a fleet in, a Plan out (with its exit code and the files written).

`upgradectl plan`, the MCP `plan` tool and the eval runner all plan through here; LangGraph Server runs the
same graph (graph/server.py). The graph does the work from a JSON `PlanInput`; this module adds what an
interface asks around it: the model session, the progress callback, plan.md/plan.json, the exit code, and
errors as `UseCaseError` with the exit code they mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from upgradectl.agents.inventory import PlanningError
from upgradectl.agents.request import RequestError
from upgradectl.app.errors import UseCaseError
from upgradectl.app.llm import LLMMode, open_llm_session
from upgradectl.app.report import write_plan
from upgradectl.exit_codes import EXIT_INCOMPLETE, plan_exit_code
from upgradectl.models import Plan, Severity
from upgradectl.tools.cluster.fleet import FleetError
from upgradectl.tools.knowledge.loader import KnowledgeError

if TYPE_CHECKING:  # langgraph and the graph load when a plan runs, not when an interface starts
    from upgradectl.graph.state import PlanInput, RunContext

OnUpdate = Callable[[dict[str, Any]], None]


class PlanRequest(BaseModel):
    """What to plan, as every interface receives it: the request in words and/or flags, and the fleet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = ""
    tool: str | None = None
    to: str | None = None
    clusters: list[str] | None = None
    environments: list[str] | None = None
    trigger: str | None = None
    fleet: str = "demo"
    context: str | None = None  # plan the one live cluster of this kube context instead of a fleet
    kubeconfig: str | None = None
    llm: LLMMode = "off"
    model: str | None = None
    run_log: Path | None = None
    out: Path | None = None  # also write plan.md and plan.json here
    fail_on: Severity = "critical"

    def graph_input(self) -> PlanInput:
        """The plan graph's JSON input (what LangGraph Server clients send)."""
        values = {
            "request": self.text,
            "tool": self.tool,
            "to": self.to,
            "clusters": self.clusters,
            "environments": self.environments,
            "trigger": self.trigger,
            "fleet": self.fleet,
            "context": self.context,
            "kubeconfig": self.kubeconfig,
        }
        return {key: value for key, value in values.items() if value}  # type: ignore[return-value]


@dataclass
class PlanOutcome:
    """A plan and what to tell its reader: the exit code for --fail-on, files written, warnings, the run log."""

    plan: Plan
    exit_code: int
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run_log: Path | None = None


def plan(request: PlanRequest, on_update: OnUpdate | None = None) -> PlanOutcome:
    """Plan one upgrade; raises UseCaseError (exit 2 for bad input, 3 when no cluster in scope could be read)."""
    from upgradectl.graph.state import RunContext  # loads langgraph: keeps interfaces' start-up light

    session, warnings = open_llm_session(request.llm, request.model, request.run_log, request.out)
    context = RunContext(fleet_ref=f"context {request.context}" if request.context else request.fleet, llm=session)
    try:
        planned, run_warnings = run_graph(request.graph_input(), context, on_update)
    except PlanningError as exc:
        unread = [c for c in context.fleet.clusters.values() if c.source is None] if context.fleet else []
        if unread:
            details = [f"{c.info.name} could not be read: {c.error}" for c in unread]
            message = f"{exc}\nno plan: {len(unread)} cluster(s) could not be read (see above)"
            raise UseCaseError(message, EXIT_INCOMPLETE, details) from None
        raise UseCaseError(str(exc)) from None
    except (RequestError, FleetError, KnowledgeError) as exc:
        raise UseCaseError(str(exc)) from None
    finally:
        if session is not None:
            session.close()  # the run's totals go to the run log
    files = write_plan(planned, request.out) if request.out else []
    return PlanOutcome(
        plan=planned,
        exit_code=plan_exit_code(planned, request.fail_on),
        files=files,
        warnings=[*warnings, *run_warnings],
        run_log=session.run_log.path if session is not None else None,
    )


def run_graph(plan_input: PlanInput, context: RunContext, on_update: OnUpdate | None = None) -> tuple[Plan, list[str]]:
    """Run the plan graph on a run context (the evals pass one with their fleet and model session open).

    Raises what the graph raises for bad input: RequestError, FleetError, KnowledgeError, PlanningError.
    `on_update` receives each node's state update as it finishes ({node name: update}, LangGraph's
    stream_mode="updates"), e.g. for the CLI's progress display; the graph itself renders nothing.
    """
    from upgradectl.graph.build import build_graph  # loads langgraph: keeps interfaces' start-up light

    graph = build_graph()
    if on_update is None:
        output = graph.invoke(plan_input, context=context)
        return output["plan"], list(output.get("warnings", []))
    planned, warnings = None, []
    for update in graph.stream(plan_input, context=context, stream_mode="updates"):
        on_update(update)
        for change in update.values():
            warnings.extend((change or {}).get("warnings", []))
        planned = (update.get("assemble") or {}).get("plan", planned)
    if planned is None:
        raise RuntimeError("the plan graph ended without a plan")
    return planned, warnings


def plan_for_eval(plan_input: PlanInput, context: RunContext) -> Plan:
    """The planner the eval runner is given (evals/ sits below app/ and cannot import it)."""
    return run_graph(plan_input, context)[0]

