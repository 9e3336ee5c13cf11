"""Domain models shared by every layer: requests, clusters, findings, paths, decisions, plans.

All payloads are frozen pydantic v2 models and closed sets are `Literal`s, so a value that
crosses a boundary (graph state, JSON on disk, an LLM tool call) is validated once and can
not be mutated behind a reader's back. Nothing here imports from tools/, agents/ or graph/.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from upgradectl.cost_models import CostReport

# A product upgradectl plans: the name of its knowledge file (tools/knowledge/data/<name>.yaml), which is where the
# list of products lives; requests are checked against it when they are read (agents/request.py).
ToolName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]

Trigger = Literal["security", "cost", "feature", "compliance", "performance"]
Environment = Literal["dev", "staging", "prod"]
ENVIRONMENT_ORDER: tuple[Environment, ...] = ("dev", "staging", "prod")
Provider = Literal["eks", "gke", "aks", "kind", "other"]
Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
Category = Literal[
    "compatibility",
    "breaking-change",
    "deprecated-api",
    "helm-values",
    "crd",
    "rollback",
    "workload-impact",
    "cost",
    "monitoring",
    "infrastructure",
    "security",
    "incomplete",
    "setup",
    "inventory",
    "rollout",
    "support",
    "health",
]
AgentName = Literal[
    "flux-navigator",
    "terraform-auditor",
    "argo-troubleshooter",
    "monitoring-analyst",
    "incident-responder",
]
AGENTS: tuple[AgentName, ...] = (
    "flux-navigator",
    "terraform-auditor",
    "argo-troubleshooter",
    "monitoring-analyst",
    "incident-responder",
)
EvidenceSource = Literal["cluster", "helm", "gitops", "terraform", "metrics", "knowledge", "plan", "advisories"]
RiskLevel = Literal["low", "medium", "high", "critical"]
RISK_ORDER: tuple[RiskLevel, ...] = ("low", "medium", "high", "critical")
Track = Literal["security-fast-track", "cost-roi", "feature-standard", "compliance-extra-validation"]
StrategyKind = Literal["rolling", "maintenance-window", "blue-green", "canary"]
STRATEGY_KINDS: tuple[StrategyKind, ...] = ("rolling", "maintenance-window", "blue-green", "canary")
# Where a step sits in its hop's rollout: "" the whole hop at once; canary: "canary" (the change with the rest held
# back), "canary-subset" (the subset takes the new version; its gate), "rest" (the rest follows; its gate);
# blue-green: "green" (the parallel installation at the new version takes the readers; its gate), "" (the
# installation itself changes), "retire" (readers back, the parallel one removed).
Phase = Literal["", "canary", "canary-subset", "rest", "green", "retire"]
PHASES: tuple[Phase, ...] = ("green", "canary", "canary-subset", "", "rest", "retire")
HopKind = Literal["patch-first", "required-intermediate", "one-minor", "target"]
GateResult = Literal["pass", "fail", "inconclusive"]
Comparison = Literal["<", "<=", ">", ">=", "==", "!="]


class Frozen(BaseModel):
    """Base for every payload: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class UpgradeRequest(Frozen):
    """What the user asked for, resolved from free text and flags."""

    text: str = ""
    tool: ToolName
    target_version: str | None = Field(
        default=None, description="Requested target; None means the latest version compatible with every cluster"
    )
    channel: Literal["latest", "lts"] = Field(
        default="latest", description="Without a target: the newest compatible release, or the newest LTS one"
    )
    trigger: Trigger = "feature"
    trigger_reasons: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(default_factory=list, description="Empty means every cluster running the tool")
    environments: list[Environment] = Field(default_factory=list, description="Empty means all")
    strategy: StrategyKind | None = Field(
        default=None, description="Rollout strategy asked for (--strategy); None lets the decision tree choose"
    )


