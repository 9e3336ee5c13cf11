"""Kubernetes upgrade readiness: per cluster, which installed tools cannot run on the Kubernetes versions the upgrade
passes through, the release each must reach first, the API removals the target brings, and the control-plane hops
(one minor at a time) with the provider's commands, listed and never run.

Facts come from the knowledge base with their sources: each release's Kubernetes range (tools/knowledge/data/*.yaml),
the API removals (kubernetes.yaml, through the scanner) and the providers' control-plane commands (kubernetes.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from upgradectl.agents.base import PROJECTED_SOURCE, kubernetes_evidence, make_finding
from upgradectl.agents.inventory import ProjectedFleet
from upgradectl.models import ControlPlaneHop, Evidence, Finding, Step, Subject, ToolBlocker
from upgradectl.tools.analysis.inventory import Installation, detect_installation
from upgradectl.tools.analysis.scanner import Scanner, ScanReport
from upgradectl.tools.cluster.fleet import Fleet, FleetCluster
from upgradectl.tools.gitops.manifests import load_manifests
from upgradectl.tools.knowledge.loader import KubernetesKnowledge, Release, ToolKnowledge
from upgradectl.tools.knowledge.support import line_support
from upgradectl.tools.verify.manifests import builtin_kind
from upgradectl.tools.verify.target_schemas import SKIPPED_KINDS, SchemaReport, SchemaSubject, check_for_target
from upgradectl.tools.versions import Version, kube_minor

AGENT = "incident-responder"  # the seed's compatibility checks before an upgrade
CONTROL_PLANE_TAG = "[kubernetes] "


def minor_text(version: str) -> str:
    """'1.29.6' -> '1.29'."""
    major, minor = kube_minor(version)
    return f"{major}.{minor}"


def minors_between(current: str, target: str) -> list[str]:
    """Every Kubernetes minor from the cluster's to the target, both included: '1.29.6', '1.31' -> 1.29, 1.30, 1.31."""
    (major, low), (_, high) = kube_minor(current), kube_minor(target)
    return [f"{major}.{m}" for m in range(low, high + 1)]


def covering_release(knowledge: ToolKnowledge, current: str, minors: list[str]) -> Release | None:
    """The newest reviewed release at or above `current` whose Kubernetes range holds every minor in `minors`: the
    one version that can run before, during and after the control-plane hops."""
    for release in reversed(knowledge.releases):
        patch = release.latest_patch
        kube_range = release.kube_range_for(patch)
        if (kube_range is None or not release.notes_reviewed or patch in release.avoid
                or Version.parse(patch) < Version.parse(current)):
            continue
        if all(kube_range.contains(m) for m in minors):
            return release
    return None


@dataclass
class Readiness:
    """What the Kubernetes plan needs: hops, blockers, findings, and per tool the release and clusters to plan."""

    target: str
    hops: list[ControlPlaneHop] = field(default_factory=list)
    blockers: list[ToolBlocker] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sections: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # tool -> (target version, clusters)
    notes: list[str] = field(default_factory=list)
    schema_notes: list[str] = field(default_factory=list)  # objects not validated, or already invalid now
    after: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # tool -> (version, clusters): after
    projected: dict[tuple[str, str], Installation] = field(default_factory=dict)  # (cluster, tool) after `sections`


