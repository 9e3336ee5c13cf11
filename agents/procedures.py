"""Procedures as typed data, rendered from one hop and the cluster's facts.

Every parameter of every command comes from the hop (its from/to versions and their chart versions) and the
cluster (release, namespace, region, where its values live, who owns the release): never from the plan's
overall target or the path's starting version. A knowledge step renders only for the hops its `when` matches
and the release owners it names. The procedure follows the owner: a GitOps-reconciled release changes by commit
and reconcile (rollback: revert the commit), a Terraform one by plan/apply of its pin, a Helm CLI one by helm
commands with the values saved before each hop.

All commands run in the directory of the fleet file; `reads`/`writes` name their local files relative to it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from upgradectl.agents.base import TaskInput, relpath
from upgradectl.agents.ownership import Ownership
from upgradectl.agents.value_migrations import MigrationPlan, yq_expression
from upgradectl.models import Environment, FileEdit, Hop, Step, StepKind, UpgradePath
from upgradectl.tools.gitops.changes import describe
from upgradectl.tools.knowledge.loader import RollbackLimit, StepTemplate, ToolKnowledge
from upgradectl.tools.versions import Version

COMMIT_INPUT = "<commit-of-this-hop>"
PLACEHOLDERS = frozenset({
    "from", "to", "from_app", "to_app", "to_line", "cluster", "namespace", "release", "chart", "chart_name", "region",
    "gitops_dir", "gotk_file", "set_k8s_service", "strategy_values", *("canary_pool", "vmsingle", "vmagent"),
})  # what a knowledge step template may use; _context fills every one
# Cluster facts strategy steps use (agents/strategies.py reads them from the cluster), and how to find one that
# could not be read there.
FACT_INPUTS = {
    "canary_pool": "a NodePool of {cluster} to take the new version first (`kubectl get nodepools.karpenter.sh`: the "
                   "one with the fewest nodes)",
    "vmsingle": "the VMSingle of {cluster} (`kubectl -n {namespace} get vmsingles.operator.victoriametrics.com`)",
    "vmagent": "the VMAgent that writes to it (`kubectl -n {namespace} get vmagents.operator.victoriametrics.com`)",
}


@dataclass(frozen=True)
class HopFacts:
    """Everything a step of one cluster's hop is rendered from."""

    knowledge: ToolKnowledge
    cluster: str
    environment: Environment
    hop: Hop
    index: int  # position of the hop in the cluster's path
    path: UpgradePath
    ownership: Ownership
    namespace: str
    release: str
    region: str
    fleet_ref: str
    gitops_dir: str = ""  # the GitOps repository, relative to the fleet directory
    gotk_file: str = ""  # Flux: this cluster's gotk-components.yaml, relative to the fleet directory
    k8s_service: dict[str, str] = field(default_factory=dict)  # k8sServiceHost/Port the release sets
    migrations: list[MigrationPlan] = field(default_factory=list)  # value migrations of this hop
    installed_chart: str = ""  # first hop: the chart version the release runs today (a fact, not a lookup)
    terraform_init: str = ""  # extra `terraform init` flags: -upgrade after a module bump, a per-cluster backend
    strategy_values: dict[str, str] = field(default_factory=dict)  # Helm values the strategy sets (Helm CLI: --set)
    facts: dict[str, str] = field(default_factory=dict)  # cluster facts strategy steps use (canary_pool, vmsingle...)

    @property
    def a(self) -> str:
        return self.hop.from_version

    @property
    def b(self) -> str:
        return self.hop.to_version

    @property
    def chart_a(self) -> str:
        chart = self.installed_chart or self.knowledge.chart_version_for(self.a)
        return self.knowledge.chart.spell(chart) if chart else ""

    @property
    def chart_b(self) -> str:
        chart = self.knowledge.chart_version_for(self.b)
        return self.knowledge.chart.spell(chart) if chart else ""

    @property
    def limits(self) -> list[RollbackLimit]:
        """Rollback limits this hop crosses."""
        return self.knowledge.rollback_limits_crossed(self.a, self.b)

    @property
    def one_way(self) -> list[RollbackLimit]:
        """Crossed limits a downgrade to the from-version cannot undo (irreversible, or a floor above it)."""
        return [lim for lim in self.limits if lim.irreversible or
                (lim.rollback_to_min and Version.parse(self.a) < Version.parse(lim.rollback_to_min))]

    def hop_ref(self) -> str:
        return f"{self.a}->{self.b}"