class ClusterInfo(Frozen):
    """One cluster of the fleet as the plan sees it."""

    name: str
    environment: Environment
    provider: Provider
    region: str = ""
    kubernetes_version: str = Field(
        description="Server gitVersion without the v, e.g. 1.29.6; for a Git-only cluster the version the fleet "
        "or --kubernetes gives, '' when unknown"
    )
    role: str = Field(default="workload", description="workload, management or monitoring")
    source: str = Field(
        description="Where the data came from: a snapshot directory, a kube context, or 'git: <path>' (Git-only)"
    )
    reachable: bool = True
    error: str = ""
    git_only: bool = Field(
        default=False, description="No cluster access by design: versions and values are read from Git (and Terraform)"
    )

    @property
    def kubernetes_known(self) -> bool:
        return bool(self.kubernetes_version) and self.kubernetes_version != "0.0.0"

    @property
    def kubernetes_minor(self) -> str:
        """Major.minor of the server version, e.g. '1.29' ('unknown' when no version is known)."""
        if not self.kubernetes_known:
            return "unknown"
        major, minor, *_ = self.kubernetes_version.split(".")
        return f"{major}.{minor}"


class Subject(Frozen):
    """What a finding is about, as structured fields (empty ones are omitted from output)."""

    cluster: str = ""
    tool: str = ""
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    file: str = ""
    line: int = 0
    helm_release: str = ""
    helm_value_path: str = ""
    metric: str = ""
    version: str = ""

    def key(self) -> tuple:
        """Identity used to merge findings about the same thing."""
        return tuple(self.model_dump().values())

    def describe(self) -> str:
        """Short human form, e.g. 'ravan karpenter.sh/v1alpha5 Provisioner default'."""
        parts = [self.cluster, self.api_version, self.kind]
        if self.namespace:
            parts.append(f"{self.namespace}/{self.name}" if self.name else self.namespace)
        elif self.name:
            parts.append(self.name)
        if self.helm_release:
            parts.append(f"release {self.helm_release}")
        if self.helm_value_path:
            parts.append(f"value {self.helm_value_path}")
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.metric:
            parts.append(f"metric {self.metric}")
        if self.version and not self.kind:
            parts.append(self.version)
        return " ".join(p for p in parts if p)


class Evidence(Frozen):
    """One piece of proof: which tool looked where, and the exact text it saw."""

    source: EvidenceSource
    ref: str = Field(description="Where: object path, file:line, release name, PromQL query, knowledge entry")
    excerpt: str = Field(description="The literal text or value observed, short")

    @field_validator("excerpt")
    @classmethod
    def _bounded(cls, value: str) -> str:
        return value if len(value) <= 600 else value[:597] + "..."


class Finding(Frozen):
    """A claim about the fleet, backed by evidence. No evidence, no finding."""

    code: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)+$", description="Stable code, e.g. KARP-V1ALPHA5-PROVISIONER")
    severity: Severity
    category: Category
    title: str
    detail: str = ""
    subject: Subject = Field(default_factory=Subject)
    evidence: list[Evidence] = Field(min_length=1)
    remediation: str = ""
    agent: AgentName
    sources: list[str] = Field(default_factory=list, description="Documentation the rule comes from")
    uncertain: bool = Field(default=False, description="The underlying fact is unverified or sources disagree")
    origin: Literal["playbook", "llm"] = "playbook"

    def key(self) -> tuple:
        """Two findings with the same code and subject are the same finding."""
        return (self.code, self.subject.key())


class Hop(Frozen):
    """One step of an upgrade path and why it exists."""

    from_version: str
    to_version: str
    kind: HopKind
    reason: str
    kubernetes_range: str = Field(default="", description="Kubernetes versions the to_version supports, e.g. 1.23-1.28")
    unsupported_on: list[str] = Field(
        default_factory=list, description="Clusters whose Kubernetes is outside that range"
    )
    notes: list[str] = Field(
        default_factory=list, description="Breaking changes and procedure notes crossed by this hop"
    )
    rollback: str = Field(default="", description="How far back this hop can be rolled back, and how")
    uncertain: bool = False


class UpgradePath(Frozen):
    """Current -> target as the shortest sequence of hops obeying every rule, for some clusters."""

    tool: ToolName
    clusters: list[str]
    from_version: str
    to_version: str
    hops: list[Hop]
    feasible: bool = True
    blockers: list[str] = Field(default_factory=list, description="What must change first when not feasible")


class ClusterVersion(Frozen):
    """The tool's current and target version on one cluster, and whether they fit its Kubernetes."""

    cluster: str
    environment: Environment
    kubernetes_version: str
    current_version: str = Field(description="Empty when the tool is not installed there")
    target_version: str = ""
    current_supported: bool | None = Field(default=None, description="None when unknown")
    current_kubernetes_range: str = ""
    target_supported: bool | None = None
    target_kubernetes_range: str = ""
    detected_from: list[Evidence] = Field(default_factory=list)