def _blocker(
    knowledge_input: ToolKnowledge, member: FleetCluster, target: str, today: date
) -> tuple[ToolBlocker, Finding] | None:
    """The tool `k` on one cluster, when its running release does not cover every minor up to `target`."""
    name = member.info.name
    installed = detect_installation(knowledge_input, member.source, name)
    if installed is None or installed.provider_managed:
        return None
    release = knowledge_input.release(installed.version)
    current_range = release.kube_range_for(installed.version) if release else None
    minors = minors_between(member.info.kubernetes_version, target)
    if current_range is None or all(current_range.contains(m) for m in minors):
        return None  # fits every step (or publishes no range: nothing to check it against)
    needed = covering_release(knowledge_input, installed.version, minors)
    needed_range = needed.kube_range_for(needed.latest_patch) if needed else None
    span = f"{minors[0]} through {minors[-1]}"
    if needed is not None:
        support = line_support(knowledge_input, needed.line, today)
        reason = (
            f"{knowledge_input.display_name} {installed.version} supports Kubernetes {current_range}, not {span}; "
            f"{needed.latest_patch} supports {needed_range}, so it can move before the control plane and stay "
            f"supported through every hop" + ("" if support.supported else f" ({support.reason})")
        )
    else:
        reason = (
            f"{knowledge_input.display_name} {installed.version} supports Kubernetes {current_range}, not {span}, and "
            f"no known release supports all of {span}: move it between control-plane hops"
        )
    blocker = ToolBlocker(
        cluster=name,
        tool=knowledge_input.tool,
        current_version=installed.version,
        current_kubernetes_range=str(current_range),
        needed_version=needed.latest_patch if needed else "",
        needed_kubernetes_range=str(needed_range) if needed_range else "",
        when="before",
        reason=reason,
        source=needed.source if needed else (release.source if release else ""),
    )
    knowledge = Evidence(
        source="knowledge",
        ref=f"{knowledge_input.tool}: releases[{release.line if release else '?'}].kubernetes",
        excerpt=f"{installed.version} supports Kubernetes {current_range}",
    )
    finding = make_finding(
        code="K8S-TOOL-BLOCKS-UPGRADE" if needed else "K8S-TOOL-NO-BRIDGE-RELEASE",
        severity="high",
        category="compatibility",
        title=f"{knowledge_input.display_name} {installed.version} on {name} blocks Kubernetes {target}",
        agent=AGENT,
        evidence=[*installed.evidence, knowledge],
        subject=Subject(cluster=name, tool=knowledge_input.tool, version=installed.version),
        detail=reason,
        remediation=(
            f"upgrade {knowledge_input.display_name} to {needed.latest_patch} (its section of this plan) before the "
            "control plane moves"
        )
        if needed
        else "plan the tool between control-plane hops",
        sources=[s for s in (release.source if release else "", blocker.source) if s],
    )
    return blocker, finding


def _after_moves(readiness: Readiness, fleet: Fleet, knowledge: ToolKnowledge, names: list[str]) -> None:
    """The tool `k`'s move that can only follow the control plane: the newest reviewed release above what the
    cluster will run once the control plane moves (its running release, or the one its section takes it to first)
    whose Kubernetes range holds the target but not the cluster's current minor."""
    where: list[tuple[str, Installation, str]] = []  # (cluster, installation now, version before the hops)
    for name in names:
        member = fleet.clusters[name]
        installed = detect_installation(knowledge, member.source, name) if member.source else None
        if installed is None or installed.provider_managed or knowledge.release(installed.version) is None:
            continue
        before = readiness.sections.get(knowledge.tool, ("", []))
        start = before[0] if name in before[1] else installed.version
        blocked = any(b.cluster == name and b.tool == knowledge.tool for b in readiness.blockers)
        if not blocked or name in before[1]:  # a blocker without a section has no known first move
            where.append((name, installed, start))
    if not where:
        return
    newest_start = max((start for _, _, start in where), key=Version.parse)
    release = covering_release(knowledge, newest_start, [readiness.target])
    if release is None or Version.parse(release.latest_patch) <= Version.parse(newest_start):
        return
    target_range = release.kube_range_for(release.latest_patch)
    movers = [(n, i, start) for n, i, start in where
              if target_range is not None and not target_range.contains(fleet.clusters[n].info.kubernetes_version)]
    if not movers:
        return  # it runs on today's Kubernetes too: an ordinary upgrade, not part of this one
    readiness.after[knowledge.tool] = (release.latest_patch, [n for n, _, _ in movers])
    for name, installed, start in movers:
        current = fleet.clusters[name].info.kubernetes_version
        reason = (f"{knowledge.display_name} {release.latest_patch} supports Kubernetes {target_range}, not "
                  f"{minor_text(current)}: it can only move once the control plane runs {readiness.target}, "
                  f"from {start}"
                  + ("" if start == installed.version else " (where its section before the control plane takes it)"))
        readiness.blockers.append(
            ToolBlocker(
                cluster=name,
                tool=knowledge.tool,
                current_version=installed.version,
                current_kubernetes_range=str(knowledge.kube_range(installed.version) or ""),
                needed_version=release.latest_patch,
                needed_kubernetes_range=str(target_range),
                when="after",
                reason=reason,
                source=release.source,
            )
        )
        readiness.findings.append(make_finding(
            code="K8S-TOOL-AFTER-CONTROL-PLANE", severity="info", category="compatibility",
            title=f"{knowledge.display_name} {release.latest_patch} on {name} only after Kubernetes {readiness.target}",
            agent=AGENT, detail=reason,
            evidence=[*installed.evidence,
                      Evidence(source="knowledge", ref=f"{knowledge.tool}: releases[{release.line}].kubernetes",
                               excerpt=f"{release.latest_patch} supports Kubernetes {target_range}"),
                      kubernetes_evidence(fleet.clusters[name])],
            subject=Subject(cluster=name, tool=knowledge.tool, version=installed.version),
            remediation=f"its section after the control plane: {start} -> {release.latest_patch}",
            sources=[release.source] if release.source else []))
        if start != installed.version:
            readiness.projected[(name, knowledge.tool)] = Installation(
                cluster=name,
                version=start,
                chart_version=knowledge.chart_version_for(start),
                release=replace(installed.release, chart_version=knowledge.chart_version_for(start), app_version=start)
                if installed.release
                else None,
                evidence=(
                    Evidence(
                        source="plan",
                        ref=f"this plan's {knowledge.tool} section before the control plane has moved it to {start}",
                        excerpt=f"{knowledge.tool} {installed.version} -> {start} on {name}",
                    ),
                ),
            )


