"""incident-responder: whether each cluster is in an incident before anything starts (firing alerts, nodes,
failing pods, Flux and Argo CD delivery, recent warnings), the way back (rollback limits crossed, backups), and
the rollout itself: one stage per environment with a health pre-flight, exact steps, file changes, gates,
rollback steps, soak and approval. A cluster in an incident is blocked: its stage says so and
`upgradectl execute` re-reads its health before every hop and will not start there."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, make_finding, relpath
from upgradectl.agents.communication import with_people
from upgradectl.agents.ownership import release_owner
from upgradectl.agents.pins import VersionPin, gitops_pins
from upgradectl.agents.procedures import HopFacts
from upgradectl.agents.strategies import cluster_facts, hop_rollout, waves
from upgradectl.agents.terraform_auditor import init_flags, module_edits, terraform_pins
from upgradectl.agents.value_migrations import MigrationPlan, migration_edits, plan_migration
from upgradectl.models import (
    EditPurpose,
    Environment,
    Evidence,
    FileEdit,
    Finding,
    Gate,
    ReconcileTarget,
    RiskLevel,
    RolloutStage,
    Step,
    Subject,
    UpgradePath,
)
from upgradectl.tools.cluster.health import ClusterHealth, HealthSignal, fleet_cluster_health
from upgradectl.tools.gitops.changes import ROOT_WIDE_PURPOSES, EditError, describe, later_clusters
from upgradectl.tools.gitops.yaml_edit import locate
from upgradectl.tools.knowledge.loader import BreakingChange
from upgradectl.tools.terraform import resolve_values_file
from upgradectl.tools.versions import Version

AGENT = "incident-responder"
INCIDENT_CODE = "HEALTH-INCIDENT-IN-PROGRESS"
DEGRADED_CODE = "HEALTH-DEGRADED-BASELINE"
SHOWN_SIGNALS = 12
BASE_SOAK_MINUTES: dict[Environment, int] = {"dev": 30, "staging": 120, "prod": 240}
RISK_SOAK_FACTOR: dict[RiskLevel, float] = {"low": 0.5, "medium": 1.0, "high": 1.5, "critical": 2.0}


def _signal_evidence(signals: list[HealthSignal]) -> list[Evidence]:
    shown = [Evidence(source="metrics" if s.kind == "alert" else "cluster", ref=s.ref, excerpt=s.excerpt)
             for s in signals[:SHOWN_SIGNALS]]  # fmt: skip
    if len(signals) > SHOWN_SIGNALS:
        rest = signals[SHOWN_SIGNALS:]
        shown.append(Evidence(source="cluster", ref=f"{len(rest)} more", excerpt="; ".join(s.ref for s in rest)))
    return shown


def incident_finding(health: ClusterHealth, fleet_arg: str = "--fleet demo") -> Finding:
    """The blocking finding for a cluster in an incident, every blocking signal as evidence."""
    cluster = health.cluster
    noted = [s for s in health.noted if s.kind in ("alert", "event")]  # the alerts and warnings that go with it
    return make_finding(
        code=INCIDENT_CODE,
        severity="critical",
        category="health",
        title=f"{cluster} is in an incident ({health.summary()}): no upgrade step starts there until it is resolved",
        agent=AGENT,
        subject=Subject(cluster=cluster),
        evidence=_signal_evidence([*health.incident, *noted]),
        detail="Read like `flux check --pre`, before anything changes: firing critical alerts, NotReady nodes, "
        "crash-looping pods, failing Flux objects and degraded Argo CD applications outside the pre-release "
        "namespaces. Upgrading now would mix the upgrade's effects with the incident's and hide both. This cluster "
        "stays in the plan, blocked; the other clusters are planned as usual.",
        remediation=f"Resolve the incident first, then check again with `upgradectl health {fleet_arg} --clusters "
        f"{cluster}` "
        "(exit 0 when clear). `upgradectl execute` reads the cluster's health before every hop and refuses to start "
        "one while it is in an incident.",
    )


def fleet_health(task: TaskInput) -> TaskResult:
    """Stage 1: is any cluster in scope in an incident right now? Blocked clusters get a critical finding."""
    findings: list[Finding] = []
    checked: list[str] = []
    for c in task.scope:
        health = fleet_cluster_health(task.fleet, c.info.name)
        checked.extend(health.read)
        checked.extend(f"not checked: {p}" for p in health.problems)
        if health.incident:
            findings.append(incident_finding(health, health_fleet_arg(task)[0]))
            checked.append(f"{c.info.name}: BLOCKED: {health.summary()}")
            continue
        noted = [s for s in health.noted if s.gating]
        checked.append(f"{c.info.name}: no incident" + (f"; {len(noted)} existing problem(s) noted" if noted else ""))
        if noted:
            findings.append(
                make_finding(
                    code=DEGRADED_CODE,
                    severity="low",
                    category="health",
                    title=f"{c.info.name}: {len(noted)} problem(s) already present before the upgrade (not an "
                    "incident); only new ones after a hop fail its health gate",
                    agent=AGENT,
                    subject=Subject(cluster=c.info.name),
                    evidence=_signal_evidence(noted),
                    detail="Warning-level alerts, pods not Ready outside the system namespaces, Flux objects still "
                    "reconciling and recent warning events are the baseline each hop is compared with.",
                    remediation="Fix them before the rollout if you can: a problem that exists on both sides of a hop "
                    "cannot be told apart from one the hop caused.",
                )
            )
    return TaskResult(findings, checked)


def health_gate_spec(clusters: list[str], prerelease: dict[str, list[str]] | None = None,
                     fleet_arg: str = "--fleet demo") -> Gate:
    """The health gate of a stage as the plan shows it (execute judges it from the clusters, not from PromQL)."""
    if prerelease:
        where = "; ".join(f"{c}: {', '.join(ns)}" for c, ns in prerelease.items())
        return Gate(name="prerelease-workloads-health", promql="", comparison="==", threshold=0.0,
                    source=f"upgradectl health {fleet_arg} --clusters {','.join(prerelease)} --baseline FILE",
                    description=f"No new failure in the pre-release namespaces ({where}) since the pre-flight: crash "
                    "loops, unready pods, degraded applications, warning alerts, incident-grade events")  # fmt: skip
    return Gate(name="cluster-health", promql="", comparison="==", threshold=0.0,
                source=f"upgradectl health {fleet_arg} --clusters {','.join(clusters)} --baseline FILE",
                description="Nothing new since the pre-flight: no critical alert, NotReady node, crash-looping pod, "
                "failing Flux object or degraded Argo CD application, no incident-grade warning event")  # fmt: skip


def health_fleet_arg(task: TaskInput) -> tuple[str, dict[str, str]]:
    """`--fleet X` for `upgradectl health` (the plan's fleet; a fleet file to write when it was one kube context)."""
    if task.fleet_ref.startswith("context "):
        placeholder = "<fleet.yaml>"
        return f"--fleet {placeholder}", {placeholder: f"a fleet file naming this cluster ({task.fleet_ref}) and its "
                                                       "metrics_url, for the alerts"}
    return f"--fleet {shlex.quote(task.fleet_ref)}", {}


def blocked_clusters(findings: list[Finding]) -> dict[str, Finding]:
    """Clusters the health check blocked, with their incident finding."""
    return {f.subject.cluster: f for f in findings if f.code == INCIDENT_CODE}


def rollback_design(task: TaskInput) -> TaskResult:
    """Stage 3: every rollback limit the paths cross, as findings the plan must respect."""
    k = task.knowledge
    findings: list[Finding] = []
    checked = []
    for path in task.paths:
        for hop in path.hops:
            limits = k.rollback_limits_crossed(hop.from_version, hop.to_version)
            checked.append(f"{hop.from_version} -> {hop.to_version}: {len(limits)} rollback limit(s)")
            for limit in limits:
                bound = (
                    f"no rollback below {limit.version} once crossed"
                    if limit.irreversible
                    else f"rollback only to {limit.rollback_to_min} or later"
                    if limit.rollback_to_min
                    else "rollback constrained"
                )
                findings.append(
                    make_finding(
                        code=f"{k.prefix}-ROLLBACK-LIMIT",
                        severity="high" if limit.irreversible else "medium",
                        category="rollback",
                        title=f"{k.display_name} {limit.version}: {bound} ({', '.join(path.clusters)})",
                        agent=AGENT,
                        subject=Subject(tool=k.tool, version=limit.version, cluster=",".join(path.clusters)),
                        evidence=[
                            knowledge_evidence(k, f"rollback_limits[{limit.version}]", limit.description, limit.source)
                        ],
                        detail=f"{limit.description} Crossed by hop {hop.from_version} -> {hop.to_version}.",
                        remediation=(
                            "Take a backup/snapshot before this hop and treat it as one-way: promote only "
                            "after its gates pass."
                            if limit.irreversible
                            else f"Keep the rollback target at {limit.rollback_to_min or hop.from_version} or later "
                            "and roll CRDs back with the controller."
                        ),
                        sources=[limit.source],
                        uncertain=limit.uncertain,
                    )
                )
    return TaskResult(_unique(findings), checked)


def _unique(findings: list[Finding]) -> list[Finding]:
    merged: dict[tuple, Finding] = {}
    for f in findings:
        merged.setdefault(f.key(), f)
    return list(merged.values())


def _pin_edit(task: TaskInput, pin: VersionPin, a: str, b: str, purpose: EditPurpose = "chart-version") -> FileEdit:
    """The edit of one version pin (a Terraform or GitOps line) for the hop a -> b. The line is shown as it
    will read after the previous hops (the file today holds the path's starting version)."""
    k = task.knowledge
    if pin.pin != "chart":
        return _own_version_edit(task, pin, a, b)
    declared = re.sub(r"\s+#.*$", "", re.split(r"[:=]", pin.text, maxsplit=1)[-1]).strip().strip('"' + "'")
    path_of = task.path_for(pin.cluster)
    before = k.chart_version_for(a)
    first_hop = path_of is None or path_of.from_version == a  # the file holds what is pinned today
    old = declared if first_hop or not before else k.chart.spell(before)
    shown = pin.text.replace(declared, "{value}", 1) if declared else pin.text + " {value}"
    if purpose == "chart-version" and pin.kind.startswith("argocd"):
        purpose = "target-revision"
    chart = k.chart_version_for(b)
    hcl = pin.file.endswith((".tf", ".tfvars"))
    document: dict[str, str] = {}
    path: list[str | int] = []
    if hcl:
        path = [re.split(r"\s*=", pin.text, maxsplit=1)[0].strip()]
    else:
        document, path = _yaml_site(task, pin.file, pin.line)
    common = {"cluster": pin.cluster, "from_version": a, "to_version": b, "file": pin.file, "line": pin.line,
              "format": "hcl" if hcl else "yaml", "document": document, "path": path, "old": old, "shown": shown,
              "applies_to": _applies_to(task, pin.file, pin.cluster)}  # fmt: skip
    if not chart:
        return FileEdit(purpose=purpose, action="manual", note=_no_chart_note(k, b), **common)
    return FileEdit(
        purpose=purpose,
        action="set",
        new=k.chart.spell(chart),
        reconcile=_reconcile_target(task, pin, document),
        **common,
    )


def _own_version_edit(task: TaskInput, pin: VersionPin, a: str, b: str) -> FileEdit:
    """A pin of the tool's own version (an OCIRepository tag, a FluxInstance version, an image tag) set to
    the hop's version as Git spells it; a generated or bootstrap-only file is a change to make by hand."""
    spell = "v" if pin.declared.startswith("v") else ""
    start = task.path_for(pin.cluster)
    value = pin.value or pin.declared
    current = pin.declared if start is not None and a == start.from_version else f"{spell}{a}"
    old, new = value.replace(pin.declared, current, 1), value.replace(pin.declared, f"{spell}{b}", 1)
    shown = pin.text.replace(value, "{value}", 1) if value in pin.text else f"{pin.text} {{value}}"
    common = {"cluster": pin.cluster, "from_version": a, "to_version": b, "file": pin.file, "line": pin.line,
              "format": "yaml", "old": old, "shown": shown,
              "applies_to": _applies_to(task, pin.file, pin.cluster)}  # fmt: skip
    if pin.pin == "generated":
        note = (f"regenerate {pin.file} for {task.knowledge.display_name} {b}: flux install --version={spell}{b} "
                f"--export > {pin.file} (add the --components-extra it was generated with)")  # fmt: skip
        return FileEdit(purpose="chart-version", action="manual", note=note, **common)
    if pin.pin == "bootstrap":
        note = f"also set {spell}{b} here (applied by hand at bootstrap, not reconciled: a re-bootstrap installs it)"
        return FileEdit(purpose="manual", action="manual", note=note, **common)
    document, path = _yaml_site(task, pin.file, pin.line)
    return FileEdit(purpose="chart-version", action="set", new=new, document=document, path=path,
                    **{k: v for k, v in common.items() if k not in ("document", "path")})  # fmt: skip
def _no_chart_note(knowledge, version: str) -> str:
    """Why no chart version can be pinned for `version`, with the nearest chart the index table knows."""
    line = Version.parse(version).line
    table = knowledge.chart.chart_to_app.items()
    same_line = [(Version.parse(c), c, app) for c, app in table if Version.parse(app).line == line]
    if same_line:
        _, chart, app = max(same_line)
        return (
            f"no {knowledge.chart.name} chart in the knowledge base's index table ships {version}; the newest chart of "
            f"the {line} line is {chart} (ships {app}): pin that chart, or check `helm search repo "
            f"{knowledge.chart.name} --versions` for a newer one"
        )
    return (
        f"the {knowledge.chart.name} chart version that ships {version} is unknown (not in the knowledge base's chart "
        f"table): `helm search repo {knowledge.chart.name} --versions`"
    )


def _yaml_site(task: TaskInput, file: str, line: int) -> tuple[dict[str, str], list[str | int]]:
    """(document selector, key path) of the YAML value on file:line (file relative to the fleet root)."""
    path = task.fleet.root / file
    key = (str(path), line, path.stat().st_mtime_ns if path.is_file() else 0)
    if key not in _SITES:
        try:
            _SITES[key] = locate(path.read_text(), line, file)
        except (OSError, EditError):
            _SITES[key] = ({}, [])
    return _SITES[key]


_SITES: dict[tuple[str, int, int], tuple[dict[str, str], list[str | int]]] = {}


def _reconcile_target(task: TaskInput, pin: VersionPin, document: dict[str, str]) -> ReconcileTarget | None:
    """What the cluster shows once the pin is applied: the HelmRelease / Application holding it, or the
    Helm release itself for Terraform installs."""
    if pin.kind == "flux-helmrelease" and document.get("name"):
        return ReconcileTarget(via="flux-helmrelease", namespace=document.get("namespace", ""), name=document["name"])
    if pin.kind == "argocd-application" and document.get("name"):
        return ReconcileTarget(via="argocd-application", namespace=document.get("namespace", ""), name=document["name"])
    release = task.releases.get(pin.cluster)
    if release is not None:
        return ReconcileTarget(via="helm-release", namespace=release.namespace, name=release.name)
    return None


def _applies_to(task: TaskInput, file: str, cluster: str) -> list[str]:
    """Clusters that apply a file: from the GitOps tree for its files, the pin's own cluster otherwise."""
    root = task.fleet.gitops_root
    absolute = (task.fleet.root / file).resolve()
    if root is not None and absolute.is_relative_to(root):
        return sorted(task.view.manifest_clusters.get(str(absolute.relative_to(root)), {cluster}))
    return [cluster]


def _image_tag_pins(values: dict, a: str, path: str = "") -> list[tuple[str, str]]:
    """(dotted value path, value) where the value is the running version (an image tag pinned in the values)."""
    found = []
    for key, value in values.items():
        here = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict):
            found.extend(_image_tag_pins(value, a, here))
        elif isinstance(value, str) and value.lstrip("v") == a and key in ("tag", "version", "imageTag"):
            found.append((here, value))
    return found