def _unknown_chart(knowledge: ToolKnowledge, version: str) -> str:
    return f"<{knowledge.chart.name}-chart-for-{version}>"


def _context(f: HopFacts) -> tuple[dict[str, str], dict[str, str]]:
    """(placeholder values, inputs): chart versions the knowledge base does not know become declared inputs."""
    k = f.knowledge
    inputs: dict[str, str] = {}
    charts = {}
    for name, chart, version in (("from", f.chart_a, f.a), ("to", f.chart_b, f.b)):
        if chart:
            charts[name] = chart
        else:
            placeholder = _unknown_chart(k, version)
            charts[name] = placeholder
            inputs[placeholder] = (
                f"the {k.chart.name} chart version whose appVersion is {version} (unknown to the knowledge base: "
                f"`helm search repo {k.chart.name} --versions` after `helm repo add` of {k.chart.repository})"
            )
    flags = "".join(f" --set {key}={shlex.quote(value)}" for key, value in f.k8s_service.items())
    held = "".join(f" --set {key}={shlex.quote(value)}" for key, value in f.strategy_values.items())
    values = {
        "from": charts["from"], "to": charts["to"], "from_app": f.a, "to_app": f.b,
        "to_line": Version.parse(f.b).line, "cluster": f.cluster, "namespace": f.namespace, "release": f.release,
        "chart": k.chart.repository, "chart_name": k.chart.name, "region": f.region or "<region>",
        "gitops_dir": f.gitops_dir or ".", "gotk_file": f.gotk_file or "<gotk-components.yaml>",
        "set_k8s_service": flags, "strategy_values": held,
    }  # fmt: skip
    for name, how in FACT_INPUTS.items():
        if f.facts.get(name):
            values[name] = f.facts[name]
        else:
            values[name] = f"<{name.replace('_', '-')}>"
            inputs[values[name]] = how.format(cluster=f.cluster, namespace=f.namespace)
    if not f.region:
        inputs["<region>"] = f"the AWS region of {f.cluster} (not in the fleet file)"
    if not f.gotk_file:
        inputs["<gotk-components.yaml>"] = f"{f.cluster}'s flux-system/gotk-components.yaml in the GitOps repository"
    return values, inputs


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def render(template: StepTemplate, f: HopFacts, kind: StepKind) -> Step:
    """One knowledge step for one hop: every placeholder from the hop and the cluster's facts."""
    values, unknown = _context(f)
    commands = [_fill(c, values) for c in template.commands]
    inputs = {_fill(p, values): _fill(why, values) for p, why in template.inputs.items()}
    inputs.update({p: why for p, why in unknown.items() if any(p in c for c in commands)})
    return Step(
        title=f"{f.cluster}: {_fill(template.title, values)}",
        detail=_fill(template.detail, values),
        kind=kind, cluster=f.cluster, from_version=f.a, to_version=f.b, chart_from=f.chart_a, chart_to=f.chart_b,
        owner=f.ownership.owner, commands=commands, reads=[_fill(r, values) for r in template.reads],
        writes=[_fill(w, values) for w in template.writes], inputs=inputs, source=template.source,
    )  # fmt: skip


def _templates(templates: list[StepTemplate], f: HopFacts) -> list[StepTemplate]:
    return [s for s in templates if s.for_owner(f.ownership.owner) and s.applies(f.a, f.b, f.limits)]


def _step(f: HopFacts, kind: StepKind, title: str, detail: str = "", **extra) -> Step:
    return Step(title=f"{f.cluster}: {title}", detail=detail, kind=kind, cluster=f.cluster, from_version=f.a,
                to_version=f.b, chart_from=f.chart_a, chart_to=f.chart_b, owner=f.ownership.owner, **extra)  # fmt: skip


