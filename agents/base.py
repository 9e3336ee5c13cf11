"""What every specialist shares: agent specs, the task input, task results and finding builders.

An agent is data (a spec file in agents/specs/ with name, description, tools and prompt template)
plus deterministic playbooks, one per seed task it owns. A playbook reads the fleet only through
the shared tools and returns findings that each carry their evidence, plus the list of what it
checked, so an agent that finds nothing still says what it looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import yaml

from upgradectl.cost_models import CostReport
from upgradectl.models import (
    AgentName,
    Category,
    ClusterVersion,
    Decision,
    Evidence,
    Finding,
    Gate,
    RolloutStage,
    Severity,
    Subject,
    UpgradePath,
    UpgradeRequest,
)
from upgradectl.tools.analysis.detectors import ScanInput
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet, FleetCluster
from upgradectl.tools.gitops.desired import Declaration, DesiredState, desired_state
from upgradectl.tools.gitops.kustomize import read_kustomizations
from upgradectl.tools.gitops.manifests import (
    Manifest,
    MetricUse,
    ParseProblem,
    cluster_files,
    dashboard_metric_uses,
    load_manifests,
    rule_metric_uses,
)
from upgradectl.tools.gitops.values import ComposedValues, RepoFiles
from upgradectl.tools.helm import HelmRelease
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.redact import redact
from upgradectl.tools.terraform import TerraformRoot, read_root


@dataclass(frozen=True)
class AgentSpec:
    """An agent's identity, declared in agents/specs/<name>.md front matter."""

    name: AgentName
    description: str
    tools: list[str]
    prompt: str  # template path under prompts/
    body: str  # the spec's Markdown: the agent's remit in words


def load_spec(name: str) -> AgentSpec:
    text = resources.files("upgradectl.agents").joinpath("specs", f"{name}.md").read_text()
    _, front, body = text.split("---", 2)
    meta = yaml.safe_load(front)
    return AgentSpec(meta["name"], meta["description"], list(meta["tools"]), meta["prompt"], body.strip())


class FleetView:
    """Per-run, read-once views of the fleet's GitOps repo and Terraform (shared by all agents)."""

    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self._desired: dict[str, DesiredState] = {}

    @cached_property
    def gitops(self) -> tuple[list[Manifest], list[ParseProblem]]:
        root = self.fleet.gitops_root
        return load_manifests(root) if root and root.is_dir() else ([], [])

    @property
    def manifests(self) -> list[Manifest]:
        return self.gitops[0]

    @cached_property
    def manifest_clusters(self) -> dict[str, set[str]]:
        root = self.fleet.gitops_root
        if not root or not root.is_dir():
            return {}
        entries = {name: c.entry.gitops_path for name, c in self.fleet.clusters.items()}
        return cluster_files(root, entries, self.manifests)

    @cached_property
    def metric_uses(self) -> list[MetricUse]:
        root = self.fleet.gitops_root
        if not root or not root.is_dir():
            return []
        return dashboard_metric_uses(root) + rule_metric_uses(self.manifests, root)

    @cached_property
    def terraform(self) -> list[TerraformRoot]:
        return [read_root(path, self.fleet.root) for path in self.fleet.terraform_roots if path.is_dir()]

    def manifests_for(self, clusters: set[str]) -> list[Manifest]:
        """Manifests that at least one of these clusters applies (unreferenced files are not applied)."""
        return [m for m in self.manifests if self.manifest_clusters.get(m.file, set()) & clusters]

    @cached_property
    def repo_files(self) -> RepoFiles | None:
        """The GitOps repo's manifests, kustomizations and values files, parsed once (None without a repo)."""
        root = self.fleet.gitops_root
        if not root or not root.is_dir():
            return None
        return RepoFiles(root, self.manifests, read_kustomizations(root))

    def desired(self, knowledge: ToolKnowledge) -> DesiredState:
        """Where Git (and Terraform) declares the tool's version, with the values each release gets (cached)."""
        if knowledge.tool not in self._desired:
            self._desired[knowledge.tool] = desired_state(
                knowledge, self.repo_files, self.terraform, list(self.fleet.clusters)
            )
        return self._desired[knowledge.tool]

    def declarations_for(self, knowledge: ToolKnowledge, cluster: str) -> list[Declaration]:
        """The tool's declarations one cluster applies, strongest first."""
        return self.desired(knowledge).for_cluster(cluster, self.manifest_clusters)

    def desired_values(self, knowledge: ToolKnowledge, clusters: set[str]) -> dict[str, list[ComposedValues]]:
        """cluster -> the values of each of the tool's releases Git declares for it."""
        found: dict[str, list[ComposedValues]] = {}
        for cluster in sorted(clusters):
            for declaration in self.declarations_for(knowledge, cluster):
                mine = found.setdefault(cluster, [])
                if declaration.values is not None and all(v is not declaration.values for v in mine):
                    mine.append(declaration.values)
        return found



