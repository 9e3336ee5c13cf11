"""terraform-auditor: where Terraform installs and pins the tool, whether the pins match what runs, whether
the IAM it grants covers what the path's versions need, and whether the modules and providers that install or
permission the tool are recent enough for the target (tools/knowledge/data/terraform/rules.yaml): findings,
the change-set edits that bump them alongside the tool pin, and the `terraform init -upgrade` / `plan` steps."""

from __future__ import annotations

import re
from dataclasses import dataclass

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, make_finding
from upgradectl.agents.pins import VersionPin
from upgradectl.models import ENVIRONMENT_ORDER, Evidence, FileEdit, Finding, Subject
from upgradectl.tools.knowledge.loader import (
    ModuleMajor,
    ModuleRelease,
    ModuleRequirement,
    TerraformModuleRule,
    load_terraform_rules,
)
from upgradectl.tools.terraform import (
    HelmReleaseResource,
    ModuleCall,
    RequiredProvider,
    TerraformRoot,
    VarSetting,
    admits,
    lowest_admitted,
)
from upgradectl.tools.versions import Version, VersionError

AGENT = "terraform-auditor"


def _tool_releases(task: TaskInput, charts: set[str] | None = None) -> list[tuple[TerraformRoot, HelmReleaseResource]]:
    charts = set(task.knowledge.install_markers) if charts is None else charts
    return [(root, hr) for root in task.view.terraform for hr in root.helm_releases if hr.chart in charts]


def _cluster_of(root: TerraformRoot, tfvars: str) -> str:
    """A tfvars file belongs to the cluster its cluster_name says, else the one its file name says."""
    named = [s for s in root.var_settings if s.tfvars == tfvars and s.name == "cluster_name"]
    return str(named[0].value) if named else tfvars


def terraform_pins(task: TaskInput, charts: set[str] | None = None) -> list[VersionPin]:
    """Per cluster in scope, the tfvars line that pins the tool's chart version (or these charts')."""
    pins = []
    for root, hr in _tool_releases(task, charts):
        settings: list[VarSetting] = root.settings_of(hr.version_var) if hr.version_var else []
        for setting in settings:
            cluster = _cluster_of(root, setting.tfvars)
            if cluster in task.scope_names:
                pins.append(
                    VersionPin(cluster, setting.where.file, setting.where.line, setting.where.text, "terraform-tfvars")
                )
        if not hr.version_var and hr.version:
            for cluster in sorted(task.scope_names):
                pins.append(
                    VersionPin(cluster, hr.where.file, hr.where.line, f'version = "{hr.version}"', "terraform-literal")
                )
    return pins


def _same(a: str, b: str) -> bool:
    try:
        return Version.parse(a) == Version.parse(b)
    except VersionError:
        return False


def terraform_compatibility(task: TaskInput) -> TaskResult:
    """Stage 2: Terraform-managed installs, version pins vs running versions, modules, providers, IAM."""
    k = task.knowledge
    findings: list[Finding] = []
    checked = []
    if not task.view.terraform:
        return TaskResult([], ["no Terraform roots in the fleet file: nothing to audit"])
    for root in task.view.terraform:
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
    running = {v.cluster: v.current_version for v in task.versions if v.current_version}
    for pin in terraform_pins(task):
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
                        *[e for v in task.versions if v.cluster == pin.cluster for e in v.detected_from],
                    ],
                    detail="The next terraform apply would move the cluster to the pinned version, outside this plan.",
                    remediation="Make the pin match the running version before starting the upgrade.",
                )
            )
    findings.extend(_iam_gaps(task, checked))
    findings.extend(module_findings(task, checked))
    return TaskResult(findings, checked)


def _iam_gaps(task: TaskInput, checked: list[str]) -> list[Finding]:
    """Actions (on the resources) each crossed version needs that no Terraform policy statement grants."""
    k = task.knowledge
    grants = [g for root in task.view.terraform for g in root.iam_grants]
    if not grants:
        if k.iam_requirements:
            checked.append("no IAM policy documents found in Terraform: IAM requirements not checked")
        return []
    findings = []
    for path in task.paths:
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


# ---------------------------------------------------------------- modules and providers judged against the path

RULES_REF = "tools/knowledge/data/terraform/rules.yaml"