class RiskAssessment(Frozen):
    level: RiskLevel
    reasons: list[str]


class Strategy(Frozen):
    """How the rollout goes, with why; when the tree (or --strategy) asked for a strategy the tool cannot do,
    `asked` names it and the reasons say why the next safest was chosen."""

    kind: StrategyKind
    reasons: list[str]
    asked: StrategyKind | None = Field(default=None, description="What was asked for, when another was chosen")
    forced: bool = Field(default=False, description="Chosen with --strategy rather than by the decision tree")
    mechanism: str = Field(default="", description="How this tool does it, from the knowledge base")
    sources: list[str] = Field(default_factory=list, description="Where the mechanism (or its absence) is documented")


class Decision(Frozen):
    """The seed's decision tree outcome: track, risk, strategy, approval, each with its reasons."""

    track: Track
    track_reasons: list[str]
    risk: RiskAssessment
    strategy: Strategy
    approval_required: bool
    approval_reasons: list[str]
    testing: str = Field(description="What the risk level asks of testing, e.g. 'extended testing required'")


class Gate(Frozen):
    """A metric check that must hold before promotion. Inconclusive never counts as pass."""

    name: str
    description: str
    promql: str
    comparison: Comparison
    threshold: float = Field(description="Absolute bound, or allowed relative change when relative_to_baseline")
    relative_to_baseline: bool = False
    window: str = "10m"
    metric_names: list[str] = Field(default_factory=list)
    source: str = ""
    result: GateResult | None = None
    value: float | None = None
    baseline: float | None = None
    message: str = ""


EditPurpose = Literal[
    "crd-chart", "chart-version", "chart-source", "target-revision", "values", "image-tag", "api-version",
    "selector", "annotation", "review", "manual", "module-version", "module-input", "provider-version",
]
EditAction = Literal["set", "rename-key", "remove-key", "replace-key", "add-key", "replace-label", "manual"]
Owner = Literal["helm-cli", "terraform", "flux-helmrelease", "argocd-application", "flux-bootstrap", "manifests"]
OWNERS: tuple[Owner, ...] = (
    "helm-cli", "terraform", "flux-helmrelease", "argocd-application", "flux-bootstrap", "manifests",
)
GITOPS_OWNERS: tuple[Owner, ...] = ("flux-helmrelease", "argocd-application", "flux-bootstrap")
StepKind = Literal[
    "baseline", "pre-check", "backup", "change", "upgrade", "reconcile", "verify", "validate", "rollback", "restore",
    "note",
]


class ReconcileTarget(Frozen):
    """The cluster object that shows an edit was applied: a Flux HelmRelease, an Argo CD Application, or the
    Helm release itself (installs driven by Terraform), expected at the edit's new version."""

    via: Literal["flux-helmrelease", "argocd-application", "helm-release"]
    namespace: str = ""
    name: str


class FileEdit(Frozen):
    """One exact edit in the fleet's GitOps repo or Terraform files for one cluster and hop.

    The plan's Step.changes text and `upgradectl execute` both come from these (tools/gitops/changes.py renders
    and applies them). `action: manual` is a change upgradectl cannot make by itself (a kind migration,
    a value to review, a chart version the knowledge base does not know): execution pauses for it.
    """

    cluster: str
    from_version: str
    to_version: str
    purpose: EditPurpose
    action: EditAction
    file: str = Field(default="", description="Path relative to the fleet root; '' when the change is not in a file")
    line: int = Field(default=0, description="1-based line shown in the plan; 0 when not one line")
    format: Literal["yaml", "hcl", ""] = ""
    document: dict[str, str] = Field(
        default_factory=dict, description="YAML document by kind/name/namespace; empty: the file's first document"
    )
    values_root: list[str | int] = Field(
        default_factory=list, description="Where Helm values start in the document, e.g. [spec, values]"
    )
    path: list[str | int] = Field(
        default_factory=list, description="YAML key path (under values_root for values); HCL: [attribute name]"
    )
    new_path: list[str | int] = Field(default_factory=list, description="rename-key/replace-key: the new key path")
    value_type: Literal["string", "yaml"] = Field(
        default="string", description="How `new` is written: a string in the old token's quoting, or a YAML scalar "
        "as given (true, 443, native); add-key and replace-key always write a YAML scalar",
    )
    old: str = ""
    new: str = Field(default="", description="set/replace-label: the new text; add-key/replace-key: a YAML scalar "
                     "(`native`, `true`, `'10.0.0.0/8'`) written as the new key's value")
    shown: str = Field(default="", description="The edited line as it reads, '{value}' where the value goes")
    note: str = Field(default="", description="What to do or review, for changes upgradectl does not make itself")
    applies_to: list[str] = Field(default_factory=list, description="Clusters that apply this file")
    reconcile: ReconcileTarget | None = None


