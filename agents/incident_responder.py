"""incident-responder: the way back (rollback limits crossed, backups), and the rollout itself:
one stage per environment with exact steps, file changes, gates, rollback steps, soak and approval."""

from __future__ import annotations

import re

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, make_finding
from upgradectl.agents.flux_navigator import VersionPin, gitops_pins
from upgradectl.agents.terraform_auditor import terraform_pins
from upgradectl.models import (
    Environment,
    Finding,
    Gate,
    RiskLevel,
    RolloutStage,
    Step,
    Subject,
    UpgradePath,
)
from upgradectl.tools.knowledge import BreakingChange, StepTemplate, ToolKnowledge
from upgradectl.tools.terraform import resolve_values_file
from upgradectl.tools.versions import Version

AGENT = "incident-responder"
BASE_SOAK_MINUTES: dict[Environment, int] = {"dev": 30, "staging": 120, "prod": 240}
RISK_SOAK_FACTOR: dict[RiskLevel, float] = {"low": 0.5, "medium": 1.0, "high": 1.5, "critical": 2.0}


def rollback_design(t: TaskInput) -> TaskResult:
    """Stage 3: every rollback limit the paths cross, as findings the plan must respect."""
    k = t.knowledge
    findings: list[Finding] = []
    checked = []
    for path in t.paths:
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


def _render(template: StepTemplate, values: dict[str, str]) -> Step:
    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    return Step(title=fill(template.title), detail=fill(template.detail), commands=[fill(c) for c in template.commands])


def _applies(template: StepTemplate, a: str, b: str) -> bool:
    va, vb = Version.parse(a), Version.parse(b)
    if template.when == "crosses_minor":
        return va.line != vb.line
    if template.when == "crosses_major":
        return va.major != vb.major
    return True


def _pin_change(k: ToolKnowledge, pin: VersionPin, a: str, b: str) -> str:
    """The edit of one version pin (a Terraform or GitOps line) for the hop a -> b. The line is shown
    as it will read after the previous hops (the file today holds the path's starting version)."""
    declared = re.split(r"[:=]", pin.text, maxsplit=1)[-1].strip().strip('"' + "'")
    before = k.chart_version_for(a)
    old_text = pin.text.replace(declared, k.chart.spell(before), 1) if declared and before else pin.text
    chart = k.chart_version_for(b)
    if not chart:
        return (
            f"{pin.file}:{pin.line}: {old_text}  ->  the {k.chart.name} chart version that ships {b} "
            f"(not in the knowledge base's chart table: `helm search repo {k.chart.name} --versions`)"
        )
    new_text = pin.text.replace(declared, k.chart.spell(chart), 1) if declared else f"{pin.text} {chart}"
    return f"{pin.file}:{pin.line}: {old_text}  ->  {new_text}"


def _image_tag_pins(values: dict, a: str, path: str = "") -> list[str]:
    """Dotted value paths whose value is the running version (an image tag pinned in the values)."""
    found = []
    for key, value in values.items():
        here = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict):
            found.extend(_image_tag_pins(value, a, here))
        elif isinstance(value, str) and value.lstrip("v") == a and key in ("tag", "version", "imageTag"):
            found.append(here)
    return found


def _values_location(t: TaskInput, cluster: str) -> str:
    """Where the tool's Helm values for this cluster are kept (Terraform values file or GitOps HelmRelease)."""
    for root in t.view.terraform:
        for hr in root.helm_releases:
            if hr.chart not in t.knowledge.install_markers:
                continue
            for template in hr.values_files:
                path = resolve_values_file(root, template, {"cluster_name": cluster})
                if path.is_file():
                    return str(path.resolve().relative_to(t.fleet.root))
    pins = gitops_pins(t.view, t.knowledge, {cluster})
    if pins:
        return pins[0].file
    release = t.releases.get(cluster)
    return f"the values of Helm release {release.ref}" if release else "the release's Helm values"


def _finding_change(t: TaskInput, cluster: str, f: Finding, change: BreakingChange) -> str:
    """The file edit one finding asks for, phrased by what its detector saw."""
    d = change.detector
    assert d is not None
    where = f"{f.subject.file}:{f.subject.line}" if f.subject.file else _values_location(t, cluster)
    what = f"{f.subject.kind} {f.subject.name}".strip()
    if d.kind == "helm_value":
        old = f.subject.helm_value_path
        if old in d.renames:
            new = d.renames[old]
            return f"{where}: rename {old} -> {new}" if new else f"{where}: remove {old} (no longer supported)"
        return f"{where}: review {old}: {change.title}"
    if d.kind == "label_selector_in_use":
        new = d.renames.get(d.label, "")
        return f"{where}: {what}: select on {new or 'the new label'} instead of {d.label}"
    if d.kind == "annotation_in_use":
        new = d.renames.get(d.annotation, "")
        return f"{where}: {what}: {'use ' + new + ' instead of' if new else 'remove'} annotation {d.annotation}"
    if d.kind == "api_in_use":
        return f"{where}: migrate {what} from {d.api_version} to {d.replacement or 'its replacement'}"
    return f"{where}: {change.title}"


