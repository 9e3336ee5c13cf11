"""flux-navigator: versions across the fleet, breaking changes in clusters and the GitOps repo,
Helm chart and CRD changes, and the GitOps edits each hop needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from upgradectl.agents.base import FleetView, TaskInput, TaskResult, knowledge_evidence, make_finding
from upgradectl.models import (
    ENVIRONMENT_ORDER,
    ClusterVersion,
    Evidence,
    Finding,
    Subject,
    UpgradePath,
    UpgradeRequest,
)
from upgradectl.tools.detectors import Hit, run_detector
from upgradectl.tools.fleet import Fleet, FleetCluster
from upgradectl.tools.gitops import Manifest, find_line, iter_files, line_text
from upgradectl.tools.helm import HelmRelease
from upgradectl.tools.inventory import Installation, companions, detect_installation
from upgradectl.tools.knowledge import BreakingChange, ToolKnowledge
from upgradectl.tools.paths import (
    PathError,
    latest_compatible,
    plan_path,
    resolve_target,
    security_target,
    unsupported_clusters,
)
from upgradectl.tools.versions import Version

AGENT = "flux-navigator"
CLUSTER_DETECTORS = ("api_in_use", "stored_version", "object_present", "config_key", "field_value", "node_kernel_below")


class PlanningError(ValueError):
    """The request cannot be planned on this fleet (message says why and what to do)."""


@dataclass
class Inventory:
    scope: list[FleetCluster]
    releases: dict[str, HelmRelease]
    versions: list[ClusterVersion]
    target: str
    target_reason: str
    paths: list[UpgradePath]
    findings: list[Finding]
    checked: list[str]


def _range_text(k: ToolKnowledge, version: str) -> str:
    kube_range = k.kube_range(version)
    return str(kube_range) if kube_range else ""


def _unpatched_target(
    k: ToolKnowledge, target: str, kube: dict[str, str], checked: list[str], named: bool
) -> list[Finding]:
    """A security upgrade to a line that no longer receives patches: it may not carry the fix at all. High
    when upgradectl chose the target; low (a note for the next upgrade) when the request named the version,
    since whoever named it has the advisory's fixed versions in hand."""
    patched = k.patched_lines()
    if patched is None or k.patch_policy is None:
        checked.append(f"security: which {k.display_name} lines still receive patches is not in the knowledge base")
        return []
    line = Version.parse(target).line
    if line in patched:
        checked.append(f"security: target line {line} still receives patches ({', '.join(patched)})")
        return []
    reachable = [v for v in patched if not unsupported_clusters(k, k.latest_patch(v), kube)]
    clusters = ", ".join(f"{c} {v}" for c, v in sorted(kube.items()))
    how = (
        f"move to {k.display_name} {k.latest_patch(reachable[-1])} (line {reachable[-1]}) instead"
        if reachable
        else f"no patched line supports the clusters' Kubernetes ({clusters}): upgrade Kubernetes to reach line "
        f"{patched[-1]} ({k.kube_range(k.latest_patch(patched[-1]))}) or newer"
    )
    return [
        make_finding(
            code=f"{k.prefix}-SECURITY-TARGET-UNPATCHED",
            severity="low" if named else "high",
            category="security",
            title=f"Security upgrade targets {k.display_name} {target}, but line {line} no longer receives patches "
            f"(only {', '.join(patched)} do)",
            agent=AGENT,
            subject=Subject(tool=k.tool, version=target),
            evidence=[
                knowledge_evidence(
                    k,
                    "patch_policy",
                    f"the newest {k.patch_policy.lines} minor lines receive patches: {', '.join(patched)}",
                    k.patch_policy.source,
                )
            ],
            detail="A fix published for a supported line is not backported to older ones, so this target may "
            "not contain the fix the request is about. Check the advisory's fixed versions."
            + (" The version was named in the request, so it is planned as asked; the next advisory will need "
               "a supported line." if named else ""),
            remediation=how[0].upper() + how[1:] + ".",
            sources=[k.patch_policy.source],
            uncertain=k.patch_policy.uncertain,
        )
    ]


