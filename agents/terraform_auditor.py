"""terraform-auditor: where Terraform installs and pins the tool, whether the pins match what runs,
and whether the IAM it grants covers what the path's versions need."""

from __future__ import annotations

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, make_finding
from upgradectl.agents.pins import VersionPin
from upgradectl.models import Evidence, Finding, Subject
from upgradectl.tools.terraform import HelmReleaseResource, TerraformRoot, VarSetting
from upgradectl.tools.versions import Version, VersionError

AGENT = "terraform-auditor"


def _tool_releases(t: TaskInput, charts: set[str] | None = None) -> list[tuple[TerraformRoot, HelmReleaseResource]]:
    charts = set(t.knowledge.install_markers) if charts is None else charts
    return [(root, hr) for root in t.view.terraform for hr in root.helm_releases if hr.chart in charts]


def _cluster_of(root: TerraformRoot, tfvars: str) -> str:
    """A tfvars file belongs to the cluster its cluster_name says, else the one its file name says."""
    named = [s for s in root.var_settings if s.tfvars == tfvars and s.name == "cluster_name"]
    return str(named[0].value) if named else tfvars


def terraform_pins(t: TaskInput, charts: set[str] | None = None) -> list[VersionPin]:
    """Per cluster in scope, the tfvars line that pins the tool's chart version (or these charts')."""
    pins = []
    for root, hr in _tool_releases(t, charts):
        settings: list[VarSetting] = root.settings_of(hr.version_var) if hr.version_var else []
        for setting in settings:
            cluster = _cluster_of(root, setting.tfvars)
            if cluster in t.scope_names:
                pins.append(
                    VersionPin(cluster, setting.where.file, setting.where.line, setting.where.text, "terraform-tfvars")
                )
        if not hr.version_var and hr.version:
            for cluster in sorted(t.scope_names):
                pins.append(
                    VersionPin(cluster, hr.where.file, hr.where.line, f'version = "{hr.version}"', "terraform-literal")
                )
    return pins


def _same(a: str, b: str) -> bool:
    try:
        return Version.parse(a) == Version.parse(b)
    except VersionError:
        return False


def terraform_compatibility(t: TaskInput) -> TaskResult:
    """Stage 2: Terraform-managed installs, version pins vs running versions, modules, providers, IAM."""
    k = t.knowledge
    findings: list[Finding] = []
    checked = []
    if not t.view.terraform:
        return TaskResult([], ["no Terraform roots in the fleet file: nothing to audit"])
    for root in t.view.terraform:
        checked.append(
            f"{root.rel}: {len(root.helm_releases)} helm_release, {len(root.modules)} modules, "
            f"{len(root.providers)} locked providers, {len(root.iam_grants)} IAM grants"
        )
        for problem in root.problems:
            findings.append(
                make_finding(
                    code="TF-UNPARSEABLE-FILE",
                    severity="medium",
                    category="incomplete",
                    title=f"Terraform file could not be parsed; it was not audited: {problem.split(':', 1)[0]}",
                    agent=AGENT,
                    subject=Subject(file=problem.split(":", 1)[0]),
                    evidence=[Evidence(source="terraform", ref=problem.split(":", 1)[0], excerpt=problem)],
                    remediation="Fix the HCL syntax (terraform validate) so it can be audited.",
                )
            )
        for module in root.modules:
            checked.append(
                f"module {module.name}: {module.source} {module.version} ({module.where.file}:{module.where.line})"
            )
        for lock in root.providers:
            checked.append(f"provider {lock.provider} locked at {lock.version}")
    running = {v.cluster: v.current_version for v in t.versions if v.current_version}
    for pin in terraform_pins(t):
        declared = pin.text.split("=", 1)[-1].strip().strip('"')
        checked.append(f"{pin.cluster}: pinned at {declared} in {pin.file}:{pin.line}")
        if pin.cluster in running and not _same(declared, running[pin.cluster]):
            findings.append(
                make_finding(
                    code=f"{k.prefix}-VERSION-DRIFT",
                    severity="medium",
                    category="infrastructure",
                    title=f"{pin.cluster} runs {k.display_name} {running[pin.cluster]} but Terraform pins {declared}",
                    agent=AGENT,
                    subject=Subject(cluster=pin.cluster, tool=k.tool, file=pin.file, line=pin.line),
                    evidence=[
                        Evidence(source="terraform", ref=f"{pin.file}:{pin.line}", excerpt=pin.text),
                        *[e for v in t.versions if v.cluster == pin.cluster for e in v.detected_from],
                    ],
                    detail="The next terraform apply would move the cluster to the pinned version, outside this plan.",
                    remediation="Make the pin match the running version before starting the upgrade.",
                )
            )
    findings.extend(_iam_gaps(t, checked))
    return TaskResult(findings, checked)


def _iam_gaps(t: TaskInput, checked: list[str]) -> list[Finding]:
    """Actions (on the resources) each crossed version needs that no Terraform policy statement grants."""
    k = t.knowledge
    grants = [g for root in t.view.terraform for g in root.iam_grants]
    if not grants:
        if k.iam_requirements:
            checked.append("no IAM policy documents found in Terraform: IAM requirements not checked")
        return []
    findings = []
    for path in t.paths:
        for hop in path.hops:
            for req in k.iam_crossed(hop.from_version, hop.to_version):
                missing = [a for a in req.actions if not any(g.covers(a, req.resource) for g in grants)]
                on = f" on {req.resource}" if req.resource else ""
                checked.append(
                    f"IAM for {req.version} ({', '.join(req.actions)}{on}): "
                    f"{'missing ' + ', '.join(missing) if missing else 'granted'}"
                )
                if not missing:
                    continue
                nearest = [g for g in grants if g.action in missing] or grants
                shown = "; ".join(f"{g.sid or g.action}: {g.action} on {', '.join(g.resources)}" for g in nearest)
                findings.append(
                    make_finding(
                        code=f"{k.prefix}-IAM-MISSING-ACTIONS",
                        severity="medium" if req.conditional else "high",
                        category="infrastructure",
                        title=f"{k.display_name} {req.version} needs {', '.join(missing)}{on}, which the Terraform "
                        "IAM policy does not grant" + (" (only if the feature is used)" if req.conditional else ""),
                        agent=AGENT,
                        subject=Subject(tool=k.tool, version=req.version, file=nearest[0].where.file,
                                        line=nearest[0].where.line),
                        evidence=[
                            Evidence(source="terraform", ref=f"{nearest[0].where.file}:{nearest[0].where.line}",
                                     excerpt=shown[:590]),
                            knowledge_evidence(k, f"iam_requirements[{req.version}]", req.title, req.source),
                        ],
                        detail=f"{req.title}. Crossed by hop {hop.from_version} -> {hop.to_version} on "
                        f"{', '.join(path.clusters)}.",
                        remediation=f"Grant {', '.join(missing)}{on} in the controller policy and apply it before "
                        "the hop.",
                        sources=[req.source],
                        uncertain=req.uncertain,
                    )
                )
    return _unique(findings)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        if f.key() not in seen:
            seen.add(f.key())
            out.append(f)
    return out