@dataclass(frozen=True)
class ValuesSite:
    """Where a cluster's Helm values for the tool live: a values file, or a HelmRelease's spec.values."""

    file: str  # relative to the fleet root; or a description when no file holds them
    document: dict[str, str]
    root: list[str | int]
    editable: bool = True
    line: int = 0


def _git_value_site(task: TaskInput, cluster: str, key: str) -> ValuesSite | None:
    """Where Git defines one Helm value for a cluster, as its controller merges the values (the generator's
    source file for a kustomize-generated ConfigMap, spec.values, an Argo CD values file); None when Git
    declares no values for the tool there. A value the cluster has but Git does not define cannot be edited in
    Git: that site is not editable."""
    composed = task.view.desired_values(task.knowledge, {cluster}).get(cluster, [])
    if not composed or not key:
        return None
    for values in composed:
        origin = values.origin(key)
        if origin is not None:
            return ValuesSite(f"{_gitops_prefix(task)}{origin.site.file}", origin.site.selector, list(origin.site.root),
                              origin.site.editable, origin.line)  # fmt: skip
    where = f"{key}: not set in Git ({', '.join(v.release for v in composed)}); set outside Git (helm --set?)"
    return ValuesSite(where, {}, [], False)


def _values_site(task: TaskInput, cluster: str) -> ValuesSite:
    """Where the tool's Helm values for this cluster are kept (Terraform values file or GitOps HelmRelease)."""
    for root in task.view.terraform:
        for hr in root.helm_releases:
            if hr.chart not in task.knowledge.install_markers:
                continue
            for template in hr.values_files:
                path = resolve_values_file(root, template, {"cluster_name": cluster})
                if path.is_file():
                    return ValuesSite(str(path.resolve().relative_to(task.fleet.root)), {}, [])
    pins = gitops_pins(task.view, task.knowledge, {cluster})
    if pins:
        document, _ = _yaml_site(task, pins[0].file, pins[0].line)
        return ValuesSite(pins[0].file, document, ["spec", "values"], bool(document))
    release = task.releases.get(cluster)
    where = f"the values of Helm release {release.ref}" if release else "the release's Helm values"
    return ValuesSite(where, {}, [], False)