def baseline_file(knowledge: ToolKnowledge, cluster: str, version: str) -> str:
    """The baseline recorded on a cluster before the hop that starts at `version`."""
    return f"baseline-{knowledge.tool}-{cluster}-{version}.json"


def fleet_args(f: HopFacts) -> tuple[str, dict[str, str]]:
    """`--fleet X` for upgradectl's own commands, and the input to fill when the plan had no fleet file."""
    if f.fleet_ref.startswith("context "):
        placeholder = "<fleet.yaml>"
        why = (f"a fleet file naming this cluster ({f.cluster}: {f.fleet_ref}, its environment and metrics_url): "
               "baseline and validate read the cluster's metrics URL from it")
        return f"--fleet {placeholder}", {placeholder: why}
    return f"--fleet {shlex.quote(f.fleet_ref)}", {}


def baseline_step(f: HopFacts) -> Step:
    k = f.knowledge
    fleet, inputs = fleet_args(f)
    out = baseline_file(k, f.cluster, f.a)
    command = (f"upgradectl baseline --tool {k.tool} {fleet} --cluster {f.cluster} --to {f.b} "
               f"--out {out}")  # fmt: skip
    return _step(f, "baseline", f"record the baseline at {f.a} before the hop to {f.b}",
                 "Every gate of this hop is judged against these values (and for VictoriaMetrics, the series count).",
                 commands=[command], writes=[out], inputs=inputs)  # fmt: skip


def validate_step(f: HopFacts, soak: int, what: str = "") -> Step:
    """Soak, then judge the hop's gates against the baseline taken before it (`what`: the state soaked, when only
    part of the cluster runs the new version, e.g. a canary)."""
    k = f.knowledge
    fleet, inputs = fleet_args(f)
    baseline = baseline_file(k, f.cluster, f.a)
    command = (f"upgradectl validate --tool {k.tool} {fleet} --cluster {f.cluster} --baseline {baseline} "
               f"--version {f.b}")  # fmt: skip
    return _step(f, "validate", f"soak {soak} min {what or f'at {f.b}'}, then evaluate the gates",
                 "Promote only when every gate passes (exit 0); a failed (1) or inconclusive (3) gate stops the "
                 "rollout and this hop's rollback applies.",
                 commands=[command], reads=[baseline], inputs=inputs, soak_minutes=soak)  # fmt: skip


def _reconcile_commands(f: HopFacts, version_label: str) -> list[str]:
    """Wait for the owner to apply what Git holds (read-only commands)."""
    own = f.ownership
    if own.owner == "flux-helmrelease" and own.name:
        return [
            f"flux reconcile helmrelease {own.name} -n {own.namespace} --with-source",
            f"kubectl -n {own.namespace} wait helmrelease/{own.name} --for=condition=Ready --timeout=15m",
            f"helm history {f.release} -n {f.namespace} --max 3",
        ]
    if own.owner == "argocd-application" and own.name:
        return [
            f"kubectl -n {own.namespace} wait application.argoproj.io/{own.name} "
            "--for=jsonpath='{.status.sync.status}'=Synced --timeout=15m",
            f"kubectl -n {own.namespace} wait application.argoproj.io/{own.name} "
            "--for=jsonpath='{.status.health.status}'=Healthy --timeout=15m",
        ]
    if own.owner == "flux-bootstrap":
        return ["flux reconcile kustomization flux-system --with-source", "flux check"]
    return []


def _terraform_commands(f: HopFacts, version: str) -> tuple[list[str], list[str]]:
    """terraform plan/apply of the root that pins the release (commands, files written)."""
    own = f.ownership
    plan_file = f"{f.knowledge.tool}-{f.cluster}-{version}.tfplan"
    var_file = f" -var-file={shlex.quote(own.var_file)}" if own.var_file else ""
    root = shlex.quote(own.terraform_root or ".")
    return [
        f"terraform -chdir={root} init -input=false{f.terraform_init}",
        f"terraform -chdir={root} plan -input=false{var_file} -out={plan_file}",
        f"terraform -chdir={root} apply -input=false {plan_file}",
    ], [f"{own.terraform_root or '.'}/{plan_file}"]