class Step(Frozen):
    """One ordered action in a rollout or rollback, with the exact command or file change.

    A step belongs to one cluster and hop when it has them: every version in its commands is that hop's (a
    rollback step's commands bring back `from_version`, the version the hop started from). `reads`/`writes`
    name the local files its commands read and write (paths relative to the directory the fleet file is in,
    where every command of the plan runs), so a checker can tell a file no earlier step wrote; `inputs` are the
    `<PLACEHOLDERS>` a person fills in, each with how to find its value.
    """

    title: str
    detail: str = ""
    kind: StepKind = "note"
    cluster: str = ""
    from_version: str = Field(default="", description="The hop's from-version (tool version)")
    to_version: str = Field(default="", description="The hop's to-version (tool version)")
    chart_from: str = Field(default="", description="Chart version of from_version as the repository spells it")
    chart_to: str = Field(default="", description="Chart version of to_version; '' when not known")
    owner: Owner | None = Field(default=None, description="Who changes the release: the procedure follows it")
    reads: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict, description="<PLACEHOLDER> -> how to find its value")
    source: str = Field(default="", description="Documentation the step comes from")
    commands: list[str] = Field(default_factory=list)
    changes: list[str] = Field(
        default_factory=list, description="Files to edit and how, e.g. 'path: chart 0.31.3 -> 0.32.10'"
    )
    edits: list[FileEdit] = Field(
        default_factory=list, description="The same changes, structured: what `upgradectl execute` applies"
    )
    phase: Phase = Field(default="", description="Where the step sits in its hop's strategy (canary, green...)")
    soak_minutes: int = Field(default=0, description="validate steps: how long to soak before judging the gates")


class StageOwners(Frozen):
    """Who approves a stage and who is told about it, with where each name came from."""

    approvers: list[str] = Field(default_factory=list, description="Who approves the stage (fleet file, CODEOWNERS)")
    informed: list[str] = Field(default_factory=list, description="Who is told at start, gate result and rollback")
    sources: list[str] = Field(
        default_factory=list, description="Where the names come from: 'fleet.yaml environments.prod.owners', "
        "'infra-flux/.github/CODEOWNERS:3 (clusters/ravan/karpenter.yaml)'",
    )


class UserCheck(Frozen):
    """A test the user declared for an environment in the fleet file: a command or an HTTP check that `execute`
    runs after every hop and treats as a gate (fail or timeout stops and reverts the hop)."""

    name: str
    kind: Literal["command", "http"]
    command: list[str] = Field(default_factory=list, description="argv, run from the fleet file's directory")
    url: str = ""
    expect_status: int = 200
    expect_body: str = Field(default="", description="Text the HTTP answer must contain")
    timeout_seconds: float = 300.0

    def describe(self) -> str:
        """One line for plans and messages."""
        if self.kind == "command":
            return f"{self.name}: `{' '.join(self.command)}` (timeout {self.timeout_seconds:g}s)"
        body = f", body contains {self.expect_body!r}" if self.expect_body else ""
        return f"{self.name}: GET {self.url} -> {self.expect_status}{body} (timeout {self.timeout_seconds:g}s)"


StageMessageKind = Literal["start", "gate", "rollback"]


class StageMessage(Frozen):
    """A chat message (Markdown) a stage sends: when it starts, when its gates are judged, when it rolls back."""

    kind: StageMessageKind
    markdown: str