def _finding_edit(
    task: TaskInput, cluster: str, f: Finding, change: BreakingChange, a: str, b: str
) -> FileEdit | list[FileEdit]:
    """The file edit(s) one finding asks for, from what its detector saw (a value migration can need several)."""
    d = change.detector
    assert d is not None
    common: dict = {"cluster": cluster, "from_version": a, "to_version": b}
    git_site = _git_value_site(task, cluster, f.subject.helm_value_path) if d.kind == "helm_value" else None
    if git_site is not None:  # where Git defines the value (a generator's source file, spec.values, valueFiles)
        site = git_site
        common.update(file=site.file, line=site.line, format="yaml" if site.editable else "",
                      document=site.document, applies_to=_applies_to(task, site.file, cluster))  # fmt: skip
    elif f.subject.file:
        file = f"{_gitops_prefix(task)}{f.subject.file}"
        document = {k: v for k, v in (("kind", f.subject.kind), ("name", f.subject.name),
                                      ("namespace", f.subject.namespace)) if v}  # fmt: skip
        site = ValuesSite(file, document, ["spec", "values"] if f.subject.kind == "HelmRelease" else [])
        common.update(file=file, line=f.subject.line, format="yaml", document=document,
                      applies_to=_applies_to(task, file, cluster))  # fmt: skip
    else:
        site = _values_site(task, cluster)
        common.update(file=site.file, format="yaml" if site.editable else "", document=site.document,
                      applies_to=_applies_to(task, site.file, cluster) if site.editable else [cluster])  # fmt: skip
    manual = {"action": "manual"}
    if d.kind == "helm_value":
        old = f.subject.helm_value_path
        release = task.releases.get(cluster)
        migration = plan_migration(d, old, release.values) if release else None
        if migration is not None:
            common.update(values_root=site.root)
            return migration_edits(migration, common, site.editable)
        common.update(values_root=site.root, path=old.split("."))
        if old in d.renames:
            new = d.renames[old]
            action = ("rename-key" if new else "remove-key") if site.editable else "manual"
            return FileEdit(purpose="values", action=action, new_path=new.split(".") if new else [], **common)
        return FileEdit(purpose="review", note=change.title, **manual, **common)
    if d.kind == "label_selector_in_use":
        new = d.renames.get(d.label, "")
        return FileEdit(purpose="selector", action="replace-label" if new else "manual", old=d.label, new=new, **common)
    if d.kind == "annotation_in_use":
        new = d.renames.get(d.annotation, "")
        action = "replace-label" if new else "manual"
        return FileEdit(purpose="annotation", action=action, old=d.annotation, new=new, **common)
    if d.kind == "api_in_use":
        bare = bool(d.replacement) and " " not in d.replacement.strip()  # same kind, new apiVersion only
        return FileEdit(purpose="api-version", action="set" if bare else "manual", path=["apiVersion"],
                        old=d.api_version, new=d.replacement, **common)  # fmt: skip
    return FileEdit(purpose="review", note=change.title, **manual, **common)