def _skipped_stages(
    k: ToolKnowledge,
    fleet: Fleet,
    scope: list[FleetCluster],
    installs: dict[str, Installation],
    target: str,
    checked: list[str],
) -> list[Finding]:
    """Out-of-scope clusters of an earlier environment that still run an older version: the staged rollout
    (dev -> staging -> prod) would reach the scoped environment with no earlier stage having run the
    target. One finding per scoped environment; prod without any earlier validation is high."""
    scoped = {c.info.name for c in scope}
    findings = []
    for env in sorted({c.info.environment for c in scope}, key=ENVIRONMENT_ORDER.index):
        earlier = ENVIRONMENT_ORDER[: ENVIRONMENT_ORDER.index(env)]
        if any(c.info.environment in earlier for c in scope):
            continue  # an earlier stage of this plan runs the target first
        behind, ahead = [], []
        for name, found in sorted(installs.items()):
            cluster = fleet.clusters[name]
            if name in scoped or cluster.info.environment not in earlier:
                continue
            (behind if Version.parse(found.version) < Version.parse(target) else ahead).append((name, found))
        if ahead:
            checked.append(
                f"{env}: earlier environments already run {k.display_name} {target} or newer on "
                f"{', '.join(n for n, _ in ahead)}"
            )
            continue
        if not behind:
            continue
        names = ", ".join(f"{n} ({f.version})" for n, f in behind)
        here = ", ".join(sorted(c.info.name for c in scope if c.info.environment == env))
        findings.append(
            make_finding(
                code="ROLLOUT-EARLIER-STAGE-SKIPPED",
                severity="high" if env == "prod" else "medium",
                category="rollout",
                title=f"{env} would get {k.display_name} {target} before any earlier environment: {names} "
                f"are out of scope and still run older versions",
                agent=AGENT,
                subject=Subject(cluster=",".join(n for n, _ in behind), tool=k.tool, version=target),
                evidence=[e for _, f in behind for e in f.evidence[:1]],
                detail=f"The plan is scoped to {env} ({here}), so no earlier environment runs this target "
                "before it does: the staged rollout's earlier gates and soak are skipped.",
                remediation=f"Plan and roll out {target} on {', '.join(n for n, _ in behind)} first (drop the "
                "environment/cluster filter), or accept the risk explicitly in the change record.",
            )
        )
    return findings


def _image_pins(root: Path | None, images: list[str], limit: int = 3) -> list[Evidence]:
    """Where the GitOps repo pins these images (file:line), at most `limit` places."""
    pins: list[Evidence] = []
    for path in iter_files(root, (".yaml", ".yml")) if root else ():
        for image in images:
            line = find_line(path, image)
            if line and len(pins) < limit:
                rel = path.relative_to(root).as_posix()
                pins.append(Evidence(source="gitops", ref=f"{rel}:{line}", excerpt=line_text(path, line)))
    return pins