class RolloutStage(Frozen):
    """Everything one environment needs: clusters, hops, steps, gates, rollback, approval, soak."""

    environment: Environment
    clusters: list[str]
    hops: list[str] = Field(default_factory=list, description="Hops applied in this stage, 'a -> b'")
    steps: list[Step]
    gates: list[Gate]
    rollback_steps: list[Step]
    approval_required: bool = False
    approval_reasons: list[str] = Field(default_factory=list)
    soak_minutes: int
    notes: list[str] = Field(default_factory=list)
    owners: StageOwners = Field(default_factory=StageOwners, description="Who approves the stage, who is told")
    tests: list[UserCheck] = Field(
        default_factory=list, description="The fleet file's tests for this environment: run after every hop, as gates"
    )
    messages: list[StageMessage] = Field(
        default_factory=list, description="Chat messages for the stage's start, gate result and rollback"
    )
    waves: list[list[str]] = Field(
        default_factory=list, description="Cluster groups in rollout order (a canary cluster first); [] = all at once"
    )


class Violation(Frozen):
    """One thing the plan verifier found wrong with a plan: which check, where (stage and step), and why."""

    check: Literal[
        "hop-version", "step-condition", "rollback-limit", "file-read", "upgradectl-command", "file-edit",
        "chart-values", "manifest-schema", "placeholder", "combined-rollout", "kubernetes-order",
    ]
    environment: str = ""
    step: str = Field(default="", description="Where: 'steps[4]' or 'rollback_steps[2]' and the step title")
    message: str


class PlanVerification(Frozen):
    """The plan verifier's verdict: every check it ran, and each violation (empty: the plan is consistent)."""

    checked: list[str] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    inconclusive: list[str] = Field(default_factory=list, description="Checks that could not run, and why")

    @property
    def ok(self) -> bool:
        return not self.violations


class TimelineEntry(Frozen):
    """One change set of the rollout on the calendar: when it starts, how long its change and soak take, and the
    maintenance window it is placed in."""

    key: str = Field(description="The change set as `upgradectl execute` names it: env/hop[/clusters][/phase]")
    environment: Environment
    clusters: list[str]
    hop: str = Field(description="'a -> b'")
    phase: Phase = ""
    disruptive: bool = Field(default=False, description="Needs a maintenance window where the environment has any")
    people: list[str] = Field(default_factory=list, description="What a person does before it starts (approval, "
                              "steps by hand, findings to accept)")
    start: datetime
    change_minutes: int = Field(description="From the commit (or the steps by hand) to reconciled")
    soak_minutes: int
    end: datetime
    window: str = Field(default="", description="The maintenance window its change is placed in")
    basis: str = Field(default="estimate", description="Where the durations come from: estimate, or observed")
    soak_reason: str = Field(default="", description="Why the soak is longer than the plan's: what an earlier "
                             "environment's run of the same hop observed (a borderline gate)")


class Timeline(Frozen):
    """The rollout on the calendar: every change set in order, each disruptive one inside a maintenance window of
    its environment when the fleet declares any, and the total."""

    start: datetime
    end: datetime
    total_minutes: int
    entries: list[TimelineEntry] = Field(default_factory=list)
    windows: dict[str, list[str]] = Field(default_factory=dict, description="Declared windows per environment")
    notes: list[str] = Field(default_factory=list, description="What could not be placed, sizing, assumptions")


class AgentTaskRecord(Frozen):
    """What one agent did for one seed task: what it checked and what it found."""

    stage: int
    task: str
    agent: AgentName
    mode: Literal["playbook", "llm"] = "playbook"
    checked: list[str]
    finding_codes: list[str] = Field(default_factory=list)
    duration_ms: int = 0
    error: str = ""


class KnowledgeInfo(Frozen):
    """How current the facts behind a plan are: the bundled knowledge date, any refreshed overlay, the age."""

    as_of: str = Field(default="", description="Date the bundled knowledge was last checked against upstream")
    overlay_refreshed_at: str = Field(default="", description="When `knowledge refresh` last added releases, if ever")
    overlay_path: str = ""
    effective_date: str = Field(default="", description="The newer of the two: how current the release facts are")
    age_days: int | None = Field(default=None, description="Days between effective_date and the plan's date")
    stale: bool = Field(default=False, description="Older than max_age_days (or undated): refresh before relying on it")
    max_age_days: int = 60
    warnings: list[str] = Field(default_factory=list)


