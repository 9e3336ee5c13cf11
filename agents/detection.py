"""Breaking-change detection shared by the specialists: run the detectors of every change a path crosses
and turn each hit into a finding that cites the hit and the knowledge entry."""

from __future__ import annotations

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, make_finding
from upgradectl.agents.value_migrations import plan_migration
from upgradectl.models import (
    Evidence,
    Finding,
    Subject,
    UpgradePath,
)
from upgradectl.tools.analysis.detectors import Hit, run_detector
from upgradectl.tools.knowledge.loader import BreakingChange


def _changes_on_paths(task: TaskInput, kinds: tuple[str, ...]) -> list[tuple[BreakingChange, UpgradePath, str]]:
    """(change, path, hop) for every detectable change each path crosses, once per path."""
    found = []
    for path in task.paths:
        seen = set()
        for hop in path.hops:
            for change in task.knowledge.changes_crossed(hop.from_version, hop.to_version, path.from_version):
                if change.detector and change.detector.kind in kinds and change.id not in seen:
                    seen.add(change.id)
                    found.append((change, path, f"{hop.from_version} -> {hop.to_version}"))
    return found


def change_finding(task: TaskInput, change: BreakingChange, hop: str, hit: Hit, agent: str) -> Finding:
    """A finding for one detector hit of a breaking change, citing the hit and the knowledge entry."""
    what = hit.subject.describe() or hit.evidence.ref
    title = change.title
    key = hit.subject.helm_value_path
    migration = None
    if key and change.detector and change.detector.migrations:
        release = task.releases.get(hit.subject.cluster)
        migration = plan_migration(change.detector, key, release.values) if release else None
    if migration is not None:
        title = f"{change.title}: {migration.summary()}"
    elif hit.old:
        title = f"{change.title}: {hit.old} -> {hit.new or '(removed)'}"
    elif key and hit.value:  # the change is about this value; the key itself stays
        title = f"{change.title}: {key}: {hit.value} is no longer accepted"
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
                task.knowledge, f"breaking_changes[{change.id}]", f"{change.version}: {change.title}", change.source
            ),
        ],
        detail=f"{change.detail} Crossed by hop {hop}.".strip(),
        remediation=change.remediation,
        sources=[change.source],
        uncertain=change.uncertain,
    )


def detect_changes(task: TaskInput, kinds: tuple[str, ...], agent: str) -> TaskResult:
    """Run the detectors of every crossed breaking change of these kinds; one finding per hit."""
    findings: list[Finding] = []
    checked = []
    for change, path, hop in _changes_on_paths(task, kinds):
        hits = run_detector(change.detector, task.scan_for(set(path.clusters)))  # type: ignore[arg-type]
        findings.extend(change_finding(task, change, hop, hit, agent) for hit in hits)
        checked.append(
            f"{change.id} ({change.detector.kind}, crossed by {hop}) on "  # type: ignore[union-attr]
            f"{', '.join(path.clusters)}: {len(hits)} hit(s)"
        )
    if not checked:
        checked.append(f"no detectable {'/'.join(kinds)} changes are crossed by the planned paths")
    return TaskResult(findings, checked)


def unread_values(task: TaskInput, agent: str) -> TaskResult:
    """Helm values Git declares but that could not be read (SOPS-encrypted, a Secret or file not in the
    repository) on clusters planned from Git alone: when the path crosses a Helm value change, those values
    were not checked, which is said."""
    crossed = [c for c, _, _ in _changes_on_paths(task, ("helm_value",))]
    if not crossed:
        return TaskResult([], [])
    findings, checked = [], []
    for cluster, composed in sorted(task.view.desired_values(task.knowledge, task.scope_names).items()):
        if cluster in task.releases:  # the deployed release's values were read from the cluster
            continue
        for values in composed:
            checked.append(f"{cluster}: {values.release} values from {len(values.layers)} source(s): "
                           f"{'; '.join(values.layers) or 'none'}")  # fmt: skip
            for unread in values.unread:
                findings.append(
                    make_finding(
                        code="GITOPS-VALUES-NOT-CHECKED",
                        severity="medium",
                        category="incomplete",
                        title=f"{cluster}: {values.release} takes values from {unread.what}, which could not be "
                        f"read ({unread.why}): the Helm value changes on the path were not checked there",
                        agent=agent,  # type: ignore[arg-type]
                        subject=Subject(cluster=cluster, helm_release=values.release.split(" ", 1)[-1],
                                        file=unread.ref.split(":", 1)[0]),  # fmt: skip
                        evidence=[Evidence(source="gitops", ref=unread.ref, excerpt=f"{unread.what}: {unread.why}")],
                        detail="Values changed or removed by the path: "
                        + "; ".join(f"{c.id} ({', '.join(c.detector.watched_keys())})" for c in crossed if c.detector),
                        remediation="Check those keys in the decrypted values by hand (sops -d FILE | grep KEY), or "
                        "plan with cluster access (snapshot or context) so the deployed values are read.",
                    )
                )
    return TaskResult(findings, checked)