def _gitops_prefix(task: TaskInput) -> str:
    """The GitOps repo's directory relative to the fleet root ('infra-flux/'), so every edit names a file
    the same way."""
    return task.fleet.gitops_prefix


def _crd_pins(task: TaskInput, cluster: str) -> list[VersionPin]:
    """Pins of the tool's CRD chart (e.g. karpenter-crd), edited before the controller's."""
    if not task.knowledge.chart.crd_chart:
        return []
    crd = {task.knowledge.chart.crd_chart.rsplit("/", 1)[-1]}
    pins = [*terraform_pins(task, crd), *gitops_pins(task.view, task.knowledge, {cluster}, crd)]
    return [p for p in pins if p.cluster == cluster]


def _file_edits(task: TaskInput, cluster: str, a: str, b: str, path: UpgradePath) -> list[FileEdit]:
    """Edits in files for one cluster and hop: the CRD chart first, what the crossed changes found in GitOps
    and Helm values (migrate before the hop), then the version pins and image tags."""
    k = task.knowledge
    edits = [_pin_edit(task, pin, a, b, "crd-chart") for pin in _crd_pins(task, cluster)]
    crossed = {c.id: c for c in k.changes_crossed(a, b, path.from_version) if c.detector}
    for f in task.findings:
        change = crossed.get(f.code)
        if change is None or cluster not in f.subject.cluster.split(","):
            continue
        if f.subject.file or f.subject.helm_value_path:  # things in files; live objects follow the files
            made = _finding_edit(task, cluster, f, change, a, b)
            edits.extend(made if isinstance(made, list) else [made])
    pins = [p for p in [*terraform_pins(task), *gitops_pins(task.view, k, {cluster})] if p.cluster == cluster]
    edits.extend(module_edits(task, cluster, a, b))  # modules the hop needs, with the pin they serve
    edits.extend(_pin_edit(task, pin, a, b) for pin in pins)
    release = task.releases.get(cluster)
    if release is not None:
        tags = _image_tag_pins(release.values, path.from_version)
    else:  # a Git-only cluster: the values Git declares
        composed = task.view.desired_values(k, {cluster}).get(cluster, [])
        tags = [tag for values in composed for tag in _image_tag_pins(values.values, path.from_version)]
    for value_path, value in tags:
        site = _git_value_site(task, cluster, value_path) or _values_site(task, cluster)
        if any(e.file == site.file and e.line == site.line and e.line for e in edits):
            continue  # that value is a version pin already edited above (a Flux distribution version)
        spell = "v" if value.startswith("v") else ""
        edits.append(
            FileEdit(cluster=cluster, from_version=a, to_version=b, purpose="image-tag",
                     action="set" if site.editable else "manual", file=site.file, line=site.line,
                     format="yaml" if site.editable else "", document=site.document, values_root=site.root,
                     path=value_path.split("."), old=f"{spell}{a}", new=f"{spell}{b}",
                     applies_to=_applies_to(task, site.file, cluster) if site.editable else [cluster])  # fmt: skip
        )
    if not pins:
        edits.append(
            FileEdit(cluster=cluster, from_version=a, to_version=b, purpose="manual", action="manual",
                     note=f"no version pin found in Terraform or GitOps for {cluster}: upgrade Helm release "
                     f"{release.ref} directly" if release else f"no version pin found in Terraform or GitOps for "
                     f"{cluster}: upgrade {k.display_name} with the steps below")  # fmt: skip
        )
    unique: dict[str, FileEdit] = {}
    for edit in edits:
        unique.setdefault(describe(edit), edit)
    return list(unique.values())


