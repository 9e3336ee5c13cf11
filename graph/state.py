"""Graph state (what flows between stages) and run context (settings and opened sources, never in state).

A run starts from `PlanInput`, plain JSON (the request in words and/or flags and the fleet to read), so the
same graph serves `upgradectl plan`, MCP, the evals and LangGraph Server. Each stage output has its own
typed field; fields that parallel tasks write have reducers: findings merge by code + subject keeping all
evidence and the highest severity, the task log, rollout stages and warnings append.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from typing_extensions import TypedDict  # (not typing's: pydantic builds the served graph's JSON schemas from it)

from upgradectl.agents.base import FleetView
from upgradectl.cost_models import CostReport
from upgradectl.models import (
    SEVERITY_ORDER,
    AdvisoryReport,
    AgentTaskRecord,
    ClusterInfo,
    ClusterVersion,
    Decision,
    Finding,
    Gate,
    Plan,
    RiskAssessment,
    RolloutStage,
    Track,
    UpgradePath,
    UpgradeRequest,
)
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import REPO_PREFIX, ClusterEntry, Fleet
from upgradectl.tools.cluster.sources import ClusterSource
from upgradectl.tools.knowledge.freshness import today
from upgradectl.tools.verify.commands import CommandParser

if TYPE_CHECKING:  # the anthropic SDK loads only when the model is on
    from upgradectl.agents.llm.client import LLMSession


def merge_findings(existing: list[Finding] | None, new: list[Finding] | None) -> list[Finding]:
    """Same code + subject -> one finding with every distinct evidence item and the highest severity."""
    merged: dict[tuple, Finding] = {}
    for finding in [*(existing or []), *(new or [])]:
        key = finding.key()
        if key not in merged:
            merged[key] = finding
            continue
        current = merged[key]
        evidence = list(current.evidence)
        evidence.extend(e for e in finding.evidence if e not in evidence)
        severity = min(current.severity, finding.severity, key=SEVERITY_ORDER.index)
        sources = list(dict.fromkeys([*current.sources, *finding.sources]))
        merged[key] = current.model_copy(update={"evidence": evidence, "severity": severity, "sources": sources})
    return list(merged.values())


class PlanInput(TypedDict, total=False):
    """What a run starts from, as JSON: the request in words and/or flags, and where the clusters are.

    Flags override the words, as on the command line. `fleet` is "demo" (the bundled demo fleet) or a
    fleet.yaml path (or a directory holding one) as the process running the graph sees its file system;
    `context` plans the one live cluster of that kube context instead (its environment is the one entry of
    `environments`, default prod), and `kubeconfig` applies to contexts that name no kubeconfig of their own.
    `repo` plans from a GitOps repository checkout alone (no fleet file; clusters from its layout, a cluster
    whose name says no environment in the one entry of `environments`, else prod); `kubernetes` (X.Y) is the
    Kubernetes version of Git-only clusters that name none (unknown otherwise).
    """

    request: str
    tool: str
    to: str
    clusters: list[str]
    environments: list[str]
    trigger: str
    fleet: str
    context: str
    kubeconfig: str
    strategy: str  # rolling, canary, blue-green or maintenance-window instead of the decision tree's choice
    repo: str
    kubernetes: str


def fleet_ref(plan_input: PlanInput) -> str:
    """What plan.fleet says, so `changes` and `execute` re-open the same fleet: "context NAME", "repo:/abs/path"
    for a repository planned without a fleet file, else the fleet reference ("demo" by default)."""
    if plan_input.get("context"):
        return f"context {plan_input['context']}"
    if plan_input.get("repo"):
        return f"{REPO_PREFIX}{Path(plan_input['repo']).expanduser().resolve()}"
    return plan_input.get("fleet") or "demo"


class PlanOutput(TypedDict, total=False):
    """The plan, or the error that stopped it (a bad request, an unreadable fleet, nothing to plan); a plan
    that could not check something is still a plan, with incomplete=true. `warnings`: what the run could not
    do as asked but went on without (the model could not read the trigger)."""

    plan: Plan | None
    error: str
    warnings: Annotated[list[str], operator.add]


class PlanState(PlanInput, PlanOutput, total=False):
    """Everything the stages hand each other, one typed field per output."""

    upgrade: UpgradeRequest  # read_request: the request resolved from PlanInput
    fleet_clusters: list[ClusterInfo]  # intake: every cluster of the fleet
    scope: list[str]  # intake: reachable clusters running the tool, in the requested set
    versions: list[ClusterVersion]
    target: str
    target_reason: str
    paths: list[UpgradePath]
    findings: Annotated[list[Finding], merge_findings]
    task_log: Annotated[list[AgentTaskRecord], operator.add]
    advisories: AdvisoryReport | None  # intake: OSV advisories of the running and target versions
    cost: list[CostReport]  # stage 1 cost-opportunities: per-cluster cost reports, shown in the plan
    track: Track
    track_reasons: list[str]
    risk: RiskAssessment
    decision: Decision
    hop_gates: dict[str, list[Gate]]  # stage 4 monitoring-preparation: each hop's gates, read by stage 5
    rollout: Annotated[list[RolloutStage], operator.add]  # stage 5: one stage per environment


class TaskPayload(PlanState, total=False):
    """What a fanned-out task node receives: the state plus which task to run."""

    task_id: str


LiveOpener = Callable[[ClusterEntry], ClusterSource]


@dataclass
class RunContext:
    """Run settings and the opened fleet; LangGraph context, never stored in state.

    The caller may open the fleet itself (the evals do, to build overlays); otherwise the graph's first node
    opens it from PlanInput, which is how LangGraph Server (it can only pass JSON) gets one.
    """

    fleet: Fleet | None = None
    fleet_ref: str = ""  # what plan.fleet says: the --fleet value, "context NAME", or the eval scenario id
    llm: LLMSession | None = None  # Claude on top of the playbooks (None: playbooks only)
    live_opener: LiveOpener | None = None  # opens fleet entries that name a kube context (None: the default)
    charts: ChartStore | None = None  # target charts for the values checks; None turns them off
    command_parser: CommandParser | None = None  # checks upgradectl's own commands (the interfaces provide it)
    today: date = field(default_factory=today)  # support windows and knowledge age are judged on this day
    osv: Any = None  # tools.advisories.osv.OsvClient: advisories for the running and target versions; None: not asked
    osv_off: str = ""  # why no OSV client was given (`--no-osv`): the plan then says "not checked"

    @cached_property
    def view(self) -> FleetView:
        """Read-once views of the fleet's GitOps repo and Terraform, shared by every agent of the run."""
        if self.fleet is None:
            raise RuntimeError("the run context has no fleet yet: the read_request node opens it first")
        return FleetView(self.fleet)

    def opened_fleet(self) -> Fleet:
        if self.fleet is None:
            raise RuntimeError("the run context has no fleet yet: the read_request node opens it first")
        return self.fleet