@dataclass
class ModuleJudgement:
    """One module call of the tool's Terraform module, against the versions the plan moves the tool through."""

    rule: TerraformModuleRule
    root: TerraformRoot
    call: ModuleCall
    clusters: list[str]  # clusters in scope whose state this root applies (tfvars with their cluster_name)
    unmet: list[ModuleRequirement]  # unconditional requirements the pinned version does not meet
    conditional: list[ModuleRequirement]  # conditional ones it does not meet (only if the feature is used)
    release: ModuleRelease | None  # what the change set moves the module to (None: nothing needed)
    majors: list[ModuleMajor]  # majors crossed on the way there
    controller_role: bool  # the module creates the controller role (so its policy must fit the tool version)

    @property
    def first_needed(self) -> str:
        """The lowest tool version that needs the new module: the hop crossing it carries the edits."""
        return min((r.version for r in self.unmet), key=Version.parse)

    def renames(self) -> dict[str, str]:
        """Inputs of this call that the crossed majors rename (old -> new, from the pinned version's names)."""
        found = {}
        for major in self.majors:
            for old, new in major.renamed_inputs.items():
                if old in self.call.inputs and old not in found:
                    found[old] = new
        return found

    def removed(self) -> list[str]:
        return [i for m in self.majors for i in m.removed_inputs if i in self.call.inputs]

    def needed_inputs(self) -> dict[str, bool | str | int]:
        """Inputs to add: those keeping the old defaults of the crossed majors (UPGRADE guides), and those the
        tool version needs (when the module makes the controller role) that the target still has."""
        renamed = set(self.renames().values())
        wanted: dict[str, bool | str | int] = {}
        for major in self.majors:
            for kept in major.preserve:
                if kept.input not in self.call.inputs and kept.input not in renamed and \
                        (self.controller_role or not kept.with_controller_role):
                    wanted[kept.input] = kept.value
        if self.controller_role:
            dropped = {i for m in self.majors for i in m.removed_inputs}
            wanted |= {k: v for r in self.unmet for k, v in r.inputs.items() if k not in dropped}
        return {k: v for k, v in wanted.items() if self.call.inputs.get(k) != v}


def _module_version(call: ModuleCall) -> str:
    return lowest_admitted(call.version) if call.version else "0.0.0"


def _clusters_of_root(task: TaskInput, root: TerraformRoot) -> list[str]:
    names = {str(s.value) for s in root.var_settings if s.name == "cluster_name"}
    return sorted(names & task.scope_names, key=lambda c: (_env_rank(task, c), c))


def _env_rank(task: TaskInput, cluster: str) -> int:
    return ENVIRONMENT_ORDER.index(task.cluster(cluster).info.environment)


def _path_target(task: TaskInput, clusters: list[str]) -> str:
    targets = [p.to_version for p in task.paths if set(p.clusters) & set(clusters)]
    return max(targets, key=Version.parse) if targets else ""


def _controller_role(rule: TerraformModuleRule, call: ModuleCall, majors_all: list[ModuleMajor]) -> bool:
    """Whether the call makes the module create the controller role (its input, or the old name of it; default true)."""
    names = {rule.controller_role_input} | {old for m in majors_all for old, new in m.renamed_inputs.items()
                                           if new == rule.controller_role_input}  # fmt: skip
    for name in names:
        value = call.inputs.get(name)
        if isinstance(value, bool):
            return value
    return True


def module_judgements(task: TaskInput) -> list[ModuleJudgement]:
    """Every call of a module the knowledge base judges for this tool, with what the path needs of it."""
    rules = load_terraform_rules().for_tool(task.knowledge.tool)
    found = []
    for root in task.view.terraform:
        clusters = _clusters_of_root(task, root)
        target = _path_target(task, clusters)
        if not clusters or not target:
            continue
        for call in root.modules:
            rule = next((r for r in rules if r.source == call.registry_source), None)
            if rule is None:
                continue
            pinned = _module_version(call)
            crossed = [r for r in rule.requires if Version.parse(r.version) <= Version.parse(target)]
            unmet = [r for r in crossed if not r.conditional and Version.parse(pinned) < Version.parse(r.module)]
            floor = max((r.module for r in unmet), key=Version.parse, default="")
            release = next((r for r in sorted(rule.releases, key=lambda r: Version.parse(r.version))
                            if floor and Version.parse(r.version) >= Version.parse(floor)), None)  # fmt: skip
            reach = release.version if release else pinned
            conditional = [r for r in crossed if r.conditional and Version.parse(reach) < Version.parse(r.module)]
            majors = [m for m in rule.majors
                      if Version.parse(pinned) < Version.parse(m.version) <= Version.parse(reach)]  # fmt: skip
            found.append(ModuleJudgement(rule, root, call, clusters, unmet, conditional, release, majors,
                                         _controller_role(rule, call, rule.majors)))  # fmt: skip
    return found