def _companions_outside(
    k: ToolKnowledge, others: list[FleetCluster], target: str, checked: list[str], gitops_root: Path | None
) -> list[Finding]:
    """Companion components (vmagent, vmalert) on clusters where the tool itself does not run: the plan does
    not upgrade them and its detectors do not look at them, so say so, cluster by cluster."""
    findings = []
    pinned: dict[tuple[str, ...], list[Evidence]] = {}
    for cluster in others:
        if cluster.source is None or not k.companion_images:
            continue
        behind = [
            c
            for c in companions(k, cluster.source, cluster.info.name)
            if Version.parse(c.version) < Version.parse(target)
        ]
        if not behind:
            continue
        listed = ", ".join(f"{c.name} {c.version}" for c in behind)
        verb = "runs" if len(behind) == 1 else "run"
        checked.append(f"{cluster.info.name}: {k.display_name} components outside the plan: {listed}")
        images = sorted({c.image for c in behind})
        if tuple(images) not in pinned:  # clusters usually share the pin: read the repo once per image set
            pinned[tuple(images)] = _image_pins(gitops_root, images)
        pins = pinned[tuple(images)]
        findings.append(
            make_finding(
                code=f"{k.prefix}-COMPONENTS-OUTSIDE-PLAN",
                severity="medium",
                category="inventory",
                title=f"{cluster.info.name}: {listed} {verb} older than {target} outside this plan",
                agent=AGENT,
                subject=Subject(cluster=cluster.info.name, tool=k.tool, version=behind[0].version),
                evidence=[c.evidence for c in behind] + pins,
                detail=f"{k.display_name} itself does not run on {cluster.info.name}, so this plan neither upgrades "
                "these components nor runs its breaking-change detectors against them; changes crossed on the "
                "way to the target (removed flags, new defaults) apply to them when they are upgraded.",
                remediation="Upgrade them separately, environment by environment: "
                + (
                    f"bump the image where it is pinned ({', '.join(e.ref for e in pins)})"
                    if pins
                    else f"find where {', '.join(images)} is pinned (not found in the GitOps repo)"
                )
                + ", after reading the breaking changes this plan crosses.",
            )
        )
    return findings