def soak_minutes(env: Environment, risk: RiskLevel, fast_track: bool) -> int:
    minutes = BASE_SOAK_MINUTES[env] * RISK_SOAK_FACTOR[risk]
    if fast_track:
        minutes *= 0.5
    return max(15, int(round(minutes / 15.0)) * 15)


def hop_migrations(task: TaskInput, cluster: str, a: str, b: str, path: UpgradePath) -> list[MigrationPlan]:
    """The value migrations the hop a -> b needs on this cluster (from the crossed changes' detector hits)."""
    release = task.releases.get(cluster)
    if release is None:
        return []
    crossed = {c.id: c for c in task.knowledge.changes_crossed(a, b, path.from_version) if c.detector}
    if not crossed:  # most hops: no need to look through the fleet's findings
        return []
    plans = []
    for f in task.findings:
        change = crossed.get(f.code)
        if change is None or change.detector is None or cluster not in f.subject.cluster.split(","):
            continue
        if f.subject.helm_value_path and (plan := plan_migration(change.detector, f.subject.helm_value_path,
                                                                  release.values)):
            plans.append(plan)
    return plans


def _hop_facts(task: TaskInput, cluster: str, env: Environment, path: UpgradePath, index: int, ownership) -> HopFacts:
    k = task.knowledge
    release = task.releases.get(cluster)
    hop = path.hops[index]
    values = release.values if release else {}
    service = {key: str(values[key]) for key in ("k8sServiceHost", "k8sServicePort")
               if values.get(key) not in (None, "")}  # fmt: skip
    gitops_dir = relpath(task.fleet.gitops_root, task.fleet.root) if task.fleet.gitops_root else ""
    gotk = ownership.evidence[0].ref if ownership.owner == "flux-bootstrap" and ownership.evidence else ""
    return HopFacts(
        knowledge=k, cluster=cluster, environment=env, hop=hop, index=index, path=path, ownership=ownership,
        namespace=release.namespace if release else k.namespace, release=release.name if release else k.release_name,
        region=task.cluster(cluster).info.region, fleet_ref=task.fleet_ref, gitops_dir=gitops_dir, gotk_file=gotk,
        k8s_service=service if k.tool == "cilium" else {},
        installed_chart=release.chart_version if release and index == 0 else "",
        migrations=hop_migrations(task, cluster, hop.from_version, hop.to_version, path),
        terraform_init=init_flags(task, cluster, hop.from_version, hop.to_version),
    )  # fmt: skip