def projected_fleet(fleet: Fleet, readiness: Readiness, root: Path) -> ProjectedFleet:
    """The fleet once the tools' first moves and the control-plane hops are done: where the after moves start;
    `root` holds its Git and Terraform with the first moves' edits applied (inventory.edited_checkout)."""
    moved = {hop.cluster for hop in readiness.hops}
    clusters = {}
    for name, member in fleet.clusters.items():
        if name in moved:
            info = member.info.model_copy(update={
                "kubernetes_version": readiness.target,
                "source": f"{PROJECTED_SOURCE} Kubernetes {readiness.target} after this plan's control-plane hops "
                          f"(read from {member.info.source})"})
            member = replace(member, info=info)
        clusters[name] = member
    return ProjectedFleet(name=fleet.name, root=root, spec=fleet.spec, clusters=clusters,
                          installations=dict(readiness.projected))


def _api_findings(usages: ScanReport, target: str) -> list[Finding]:
    """Objects (cluster or GitOps files) at an API version the target Kubernetes no longer serves."""
    found = []
    for usage in usages.usages:
        if usage.rule.component != "k8s" or usage.status not in ("removed", "replacement-unavailable"):
            continue
        where = "gitops" if usage.source == "manifest" else "cluster"
        ref = f"{usage.file}:{usage.line}" if usage.file else usage.location
        found.append(make_finding(
            code="K8S-API-REMOVED", severity="critical", category="deprecated-api",
            title=f"{usage.rule.kind} {usage.name} uses {usage.rule.api_version}, removed in Kubernetes "
                  f"{usage.rule.removed_in} (target {target})",
            agent=AGENT, evidence=[Evidence(source=where, ref=ref, excerpt=f"apiVersion: {usage.rule.api_version}")],
            subject=Subject(cluster=usage.cluster, api_version=usage.rule.api_version, kind=usage.rule.kind,
                            namespace=usage.namespace, name=usage.name, file=usage.file, line=usage.line),
            remediation=(f"migrate to {usage.rule.replacement} before the control plane reaches "
                         f"{usage.rule.removed_in}") if usage.rule.replacement else "remove it before the upgrade",
            sources=[usage.rule.source] if usage.rule.source else [],
        ))
    return found