def _file_changes(t: TaskInput, cluster: str, a: str, b: str, path: UpgradePath) -> list[str]:
    """Edits in files for one cluster and hop: what the crossed changes found in GitOps and Helm values
    (migrate before the hop), then the version pins."""
    k = t.knowledge
    changes = []
    crossed = {c.id: c for c in k.changes_crossed(a, b, path.from_version) if c.detector}
    for f in t.findings:
        change = crossed.get(f.code)
        if change is None or cluster not in f.subject.cluster.split(","):
            continue
        if f.subject.file or f.subject.helm_value_path:  # things in files; live objects follow the files
            changes.append(_finding_change(t, cluster, f, change))
    pins = [p for p in [*terraform_pins(t), *gitops_pins(t.view, k, {cluster})] if p.cluster == cluster]
    changes.extend(_pin_change(k, pin, a, b) for pin in pins)
    release = t.releases.get(cluster)
    for value_path in _image_tag_pins(release.values, path.from_version) if release else []:
        changes.append(f"{_values_location(t, cluster)}: {value_path}: v{a} -> v{b} (image tag pinned in the values)")
    if not pins:
        changes.append(
            f"no version pin found in Terraform or GitOps for {cluster}: upgrade Helm release "
            f"{release.ref if release else k.release_name} directly"
        )
    return list(dict.fromkeys(changes))


def soak_minutes(env: Environment, risk: RiskLevel, fast_track: bool) -> int:
    minutes = BASE_SOAK_MINUTES[env] * RISK_SOAK_FACTOR[risk]
    if fast_track:
        minutes *= 0.5
    return max(15, int(round(minutes / 15.0)) * 15)


def build_stage(t: TaskInput, env: Environment, hop_gates: dict[str, list[Gate]]) -> RolloutStage | None:
    """One environment's rollout: per cluster and hop, the changes, commands, gates and way back."""
    assert t.decision is not None
    k = t.knowledge
    clusters = sorted(c.info.name for c in t.scope if c.info.environment == env)
    if not clusters:
        return None
    fast = t.decision.track == "security-fast-track"
    soak = soak_minutes(env, t.decision.risk.level, fast)
    steps: list[Step] = [
        Step(
            title=f"Record the pre-upgrade baseline on {', '.join(clusters)}",
            detail="Evaluate every gate below before the first change; the values are what 'vs baseline' means.",
            commands=[f"upgradectl baseline --tool {k.tool} --clusters {','.join(clusters)}"],
        ),
    ]
    hops_done: list[str] = []
    gates: dict[tuple[str, str], Gate] = {}
    rollback: list[Step] = []
    for cluster in clusters:
        path = t.path_for(cluster)
        if path is None:
            continue
        release = t.releases.get(cluster)
        for template in k.procedure.pre_checks:
            steps.append(_render(template, _values(k, cluster, path.from_version, path.from_version, release)))
        for hop in path.hops:
            a, b = hop.from_version, hop.to_version
            values = _values(k, cluster, a, b, release)
            hops_done.append(f"{cluster}: {a} -> {b}")
            steps.append(
                Step(
                    title=f"{cluster}: {k.display_name} {a} -> {b} ({hop.kind})",
                    detail=f"Why: {hop.reason.rstrip('.')}." + (f" Crosses: {'; '.join(hop.notes)}." if hop.notes else ""),
                    changes=_file_changes(t, cluster, a, b, path),
                )
            )
            steps.extend(_render(s, values) for s in k.procedure.upgrade if _applies(s, a, b))
            steps.extend(_render(s, values) for s in k.procedure.verify if _applies(s, a, b))
            steps.append(
                Step(
                    title=f"{cluster}: soak {soak} min at {b}, then evaluate the gates",
                    detail="Promote only when every gate passes; fail or inconclusive stops the rollout.",
                    commands=[f"upgradectl validate --tool {k.tool} --clusters {cluster}"],
                )
            )
            for gate in hop_gates.get(f"{a}->{b}", []):
                gates.setdefault((gate.name, gate.promql), gate)
            back = [_render(s, _values(k, cluster, b, a, release)) for s in k.procedure.rollback]
            back.insert(0, Step(title=f"{cluster}: roll back {b} -> {a}", detail=hop.rollback))
            rollback = back + rollback  # undo in reverse order
    approval = env == "prod" or t.decision.approval_required
    reasons = []
    if env == "prod":
        reasons.append("production changes always wait for an explicit approval")
    if t.decision.approval_required:
        reasons.extend(t.decision.approval_reasons)
    return RolloutStage(
        environment=env,
        clusters=clusters,
        hops=hops_done,
        steps=steps,
        gates=list(gates.values()),
        rollback_steps=rollback,
        approval_required=approval,
        approval_reasons=reasons,
        soak_minutes=soak,
        notes=[f"strategy: {t.decision.strategy.kind}", f"testing: {t.decision.testing}"],
    )


def _values(k: ToolKnowledge, cluster: str, a: str, b: str, release) -> dict[str, str]:
    return {
        "from": k.chart.spell(k.chart_version_for(a) or a),
        "to": k.chart.spell(k.chart_version_for(b) or b),
        "from_app": a,
        "to_app": b,
        "cluster": cluster,
        "namespace": release.namespace if release else k.namespace,
        "release": release.name if release else k.release_name,
        "chart": k.chart.repository,
    }


def rollout_for(env: Environment):
    """Stage 5 playbook for one environment (plan mode writes the stage, execute mode runs it)."""

    def playbook(t: TaskInput) -> TaskResult:
        stage = build_stage(t, env, t.outputs.get("hop_gates", {}))
        if stage is None:
            return TaskResult([], [f"no cluster in {env} runs {t.knowledge.display_name}: nothing to roll out"])
        checked = [
            f"{env}: {len(stage.clusters)} cluster(s), {len(stage.hops)} hop(s), {len(stage.steps)} steps, "
            f"{len(stage.gates)} gates, {len(stage.rollback_steps)} rollback steps, soak {stage.soak_minutes}m"
        ]
        return TaskResult([], checked, {"rollout": [stage]})

    playbook.__name__ = f"rollout_{env}"
    playbook.__doc__ = f"Stage 5: the {env} rollout stage."
    return playbook