def build_stage(task: TaskInput, env: Environment, hop_gates: dict[str, list[Gate]]) -> RolloutStage | None:
    """One environment's rollout: per cluster and hop, the baseline, checks, change, upgrade, verification and
    gates, each rendered from that hop under the plan's strategy (agents/strategies.py: a canary cluster first, a
    canary subset or a parallel installation inside a cluster); and per hop the way back to its from-version
    (newest hop first)."""
    assert task.decision is not None
    clusters = sorted(c.info.name for c in task.scope if c.info.environment == env)
    if not clusters:
        return None
    fast = task.decision.track == "security-fast-track"
    soak = soak_minutes(env, task.decision.risk.level, fast)
    blocked = {c: f for c, f in blocked_clusters(task.findings).items() if c in clusters}
    fleet_arg, fleet_inputs = health_fleet_arg(task)
    health_file = f"health-{env}-before.json"
    kind = task.decision.strategy.kind
    planned = {cluster: _cluster_hops(task, cluster, env) for cluster in clusters if task.path_for(cluster) is not None}
    files = {c: {e.file for _, edits in hops for e in edits if e.file} for c, (_, hops) in planned.items()}
    groups, notes = waves(task, list(planned), files, kind)
    order = [c for group in groups for c in group] or list(planned)
    steps: list[Step] = [
        Step(
            title=f"Pre-flight: check the health of {', '.join(clusters)} (no hop starts on a cluster in an incident)",
            detail="Like `flux check --pre`: firing critical alerts, NotReady nodes, crash-looping pods, failing Flux "
            "objects or degraded Argo CD applications stop the stage (exit 1); the file it writes is what each hop's "
            "health gate compares with." + "".join(f" BLOCKED at planning time: {f.title}." for f in blocked.values()),
            kind="pre-check",
            commands=[f"upgradectl health {fleet_arg} --clusters {','.join(clusters)} --out {health_file}"],
            writes=[health_file], inputs=fleet_inputs,
        ),
    ]
    hops_done: list[str] = []
    gates: dict[tuple[str, str], Gate] = {}
    rollback: list[Step] = []
    owners = []
    for cluster in order:
        ownership, hops = planned[cluster]
        owners.append(f"{cluster}: release owned by {ownership.describe()}")
        for facts, edits in hops:
            a, b = facts.a, facts.b
            hops_done.append(f"{cluster}: {a} -> {b}")
            rolled = hop_rollout(task, facts, edits, soak, kind)
            steps.extend(rolled.steps)
            notes.extend([rolled.note] if rolled.note else [])
            steps.append(Step(
                title=f"{cluster}: health gate after {a} -> {b}: nothing new since the pre-flight",
                detail="Fails (exit 1) on a new critical alert, NotReady node, crash-looping pod, failing Flux "
                "object or Argo CD application, or incident-grade warning event; pre-release namespaces are judged "
                "on their own.",
                kind="validate", cluster=cluster, from_version=a, to_version=b, reads=[health_file],
                inputs=fleet_inputs, phase=rolled.steps[-1].phase if rolled.steps else "",
                commands=[f"upgradectl health {fleet_arg} --clusters {cluster} --baseline {health_file}"],
            ))  # fmt: skip
            for gate in hop_gates.get(f"{a}->{b}", []):
                gates.setdefault((gate.name, gate.promql), gate)
            rollback = rolled.rollback + rollback  # newest hop first
    gates[("cluster-health", "")] = health_gate_spec(clusters, fleet_arg=fleet_arg)
    prerelease = task.prerelease_of(set(clusters))
    if prerelease:
        gates[("prerelease-workloads-health", "")] = health_gate_spec(clusters, prerelease, fleet_arg)
    approval = env == "prod" or task.decision.approval_required or bool(blocked)
    reasons = []
    if env == "prod":
        reasons.append("production changes always wait for an explicit approval")
    if task.decision.approval_required:
        reasons.extend(task.decision.approval_reasons)
    reasons.extend(f"{c} was in an incident when planned ({INCIDENT_CODE}): approve only once "
                   f"`upgradectl health {fleet_arg} --clusters {c}` exits 0" for c in sorted(blocked))  # fmt: skip
    env_of = {c.info.name: c.info.environment for c in task.scope}
    root_wide = {(e.file, f"{e.from_version} -> {e.to_version}"): later_clusters(e, env, env_of)
                 for step in steps for e in step.edits if e.purpose in ROOT_WIDE_PURPOSES}  # fmt: skip
    root_notes = [f"{file}: the module/provider version bump of the hop {hop} also configures {', '.join(later)} "
                  "(one version per Terraform root): `upgradectl execute` waits for an approval before committing it"
                  for (file, hop), later in root_wide.items() if later]  # fmt: skip
    stage = RolloutStage(
        environment=env,
        clusters=clusters,
        hops=hops_done,
        steps=steps,
        gates=list(gates.values()),
        rollback_steps=rollback,
        approval_required=approval,
        approval_reasons=reasons,
        soak_minutes=soak,
        notes=[f"strategy: {kind}", f"testing: {task.decision.testing}", *notes, *owners,
               "run every command from the directory of the fleet file; rollback steps undo one hop each, when "
               "that hop's gates fail or it does not reconcile (earlier hops that passed stay)",
               *root_notes, *(f"BLOCKED: {f.title}" for f in blocked.values())],
        waves=groups,
    )
    return with_people(task.fleet, task.knowledge.display_name, stage)  # owners, the user's tests, stage messages