class LLMInfo(Frozen):
    """Whether Claude ran on top of the playbooks, what it cost, and what went wrong (the run degrades)."""

    mode: Literal["off", "on"] = "off"
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float | None = Field(default=None, description="List-price estimate; None when the model is unpriced")
    prices_as_of: str = ""
    calls: int = 0
    findings_accepted: int = Field(default=0, description="Model findings whose evidence checked out")
    findings_dropped: int = Field(default=0, description="Model findings dropped (evidence not found, invalid)")
    degraded: bool = Field(default=False, description="The model failed: later tasks ran playbooks only")
    error: str = Field(default="", description="Why the model failed or a task's loop ended early")


AdvisorySeverity = Literal["critical", "high", "medium", "low", "unknown"]


class Advisory(Frozen):
    """One vulnerability from OSV (records that alias each other merged), as it bears on this upgrade."""

    id: str = Field(description="The preferred id: GHSA-..., else the first id OSV returned")
    aliases: list[str] = Field(default_factory=list, description="Other ids of the same vulnerability (CVE, GO-...)")
    summary: str = ""
    severity: AdvisorySeverity = "unknown"
    severity_source: str = Field(default="", description="Where the severity comes from (record field, CVSS vector)")
    packages: list[str] = Field(default_factory=list, description="'Go github.com/argoproj/argo-cd/v2'")
    fixed: list[str] = Field(default_factory=list, description="Versions that fix it, per the records' ranges")
    affects: list[str] = Field(default_factory=list, description="Which of the plan's versions it affects")
    links: list[str] = Field(default_factory=list)
    published: str = ""
    modified: str = ""

    @property
    def serious(self) -> bool:
        """High, critical, or unknown (an unrated advisory cannot be shown to be less than high)."""
        return self.severity in ("critical", "high", "unknown")


class AdvisoryReport(Frozen):
    """What OSV says about the running and target versions, and what the security target fixes."""

    status: Literal["checked", "cached", "not-checked"]
    source: str = Field(default="", description="The OSV API URL, or the cache file a snapshot came from")
    fetched_at: str = Field(default="", description="When the answers were fetched (a cached snapshot's date)")
    reason: str = Field(default="", description="Why it was not checked, or what the cache stands in for")
    packages: list[str] = Field(default_factory=list, description="The packages queried, with their versions")
    running: dict[str, list[str]] = Field(default_factory=dict, description="Running version -> advisory ids")
    target: str = ""
    at_target: list[str] = Field(default_factory=list, description="Advisory ids that still affect the target")
    fixed_by_target: list[str] = Field(default_factory=list, description="Ids of the running versions the target fixes")
    minimal_target: str = Field(default="", description="Smallest version fixing every high/critical advisory")
    minimal_target_reason: str = ""
    patch_suffices: bool | None = Field(
        default=None, description="Whether a patch of the running line fixes every high/critical advisory"
    )
    patch_note: str = ""
    advisories: list[Advisory] = Field(default_factory=list)

    def advisory(self, advisory_id: str) -> Advisory | None:
        return next((a for a in self.advisories if a.id == advisory_id), None)


class FeatureGained(Frozen):
    """A user-facing improvement of a line the path enters, as its upstream notes announce it."""

    line: str
    title: str
    tags: list[str] = Field(default_factory=list, description="cost, performance, security, reliability, ...")
    source: str
    matches_trigger: bool = Field(default=False, description="Tied to what the request asked for")


class ReturnOnEffort(Frozen):
    """The cost track's payback: projected monthly savings against the effort the plan asks for."""

    monthly_savings: float
    savings_by_cluster: dict[str, float] = Field(default_factory=dict)
    hops: int = Field(description="Cluster hops the plan makes (cluster x hop)")
    hands_on_steps: int = Field(description="Steps a person runs or checks by hand")
    soak_hours: float
    approvals: int
    effort_hours: float
    effort_cost: float
    payback_months: float | None = Field(description="effort_cost / monthly_savings; None without savings")
    assumptions: list[str] = Field(default_factory=list)