def _rule_evidence(rule: TerraformModuleRule, where: str, excerpt: str, source: str) -> Evidence:
    return Evidence(source="knowledge", ref=f"{RULES_REF} modules[{rule.id}].{where} (source: {source})",
                    excerpt=excerpt)  # fmt: skip


def _provider_gaps(judgement: ModuleJudgement) -> list[tuple[RequiredProvider | None, str, str, bool]]:
    """(root requirement, provider source, minimum, constraint admits it) for each provider the target release
    needs; the lock file's version is compared separately (init -upgrade moves it)."""
    if judgement.release is None:
        return []
    gaps = []
    for source, minimum in judgement.release.providers.items():
        required = next((p for p in judgement.root.required_providers if p.source == source), None)
        admitted = required is None or not required.version or _admits_at_least(required.version, minimum)
        gaps.append((required, source, minimum, admitted))
    return gaps


def _admits_at_least(constraint: str, minimum: str) -> bool:
    """Whether some version >= minimum satisfies the constraint (probing minimum and the next patches/minors)."""
    major, minor, patch = (int(x) for x in (minimum.split(".") + ["0", "0"])[:3])
    probes = [f"{major}.{minor}.{patch}", *(f"{major}.{m}.0" for m in range(minor + 1, minor + 200))]
    return any(admits(constraint, p) for p in probes)


def module_findings(task: TaskInput, checked: list[str]) -> list[Finding]:
    """Module versions judged against the tool versions of the path; provider constraints the new module needs."""
    k = task.knowledge
    findings = []
    for j in module_judgements(task):
        where = j.call.lines.get("version") or j.call.where
        pinned = j.call.version or "(no version)"
        on = ", ".join(j.clusters)
        checked.append(f"module {j.call.name} ({j.rule.source}) at {pinned} ({where.file}:{where.line}) for {on}: "
                       + (f"needs {j.release.version if j.release else '?'}" if j.unmet else "recent enough")
                       + f"; controller role {'created by the module' if j.controller_role else 'managed elsewhere'}")
        for r in j.conditional:
            findings.append(make_finding(
                code=f"{k.prefix}-TF-MODULE-FEATURE-NEEDS-NEWER", severity="medium", category="infrastructure",
                title=f"{where.file}:{where.line}: {j.rule.source} {pinned}: {r.title} (only if you use it)",
                agent=AGENT, subject=Subject(tool=k.tool, file=where.file, line=where.line, version=r.version,
                                             cluster=",".join(j.clusters)),
                evidence=[Evidence(source="terraform", ref=f"{where.file}:{where.line}", excerpt=where.text),
                          _rule_evidence(j.rule, f"requires[{r.version}]", f"module >= {r.module}: {r.title}",
                                         r.source)],
                detail=f"Crossed by the path to {_path_target(task, j.clusters)} on {on}.",
                remediation=f"If you use it, plan a move to {r.module}+ "
                + "; ".join(f"(needs {s} >= {m})" for rel in j.rule.releases if rel.version >= r.module
                            for s, m in rel.providers.items())[:200],
                sources=[r.source], uncertain=r.uncertain))  # fmt: skip
        if not j.unmet or j.release is None:
            continue
        need = max(j.unmet, key=lambda r: Version.parse(r.module))
        renames = j.renames()
        inputs = j.needed_inputs()
        shared = len(j.clusters) > 1
        detail = [f"The module manages {j.rule.manages}.",
                  f"Here the controller role is {'created by the module, so its policy must carry the new permissions' if j.controller_role else 'managed outside the module (' + ', '.join(n for n in ('create_irsa', 'create_iam_role') if n in j.call.inputs) + ' = false), so the module supplies the node role, instance profile and interruption queue'}."]  # noqa: E501
        for major in j.majors:
            detail.append(f"Crossing {major.version}: Terraform >= {major.terraform}, "
                          + ", ".join(f"{s} >= {m}" for s, m in major.providers.items())
                          + (f"; {'; '.join(major.notes)}" if major.notes else "") + ".")
        if renames:
            shown = ", ".join(f"{a} -> {b}" for a, b in renames.items())
            detail.append(f"Inputs this call sets that are renamed: {shown}.")
        if shared:
            detail.append(f"One module block serves {on} (one state each): the bump committed with the first "
                          f"cluster's hop reaches the others at their next terraform apply, before their own hops.")
        findings.append(make_finding(
            code=f"{k.prefix}-TF-MODULE-TOO-OLD", severity="high" if j.controller_role else "medium",
            category="infrastructure",
            title=f"{where.file}:{where.line} pins {j.rule.source} {pinned}; {k.display_name} {need.version}+ needs "
            f"{need.module} or later ({on})",
            agent=AGENT,
            subject=Subject(tool=k.tool, file=where.file, line=where.line, version=pinned,
                            cluster=",".join(j.clusters)),
            evidence=[Evidence(source="terraform", ref=f"{where.file}:{where.line}", excerpt=where.text),
                      *[_rule_evidence(j.rule, f"requires[{r.version}]", f"module >= {r.module}: {r.title}", r.source)
                        for r in j.unmet],
                      *[_rule_evidence(j.rule, f"majors[{m.version}]", "; ".join(m.notes)[:400] or m.version, m.source)
                        for m in j.majors]],
            detail=" ".join(detail),
            remediation=f"Move the module to {j.release.version} in the change set of the hop into {need.version}"
            + (f", renaming {', '.join(f'{a} -> {b}' for a, b in renames.items())}" if renames else "")
            + (f", setting {', '.join(f'{a} = {str(b).lower()}' for a, b in inputs.items())}" if inputs else "")
            + (f", removing {', '.join(j.removed())}" if j.removed() else "")
            + "; then run `terraform init -upgrade` and `terraform plan` for each cluster's state before applying.",
            sources=[r.source for r in j.unmet] + [m.source for m in j.majors]))  # fmt: skip
        for required, source, minimum, admitted in _provider_gaps(j):
            lock = j.root.locked(source)
            checked.append(f"provider {source}: root constraint {required.version if required else '(none)'}, "
                           f"locked {lock.version if lock else '(no lock)'}, module {j.release.version} needs >= "
                           f"{minimum}: {'admitted' if admitted else 'EXCLUDED'}"
                           + ("; `terraform init -upgrade` moves the lock"
                              if lock and not admits(f">= {minimum}", lock.version) else ""))  # fmt: skip
            if admitted or required is None:
                continue
            findings.append(make_finding(
                code="TF-PROVIDER-CONSTRAINT-TOO-LOW", severity="high", category="infrastructure",
                title=f"{required.where.file}:{required.where.line}: {source} {required.version} excludes {minimum}+, "
                f"which {j.rule.source} {j.release.version} requires",
                agent=AGENT, subject=Subject(file=required.where.file, line=required.where.line, name=source,
                                             version=required.version),
                evidence=[Evidence(source="terraform", ref=f"{required.where.file}:{required.where.line}",
                                   excerpt=required.where.text),
                          Evidence(source="knowledge",
                                   ref=f"{RULES_REF} modules[{j.rule.id}].releases[{j.release.version}]",
                                   excerpt=f"{source} >= {minimum} ({j.release.source})")],
                remediation=f"Widen the constraint to admit {minimum} "
                f"(the change set sets `~> {minimum.rsplit('.', 1)[0]}`).",
                sources=[j.release.source]))  # fmt: skip
    findings.extend(_provider_syntax_findings(task, checked))
    return findings