def take_inventory(request: UpgradeRequest, fleet: Fleet, k: ToolKnowledge) -> Inventory:
    """Stage 1: current versions per cluster, the target, and a rule-abiding path per version group."""
    wanted = set(request.clusters)
    unknown = wanted - set(fleet.clusters)
    if unknown:
        raise PlanningError(
            f"unknown cluster(s) {', '.join(sorted(unknown))}; the fleet has {', '.join(fleet.clusters)}"
        )
    installs: dict[str, Installation] = {}
    checked = []
    findings: list[Finding] = []
    for name, cluster in fleet.clusters.items():
        if cluster.source is None:
            continue
        found = detect_installation(k, cluster.source, name)
        if found and found.provider_managed:
            checked.append(
                f"{name}: {k.display_name} {found.version} is managed by the cloud provider "
                f"({found.evidence[0].excerpt}); it upgrades with the cluster, not in this plan"
            )
            continue
        checked.append(f"{name}: {'found ' + k.display_name + ' ' + found.version if found else 'not installed'}")
        if found:
            installs[name] = found

    def in_request(c: FleetCluster) -> bool:
        return (not wanted or c.info.name in wanted) and (
            not request.environments or c.info.environment in request.environments
        )

    scope = [c for n, c in fleet.clusters.items() if n in installs and in_request(c)]
    if not scope:
        running = ", ".join(sorted(installs)) or "none"
        raise PlanningError(
            f"no cluster in scope runs {k.display_name} (clusters running it: {running}; "
            f"requested clusters: {', '.join(sorted(wanted)) or 'all'}, environments: "
            f"{', '.join(request.environments) or 'all'})"
        )
    kube = {c.info.name: c.info.kubernetes_version for c in scope}
    try:
        if request.target_version:
            target = resolve_target(k, request.target_version)
            target_reason = f"requested target {request.target_version} -> {target}"
        else:
            lines = {Version.parse(installs[c.info.name].version).line for c in scope}
            fast_track = request.trigger == "security" and request.channel != "lts"
            chosen = security_target(k, lines, kube) if fast_track else None
            target, target_reason = chosen or latest_compatible(k, kube, lts=request.channel == "lts")
    except PathError as exc:
        raise PlanningError(str(exc)) from exc

    groups: dict[str, dict[str, str]] = {}
    for c in scope:
        groups.setdefault(installs[c.info.name].version, {})[c.info.name] = c.info.kubernetes_version
    paths = []
    for current, kube_versions in sorted(groups.items(), key=lambda kv: Version.parse(kv[0])):
        if Version.parse(current) > Version.parse(target):
            raise PlanningError(
                f"{k.display_name} on {', '.join(sorted(kube_versions))} is already at {current}, newer than the "
                f"target {target}; choose a target of at least {current}"
            )
        try:
            paths.append(plan_path(k, current, target, kube_versions, target_reason))
        except PathError as exc:
            raise PlanningError(str(exc)) from exc

    versions = []
    for name, cluster in fleet.clusters.items():
        found = installs.get(name)
        current = found.version if found else ""
        in_scope = cluster in scope
        cur_range = k.kube_range(current) if current else None
        tgt_range = k.kube_range(target) if in_scope else None
        versions.append(
            ClusterVersion(
                cluster=name,
                environment=cluster.info.environment,
                kubernetes_version=cluster.info.kubernetes_version,
                current_version=current,
                target_version=target if in_scope else "",
                current_supported=cur_range.contains(cluster.info.kubernetes_version) if cur_range else None,
                current_kubernetes_range=str(cur_range) if cur_range else "",
                target_supported=tgt_range.contains(cluster.info.kubernetes_version) if tgt_range else None,
                target_kubernetes_range=str(tgt_range) if tgt_range else "",
                detected_from=list(found.evidence) if found else [],
            )
        )
        if in_scope and cur_range and not cur_range.contains(cluster.info.kubernetes_version):
            release = k.release(current)
            findings.append(
                make_finding(
                    code=f"{k.prefix}-CURRENT-K8S-UNSUPPORTED",
                    severity="high",
                    category="compatibility",
                    title=f"{k.display_name} {current} on {name} runs outside its supported Kubernetes range "
                    f"({cur_range}; cluster is {cluster.info.kubernetes_minor})",
                    agent=AGENT,
                    subject=Subject(cluster=name, tool=k.tool, version=current),
                    evidence=[
                        *found.evidence,
                        Evidence(
                            source="cluster",
                            ref=f"{name}: /version",
                            excerpt=f"gitVersion v{cluster.info.kubernetes_version}",
                        ),
                        knowledge_evidence(
                            k,
                            f"releases[{release.line}]",
                            f"{release.line} supports Kubernetes {cur_range}",
                            release.source,
                        ),
                    ],
                    detail="The running version was never tested against this Kubernetes minor; upgrade "
                    "before relying on it, and expect the first hops to be the riskiest.",
                    remediation=f"Follow the upgrade path to {target}; do not upgrade Kubernetes further first.",
                    sources=[release.source],
                    uncertain=release.uncertain,
                )
            )
    checked.append(f"target {target}: {target_reason}")
    if request.trigger == "security":
        findings.extend(_unpatched_target(k, target, kube, checked, named=bool(request.target_version)))
    findings.extend(_skipped_stages(k, fleet, scope, installs, target, checked))
    others = [c for n, c in fleet.clusters.items() if n not in installs and in_request(c)]
    findings.extend(_companions_outside(k, others, target, checked, fleet.gitops_root))
    for path in paths:
        checked.append(
            f"path for {', '.join(path.clusters)}: "
            + " -> ".join([path.from_version, *[h.to_version for h in path.hops]])
        )
    return Inventory(
        scope,
        {n: i.release for n, i in installs.items() if i.release and n in {c.info.name for c in scope}},
        versions,
        target,
        target_reason,
        paths,
        findings,
        checked,
    )


def _changes_on_paths(t: TaskInput, kinds: tuple[str, ...]) -> list[tuple[BreakingChange, UpgradePath, str]]:
    """(change, path, hop) for every detectable change each path crosses, once per path."""
    found = []
    for path in t.paths:
        seen = set()
        for hop in path.hops:
            for change in t.knowledge.changes_crossed(hop.from_version, hop.to_version, path.from_version):
                if change.detector and change.detector.kind in kinds and change.id not in seen:
                    seen.add(change.id)
                    found.append((change, path, f"{hop.from_version} -> {hop.to_version}"))
    return found