def _cluster_hops(task: TaskInput, cluster: str, env: Environment):
    """(owner, [(facts, edits) per hop]) of one cluster: what every hop's steps are rendered from."""
    path = task.path_for(cluster)
    assert path is not None
    ownership = release_owner(task, cluster)
    facts_of_cluster = cluster_facts(task, cluster)
    hops = []
    for index, hop in enumerate(path.hops):
        facts = replace(_hop_facts(task, cluster, env, path, index, ownership), facts=facts_of_cluster)
        hops.append((facts, _file_edits(task, cluster, hop.from_version, hop.to_version, path)))
    return ownership, hops


def rollout_for(env: Environment):
    """Stage 5 playbook for one environment (plan mode writes the stage, execute mode runs it)."""

    def playbook(task: TaskInput) -> TaskResult:
        stage = build_stage(task, env, task.hop_gates)
        if stage is None:
            return TaskResult([], [f"no cluster in {env} runs {task.knowledge.display_name}: nothing to roll out"])
        checked = [
            f"{env}: {len(stage.clusters)} cluster(s), {len(stage.hops)} hop(s), {len(stage.steps)} steps, "
            f"{len(stage.gates)} gates, {len(stage.rollback_steps)} rollback steps, soak {stage.soak_minutes}m"
        ]
        return TaskResult([], checked, rollout=[stage])

    playbook.__name__ = f"rollout_{env}"
    playbook.__doc__ = f"Stage 5: the {env} rollout stage."
    return playbook
