"""What the MCP tools return: structured (pydantic, so each tool publishes an output schema) and bounded.

A whole demo plan is ~400 kB of JSON; a model's context is not the place for it. Tools return a summary,
counts, and at most `limit` items of any list, and every cut says what was cut and how to narrow the call
(a severity, a cluster, a code) or where the full document is (a file the tool wrote).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from upgradectl.models import SEVERITY_ORDER, Finding, KnowledgeInfo

MAX_LIMIT = 100  # no call returns more items of one list than this, whatever it asks
TEXT_CAP = 400  # characters of one free-text field (remediation, excerpt, detail) in a list item


def clip(text: str, cap: int = TEXT_CAP) -> str:
    """Text cut to `cap` characters with a visible marker."""
    return text if len(text) <= cap else text[: cap - 14] + " ...[truncated]"


class FindingBrief(BaseModel):
    """One finding, short: enough to decide whether to ask explain_finding for the rest."""

    code: str
    severity: str
    category: str
    title: str
    subject: str = Field(description="What it is about: cluster, apiVersion, kind, name, file:line, Helm value")
    cluster: str = ""
    agent: str
    remediation: str = ""
    evidence_items: int = Field(description="How many pieces of evidence back it (explain_finding shows them)")
    uncertain: bool = False

    @classmethod
    def of(cls, finding: Finding) -> FindingBrief:
        return cls(
            code=finding.code,
            severity=finding.severity,
            category=finding.category,
            title=clip(finding.title),
            subject=finding.subject.describe(),
            cluster=finding.subject.cluster,
            agent=finding.agent,
            remediation=clip(finding.remediation),
            evidence_items=len(finding.evidence),
            uncertain=finding.uncertain,
        )


class FindingInstance(BaseModel):
    """One occurrence of a code in a plan, with its evidence (bounded)."""

    severity: str
    title: str
    subject: str
    cluster: str = ""
    detail: str = ""
    remediation: str = ""
    evidence: list[str] = Field(description="'source ref: excerpt' per evidence item, at most 5")


class FindingsPage(BaseModel):
    """Findings of one plan after the filters, with counts for the whole plan so nothing is hidden."""

    total_in_plan: int
    by_severity: dict[str, int]
    by_code: dict[str, int] = Field(description="Every finding code in the plan and how often it occurs")
    filters: dict[str, str] = Field(default_factory=dict, description="The filters applied to `shown`")
    matching: int = Field(description="Findings that pass the filters")
    offset: int = 0
    shown: list[FindingBrief]
    truncated: bool = False
    note: str = ""


class ClusterVersionBrief(BaseModel):
    cluster: str
    environment: str
    kubernetes_version: str
    current_version: str = Field(description="Empty when the tool is not installed there")
    target_version: str = ""
    target_supported: bool | None = None


class PathBrief(BaseModel):
    clusters: list[str]
    from_version: str
    to_version: str
    hops: list[str] = Field(description="'a -> b (kind): why this hop exists'")
    feasible: bool
    blockers: list[str] = Field(default_factory=list)


class DecisionBrief(BaseModel):
    track: str
    track_reasons: list[str]
    risk: str
    risk_reasons: list[str]
    strategy: str
    strategy_reasons: list[str]
    approval_required: bool
    approval_reasons: list[str]
    testing: str


class RolloutBrief(BaseModel):
    environment: str
    clusters: list[str]
    hops: list[str]
    steps: list[str] = Field(description="Step titles in order (the full commands are in the plan files)")
    gates: list[str] = Field(description="Gate names that must pass before promotion")
    rollback_steps: int
    approval_required: bool
    soak_minutes: int


class AdvisoryBrief(BaseModel):
    """One OSV advisory as it bears on the plan."""

    id: str
    severity: str
    aliases: list[str] = Field(default_factory=list)
    summary: str = ""
    fixed: list[str] = Field(default_factory=list, description="Versions that fix it")
    affects: list[str] = Field(default_factory=list, description="Which of the plan's versions it affects")
    link: str = ""


class AdvisoriesBrief(BaseModel):
    """What OSV says about the running and target versions: checked live, from the dated cache, or not checked."""

    status: str = Field(description="checked (live), cached (a dated snapshot stands in) or not-checked (see reason)")
    source: str = ""
    fetched_at: str = ""
    reason: str = ""
    target: str = ""
    minimal_target: str = Field(default="", description="Smallest version fixing every high/critical advisory")
    patch_suffices: bool | None = Field(default=None, description="Whether a patch of the running line fixes them")
    patch_note: str = ""
    fixed_by_target: list[str] = Field(default_factory=list)
    at_target: list[str] = Field(default_factory=list, description="Advisory ids that still affect the target")
    advisories: list[AdvisoryBrief] = Field(default_factory=list)


class PlanResult(BaseModel):
    """A plan, summarised: the decision, the path, the rollout and the findings page."""

    plan_id: str = Field(description="Pass to plan_findings / explain_finding to look into this plan again")
    summary: str
    tool: str
    target_version: str
    target_reason: str
    fleet: str
    incomplete: bool = Field(description="Something could not be checked: treat the plan as partial")
    fail_on: str
    blockers: int = Field(description="Findings at or above fail_on")
    exit_code: int = Field(
        description="What `upgradectl plan --fail-on <fail_on>` would exit with: 0 ok, 1 blockers, 3 incomplete"
    )
    versions: list[ClusterVersionBrief]
    versions_note: str = ""
    paths: list[PathBrief]
    decision: DecisionBrief
    rollout: list[RolloutBrief]
    findings: FindingsPage
    advisories: AdvisoriesBrief | None = Field(
        default=None, description="OSV advisories of the running and target versions (None: OSV not asked)"
    )
    files: list[str] = Field(default_factory=list, description="plan.md / plan.json written (out_dir)")
    next_steps: list[str] = Field(default_factory=list)
    knowledge: KnowledgeInfo = Field(
        default_factory=KnowledgeInfo, description="The knowledge date the plan rests on, its age and any warning"
    )


class ExplainResult(BaseModel):
    """A finding code explained from the knowledge base, and (given a plan) where it occurs."""

    code: str
    in_knowledge_base: bool
    tool: str = ""
    title: str = ""
    detail: str = ""
    remediation: str = ""
    severity: str = ""
    category: str = ""
    introduced_in: str = Field(default="", description="Tool version that introduced the change")
    applies_below: str = ""
    detected_by: str = Field(default="", description="How upgradectl sees it in a fleet")
    source: str = Field(default="", description="Upstream documentation the entry comes from")
    uncertain: bool = False
    plan_id: str = ""
    instances_total: int = 0
    instances: list[FindingInstance] = Field(default_factory=list)
    note: str = ""


class ScanUsage(BaseModel):
    status: str = Field(description="deprecated, removed, stored (CRD stored version), replacement-unavailable")
    component: str
    api_version: str
    kind: str
    name: str
    location: str
    removed_in: str = ""
    replacement: str = ""


class ScanResult(BaseModel):
    """Deprecated and removed APIs found, counted by status, listed up to `limit`."""

    targets: dict[str, str]
    scanned: dict[str, int]
    exit_code: int = Field(
        description="Pluto's: 0 none, 1 something could not be read (see notes), 2 deprecated, 3 removed/stored, "
        "4 replacement unavailable"
    )
    by_status: dict[str, int]
    matching: int
    shown: list[ScanUsage]
    notes: list[str] = Field(default_factory=list)
    truncated: bool = False
    note: str = ""


class CommandResult(BaseModel):
    """A command owned by another part of upgradectl, run in-process; its JSON output is `data`."""

    command: str = Field(description="The equivalent command line, to run by hand or in CI")
    exit_code: int
    meaning: str = Field(description="What the exit code means for this command")
    data: dict[str, Any] | list[Any] | None = Field(default=None, description="The command's JSON output, bounded")
    text: str = Field(default="", description="Its text output when it printed no JSON, bounded")
    errors: str = Field(default="", description="What it printed on stderr (usage errors, notes), bounded")
    truncated: list[str] = Field(default_factory=list, description="Lists and texts that were cut, and where")


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    return {s: n for s in SEVERITY_ORDER if (n := sum(f.severity == s for f in findings))}


def bound_json(value: Any, *, max_items: int = 20, max_chars: int = 600, path: str = "$") -> tuple[Any, list[str]]:
    """Cut every list to max_items and every string to max_chars; return the value and what was cut."""
    cut: list[str] = []

    def walk(v: Any, where: str) -> Any:
        if isinstance(v, dict):
            return {k: walk(item, f"{where}.{k}") for k, item in v.items()}
        if isinstance(v, list):
            if len(v) > max_items:
                cut.append(f"{where}: {len(v)} items, first {max_items} shown")
            return [walk(item, f"{where}[{i}]") for i, item in enumerate(v[:max_items])]
        if isinstance(v, str) and len(v) > max_chars:
            cut.append(f"{where}: text of {len(v)} characters cut to {max_chars}")
            return clip(v, max_chars)
        return v

    bounded = walk(value, path)
    return bounded, cut[:50] + ([f"... and {len(cut) - 50} more cuts"] if len(cut) > 50 else [])