def change_finding(t: TaskInput, change: BreakingChange, hop: str, hit: Hit, agent: str) -> Finding:
    """A finding for one detector hit of a breaking change, citing the hit and the knowledge entry."""
    what = hit.subject.describe() or hit.evidence.ref
    title = change.title
    if hit.old:
        title = f"{change.title}: {hit.old} -> {hit.new or '(removed)'}"
    return make_finding(
        code=change.id,
        severity=change.severity,
        category=change.category,
        title=f"{title} ({what})",
        agent=agent,  # type: ignore[arg-type]
        subject=hit.subject,
        evidence=[
            hit.evidence,
            knowledge_evidence(
                t.knowledge, f"breaking_changes[{change.id}]", f"{change.version}: {change.title}", change.source
            ),
        ],
        detail=f"{change.detail} Crossed by hop {hop}.".strip(),
        remediation=change.remediation,
        sources=[change.source],
        uncertain=change.uncertain,
    )


def detect_changes(t: TaskInput, kinds: tuple[str, ...], agent: str) -> TaskResult:
    """Run the detectors of every crossed breaking change of these kinds; one finding per hit."""
    findings: list[Finding] = []
    checked = []
    for change, path, hop in _changes_on_paths(t, kinds):
        hits = run_detector(change.detector, t.scan_for(set(path.clusters)))  # type: ignore[arg-type]
        findings.extend(change_finding(t, change, hop, hit, agent) for hit in hits)
        checked.append(
            f"{change.id} ({change.detector.kind}, crossed by {hop}) on "  # type: ignore[union-attr]
            f"{', '.join(path.clusters)}: {len(hits)} hit(s)"
        )
    if not checked:
        checked.append(f"no detectable {'/'.join(kinds)} changes are crossed by the planned paths")
    return TaskResult(findings, checked)


def deprecated_apis(t: TaskInput) -> TaskResult:
    """APIs the target still serves but has deprecated: migrate them now, while both versions work."""
    k = t.knowledge
    findings: list[Finding] = []
    checked = []
    target = Version.parse(t.target)
    for change in k.breaking_changes:
        d = change.detector
        if not (d and d.kind == "api_in_use" and d.deprecated_in):
            continue
        if not (Version.parse(d.deprecated_in) <= target < Version.parse(change.version)):
            continue
        hits = run_detector(d, t.scan_for(t.scope_names))
        checked.append(
            f"{d.api_version} {d.resource_kind}: deprecated since {d.deprecated_in}, removed in "
            f"{change.version}: {len(hits)} in use"
        )
        for hit in hits:
            findings.append(
                make_finding(
                    code=f"{k.prefix}-DEPRECATED-API-IN-USE",
                    severity="low",
                    category="deprecated-api",
                    title=f"{d.resource_kind} at {d.api_version} is deprecated since {k.display_name} "
                    f"{d.deprecated_in} and removed in {change.version} ({hit.subject.describe()})",
                    agent=AGENT,
                    subject=hit.subject,
                    evidence=[
                        hit.evidence,
                        knowledge_evidence(
                            k, f"breaking_changes[{change.id}]", f"{change.version}: {change.title}", change.source
                        ),
                    ],
                    detail=f"{t.target} still serves it, so this plan is not blocked; the next upgrade past "
                    f"{change.version} will be. Migrating now, while both versions are served, is the cheap moment.",
                    remediation=f"Move to {d.replacement or 'the replacement API'}. {change.remediation}".strip(),
                    sources=[change.source],
                    uncertain=change.uncertain,
                )
            )
    findings.extend(_deprecated_stored_versions(t, checked))
    return TaskResult(findings, checked)