@dataclass
class TaskInput:
    """What a playbook gets: the request, the fleet, the knowledge, and what earlier stages found."""

    request: UpgradeRequest
    fleet: Fleet
    view: FleetView
    knowledge: ToolKnowledge
    scope: list[FleetCluster]  # reachable clusters running the tool, in the requested set
    releases: dict[str, HelmRelease]  # cluster -> the tool's Helm release
    versions: list[ClusterVersion]
    target: str
    paths: list[UpgradePath]
    findings: list[Finding] = field(default_factory=list)
    decision: Decision | None = None
    hop_gates: dict[str, list[Gate]] = field(default_factory=dict)  # stage 4's gates per hop "from->to"
    fleet_ref: str = "demo"  # how the user named the fleet (--fleet): upgradectl's own commands repeat it
    charts: ChartStore | None = None  # target charts for the values check (None: the check is off)

    @property
    def scope_names(self) -> set[str]:
        return {c.info.name for c in self.scope}

    def scan_for(self, clusters: set[str]) -> ScanInput:
        return ScanInput(
            clusters={c.info.name: c.source for c in self.scope if c.info.name in clusters and c.source},
            releases={k: v for k, v in self.releases.items() if k in clusters},
            manifests=self.view.manifests_for(clusters),
            manifest_clusters=self.view.manifest_clusters,
            gitops_root=self.fleet.gitops_root,
            # dashboards and alert rules watch every cluster's metrics wherever they are deployed
            metric_uses=self.view.metric_uses,
            # Git's values for the clusters whose deployed release cannot be read (Git-only clusters)
            desired_values=self.view.desired_values(self.knowledge, clusters - set(self.releases)),
        )

    def argocd_destinations(self, clusters: set[str] | None = None) -> set[str]:
        """Clusters the Argo CD instances of these clusters (default: the scope) deploy to: their Applications'
        destinations, from the manifests those clusters apply."""
        names = set()
        for m in self.view.manifests_for(self.scope_names if clusters is None else clusters):
            if m.kind == "Application" and m.api_version.startswith("argoproj.io/"):
                names.add(str(((m.doc.get("spec") or {}).get("destination") or {}).get("name", "")))
        return names & set(self.fleet.clusters)

    def affected_clusters(self, clusters: set[str] | None = None) -> set[str]:
        """Clusters whose applications the upgrade reaches: these (default: the scope) and where their Argo CD
        deploys."""
        base = self.scope_names if clusters is None else clusters
        return base | self.argocd_destinations(base) if self.knowledge.deploys_applications else set(base)

    def prerelease_of(self, clusters: set[str]) -> dict[str, list[str]]:
        """cluster -> its pre-release namespaces, for the clusters the upgrade of these clusters reaches."""
        found = {}
        for name in sorted(self.affected_clusters(clusters)):
            namespaces = self.fleet.clusters[name].entry.prerelease_namespaces
            if namespaces:
                found[name] = list(namespaces)
        return found

    def path_for(self, cluster: str) -> UpgradePath | None:
        return next((p for p in self.paths if cluster in p.clusters), None)

    def cluster(self, name: str) -> FleetCluster:
        return self.fleet.clusters[name]


@dataclass
class TaskResult:
    """A playbook's findings, what it checked, and the typed outputs later stages and the plan read."""

    findings: list[Finding]
    checked: list[str]
    cost: list[CostReport] = field(default_factory=list)  # stage 1 cost-opportunities, shown in the plan
    hop_gates: dict[str, list[Gate]] = field(default_factory=dict)  # stage 4 monitoring-preparation, per hop
    rollout: list[RolloutStage] = field(default_factory=list)  # stage 5, the environment's rollout stage


Playbook = Callable[[TaskInput], TaskResult]


@dataclass(frozen=True)
class TaskSpec:
    """One seed task: which stage, which agent, what the seed asks, and the playbook that does it."""

    id: str
    stage: int
    agent: AgentName
    title: str
    asks: tuple[str, ...]
    playbook: Playbook


PROJECTED_SOURCE = "projected:"  # ClusterInfo.source of a cluster as a plan's earlier moves leave it


def kubernetes_evidence(cluster: FleetCluster) -> Evidence:
    """Where a cluster's Kubernetes version comes from: its API server's /version, for a Git-only cluster the
    version the fleet file or --kubernetes gives, or for a projected cluster the plan's control-plane hops."""
    info = cluster.info
    if info.source.startswith(PROJECTED_SOURCE):
        return Evidence(source="plan", ref=f"{info.name}: {info.source}",
                        excerpt=f"kubernetes {info.kubernetes_version}")
    if info.git_only:
        where = f"{info.name}: Kubernetes version of this Git-only cluster (fleet kubernetes_version or --kubernetes)"
        return Evidence(source="gitops", ref=where, excerpt=f"kubernetes {info.kubernetes_version}")
    return Evidence(source="cluster", ref=f"{info.name}: /version", excerpt=f"gitVersion v{info.kubernetes_version}")


def knowledge_evidence(knowledge: ToolKnowledge, where: str, excerpt: str, source: str = "") -> Evidence:
    """Evidence that cites the knowledge base entry (and its upstream source)."""
    ref = f"tools/knowledge/data/{knowledge.tool}.yaml {where}"
    if source:
        ref += f" (source: {source})"
    return Evidence(source="knowledge", ref=ref, excerpt=excerpt)


def make_finding(
    *,
    code: str,
    severity: Severity,
    category: Category,
    title: str,
    agent: AgentName,
    evidence: list[Evidence],
    subject: Subject | None = None,
    detail: str = "",
    remediation: str = "",
    sources: list[str] | None = None,
    uncertain: bool = False,
) -> Finding:
    """A finding, its text and evidence excerpts redacted (they quote fleet data, and plans, logs and prompts
    carry them)."""
    return Finding(
        code=code,
        severity=severity,
        category=category,
        title=redact(title),
        detail=redact(detail),
        subject=subject or Subject(),
        evidence=[e.model_copy(update={"excerpt": redact(e.excerpt)}) if e.excerpt else e for e in evidence],
        remediation=remediation,
        agent=agent,
        sources=sources or [],
        uncertain=uncertain,
    )


def relpath(path: Path, base: Path) -> str:
    """`path` relative to `base` when it is under it, else as given (for messages and commands)."""
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