def _in_folder(file: str, folder: str) -> bool:
    """Whether a repo-relative file lies in a cluster's GitOps folder ('.' is the whole repo)."""
    folder = folder.strip("/")
    return folder in ("", ".") or file == folder or file.startswith(folder + "/")


def schema_subjects(fleet: Fleet, clusters: list[str]) -> list[SchemaSubject]:
    """The GitOps repo's manifests (each at the minors of the clusters whose folder holds it, or of every cluster in
    scope when none does) and every recorded object of a built-in kind on the clusters (Secrets excepted)."""
    minors = {name: minor_text(fleet.clusters[name].info.kubernetes_version) for name in clusters}
    subjects: list[SchemaSubject] = []
    root = fleet.gitops_root
    if root is not None and root.is_dir() and minors:
        manifests, _problems = load_manifests(root)  # unparsable files are the scanner's notes already
        for manifest in manifests:
            owners = [n for n in clusters if fleet.clusters[n].entry.gitops_path
                      and _in_folder(manifest.file, fleet.clusters[n].entry.gitops_path)] or clusters
            subjects.append(SchemaSubject(doc=manifest.doc, source="gitops", ref=f"{manifest.file}:{manifest.line}",
                                          current=tuple(minors[n] for n in owners), file=manifest.file,
                                          line=manifest.line))
    for name in clusters:
        source = fleet.clusters[name].source
        if source is None:
            continue
        for resource in source.resource_types():
            if resource.kind in SKIPPED_KINDS or not builtin_kind(resource.kind):
                continue
            for obj in source.objects(resource.api_version, resource.kind):
                # status is the API server's, not what anyone applies; the upgrade is judged on the rest
                obj = {key: value for key, value in obj.items() if key != "status"}
                meta = obj.get("metadata") or {}
                where = f"{name}/{meta.get('namespace', '')}/{meta.get('name', '')}".replace("//", "/")
                subjects.append(SchemaSubject(doc=obj, source="cluster", ref=where, current=(minors[name],),
                                              cluster=name))
    return subjects


def _schema_findings(report: SchemaReport) -> list[Finding]:
    """One finding per object that validates now and would not at the target."""
    found = []
    for broken in report.breaks:
        subject, doc = broken.subject, broken.subject.doc
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        found.append(make_finding(
            code="K8S-MANIFEST-INVALID-AT-TARGET", severity="high", category="deprecated-api",
            title=f"{subject.kind} {meta.get('name', '')} ({subject.api_version}) validates on Kubernetes "
                  f"{broken.passes_at} but not on {report.target}",
            agent=AGENT,
            evidence=[Evidence(source="gitops" if subject.source == "gitops" else "cluster", ref=subject.ref,
                               excerpt=f"apiVersion: {subject.api_version} kind: {subject.kind}")],
            subject=Subject(cluster=subject.cluster, api_version=subject.api_version, kind=subject.kind,
                            namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                            file=subject.file, line=subject.line),
            detail=f"kubernetes-validate (Kubernetes {report.target} schemas, strict): {broken.error}",
            remediation=f"make it valid for Kubernetes {report.target} before the control plane moves there",
            sources=["kubernetes-validate bundled OpenAPI schemas (pypi: kubernetes-validate)"],
        ))
    return found