def _deprecated_stored_versions(t: TaskInput, checked: list[str]) -> list[Finding]:
    """CRDs still storing a version the target deprecates: `migrate` now, before the removal release."""
    k = t.knowledge
    target = Version.parse(t.target)
    deprecated = {  # group/version -> (deprecated_in, removed_in)
        c.detector.api_version: (c.detector.deprecated_in, c.version)
        for c in k.breaking_changes
        if c.detector and c.detector.kind == "api_in_use" and c.detector.deprecated_in
    }
    findings = []
    for change in k.breaking_changes:
        d = change.detector
        if not (d and d.kind == "stored_version") or Version.parse(change.version) <= target:
            continue
        group = d.crd.split(".", 1)[1] if "." in d.crd else ""
        since = deprecated.get(f"{group}/{d.stored_version}")
        if not since or Version.parse(since[0]) > target:
            continue
        hits = run_detector(d, t.scan_for(t.scope_names))
        checked.append(
            f"{d.crd} storedVersions {d.stored_version} (deprecated {since[0]}, removed {since[1]}): "
            f"{len(hits)} cluster(s)"
        )
        for hit in hits:
            findings.append(
                make_finding(
                    code=f"{k.prefix}-DEPRECATED-STORED-VERSION",
                    severity="low",
                    category="crd",
                    title=f"{d.crd} still stores objects at {d.stored_version}, deprecated since {since[0]} and "
                    f"removed in {since[1]} ({hit.subject.cluster})",
                    agent=AGENT,
                    subject=hit.subject,
                    evidence=[
                        hit.evidence,
                        knowledge_evidence(k, f"breaking_changes[{change.id}]", change.title, change.source),
                    ],
                    detail=f"Harmless on {t.target}; the upgrade to {since[1]} fails for these objects unless they are "
                    "rewritten first.",
                    remediation=change.remediation,
                    sources=[change.source],
                    uncertain=change.uncertain,
                )
            )
    return findings


def breaking_changes(t: TaskInput) -> TaskResult:
    """Stage 1: breaking changes in the target path, in the clusters and the GitOps repo."""
    result = detect_changes(t, CLUSTER_DETECTORS, AGENT)
    deprecated = deprecated_apis(t)
    result.findings.extend(deprecated.findings)
    result.checked.extend(deprecated.checked)
    manifests = t.view.manifests_for(t.scope_names)
    result.checked.append(
        f"GitOps repo: {len(manifests)} manifests applied to {', '.join(sorted(t.scope_names))} "
        f"(of {len(t.view.manifests)} in the repo; Helm chart templates and comments are not manifests)"
    )
    for problem in t.view.gitops[1]:
        result.findings.append(
            make_finding(
                code="GITOPS-UNPARSEABLE-FILE",
                severity="medium",
                category="incomplete",
                title=f"GitOps file {problem.file} could not be parsed; it was not checked",
                agent=AGENT,
                subject=Subject(file=problem.file),
                evidence=[Evidence(source="gitops", ref=problem.file, excerpt=problem.error)],
                remediation="Fix the YAML syntax so the file can be checked.",
            )
        )
    return result


def compatibility(t: TaskInput) -> TaskResult:
    """Stage 2: each hop's Kubernetes range against each cluster, and the target against every cluster."""
    k = t.knowledge
    findings: list[Finding] = []
    checked = []
    for path in t.paths:
        for hop in path.hops:
            release = k.release(hop.to_version)
            for cluster in hop.unsupported_on:
                kube = t.cluster(cluster).info.kubernetes_version
                target_hop = hop.kind == "target"
                findings.append(
                    make_finding(
                        code=f"{k.prefix}-{'TARGET' if target_hop else 'TRANSIT'}-K8S-UNSUPPORTED",
                        severity="critical" if target_hop else "high",
                        category="compatibility",
                        title=f"{k.display_name} {hop.to_version} does not support Kubernetes "
                        f"{t.cluster(cluster).info.kubernetes_minor} on {cluster} (supports {hop.kubernetes_range})",
                        agent=AGENT,
                        subject=Subject(cluster=cluster, tool=k.tool, version=hop.to_version),
                        evidence=[
                            Evidence(source="cluster", ref=f"{cluster}: /version", excerpt=f"gitVersion v{kube}"),
                            knowledge_evidence(
                                k,
                                f"releases[{release.line}]",
                                f"{release.line} supports Kubernetes {hop.kubernetes_range}",
                                release.source,
                            ),
                        ],
                        detail=(
                            f"The path must pass through {hop.to_version} ({hop.reason}); that version was "
                            "not tested on this Kubernetes minor. Keep its soak short and watch the gates."
                            if not target_hop
                            else "The target cannot run on this cluster."
                        ),
                        remediation=(
                            "; ".join(path.blockers)
                            if target_hop
                            else f"Stay on {hop.to_version} only as long as the next hop's prerequisites take."
                        ),
                        sources=[release.source],
                        uncertain=release.uncertain,
                    )
                )
            checked.append(
                f"{hop.from_version} -> {hop.to_version} ({hop.kubernetes_range or 'no range published'})"
                f" on {', '.join(path.clusters)}: "
                f"{'unsupported on ' + ', '.join(hop.unsupported_on) if hop.unsupported_on else 'ok'}"
            )
    return TaskResult(findings, checked)