class Plan(Frozen):
    """The whole result of `upgradectl plan`: rendered to Markdown and JSON."""

    schema_version: Literal[1] = 1
    generated_at: datetime
    upgradectl_version: str
    request: UpgradeRequest
    fleet: str
    clusters: list[ClusterInfo]
    versions: list[ClusterVersion]
    target_version: str
    target_reason: str
    paths: list[UpgradePath]
    findings: list[Finding]
    decision: Decision
    rollout: list[RolloutStage]
    task_log: list[AgentTaskRecord]
    summary: str
    narrative: dict[str, str] = Field(default_factory=dict, description="Per-stage narrative, LLM mode only")
    incomplete: bool = False
    llm: LLMInfo = Field(default_factory=LLMInfo)
    cost: list[CostReport] = Field(
        default_factory=list, description="Cost and bin-packing analysis per cluster (tools that place nodes)"
    )
    verification: PlanVerification | None = Field(
        default=None, description="The plan verifier's verdict (graph/verify.py); None when it did not run"
    )
    knowledge: KnowledgeInfo = Field(
        default_factory=KnowledgeInfo, description="The knowledge date this plan rests on, its age and warnings"
    )
    advisories: AdvisoryReport | None = Field(
        default=None, description="Vulnerabilities from OSV for the running and target versions; None: not asked"
    )
    features: list[FeatureGained] = Field(default_factory=list, description="What the path brings, per line")
    return_on_effort: ReturnOnEffort | None = Field(
        default=None, description="Cost track: projected savings against the plan's effort, as a payback"
    )
    timeline: Timeline | None = Field(
        default=None, description="The rollout on the calendar (graph/timeline.py); None for plans made before it"
    )

    @model_validator(mode="after")
    def _rollout_in_order(self) -> Plan:
        order = [ENVIRONMENT_ORDER.index(s.environment) for s in self.rollout]
        if order != sorted(order):
            raise ValueError("rollout stages must be ordered dev -> staging -> prod")
        return self

    def findings_at_or_above(self, severity: Severity) -> list[Finding]:
        limit = SEVERITY_ORDER.index(severity)
        return [f for f in self.findings if SEVERITY_ORDER.index(f.severity) <= limit]


class ToolOrder(Frozen):
    """One tool's place in a combined rollout, and the constraints (from the knowledge base) that put it there."""

    tool: ToolName
    reasons: list[str]
    after_control_plane: bool = Field(default=False, description="Kubernetes plans: moves only after the control plane")


class ControlPlaneHop(Frozen):
    """One Kubernetes minor a cluster's control plane moves, and the tool moves that must come before it."""

    cluster: str
    provider: Provider
    from_version: str = Field(description="Kubernetes minor before the hop, e.g. 1.29")
    to_version: str = Field(description="Kubernetes minor after the hop, e.g. 1.30")


class ToolBlocker(Frozen):
    """A tool whose running version does not support a Kubernetes version the upgrade passes through."""

    cluster: str
    tool: ToolName
    current_version: str
    current_kubernetes_range: str
    needed_version: str = Field(description="The release to reach before the control plane moves; '' when none fits")
    needed_kubernetes_range: str = ""
    when: Literal["before", "after"] = Field(description="before the control plane moves, or only after it")
    reason: str
    source: str = ""


class KubernetesReadiness(Frozen):
    """A Kubernetes upgrade per cluster: control-plane hops one minor at a time and the tools that block them."""

    target: str = Field(description="Target Kubernetes minor, e.g. 1.31")
    hops: list[ControlPlaneHop]
    blockers: list[ToolBlocker]
    findings: list[Finding] = Field(default_factory=list, description="API removals and manifests that would fail")
    schema_notes: list[str] = Field(default_factory=list, description="Objects the target-schema check could not "
                                    "vouch for: custom resources not validated, objects already invalid today")


class CombinedPlan(Frozen):
    """Several tools (or a Kubernetes upgrade and the tools it needs first) in one plan: a full single-tool plan per
    section and one rollout whose per-environment order obeys the cross-tool constraints (`order`)."""

    schema_version: Literal[1] = 1
    kind: Literal["multi-tool", "kubernetes"]
    generated_at: datetime
    upgradectl_version: str
    request: str
    fleet: str
    order: list[ToolOrder] = Field(description="Tools in rollout order, with the reasons for that order")
    sections: list[Plan] = Field(description="One complete plan per tool, as `plan --tool T` would give it")
    kubernetes: KubernetesReadiness | None = None
    decision: Decision = Field(description="The highest risk among the sections (and the Kubernetes upgrade)")
    rollout: list[RolloutStage]
    summary: str
    verification: PlanVerification | None = None

    @property
    def findings(self) -> list[Finding]:
        extra = self.kubernetes.findings if self.kubernetes else []
        return [f for section in self.sections for f in section.findings] + list(extra)