def control_plane_steps(kube: KubernetesKnowledge, member: FleetCluster, hop: ControlPlaneHop) -> list[Step]:
    """The provider's commands for one control-plane hop (from the knowledge base, with its source), or a note
    saying the distribution's own procedure applies when the knowledge base has none for this provider."""
    info = member.info
    title = f"{CONTROL_PLANE_TAG}{info.name}: control plane {hop.from_version} -> {hop.to_version} ({info.provider})"
    procedure = kube.provider(info.provider)
    if procedure is None:
        return [Step(title=title, kind="note", cluster=info.name, from_version=hop.from_version,
                     to_version=hop.to_version,
                     detail=f"upgradectl has no {info.provider} procedure: upgrade the control plane one minor with "
                            "your distribution's own procedure")]

    def fill(text: str) -> str:
        return text.replace("{to}", hop.to_version).replace("{region}", info.region or "<REGION>")

    inputs = {name: fill(how) for name, how in procedure.inputs.items()}
    if not info.region:
        inputs["REGION"] = f"the region or location of {info.name} (the fleet file names none)"
    steps = []
    if procedure.addons:
        steps.append(Step(title=f"{CONTROL_PLANE_TAG}{info.name}: add-on versions for Kubernetes {hop.to_version}",
                          kind="pre-check", cluster=info.name, from_version=hop.from_version,
                          to_version=hop.to_version, inputs=inputs, source=procedure.source,
                          commands=[fill(c) for c in procedure.addons],
                          detail="Provider add-ons (VPC CNI, CoreDNS, kube-proxy...) that support the new minor."))
    steps.append(Step(title=title, kind="upgrade", cluster=info.name, from_version=hop.from_version,
                      to_version=hop.to_version, inputs=inputs, source=procedure.source,
                      commands=[fill(c) for c in procedure.control_plane],
                      detail=" ".join(procedure.notes) + (" (provider procedure not re-checked upstream)"
                                                          if procedure.uncertain else "")))
    return steps


def assess(fleet: Fleet, clusters: list[str], target: str, products: list[ToolKnowledge], today: date) -> Readiness:
    """Readiness of `clusters` of `fleet` for Kubernetes `target` (a minor)."""
    readiness = Readiness(target=target)
    scanner = Scanner({"k8s": target})
    report = ScanReport(targets=scanner.targets)
    spans: dict[str, list[tuple[str, str, list[str]]]] = {}  # tool -> (cluster, running version, minors crossed)
    for name in clusters:
        member = fleet.clusters[name]
        current = member.info.kubernetes_version
        minors = minors_between(current, target)
        if kube_minor(current) >= kube_minor(target):
            readiness.notes.append(f"{name} already runs Kubernetes {minor_text(current)}: nothing to do there")
            continue
        readiness.hops += [ControlPlaneHop(cluster=name, provider=member.info.provider, from_version=a, to_version=b)
                           for a, b in zip(minors, minors[1:], strict=False)]
        for k in products:
            found = _blocker(k, member, target, today)
            if found is None:
                continue
            blocker, finding = found
            readiness.blockers.append(blocker)
            readiness.findings.append(finding)
            if blocker.needed_version:
                spans.setdefault(k.tool, []).append((name, blocker.current_version, minors))
        scanner.scan_cluster(name, member.source, report, False)
    by_tool = {k.tool: k for k in products}
    for tool, where in spans.items():
        # one release for the tool's section: it must cover every minor of every cluster it moves on
        newest_running = max((version for _, version, _ in where), key=Version.parse)
        every_minor = sorted({m for _, _, minors in where for m in minors}, key=kube_minor)
        joint = covering_release(by_tool[tool], newest_running, every_minor)
        if joint is None:
            readiness.notes.append(f"{tool}: no one release covers Kubernetes {', '.join(every_minor)} on "
                                   f"{', '.join(n for n, _, _ in where)}: plan those clusters separately")
            continue
        readiness.sections[tool] = (joint.latest_patch, [n for n, _, _ in where])
        joint_range = str(joint.kube_range_for(joint.latest_patch))
        readiness.blockers = [
            b.model_copy(update={"needed_version": joint.latest_patch, "needed_kubernetes_range": joint_range})
            if b.tool == tool and b.needed_version else b for b in readiness.blockers
        ]
    if fleet.gitops_root is not None and fleet.gitops_root.is_dir():
        scanner.scan_manifests(fleet.gitops_root, report)
    readiness.findings += _api_findings(report, target)
    readiness.notes += report.notes
    moving = sorted({hop.cluster for hop in readiness.hops}, key=clusters.index)
    for k in products:
        _after_moves(readiness, fleet, k, moving)
    schemas = check_for_target(schema_subjects(fleet, moving), target)
    readiness.findings += _schema_findings(schemas)
    readiness.schema_notes = schemas.notes()
    readiness.notes += readiness.schema_notes
    return readiness