def helm_and_crds(t: TaskInput) -> TaskResult:
    """Stage 2: Helm values renamed or removed on the path, chart location, CRD upgrade mechanism."""
    result = detect_changes(t, ("helm_value",), AGENT)
    k = t.knowledge
    if k.chart.crd_chart:
        crd_chart = k.chart.crd_chart.rsplit("/", 1)[-1]
        for cluster in sorted(t.scope_names):
            source = t.cluster(cluster).source
            charts = sorted({r.chart for r in source.helm_releases()}) if source else []
            declared = [m for m in t.view.manifests_for({cluster}) if _chart_name(m) == crd_chart]
            result.checked.append(
                f"{cluster}: Helm releases {', '.join(charts) or 'none'}; "
                f"{crd_chart} declared in GitOps: {bool(declared)}"
            )
            if crd_chart in charts or declared:
                continue
            release = t.releases.get(cluster)
            result.findings.append(
                make_finding(
                    code=f"{k.prefix}-CRD-CHART-MISSING",
                    severity="high",
                    category="crd",
                    title=f"{cluster} installs {k.display_name} without the {crd_chart} chart: Helm will not "
                    "upgrade its CRDs",
                    agent=AGENT,
                    subject=Subject(cluster=cluster, tool=k.tool, helm_release=release.name if release else ""),
                    evidence=[
                        Evidence(
                            source="helm", ref=f"{cluster}: helm releases", excerpt=f"charts: {', '.join(charts)}"
                        ),
                        knowledge_evidence(k, "chart.crd_chart", k.chart.crd_chart, k.chart.source),
                    ],
                    detail="Helm installs a chart's crds/ folder only on first install, so the new API versions "
                    "never reach the cluster and the controller fails to start or to convert objects.",
                    remediation=f"Install {k.chart.crd_chart} at the same version before each controller hop "
                    "(and set skipCrds on the main chart in GitOps).",
                    sources=[k.chart.source],
                )
            )
    return result


def _chart_name(m: Manifest) -> str:
    spec = m.doc.get("spec", {}) if isinstance(m.doc.get("spec"), dict) else {}
    chart = spec.get("chart", {})
    if isinstance(chart, dict):
        return str(chart.get("spec", {}).get("chart", ""))
    return str(spec.get("chartRef", {}).get("name", "")) if isinstance(spec.get("chartRef"), dict) else ""


@dataclass(frozen=True)
class VersionPin:
    """Where a cluster's tool version is declared: a file, a line, and the text there."""

    cluster: str
    file: str
    line: int
    text: str
    kind: str  # "flux-helmrelease", "terraform-tfvars", "argocd-application"