def change_step(f: HopFacts, edits: list[FileEdit]) -> Step:
    """The hop itself: the file edits (GitOps and Terraform owners) and how the owner applies them."""
    k, own = f.knowledge, f.ownership
    hop = f.hop
    detail = f"Why: {hop.reason.rstrip('.')}." + (f" Crosses: {'; '.join(hop.notes)}." if hop.notes else "")
    commands: list[str] = []
    writes: list[str] = []
    if own.owner == "terraform":
        commands, writes = _terraform_commands(f, f.b)
        detail += f" Owner: {own.describe()}: commit the edits, then plan and apply (review the plan first)."
    elif own.owner in ("flux-helmrelease", "argocd-application"):
        detail += (f" Owner: {own.describe()}: commit the edits (`upgradectl execute` does, with a step trailer); "
                   "the controller applies them, no hand-run helm.")
    elif own.owner == "flux-bootstrap":
        detail += f" Owner: {own.describe()}: the components file is regenerated below, then committed."
    if f.migrations:
        detail += " Value changes: " + "; ".join(_migration_words(m) for m in f.migrations) + "."
    shown = [_owner_note(e, f) for e in edits]
    title = f"{k.display_name} {f.a} -> {f.b} ({hop.kind})"
    return _step(f, "change", title, detail, changes=[describe(e) for e in shown], edits=shown, commands=commands,
                 writes=writes)  # fmt: skip


def _migration_words(plan: MigrationPlan) -> str:
    """A value migration with what else it needs and whether the release already has it."""
    words = plan.summary()
    extra = [*plan.satisfied, *(f"{r.key} must be set by hand: {r.why}" for r in plan.missing)]
    return words + (f" ({'; '.join(extra)})" if extra else "")


def _owner_note(edit: FileEdit, f: HopFacts) -> FileEdit:
    """A hop with no pin in Git or Terraform: say how this owner makes the change (execution pauses for it)."""
    if edit.purpose != "manual" or edit.file:
        return edit
    note = {
        "helm-cli": f"no Git or Terraform pin: the helm commands below make this hop on {f.cluster} (by hand; "
                    "`upgradectl execute` pauses here)",
        "flux-bootstrap": f"regenerate {f.gotk_file or 'gotk-components.yaml'} for {f.b} (`flux install`, the step "
                          "above) and commit it (`upgradectl execute` pauses here)",
        "manifests": f"no pin: apply the {f.b} manifests below by hand (`upgradectl execute` pauses here)",
    }.get(f.ownership.owner, edit.note)
    return edit.model_copy(update={"note": note})


def values_file_migration_step(f: HopFacts, saved: str) -> Step | None:
    """Helm CLI installs keep values in a saved file: apply this hop's value migrations to it with yq."""
    automatic = [m for m in f.migrations if m.automatic]
    by_hand = [m for m in f.migrations if not m.automatic]
    if not automatic and not by_hand:
        return None
    commands = [f"yq -i {shlex.quote(yq_expression(m))} {saved}" for m in automatic]
    detail = "; ".join(m.summary() for m in f.migrations)
    if by_hand:
        detail += ". By hand before the upgrade: " + "; ".join(
            m.migration.manual or ", ".join(f"set {r.key} ({r.why})" for r in m.missing) for m in by_hand
        )
    return _step(f, "change", f"migrate the saved values for {f.b}", detail, commands=commands, reads=[saved],
                 writes=[saved] if commands else [])  # fmt: skip


def reconcile_step(f: HopFacts, version: str, title: str) -> Step | None:
    commands = _reconcile_commands(f, version)
    if not commands:
        return None
    return _step(f, "reconcile", title, f"{f.ownership.describe()} applies the commit.", commands=commands)


