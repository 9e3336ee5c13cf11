"""Inventory: which version each cluster runs, the target and the upgrade paths (stage 1, shared by
every agent and entry point)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from upgradectl.agents import chart_targets
from upgradectl.agents.advisories import advisory_findings
from upgradectl.agents.base import FleetView, knowledge_evidence, kubernetes_evidence, make_finding
from upgradectl.models import (
    ENVIRONMENT_ORDER,
    AdvisoryReport,
    ClusterVersion,
    Evidence,
    Finding,
    Plan,
    Subject,
    UpgradePath,
    UpgradeRequest,
)
from upgradectl.tools.advisories.osv import OsvClient
from upgradectl.tools.advisories.ranking import assess
from upgradectl.tools.analysis.inventory import (
    Installation,
    companions,
    detect_installation,
    running_images,
    served_range,
)
from upgradectl.tools.analysis.paths import (
    PathError,
    latest_compatible,
    plan_path,
    resolve_target,
    security_target,
    unreviewed_lines_crossed,
    unsupported_clusters,
)
from upgradectl.tools.cluster.fleet import Fleet, FleetCluster, unknown_clusters_message
from upgradectl.tools.cluster.sources import SourceError
from upgradectl.tools.gitops.changes import apply_edits, change_sets, read_files
from upgradectl.tools.gitops.desired import Declaration
from upgradectl.tools.gitops.manifests import iter_files
from upgradectl.tools.helm import HelmRelease
from upgradectl.tools.knowledge.freshness import today as clock_today
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.knowledge.support import kubernetes_opening, line_support, supported_lines
from upgradectl.tools.textfiles import find_line, line_text
from upgradectl.tools.versions import Version

AGENT = "flux-navigator"


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
    advisories: AdvisoryReport | None = None


def _target_support(
    knowledge: ToolKnowledge,
    target: str,
    kube: dict[str, str],
    checked: list[str],
    *,
    named: bool,
    security: bool,
    today: date,
) -> list[Finding]:
    """A target on a line that no longer receives fixes. For a security request it may not carry the fix at all
    (<P>-SECURITY-TARGET-UNPATCHED); for any other request the upgrade lands where the next fix will not come
    (<P>-TARGET-LINE-UNSUPPORTED). High when upgradectl chose the target; when the request named it, a low note
    (security: whoever named it has the advisory's fixed versions in hand) or medium. The fix names a supported
    line that fits the clusters, or the Kubernetes upgrade that would open one."""
    status = line_support(knowledge, target, today)
    if status.status == "unknown":
        checked.append(f"support: {status.reason}")
        return []
    if status.supported:
        checked.append(f"support: target line {status.line} still receives fixes ({status.reason})")
        return []
    supported = supported_lines(knowledge, today) or []
    listed = ", ".join(r.line for r in supported) or "none known"
    fitting = [
        r for r in supported if r.notes_reviewed and not unsupported_clusters(knowledge, r.latest_patch, kube)
    ]
    clusters = ", ".join(f"{c} {v}" for c, v in sorted(kube.items()))
    if fitting:
        how = (
            f"move to {knowledge.display_name} {fitting[0].latest_patch} (line {fitting[0].line}, still supported) "
            "instead"
        )
    elif opening := kubernetes_opening(knowledge, kube, today):
        how = f"no supported line fits the clusters' Kubernetes ({clusters}): {opening.describe(knowledge)}"
    else:
        how = f"no supported line with a known Kubernetes range fits the clusters ({clusters}); check upstream"
    if security:
        code, severity = f"{knowledge.prefix}-SECURITY-TARGET-UNPATCHED", "low" if named else "high"
        title = (
            f"Security upgrade targets {knowledge.display_name} {target}, but line {status.line} no longer receives "
            f"patches (supported: {listed})"
        )
        detail = (
            "A fix published for a supported line is not backported to older ones, so this target may not contain "
            "the fix the request is about. Check the advisory's fixed versions."
        )
    else:
        code, severity = f"{knowledge.prefix}-TARGET-LINE-UNSUPPORTED", "medium" if named else "high"
        title = (
            f"Target {knowledge.display_name} {target} is on line {status.line}, which no longer receives fixes "
            f"(supported: {listed})"
        )
        detail = (
            "After this upgrade the clusters run a line that gets no bug or security fixes: the next advisory "
            "means another upgrade first."
        )
    if named:
        detail += " The version was named in the request, so it is planned as asked."
    return [
        make_finding(
            code=code,
            severity=severity,
            category="security" if security else "support",
            title=title,
            agent=AGENT,
            subject=Subject(tool=knowledge.tool, version=target),
            evidence=[knowledge_evidence(knowledge, status.where, status.reason, status.source)],
            detail=detail,
            remediation=how[0].upper() + how[1:] + ".",
            sources=[status.source],
            uncertain=status.uncertain,
        )
    ]


def _current_support(
    knowledge: ToolKnowledge, groups: dict[str, dict[str, str]], installs: dict[str, Installation], today: date
) -> list[Finding]:
    """Clusters that run a line no longer receiving fixes today (low: the reason to upgrade, not a risk of it)."""
    findings = []
    by_line: dict[str, list[str]] = {}
    for current, kube_versions in groups.items():
        by_line.setdefault(Version.parse(current).line, []).extend(kube_versions)
    for line, clusters in sorted(by_line.items(), key=lambda kv: Version.parse(kv[0])):
        status = line_support(knowledge, line, today)
        if status.supported or status.status == "unknown":
            continue
        names = sorted(clusters)
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-CURRENT-LINE-UNSUPPORTED",
                severity="low",
                category="support",
                title=f"{', '.join(names)} {'runs' if len(names) == 1 else 'run'} {knowledge.display_name} {line}, "
                "which no longer receives fixes",
                agent=AGENT,
                subject=Subject(cluster=",".join(names), tool=knowledge.tool, version=line),
                evidence=[
                    *(e for n in names for e in installs[n].evidence[:1]),
                    knowledge_evidence(knowledge, status.where, status.reason, status.source),
                ],
                detail="Known bugs and security issues of this line stay unfixed until the upgrade lands.",
                remediation="Upgrade to a line that still receives fixes (this plan's target says whether it is one).",
                sources=[status.source],
                uncertain=status.uncertain,
            )
        )
    return findings


def _unreviewed_lines(knowledge: ToolKnowledge, paths: list[UpgradePath]) -> list[Finding]:
    """Paths that enter a line nobody reviewed (added by `knowledge refresh`): its breaking changes, path rules
    and Kubernetes range are unknown, so the checks this plan ran for it are incomplete."""
    findings = []
    for line in sorted(
        {
            line
            for p in paths
            for h in p.hops
            for line in unreviewed_lines_crossed(knowledge, h.from_version, h.to_version)
        },
        key=Version.parse,
    ):
        release = knowledge.release(line)
        assert release is not None
        clusters = sorted({c for p in paths for c in p.clusters})
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-NOTES-NOT-REVIEWED",
                severity="high",
                category="incomplete",
                title=f"{knowledge.display_name} {line}: upgrade notes not reviewed, so its breaking changes were not "
                      "checked",
                agent=AGENT,
                subject=Subject(cluster=",".join(clusters), tool=knowledge.tool, version=line),
                evidence=[
                    knowledge_evidence(
                        knowledge,
                        f"releases[{line}]",
                        f"notes_reviewed: false; latest_patch {release.latest_patch}",
                        release.source,
                    )
                ],
                detail="The line was added from the upstream release list by `upgradectl knowledge refresh`; "
                "no breaking change, removed API, path rule or Kubernetes range of it is in the knowledge base.",
                remediation=f"Read {knowledge.display_name} {line}'s upgrade notes before this hop, or target the "
                "newest reviewed line; update upgradectl to get reviewed knowledge.",
                sources=[release.source],
                uncertain=True,
            )
        )
    return findings


def _skipped_stages(
    knowledge: ToolKnowledge,
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
                f"{env}: earlier environments already run {knowledge.display_name} {target} or newer on "
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
                title=f"{env} would get {knowledge.display_name} {target} before any earlier environment: {names} "
                f"are out of scope and still run older versions",
                agent=AGENT,
                subject=Subject(cluster=",".join(n for n, _ in behind), tool=knowledge.tool, version=target),
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
    knowledge: ToolKnowledge, others: list[FleetCluster], target: str, checked: list[str], gitops_root: Path | None
) -> list[Finding]:
    """Companion components (vmagent, vmalert) on clusters where the tool itself does not run: the plan does
    not upgrade them and its detectors do not look at them, so say so, cluster by cluster."""
    findings = []
    pinned: dict[tuple[str, ...], list[Evidence]] = {}
    for cluster in others:
        if cluster.source is None or not knowledge.companion_images:
            continue
        behind = [
            c
            for c in companions(knowledge, cluster.source, cluster.info.name)
            if Version.parse(c.version) < Version.parse(target)
        ]
        if not behind:
            continue
        listed = ", ".join(f"{c.name} {c.version}" for c in behind)
        verb = "runs" if len(behind) == 1 else "run"
        checked.append(f"{cluster.info.name}: {knowledge.display_name} components outside the plan: {listed}")
        images = sorted({c.image for c in behind})
        if tuple(images) not in pinned:  # clusters usually share the pin: read the repo once per image set
            pinned[tuple(images)] = _image_pins(gitops_root, images)
        pins = pinned[tuple(images)]
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-COMPONENTS-OUTSIDE-PLAN",
                severity="medium",
                category="inventory",
                title=f"{cluster.info.name}: {listed} {verb} older than {target} outside this plan",
                agent=AGENT,
                subject=Subject(cluster=cluster.info.name, tool=knowledge.tool, version=behind[0].version),
                evidence=[c.evidence for c in behind] + pins,
                detail=f"{knowledge.display_name} itself does not run on {cluster.info.name}, so this plan neither "
                "upgrades these components nor runs its breaking-change detectors against them; changes crossed on "
                "the way to the target (removed flags, new defaults) apply to them when they are upgraded.",
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


def git_installation(cluster: str, declarations: list[Declaration], prefix: str) -> Installation | None:
    """The version Git declares for a cluster: the strongest declaration that names one, citing it and the
    other declarations that agree."""
    named = [d for d in declarations if d.version]
    if not named:
        return None
    chosen = named[0]
    agreeing = [d for d in named if d.version == chosen.version]
    evidence = tuple(d.evidence(prefix) for d in agreeing[:3])
    chart_version = chosen.declared if chosen.pin == "chart" else ""  # an image tag is no chart version
    return Installation(cluster, chosen.version, chart_version, None, evidence, chart=chosen.chart)


def git_only_version(knowledge: ToolKnowledge, view: FleetView, name: str) -> str:
    """The version a Git-only cluster runs as a plan reads it: what Git declares, else the oldest release that
    serves the objects Git applies (as the inventory infers it); '' when Git tells neither."""
    declarations = view.declarations_for(knowledge, name)
    declared = git_installation(name, declarations, view.fleet.gitops_prefix)
    if declared is not None:
        return declared.version
    if declarations:  # installed, but Git does not say which version
        return ""
    inferred = served_range(knowledge, view.manifests_for({name}), view.fleet.gitops_prefix)
    return inferred.low if inferred is not None else ""


def _git_only_inventory(
    knowledge: ToolKnowledge,
    view: FleetView,
    name: str,
    declarations: list[Declaration],
    declared: Installation | None,
    installs: dict[str, Installation],
    checked: list[str],
) -> list[Finding]:
    """A Git-only cluster runs what Git declares; a declaration whose version Git does not tell is a finding."""
    if declared is not None:
        installs[name] = declared
        others = sorted({d.version for d in declarations if d.version and d.version != declared.version})
        checked.append(
            f"{name}: Git declares {knowledge.display_name} {declared.version} ({declared.evidence[0].ref})"
            + (f"; other declarations say {', '.join(others)}" if others else "")
        )
        return []
    if not declarations:
        inferred = served_range(knowledge, view.manifests_for({name}), view.fleet.gitops_prefix)
        if inferred is None:
            checked.append(
                f"{name}: Git declares no {knowledge.display_name} installation and applies none of its objects"
            )
            return []
        evidence = (inferred.low_because, *([inferred.high_because] if inferred.high_because else []))
        installs[name] = Installation(name, inferred.low, "", None, evidence)
        checked.append(f"{name}: Git pins no {knowledge.display_name} version; its {knowledge.display_name} objects "
                       f"are served by {inferred.low} to {inferred.high}: planned from {inferred.low}")  # fmt: skip
        return [
            make_finding(
                code="GITOPS-VERSION-INFERRED",
                severity="medium",
                category="inventory",
                title=f"{name}: Git pins no {knowledge.display_name} version; the API versions its manifests use are "
                f"served by {knowledge.display_name} {inferred.low} to {inferred.high}, so the plan starts from "
                f"{inferred.low}",
                agent=AGENT,
                subject=Subject(cluster=name, tool=knowledge.tool, version=inferred.low),
                evidence=list(evidence),
                detail=f"Nothing in the repository names the {knowledge.display_name} version this cluster runs (a "
                "bootstrap writes it outside Git, or the file is a placeholder). Every version in the range serves "
                "the objects Git applies; starting from the oldest checks every change a newer one would skip.",
                remediation=f"Check what runs ({'flux version' if knowledge.tool == 'flux' else 'the running images'}) "
                "and, if it is newer, plan again with cluster access (snapshot or context) or pin the version in Git.",
            )
        ]
    first = declarations[0]
    checked.append(f"{name}: {first.owner} declares {knowledge.display_name} but not which version ({first.note})")
    return [
        make_finding(
            code="GITOPS-VERSION-UNDECLARED",
            severity="medium",
            category="incomplete",
            title=f"{name}: {first.owner} installs {knowledge.display_name}, but Git does not say which version "
            f"({first.ref}); {name} is left out of the plan",
            agent=AGENT,
            subject=Subject(cluster=name, tool=knowledge.tool, file=first.file, line=first.line),
            evidence=[d.evidence() for d in declarations[:3]],
            detail=first.note,
            remediation="Pin one chart version in Git (the controller then installs exactly it), or give "
            "upgradectl access to the cluster (snapshot or context in the fleet file) so it reads what runs.",
        )
    ]


def _older_than_knowledge(
    knowledge: ToolKnowledge, paths: list[UpgradePath], installs: dict[str, Installation]
) -> list[Finding]:
    """A version older than every release the knowledge base covers has no planned hop: a blocker, with where the
    version was read and the first release the base knows (the plan is still written, not refused)."""
    oldest = knowledge.releases[0]
    findings = []
    for path in paths:
        if path.feasible or path.hops:
            continue
        evidence = [e for c in path.clusters for e in installs[c].evidence][:3]
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-CURRENT-OLDER-THAN-KNOWLEDGE",
                severity="critical",
                category="compatibility",
                title=f"{knowledge.display_name} {path.from_version} on {', '.join(path.clusters)} is older than every "
                f"release the knowledge base covers ({oldest.line} to {knowledge.newest()}): no path is planned from "
                "it",
                agent=AGENT,
                subject=Subject(cluster=",".join(path.clusters), tool=knowledge.tool, version=path.from_version),
                evidence=[
                    *evidence,
                    knowledge_evidence(
                        knowledge,
                        f"releases[{oldest.line}]",
                        f"oldest line covered: {oldest.line} (latest patch {oldest.latest_patch})",
                        oldest.source,
                    ),
                ],  # fmt: skip
                detail="The breaking changes, Kubernetes ranges and path rules before the oldest covered line are not "
                "in the knowledge base, so no hop from this version can be checked.",
                remediation="; ".join(path.blockers),
                sources=[oldest.source],
            )
        )
    return findings


def _differ(found: Installation, declared: Installation) -> bool:
    """Git and the cluster disagree: on the chart version when both install a chart, else on the version."""
    if found.chart_version and declared.chart_version and found.release is not None:
        return Version.parse(found.chart_version) != Version.parse(declared.chart_version)
    return found.version != declared.version


def _drift(knowledge: ToolKnowledge, name: str, found: Installation, declared: Installation) -> Finding:
    """Git declares one version, the cluster runs another."""
    return make_finding(
        code="GITOPS-VERSION-DRIFT",
        severity="high",
        category="inventory",
        title=f"{name}: Git declares {knowledge.display_name} {declared.version} ({declared.evidence[0].ref}) but the "
        f"cluster runs {found.version}",
        agent=AGENT,
        subject=Subject(cluster=name, tool=knowledge.tool, version=found.version),
        evidence=[*found.evidence, *declared.evidence],
        detail="The plan starts from the running version, and its edits expect Git to pin that version: they "
        "are refused while Git says otherwise. A reconciliation failing or suspended, a change made by hand "
        "(helm upgrade, kubectl edit) or a pin not merged yet all look like this.",
        remediation="Find out which is right (flux get helmreleases -A, or argocd app get), make Git and the "
        "cluster agree, then plan again.",
    )


def _kubernetes_unknown(
    knowledge: ToolKnowledge, name: str, current: str, target: str, cur_range, tgt_range
) -> Finding:
    """A cluster whose Kubernetes version is not known: compatibility is unknown, never assumed."""
    ranges = "; ".join(
        f"{knowledge.display_name} {version} supports Kubernetes {kube_range}"
        for version, kube_range in ((current, cur_range), (target, tgt_range))
        if kube_range
    )
    return make_finding(
        code="K8S-VERSION-UNKNOWN",
        severity="medium",
        category="incomplete",
        title=f"{name}: Kubernetes version unknown, so whether {knowledge.display_name} {current} and the path to "
        f"{target} support it was not checked",
        agent=AGENT,
        subject=Subject(cluster=name, tool=knowledge.tool, version=current),
        evidence=[
            Evidence(
                source="gitops",
                ref=f"{name}: fleet entry",
                excerpt="no kubernetes_version for this Git-only cluster (and no --kubernetes)",
            ),  # fmt: skip
            knowledge_evidence(knowledge, "releases", ranges or f"no Kubernetes range for {current} or {target}"),
        ],
        remediation="Pass --kubernetes X.Y (or set kubernetes_version on the cluster in the fleet file) and plan "
        "again; every hop is then checked against it.",
    )


@dataclass
class ProjectedFleet(Fleet):
    """The fleet as a plan's earlier moves leave it: its clusters at a later Kubernetes minor and some tools at the
    versions earlier sections take them to. Planning on it gives the moves that can only come after those (a
    Kubernetes plan's tools after the control plane); everything else is read from the real sources."""

    installations: dict[tuple[str, str], Installation] = field(default_factory=dict)  # (cluster, tool) -> after


def edited_checkout(fleet: Fleet, sections: list[Plan], into: Path) -> Path:
    """Copy the fleet's GitOps repo and Terraform folders to `into` (same layout under the fleet root) with every
    change set of `sections` applied in order, and return the new root: the Git a later move starts from. Raises
    EditError when an edit does not apply (the earlier sections were not made on this checkout)."""
    folders = [p for p in (fleet.gitops_root, *fleet.terraform_roots) if p is not None and p.is_dir()]
    base = fleet.root.resolve()
    for folder in folders:
        if folder.is_relative_to(base):
            shutil.copytree(folder, into / folder.relative_to(base), dirs_exist_ok=True, symlinks=True)
    edits = [edit for section in sections for cs in change_sets(section) for edit in cs.edits]
    texts = read_files(into, sorted({e.file for e in edits if e.file and e.action != "manual"}))
    for edit in edits:
        texts.update(apply_edits(texts, [edit]))
    for rel, text in texts.items():
        (into / rel).write_text(text)
    return into


def projected_installation(fleet: Fleet, tool: str, cluster: str) -> Installation | None:
    """The installation an earlier move of the plan leaves on `cluster` (None on a real fleet)."""
    return fleet.installations.get((cluster, tool)) if isinstance(fleet, ProjectedFleet) else None


def take_inventory(
    request: UpgradeRequest,
    fleet: Fleet,
    knowledge: ToolKnowledge,
    today: date | None = None,
    view: FleetView | None = None,
    osv: OsvClient | None = None,
    osv_off: str = "",
) -> Inventory:
    """Stage 1: current versions per cluster (running, else as Git declares them for Git-only clusters; a
    difference is drift), the target, and a rule-abiding path per version group.
    Support windows are judged on `today` (default: UPGRADECTL_TODAY or the local date). With an OSV client the
    running and target versions' advisories are looked up, and a security request without a version targets the
    smallest version that fixes every high/critical advisory; `osv_off` says why no client was given (the plan
    then says 'not checked')."""
    today = today or clock_today()
    wanted = set(request.clusters)
    unknown = wanted - set(fleet.clusters)
    if unknown:
        raise PlanningError(
            unknown_clusters_message(sorted(unknown), fleet.clusters)
        )
    view = view or FleetView(fleet)
    installs: dict[str, Installation] = {}
    checked = []
    findings: list[Finding] = []
    for name, cluster in fleet.clusters.items():
        projected = projected_installation(fleet, knowledge.tool, name)
        if projected is not None:  # no drift check: Git still declares what runs before the earlier moves
            installs[name] = projected
            checked.append(f"{name}: {knowledge.display_name} {projected.version} once {projected.evidence[0].ref}")
            continue
        declarations = view.declarations_for(knowledge, name)
        declared = git_installation(name, declarations, fleet.gitops_prefix)
        if cluster.source is None:
            if cluster.entry.git_only:
                findings.extend(_git_only_inventory(knowledge, view, name, declarations, declared, installs, checked))
            continue
        try:
            found = detect_installation(knowledge, cluster.source, name)
        except SourceError as exc:
            cluster.mark_unreadable(str(exc))
            checked.append(f"{name}: could not be read: {exc}")
            continue
        if found and declared and _differ(found, declared) and not found.provider_managed:
            findings.append(_drift(knowledge, name, found, declared))
        elif found and declared:
            checked.append(f"{name}: Git declares the running {knowledge.display_name} {found.version} "
                           f"({declared.evidence[0].ref})")  # fmt: skip
        if found and found.provider_managed:
            checked.append(
                f"{name}: {knowledge.display_name} {found.version} is managed by the cloud provider "
                f"({found.evidence[0].excerpt}); it upgrades with the cluster, not in this plan"
            )
            continue
        checked.append(
            f"{name}: {'found ' + knowledge.display_name + ' ' + found.version if found else 'not installed'}"
        )
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
            f"no cluster in scope runs {knowledge.display_name} (clusters running it: {running}; "
            f"requested clusters: {', '.join(sorted(wanted)) or 'all'}, environments: "
            f"{', '.join(request.environments) or 'all'})"
        )
    kube = {c.info.name: c.info.kubernetes_version for c in scope}
    running = sorted({installs[c.info.name].version for c in scope}, key=Version.parse)
    images = {image for c in scope if c.source for image in running_images(knowledge, c.source)}
    report: AdvisoryReport | None = (
        AdvisoryReport(status="not-checked", reason=osv_off) if osv is None and osv_off else None
    )
    try:
        if request.target_version:
            target = resolve_target(knowledge, request.target_version)
            target_reason = f"requested target {request.target_version} -> {target}"
        else:
            lines = {Version.parse(v).line for v in running}
            fast_track = request.trigger == "security" and request.channel != "lts"
            chosen = None
            if fast_track and osv is not None:
                report = assess(knowledge, osv, running, kube, today, images)
                if report.minimal_target:
                    why = f"{report.minimal_target_reason} (OSV, {report.status} {report.fetched_at})"
                    chosen = report.minimal_target, f"security fix ranked by what it fixes: {report.minimal_target} " \
                        f"is {why}"
            chosen = chosen or (security_target(knowledge, lines, kube, today) if fast_track else None)
            target, target_reason = chosen or latest_compatible(knowledge, kube, today, lts=request.channel == "lts")
    except PathError as exc:
        raise PlanningError(str(exc)) from exc
    scoped = {c.info.name: installs[c.info.name] for c in scope}
    security = request.trigger == "security"
    chart = chart_targets.choose(knowledge, target, target_reason, scoped, kube, security)
    target, target_reason = chart.target, chart.reason
    if osv is not None and (report is None or report.target != target):
        minimal = report  # keep what the security ranking found when the plan targets another version
        report = assess(knowledge, osv, running, kube, today, images, target=target)
        if minimal is not None and report.status != "not-checked":
            report = report.model_copy(update={k_: getattr(minimal, k_) for k_ in (
                "minimal_target", "minimal_target_reason", "patch_suffices", "patch_note")})
    if report is not None and report.status != "not-checked":
        checked.append(f"advisories (OSV, {report.status} {report.fetched_at}): {len(report.advisories)} for "
                       f"{', '.join(report.packages)}; {len(report.at_target)} still affect {target}")
    elif report is not None:
        checked.append(f"advisories: not checked ({report.reason})")
    findings.extend(advisory_findings(knowledge, report, security=request.trigger == "security"))

    groups: dict[str, dict[str, str]] = {}
    for c in scope:
        groups.setdefault(installs[c.info.name].version, {})[c.info.name] = c.info.kubernetes_version
    paths = []
    for current, kube_versions in sorted(groups.items(), key=lambda kv: Version.parse(kv[0])):
        if Version.parse(current) > Version.parse(target):
            raise PlanningError(
                f"{knowledge.display_name} on {', '.join(sorted(kube_versions))} is already at {current}, newer than "
                f"the target {target}; choose a target of at least {current}"
            )
        try:
            path = plan_path(knowledge, current, target, kube_versions, target_reason, chart.charted)
            if chart.blocker and set(kube_versions) & set(chart_targets.chart_installs(knowledge, scoped)):
                path = path.model_copy(update={"feasible": False, "blockers": [*path.blockers, chart.blocker]})
            paths.append(path)
        except PathError as exc:
            raise PlanningError(str(exc)) from exc

    versions = []
    for name, cluster in fleet.clusters.items():
        found = installs.get(name)
        current = found.version if found else ""
        in_scope = cluster in scope
        cur_range = knowledge.kube_range(current) if current else None
        tgt_range = knowledge.kube_range(target) if in_scope else None
        kube_known = cluster.info.kubernetes_known
        versions.append(
            ClusterVersion(
                cluster=name,
                environment=cluster.info.environment,
                kubernetes_version=cluster.info.kubernetes_version,
                current_version=current,
                target_version=target if in_scope else "",
                current_supported=cur_range.contains(cluster.info.kubernetes_version)
                if cur_range and kube_known
                else None,
                current_kubernetes_range=str(cur_range) if cur_range else "",
                target_supported=tgt_range.contains(cluster.info.kubernetes_version)
                if tgt_range and kube_known
                else None,
                target_kubernetes_range=str(tgt_range) if tgt_range else "",
                detected_from=list(found.evidence) if found else [],
            )
        )
        if in_scope and not kube_known:
            findings.append(_kubernetes_unknown(knowledge, name, current, target, cur_range, tgt_range))
        if in_scope and cur_range and kube_known and not cur_range.contains(cluster.info.kubernetes_version):
            release = knowledge.release(current)
            findings.append(
                make_finding(
                    code=f"{knowledge.prefix}-CURRENT-K8S-UNSUPPORTED",
                    severity="high",
                    category="compatibility",
                    title=f"{knowledge.display_name} {current} on {name} runs outside its supported Kubernetes range "
                    f"({cur_range}; cluster is {cluster.info.kubernetes_minor})",
                    agent=AGENT,
                    subject=Subject(cluster=name, tool=knowledge.tool, version=current),
                    evidence=[
                        *found.evidence,
                        kubernetes_evidence(cluster),
                        knowledge_evidence(
                            knowledge,
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
    findings.extend(
        _target_support(
            knowledge,
            target,
            kube,
            checked,
            named=bool(request.target_version),
            security=request.trigger == "security",
            today=today,
        )
    )
    findings.extend(_current_support(knowledge, groups, installs, today))
    findings.extend(chart_targets.findings(knowledge, chart, paths, scoped))
    findings.extend(_unreviewed_lines(knowledge, paths))
    findings.extend(_skipped_stages(knowledge, fleet, scope, installs, target, checked))
    others = [c for n, c in fleet.clusters.items() if n not in installs and in_request(c)]
    findings.extend(_companions_outside(knowledge, others, target, checked, fleet.gitops_root))
    findings.extend(_older_than_knowledge(knowledge, paths, installs))
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
        report,
    )