def gitops_pins(
    view: FleetView, k: ToolKnowledge, clusters: set[str], charts: set[str] | None = None
) -> list[VersionPin]:
    """Where GitOps pins the tool's chart for these clusters: Flux HelmRelease chart versions in files the
    clusters apply, then Argo CD Application / ApplicationSet `targetRevision`s whose destination is one of
    them. `charts` defaults to the tool's chart names (pass the CRD chart's name to find its pins)."""
    charts = set(k.install_markers) if charts is None else charts
    pins = []
    for m in view.manifests_for(clusters):
        if m.kind == "HelmRelease" and _chart_name(m) in charts:
            version = str(m.doc["spec"]["chart"]["spec"].get("version", ""))
            if not version or view.fleet.gitops_root is None:
                continue
            line = _line_of(view, m, f"version: {version}") or _line_of(view, m, version)
            for cluster in sorted(view.manifest_clusters.get(m.file, set()) & clusters):
                pins.append(
                    VersionPin(
                        cluster,
                        f"{_repo_prefix(view)}{m.file}",
                        line,
                        line_text(view.fleet.gitops_root / m.file, line),
                        "flux-helmrelease",
                    )
                )
    if view.fleet.gitops_root is not None:
        pins.extend(_argocd_pins(view, charts, clusters))
    return pins


def _argo_source(spec: dict) -> dict:
    """The Helm chart source of an Application spec (`source`, or the first of `sources` with a chart)."""
    source = spec.get("source") if isinstance(spec.get("source"), dict) else None
    if source and source.get("chart"):
        return source
    return next((s for s in spec.get("sources") or [] if isinstance(s, dict) and s.get("chart")), {})


def _argocd_pins(view: FleetView, charts: set[str], clusters: set[str]) -> list[VersionPin]:
    """Argo CD pins: an Application's targetRevision (destination by name), an ApplicationSet's template
    targetRevision, or the list-generator element field it templates (`{{chartVersion}}`)."""
    pins = []
    prefix = _repo_prefix(view)
    for m in view.manifests:
        if not m.api_version.startswith("argoproj.io/") or m.kind not in ("Application", "ApplicationSet"):
            continue
        spec = m.doc.get("spec") or {}
        template = (spec.get("template") or {}).get("spec") or {} if m.kind == "ApplicationSet" else spec
        source = _argo_source(template)
        revision = str(source.get("targetRevision", ""))
        if source.get("chart") not in charts or not revision:
            continue
        assert view.fleet.gitops_root is not None
        path = view.fleet.gitops_root / m.file
        kind = "argocd-application" if m.kind == "Application" else "argocd-applicationset"
        templated = re.fullmatch(r"\{\{\s*\.?([A-Za-z0-9_]+)\s*\}\}", revision)
        if m.kind == "Application" or not templated:
            line = _line_of(view, m, "targetRevision:")
            targets = [str((template.get("destination") or {}).get("name", ""))]
            if m.kind == "ApplicationSet":
                targets = [_element_cluster(e) for e in _list_elements(spec)]
            for cluster in sorted(set(targets) & clusters):
                pins.append(VersionPin(cluster, f"{prefix}{m.file}", line, line_text(path, line), kind))
            continue
        key, line = templated.group(1), m.line
        for element in _list_elements(spec):
            line = find_line(path, f"{key}:", start=line + 1) if line else 0
            cluster = _element_cluster(element)
            if cluster in clusters and key in element and line:
                pins.append(VersionPin(cluster, f"{prefix}{m.file}", line, line_text(path, line), kind))
    return pins


def _list_elements(spec: dict) -> list[dict]:
    return [
        e
        for g in spec.get("generators") or []
        if isinstance(g, dict)
        for e in ((g.get("list") or {}).get("elements") or [])
        if isinstance(e, dict)
    ]


def _element_cluster(element: dict) -> str:
    return str(element.get("cluster") or element.get("clusterName") or element.get("name") or "")


def _repo_prefix(view: FleetView) -> str:
    root = view.fleet.gitops_root
    return f"{root.relative_to(view.fleet.root)}/" if root and root.is_relative_to(view.fleet.root) else ""


def _line_of(view: FleetView, m: Manifest, needle: str) -> int:
    assert view.fleet.gitops_root is not None
    return find_line(view.fleet.gitops_root / m.file, needle, start=m.line)
