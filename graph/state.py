"""Graph state (what flows between stages) and run context (settings, never in state).

Fields that several parallel tasks write have reducers: findings merge by code + subject keeping
all evidence and the highest severity; the task log and rollout stages append; structured task
outputs merge by key.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, TypedDict

from upgradectl.agents.base import FleetView
from upgradectl.models import (
    SEVERITY_ORDER,
    AgentTaskRecord,
    ClusterInfo,
    ClusterVersion,
    Decision,
    Finding,
    Plan,
    RiskAssessment,
    Track,
    UpgradePath,
    UpgradeRequest,
)
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.knowledge.freshness import today
from upgradectl.tools.verify.commands import CommandParser


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


def merge_outputs(existing: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Task outputs by key; list values from parallel tasks are concatenated."""
    result = dict(existing or {})
    for key, value in (new or {}).items():
        if key in result and isinstance(result[key], list) and isinstance(value, list):
            result[key] = result[key] + value
        else:
            result[key] = value
    return result


class PlanState(TypedDict, total=False):
    request: UpgradeRequest
    clusters: list[ClusterInfo]
    versions: list[ClusterVersion]
    target: str
    target_reason: str
    paths: list[UpgradePath]
    findings: Annotated[list[Finding], merge_findings]
    task_log: Annotated[list[AgentTaskRecord], operator.add]
    outputs: Annotated[dict[str, Any], merge_outputs]
    track: Track
    track_reasons: list[str]
    risk: RiskAssessment
    decision: Decision
    plan: Plan


class TaskPayload(PlanState, total=False):
    """What a fanned-out task node receives: the state plus which task to run."""

    task_id: str


@dataclass
class RunContext:
    """Run settings and read-once views; passed as LangGraph context, never stored in state."""

    fleet: Fleet
    fleet_ref: str
    view: FleetView = field(init=False)
    llm_mode: str = "off"
    model: str = ""
    llm: Any = None  # agents.llm.LLMSession when --llm is on (Any: the SDK loads only with the model)
    charts: ChartStore | None = None  # target charts for the values checks; None turns them off
    command_parser: CommandParser | None = None  # checks upgradectl's own commands (the CLI provides it)
    today: date = field(default_factory=today)  # support windows and knowledge age are judged on this day

    def __post_init__(self) -> None:
        self.view = FleetView(self.fleet)
