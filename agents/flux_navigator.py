"""flux-navigator: versions across the fleet, breaking changes in clusters and the GitOps repo,
Helm chart and CRD changes, and the GitOps edits each hop needs."""

from __future__ import annotations

from dataclasses import replace

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, kubernetes_evidence, make_finding
from upgradectl.agents.chart_values import chart_values
from upgradectl.agents.detection import detect_changes, unread_values
from upgradectl.agents.pins import chart_name
from upgradectl.models import (
    Evidence,
    Finding,
    Subject,
)
from upgradectl.tools.analysis.detectors import run_detector
from upgradectl.tools.versions import Version

AGENT = "flux-navigator"
CLUSTER_DETECTORS = (
    "api_in_use",
    "stored_version",
    "object_present",
    "config_key",
    "field_value",
    "node_kernel_below",
    "not_helm_owned",
)



def deprecated_apis(task: TaskInput) -> TaskResult:
    """APIs the target still serves but has deprecated: migrate them now, while both versions work."""
    k = task.knowledge
    findings: list[Finding] = []
    checked = []
    target = Version.parse(task.target)
    for change in k.breaking_changes:
        d = change.detector
        if not (d and d.kind == "api_in_use" and d.deprecated_in):
            continue
        if not (Version.parse(d.deprecated_in) <= target < Version.parse(change.version)):
            continue
        hits = run_detector(d, task.scan_for(task.scope_names))
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
                    detail=f"{task.target} still serves it, so this plan is not blocked; the next upgrade past "
                    f"{change.version} will be. Migrating now, while both versions are served, is the cheap moment.",
                    remediation=f"Move to {d.replacement or 'the replacement API'}. {change.remediation}".strip(),
                    sources=[change.source],
                    uncertain=change.uncertain,
                )
            )
    findings.extend(_deprecated_stored_versions(task, checked))
    return TaskResult(findings, checked)


def _deprecated_stored_versions(task: TaskInput, checked: list[str]) -> list[Finding]:
    """CRDs still storing a version the target deprecates: `migrate` now, before the removal release."""
    k = task.knowledge
    target = Version.parse(task.target)
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
        hits = run_detector(d, task.scan_for(task.scope_names))
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
                    detail=f"Harmless on {task.target}; the upgrade to {since[1]} fails for these objects unless they "
                    "are rewritten first.",
                    remediation=change.remediation,
                    sources=[change.source],
                    uncertain=change.uncertain,
                )
            )
    return findings


def breaking_changes(task: TaskInput) -> TaskResult:
    """Stage 1: breaking changes in the target path, in the clusters and the GitOps repo."""
    result = detect_changes(task, CLUSTER_DETECTORS, AGENT)
    deprecated = deprecated_apis(task)
    result.findings.extend(deprecated.findings)
    result.checked.extend(deprecated.checked)
    manifests = task.view.manifests_for(task.scope_names)
    result.checked.append(
        f"GitOps repo: {len(manifests)} manifests applied to {', '.join(sorted(task.scope_names))} "
        f"(of {len(task.view.manifests)} in the repo; Helm chart templates and comments are not manifests)"
    )
    for problem in task.view.gitops[1]:
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


def compatibility(task: TaskInput) -> TaskResult:
    """Stage 2: each hop's Kubernetes range against each cluster, and the target against every cluster."""
    k = task.knowledge
    findings: list[Finding] = []
    checked = []
    for path in task.paths:
        for hop in path.hops:
            release = k.release(hop.to_version)
            for cluster in hop.unsupported_on:
                target_hop = hop.kind == "target"
                findings.append(
                    make_finding(
                        code=f"{k.prefix}-{'TARGET' if target_hop else 'TRANSIT'}-K8S-UNSUPPORTED",
                        severity="critical" if target_hop else "high",
                        category="compatibility",
                        title=f"{k.display_name} {hop.to_version} does not support Kubernetes "
                        f"{task.cluster(cluster).info.kubernetes_minor} on {cluster} (supports {hop.kubernetes_range})",
                        agent=AGENT,
                        subject=Subject(cluster=cluster, tool=k.tool, version=hop.to_version),
                        evidence=[
                            kubernetes_evidence(task.cluster(cluster)),
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


def helm_and_crds(task: TaskInput) -> TaskResult:
    """Stage 2: Helm values renamed or removed on the path, chart location, CRD upgrade mechanism."""
    result = detect_changes(task, ("helm_value",), AGENT)
    unread = unread_values(task, AGENT)
    result.findings.extend(unread.findings)
    result.checked.extend(unread.checked)
    generic = chart_values(replace(task, findings=[*task.findings, *result.findings]))
    result = TaskResult([*result.findings, *generic.findings], [*result.checked, *generic.checked])
    k = task.knowledge
    if k.chart.crd_chart:
        crd_chart = k.chart.crd_chart.rsplit("/", 1)[-1]
        for cluster in sorted(task.scope_names):
            source = task.cluster(cluster).source
            charts = sorted({r.chart for r in source.helm_releases()}) if source else []
            declared = [m for m in task.view.manifests_for({cluster}) if chart_name(m) == crd_chart]
            result.checked.append(
                f"{cluster}: Helm releases {', '.join(charts) or 'none'}; "
                f"{crd_chart} declared in GitOps: {bool(declared)}"
            )
            if crd_chart in charts or declared:
                continue
            release = task.releases.get(cluster)
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