def _provider_syntax_findings(task: TaskInput, checked: list[str]) -> list[Finding]:
    """Provider versions the configuration's syntax needs (OCI charts, block vs object syntax of helm 3)."""
    findings = []
    rules = load_terraform_rules().providers
    for root in task.view.terraform:
        releases = [hr for hr in root.helm_releases if hr.chart in task.knowledge.install_markers]
        if not releases:
            continue
        texts = {p: p.read_text(errors="replace") for p in sorted(root.path.glob("*.tf"))}
        for rule in rules:
            required = next((p for p in root.required_providers if p.source == rule.provider), None)
            if required is None or not required.version:
                continue
            if rule.when == "oci_chart" and any(hr.repository.startswith("oci://") for hr in releases):
                ok = admits(f">= {rule.minimum}", lowest_admitted(required.version))
                uses = "oci:// chart repository"
            elif rule.when == "block_syntax" and any(re.search(r'provider\s+"helm"\s*\{[^}]*?\bkubernetes\s*\{', s)
                                                     or re.search(r"\bset\s*\{", s) for s in texts.values()):
                ok = not admits(required.version, rule.below)
                uses = "helm provider blocks (kubernetes { } / set { })"
            else:
                continue
            checked.append(f"{required.where.file}:{required.where.line}: {rule.provider} {required.version} with "
                           f"{uses}: {'fits' if ok else 'DOES NOT FIT'} ({rule.id})")
            if ok:
                continue
            findings.append(make_finding(
                code=rule.id, severity="high", category="infrastructure",
                title=f"{required.where.file}:{required.where.line}: {rule.provider} {required.version}: {rule.title}",
                agent=AGENT, subject=Subject(file=required.where.file, line=required.where.line, name=rule.provider,
                                             version=required.version),
                evidence=[Evidence(source="terraform", ref=f"{required.where.file}:{required.where.line}",
                                   excerpt=required.where.text),
                          Evidence(source="knowledge", ref=f"{RULES_REF} providers[{rule.id}]", excerpt=rule.title)],
                detail=f"The configuration uses {uses}; `terraform init -upgrade` picks the newest version the "
                "constraint admits.",
                remediation=f"Constrain {rule.provider} to "
                + (f">= {rule.minimum}" if rule.minimum else f"< {rule.below} (e.g. ~> 2.17)")
                + " before running `terraform init -upgrade`.",
                sources=[rule.source]))  # fmt: skip
    return findings