def rollout_steps(task: TaskInput, f: HopFacts, edits: list[FileEdit], soak: int) -> list[Step]:
    """The forward steps of one hop on one cluster, in order."""
    k = f.knowledge
    steps = [baseline_step(f)]
    steps.extend(render(s, f, "pre-check") for s in _templates(k.procedure.pre_checks, f))
    upgrade = [render(s, f, "upgrade") for s in _templates(k.procedure.upgrade, f)]
    if f.ownership.owner == "helm-cli":  # the hop, the saved values migrated, then the helm commands
        steps.append(change_step(f, edits))
        saved = next((w for s in steps for w in s.writes if "-values-" in w and w.endswith(".yaml")), "")
        if saved and (migrate := values_file_migration_step(f, saved)):
            steps.append(migrate)
        steps.extend(upgrade)
    else:  # preparations the owner cannot make (IAM, CRD charts, regenerated files), then the commit
        steps.extend(upgrade)
        steps.append(change_step(f, edits))
    if f.ownership.owner == "flux-bootstrap" and f.gotk_file:
        in_repo = relpath(task.fleet.root / f.gotk_file, task.fleet.gitops_root or task.fleet.root)
        steps.append(_step(f, "change", f"commit the regenerated components for {f.b}",
                           commands=[f"git -C {shlex.quote(f.gitops_dir or '.')} add {shlex.quote(in_repo)}",
                                     f"git -C {shlex.quote(f.gitops_dir or '.')} commit -m "
                                     f"{shlex.quote(f'Flux {f.b} on {f.cluster}')}"],
                           reads=[f.gotk_file]))  # fmt: skip
    if (reconcile := reconcile_step(f, f.b, f"wait until {f.ownership.describe()} runs {f.b}")) is not None:
        steps.append(reconcile)
    steps.extend(render(s, f, "verify") for s in _templates(k.procedure.verify, f))
    steps.append(validate_step(f, soak))
    return steps


def _inverse(edit: FileEdit, f: HopFacts) -> FileEdit | None:
    """The pin edit that brings the from-version back (what `git revert` of the hop's commit does to it)."""
    if edit.action != "set" or edit.purpose not in ("chart-version", "crd-chart", "target-revision", "image-tag"):
        return None
    return edit.model_copy(update={"old": edit.new, "new": edit.old})


def rollback_steps(task: TaskInput, f: HopFacts, edits: list[FileEdit]) -> list[Step]:
    """What to do when this hop's gates fail or it does not reconcile: undo this hop only, back to its
    from-version. Hops that crossed a one-way limit restore the backup taken before them."""
    k, own = f.knowledge, f.ownership
    why = f.hop.rollback or f"back to {f.a}"
    one_way = f.one_way
    kind: StepKind = "restore" if one_way else "rollback"
    if one_way:
        why += " This hop is one-way (" + "; ".join(lim.description for lim in one_way) + "): restore, not downgrade."
    steps: list[Step] = []
    if own.owner in ("terraform", "flux-helmrelease", "argocd-application", "flux-bootstrap"):
        inverse = [e for e in (_inverse(e, f) for e in edits) if e is not None]
        commands = [f"git revert --no-edit {COMMIT_INPUT}"]
        writes: list[str] = []
        if own.owner == "terraform":
            tf, writes = _terraform_commands(f, f.a)
            commands += tf
        steps.append(_step(
            f, kind, f"if {f.a} -> {f.b} fails: revert its commit (back to {f.a})", why,
            changes=[describe(e) for e in inverse], edits=inverse, commands=commands, writes=writes,
            inputs={COMMIT_INPUT: f"the commit that applied {f.a} -> {f.b} on {f.cluster} (`upgradectl execute` marks "
                    f"it with the trailer Upgradectl-Step: <run>/{f.environment}/{f.a}->{f.b})"},
        ))  # fmt: skip
        if (reconcile := reconcile_step(f, f.a, f"wait until {own.describe()} runs {f.a} again")) is not None:
            steps.append(reconcile)
    else:
        steps.append(_step(f, kind, f"if {f.a} -> {f.b} fails: back to {f.a}", why))
    steps.extend(render(s, f, kind) for s in _templates(k.procedure.rollback, f))
    steps.extend(render(s, f, "restore") for s in _templates(k.procedure.restore, f))
    return steps
