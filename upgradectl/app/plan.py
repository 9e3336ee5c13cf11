"""The plan use case: a request and a fleet in, a verified Plan out, with the exit code it means.

`upgradectl plan`, the MCP `plan` tool and the eval runner all plan through here; LangGraph Server runs the
same graph (upgradectl/graph_server.py). The graph does the work from a JSON `PlanInput`; this module adds what
an interface asks around it: the model session, the chart store and command parser the plan verifier uses, the
progress callback, the exit code, and errors as `UseCaseError` with the exit code they mean. Interfaces write
plan.md/plan.json (app/report.py) after they have shown the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from upgradectl.agents.inventory import PlanningError
from upgradectl.agents.request import KUBERNETES, RequestError, requested_tools
from upgradectl.app.errors import UseCaseError
from upgradectl.app.llm import LLMMode, open_llm_session
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_LLM_DEGRADED, EXIT_OK, plan_exit_code
from upgradectl.models import SEVERITY_ORDER, CombinedPlan, Plan, Severity
from upgradectl.tools.advisories.osv import OsvClient, default_client
from upgradectl.tools.charts.store import default_chart_store
from upgradectl.tools.cluster.fleet import Fleet, FleetError
from upgradectl.tools.cluster.sources import SnapshotCluster
from upgradectl.tools.knowledge.loader import KnowledgeError
from upgradectl.tools.verify.commands import CommandParser

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
    strategy: str | None = None  # rollout strategy instead of the decision tree's choice (--strategy)
    fleet: str = "demo"
    context: str | None = None  # plan the one live cluster of this kube context instead of a fleet
    kubeconfig: str | None = None
    repo: str | None = None  # plan from this GitOps repository checkout alone, without a fleet file
    kubernetes: str | None = None  # Kubernetes version (X.Y) of Git-only clusters that name none
    llm: LLMMode = "off"
    model: str | None = None
    run_log: Path | None = None
    out: Path | None = None  # where the interface writes plan.md/plan.json; the run log goes there by default
    fail_on: Severity = "critical"
    charts_dir: Path | None = None  # local target charts for the values checks, tried before cache and network
    fetch_charts: bool = True  # fetch target charts from their repository (else a missing one is inconclusive)
    osv: bool = True  # look the running and target versions' advisories up in OSV (False: "not checked")
    osv_url: str | None = None  # OSV API (default $UPGRADECTL_OSV_URL, else https://api.osv.dev)

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
            "strategy": self.strategy,
            "repo": self.repo,
            "kubernetes": self.kubernetes,
        }
        return {key: value for key, value in values.items() if value}  # type: ignore[return-value]


@dataclass
class PlanOutcome:
    """A plan and what to tell its reader: the exit code for --fail-on, warnings, the run log."""

    plan: Plan | CombinedPlan  # a CombinedPlan when the request names several tools, or Kubernetes
    exit_code: int
    warnings: list[str] = field(default_factory=list)
    run_log: Path | None = None


def plan(
    request: PlanRequest, on_update: OnUpdate | None = None, command_parser: CommandParser | None = None
) -> PlanOutcome:
    """Plan one upgrade; raises UseCaseError (exit 2 for bad input, 3 when no cluster in scope could be read).

    `command_parser` is the CLI's (parse_upgradectl in upgradectl/cli/app.py), handed down by the interface: with
    it the plan verifier proves upgradectl's own commands in the plan parse; without it that check is reported as
    not run.
    """
    from upgradectl.graph.state import RunContext, fleet_ref  # loads langgraph: keeps interfaces' start-up light

    if request.charts_dir is not None and not request.charts_dir.is_dir():
        raise UseCaseError(f"--charts-dir {request.charts_dir}: not a directory")
    if request.repo and (request.context or request.fleet != "demo"):
        raise UseCaseError("--repo plans from a repository without a fleet file and does not combine with --fleet or "
                           "--context; to mix, name the repository in the fleet file (gitops: {path: ...}) and give "
                           "the Git-only clusters gitops_path")  # fmt: skip
    try:
        tools = requested_tools(request.text, request.tool)
    except RequestError as exc:
        raise UseCaseError(str(exc)) from None
    osv = open_osv(request.osv, request.osv_url)
    session, warnings = open_llm_session(request.llm, request.model, request.run_log, request.out)
    plan_input = request.graph_input()
    context = RunContext(
        fleet_ref=fleet_ref(plan_input),
        llm=session,
        charts=default_chart_store(request.charts_dir, request.fetch_charts),
        command_parser=command_parser,
        osv=osv,
        osv_off="" if request.osv else "--no-osv",
    )
    try:
        if len(tools) > 1 or tools == [KUBERNETES]:
            from upgradectl.app.combined_plan import plan_combined  # reason: only combined requests load it

            combined, run_warnings = plan_combined(request, tools, context, run_graph, on_update)
            return PlanOutcome(combined, combined_exit_code(combined, request.fail_on), [*warnings, *run_warnings],
                               session.run_log.path if session is not None else None)
        planned, run_warnings = run_graph(plan_input, context, on_update)
        release_snapshots(context.fleet)  # the plan is made: its files render (and plots draw) from the plan alone
    except PlanningError as exc:
        unread = [c for c in context.fleet.clusters.values() if c.unreachable] if context.fleet else []
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
        if osv is not None:
            osv.close()
    return PlanOutcome(
        plan=planned,
        exit_code=plan_exit_code(planned, request.fail_on),
        warnings=[*warnings, *run_warnings],
        run_log=session.run_log.path if session is not None else None,
    )


def combined_exit_code(combined: CombinedPlan, fail_on: Severity) -> int:
    """The most serious of the sections' exit codes (findings first, then incomplete, then a degraded model), and 1
    for a Kubernetes finding at or above --fail-on or a verifier violation of the combined order."""
    codes = [plan_exit_code(section, fail_on) for section in combined.sections]
    extra = combined.kubernetes.findings if combined.kubernetes else []
    if any(SEVERITY_ORDER.index(f.severity) <= SEVERITY_ORDER.index(fail_on) for f in extra):
        codes.append(EXIT_BLOCKERS)
    for code in (EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_LLM_DEGRADED):
        if code in codes:
            return code
    return EXIT_OK


def open_osv(enabled: bool, url: str | None) -> OsvClient | None:
    """The OSV client a plan asks (None when disabled), with the answers cached under the state directory."""
    if not enabled:
        return None
    try:
        return default_client(url)
    except ValueError as exc:
        raise UseCaseError(str(exc)) from None


def release_snapshots(fleet: Fleet | None) -> None:
    """Free the snapshot lists a plan read, before its files are written (a plot process forks from this one)."""
    for cluster in fleet.clusters.values() if fleet is not None else []:
        if isinstance(cluster.source, SnapshotCluster):
            cluster.source.release()


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
        planned = (update.get("verify") or {}).get("plan", planned)
    if planned is None:
        raise RuntimeError("the plan graph ended without a plan")
    return planned, warnings


def plan_for_eval(plan_input: PlanInput, context: RunContext) -> Plan | CombinedPlan:
    """The planner the eval runner is given (evals/ sits below app/ and cannot import it); a request naming several
    tools, or Kubernetes, gives the combined plan (the runner scores the scenario's tool's section)."""
    tools = requested_tools(plan_input.get("request") or "", plan_input.get("tool"))
    if len(tools) > 1 or tools == [KUBERNETES]:
        from upgradectl.app.combined_plan import plan_combined  # reason: only combined requests load it

        wanted = PlanRequest(text=plan_input.get("request") or "", tool=plan_input.get("tool"),
                             to=plan_input.get("to"), clusters=plan_input.get("clusters"),
                             environments=plan_input.get("environments"), trigger=plan_input.get("trigger"),
                             fleet=context.fleet_ref)
        return plan_combined(wanted, tools, context, run_graph)[0]
    planned = run_graph(plan_input, context)[0]
    if planned.verification is None:  # a plan is scored only when the verifier has checked it
        raise RuntimeError("the plan graph returned a plan the verifier did not check")
    return planned