def init_flags(task: TaskInput, cluster: str, a: str, b: str) -> str:
    """Extra `terraform init` flags for this cluster's hop a -> b: the fleet file's per-cluster backend config
    (one directory, one state per cluster: -reconfigure -backend-config=...), and -upgrade when the hop moves a
    module of the root (init refuses a changed module version without it; it also moves providers within their
    constraints)."""
    flags = ""
    for root in task.view.terraform:
        if cluster not in {str(s.value) for s in root.var_settings if s.name == "cluster_name"}:
            continue
        bumped = any(j.root is root and j.release and j.unmet and cluster in j.clusters
                     and Version.parse(a) < Version.parse(j.first_needed) <= Version.parse(b)
                     for j in module_judgements(task))  # fmt: skip
        spec = next((s for s in task.fleet.spec.terraform if (task.fleet.root / s.path).resolve() == root.path), None)
        backend = " ".join(f"-backend-config={k}={v.replace('{cluster}', cluster)}"
                           for k, v in (spec.backend_config if spec else {}).items())  # fmt: skip
        flags = (" -upgrade" if bumped else "") + (f" -reconfigure {backend}" if backend else "")
    return flags


def module_edits(task: TaskInput, cluster: str, a: str, b: str) -> list[FileEdit]:
    """The module bump (and the inputs it renames or needs) in the hop a -> b of `cluster`, when that hop
    crosses the first tool version needing it and the cluster is the root's first in rollout order (one module
    block serves every cluster of the root: the others' hops find it bumped and re-run `init -upgrade`)."""
    edits: list[FileEdit] = []
    for j in module_judgements(task):
        if cluster != (j.clusters[0] if j.clusters else "") or j.release is None or not j.unmet:
            continue
        if not Version.parse(a) < Version.parse(j.first_needed) <= Version.parse(b):
            continue
        where = j.call.lines.get("version") or j.call.where
        common = {"cluster": cluster, "from_version": a, "to_version": b, "file": where.file, "format": "hcl",
                  "applies_to": j.clusters, "document": {"module": j.call.name}}  # fmt: skip
        new = f"~> {j.release.version.rsplit('.', 1)[0]}" if j.call.version.startswith("~>") else j.release.version
        edits.append(FileEdit(purpose="module-version", action="set", line=where.line, path=["version"],
                              old=j.call.version, new=new, shown=where.text.replace(j.call.version, "{value}", 1),
                              **common))  # fmt: skip
        for old, renamed in j.renames().items():
            line = j.call.lines[old]
            edits.append(FileEdit(purpose="module-input", action="rename-key", line=line.line, path=[old],
                                  new_path=[renamed], shown=line.text, **common))  # fmt: skip
        for name, value in j.needed_inputs().items():
            literal = str(value).lower() if isinstance(value, bool) else f'"{value}"' if isinstance(value, str) \
                else str(value)
            edits.append(FileEdit(purpose="module-input", action="set", line=where.line, path=[name], old="",
                                  new=literal, **common))  # fmt: skip
        for name in j.removed():
            line = j.call.lines[name]
            edits.append(FileEdit(purpose="module-input", action="manual", line=line.line, path=[name],
                                  note=f"remove `{line.text}`: the module no longer has {name}", **common))
        for required, _source, minimum, admitted in _provider_gaps(j):
            if admitted or required is None:
                continue
            edits.append(FileEdit(purpose="provider-version", action="set", cluster=cluster, from_version=a,
                                  to_version=b, file=required.where.file, line=required.where.line, format="hcl",
                                  path=["version"], old=required.version, new=f"~> {minimum.rsplit('.', 1)[0]}",
                                  shown=required.where.text.replace(required.version, "{value}", 1),
                                  applies_to=j.clusters))  # fmt: skip
    return edits
