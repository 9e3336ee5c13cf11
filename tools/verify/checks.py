"""Prove a plan consistent, step by step. Each check names the stage and step it fails on.

- hop-version: every version a step's commands and edits name is its hop's (rollback: the from-version);
- step-condition: a knowledge step appears only on hops its `when`/`unless` and owners allow;
- rollback-limit: a rollback never goes below a limit its hop (or an earlier hop) crossed, unless it restores;
- file-read: every local file a command reads exists in the fleet directory or an earlier step wrote it;
- placeholder: every <PLACEHOLDER> in a command is declared with how to find its value;
- upgradectl-command: upgradectl's own commands carry the plan's --fleet, name its clusters, pass --baseline
  and --out where the step needs them, and parse with the real CLI (a parser the caller gives);
- file-edit: every change set applies to the files as they are, in order (dev -> staging -> prod, hop by hop);
- chart-values: the values an edit leaves behind are accepted by the hop's target chart (when it can be read);
- manifest-schema: a manifest whose apiVersion an edit migrates validates for the Kubernetes version it runs on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upgradectl.models import Plan, PlanVerification, RolloutStage, Step, Violation
from upgradectl.tools import yamlio
from upgradectl.tools.charts.store import ChartStore, ChartUnavailable
from upgradectl.tools.charts.values_check import ChartValues
from upgradectl.tools.gitops.changes import EditError, apply_edits, change_sets, read_files
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.verify.commands import CommandParser, analyse, option, placeholders
from upgradectl.tools.verify.manifests import ManifestValidator
from upgradectl.tools.versions import Version, VersionError

FORWARD = ("baseline", "pre-check", "backup", "change", "upgrade", "reconcile", "verify", "validate")


@dataclass
class Verifier:
    """The checks over one plan (knowledge of its tool, the fleet directory, optional chart store and parser)."""

    plan: Plan
    knowledge: ToolKnowledge
    fleet_root: Path | None = None
    charts: ChartStore | None = None
    parse_command: CommandParser | None = None
    manifests: ManifestValidator | None = None
    kubernetes_versions: dict[str, str] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)

    def run(self) -> PlanVerification:
        for stage in self.plan.rollout:
            self._stage(stage)
        self._edits()
        return PlanVerification(checked=self.checked, violations=self.violations,
                                inconclusive=list(dict.fromkeys(self.inconclusive)))  # fmt: skip

    # ------------------------------------------------------------ helpers

    def _flag(self, check: str, stage: RolloutStage | None, where: str, step: Step | None, message: str) -> None:
        ref = f"{where} {step.title!r}" if step is not None else where
        self.violations.append(Violation(check=check, environment=stage.environment if stage else "",  # type: ignore[arg-type]
                                         step=ref, message=message))  # fmt: skip

    def _spelled(self, version: str) -> set[str]:
        """Ways a chart version may be written for this tool (as the repository spells it, and bare)."""
        return {version, version.lstrip("v"), self.knowledge.chart.spell(version)} if version else set()

    # ------------------------------------------------------------ per stage

    def _stage(self, stage: RolloutStage) -> None:
        written: set[str] = set()
        hops_by_cluster: dict[str, list[tuple[str, str]]] = {}
        for index, step in enumerate(stage.steps):
            where = f"steps[{index + 1}]"
            if step.kind == "change" and step.from_version and step.cluster:
                hops = hops_by_cluster.setdefault(step.cluster, [])
                if (step.from_version, step.to_version) not in hops:
                    hops.append((step.from_version, step.to_version))
            self._step(stage, where, step, written, forward=True)
        for index, step in enumerate(stage.rollback_steps):
            where = f"rollback_steps[{index + 1}]"
            self._step(stage, where, step, written, forward=False)
            self._rollback_limit(stage, where, step, hops_by_cluster.get(step.cluster, []))
        counts = f"{len(stage.steps)} steps, {len(stage.rollback_steps)} rollback steps"
        self.checked.append(f"{stage.environment}: {counts}")

    def _step(self, stage: RolloutStage, where: str, step: Step, written: set[str], forward: bool) -> None:
        self._condition(stage, where, step)
        own_writes = set(step.writes)
        for command in step.commands:
            facts = analyse(command)
            if facts.problem:
                self._flag("placeholder", stage, where, step, f"`{command}`: {facts.problem}")
                continue
            own_writes.update(facts.writes)
            for placeholder in placeholders(command):
                if placeholder not in step.inputs:
                    self._flag("placeholder", stage, where, step,
                               f"`{placeholder}` in `{command}` is not declared: nobody is told what to put there")
            self._versions(stage, where, step, facts, forward)
            for read in facts.reads:
                self._read(stage, where, step, read, written | own_writes)
            for argv in facts.upgradectl:
                self._upgradectl(stage, where, step, argv, written | own_writes)
        for read in step.reads:
            self._read(stage, where, step, read, written | own_writes)
        for edit in step.edits:
            if step.from_version and (edit.from_version, edit.to_version) != (step.from_version, step.to_version):
                self._flag("hop-version", stage, where, step, f"edit of {edit.file} is for {edit.from_version} -> "
                           f"{edit.to_version}, the step's hop is {step.from_version} -> {step.to_version}")
            if edit.action == "set" and edit.purpose in ("chart-version", "crd-chart", "target-revision"):
                wanted = step.chart_to if forward else step.chart_from
                if wanted and edit.new not in self._spelled(wanted):
                    self._flag("hop-version", stage, where, step, f"{edit.file} pin set to {edit.new}, the hop's "
                               f"{'target' if forward else 'from'} chart version is {wanted}")
        written.update(own_writes)

    def _versions(self, stage, where, step: Step, facts, forward: bool) -> None:
        if not step.from_version:
            return
        back = step.kind in ("rollback", "restore")
        chart = step.chart_from if back else step.chart_to
        app = step.from_version if back else step.to_version
        for version in facts.chart_versions:
            if version.startswith("<"):
                continue
            if chart and version not in self._spelled(chart):
                role = "rollback step" if back else "step"
                self._flag("hop-version", stage, where, step, f"helm --version {version}: this {role} belongs to "
                           f"hop {step.from_version} -> {step.to_version}, whose "
                           f"{'from' if back else 'target'} chart version is {chart}")
            elif not chart:
                self._flag("hop-version", stage, where, step, f"helm --version {version}: the chart version of {app} "
                           "is unknown, so no version may be printed for it")
        for version in facts.app_versions:
            if _same(version, app) is False:
                self._flag("hop-version", stage, where, step, f"version {version} in a step of hop "
                           f"{step.from_version} -> {step.to_version} (expected {app})")
        for argv in facts.upgradectl:
            flags = {"baseline": ("--to", step.to_version), "validate": ("--version", step.to_version)}
            wanted = flags.get(argv[0] if argv else "")
            if wanted and (value := option(argv, wanted[0])) is not None and _same(value, wanted[1]) is False:
                self._flag("hop-version", stage, where, step, f"upgradectl {argv[0]} {wanted[0]} {value}: the hop "
                           f"goes to {wanted[1]}")

    def _condition(self, stage, where: str, step: Step) -> None:
        """A step rendered from a knowledge template must satisfy its template's when/unless and owners."""
        if not step.from_version or not step.cluster or step.kind not in ("pre-check", "upgrade", "verify",
                                                                           "rollback", "restore"):
            return
        procedure = self.knowledge.procedure
        for template in [*procedure.pre_checks, *procedure.upgrade, *procedure.verify, *procedure.rollback,
                         *procedure.restore]:
            if not _same_title(template.title, step):
                continue
            limits = self.knowledge.rollback_limits_crossed(step.from_version, step.to_version)
            if not template.applies(step.from_version, step.to_version, limits):
                self._flag("step-condition", stage, where, step, f"only for hops where {template.when}"
                           + (f" unless {template.unless}" if template.unless else "") +
                           f"; this is {step.from_version} -> {step.to_version}")
            if step.owner and not template.for_owner(step.owner):
                self._flag("step-condition", stage, where, step, f"only for releases owned by "
                           f"{', '.join(template.owners)}; {step.cluster}'s is owned by {step.owner}")
            return

    def _rollback_limit(self, stage, where: str, step: Step, hops: list[tuple[str, str]]) -> None:
        if step.kind != "rollback" or not step.from_version or (step.from_version, step.to_version) not in hops:
            return
        if step.phase:  # a strategy's own undo (remove the green installation, release held nodes): no downgrade
            return
        done = hops[: hops.index((step.from_version, step.to_version)) + 1]
        target = Version.parse(step.from_version)
        for a, b in done:
            for limit in self.knowledge.rollback_limits_crossed(a, b):
                if limit.irreversible and target < Version.parse(limit.version):
                    self._flag("rollback-limit", stage, where, step, f"rolls back to {step.from_version} after "
                               f"{limit.version} was crossed ({a} -> {b}), which cannot be undone: restore instead")
                elif limit.rollback_to_min and target < Version.parse(limit.rollback_to_min):
                    self._flag("rollback-limit", stage, where, step, f"rolls back to {step.from_version}, below "
                               f"{limit.rollback_to_min}, after crossing {limit.version} ({a} -> {b})")

    def _read(self, stage, where: str, step: Step, path: str, written: set[str]) -> None:
        if path in written or "<" in path:
            return
        if self.fleet_root is not None and (self.fleet_root / path).exists():
            return
        self._flag("file-read", stage, where, step, f"reads {path}, which is not in the fleet directory and no "
                   "earlier step writes")

    def _upgradectl(self, stage, where: str, step: Step, argv: list[str], written: set[str]) -> None:
        shown = "upgradectl " + " ".join(argv)
        if not argv:
            return
        fleet = option(argv, "--fleet")
        expected = self.plan.fleet
        if expected.startswith("context "):
            ok = fleet is not None and (fleet.startswith("<") and fleet in step.inputs)
        else:
            ok = fleet == expected
        if argv[0] in ("baseline", "validate") and not ok:
            self._flag("upgradectl-command", stage, where, step, f"`{shown}` does not run against the plan's fleet "
                       f"({expected}): --fleet is {fleet or 'missing (the demo fleet would be measured)'}")
        clusters = option(argv, "--cluster") or option(argv, "--clusters")  # --clusters: the old spelling
        known = {c.name for c in self.plan.clusters}
        if clusters:
            unknown = [c for c in clusters.split(",") if c and c not in known]
            if unknown:
                self._flag("upgradectl-command", stage, where, step, f"`{shown}` names clusters not in the fleet: "
                           f"{', '.join(unknown)}")
        elif argv[0] in ("baseline", "validate"):
            self._flag("upgradectl-command", stage, where, step, f"`{shown}` has no --cluster: it would measure every "
                       "cluster running the tool, not this stage's")
        if argv[0] == "validate" and option(argv, "--baseline") is None:
            self._flag("upgradectl-command", stage, where, step, f"`{shown}` has no --baseline: every relative gate "
                       "would be inconclusive")
        if argv[0] == "baseline" and option(argv, "--out") is None:
            self._flag("upgradectl-command", stage, where, step, f"`{shown}` has no --out: the baseline file later "
                       "steps read would not be named")
        if self.parse_command is None:
            self.inconclusive.append("upgradectl commands were not parsed: no CLI parser was given to the verifier")
            return
        filled = [("demo" if t.startswith("<") else t) for t in argv]  # placeholders stand for a value
        error = self.parse_command(filled)
        if error:
            self._flag("upgradectl-command", stage, where, step, f"`{shown}` does not run as written: {error}")

    # ------------------------------------------------------------ edits

    def _edits(self) -> None:
        if self.fleet_root is None:
            self.inconclusive.append("file edits were not applied: the fleet directory is not known")
            return
        texts: dict[str, str] = {}
        for cs in change_sets(self.plan):
            after: dict[str, str] = {}
            for edit in cs.edits:  # one by one, so a failure names the step that holds the edit
                try:
                    if edit.file and edit.file not in texts:
                        texts.update(read_files(self.fleet_root, [edit.file]))
                    changed = apply_edits(texts, [edit])
                except EditError as exc:
                    step = self._step_of(cs.environment, cs.from_version, cs.to_version, edit.cluster)
                    self.violations.append(Violation(check="file-edit", environment=cs.environment, step=step,
                                                     message=f"hop {cs.hop}: {exc}"))  # fmt: skip
                    continue
                texts.update(changed)
                after.update(changed)
            after = {f: texts[f] for f in after}
            self._edited_values(cs, after)
            self._migrated_manifests(cs, after)
        self.checked.append(f"{len(change_sets(self.plan))} change set(s) applied in order")

    def _step_of(self, environment: str, a: str, b: str, cluster: str = "") -> str:
        """The change step of a hop (on a cluster) that holds an edit, as violations name it."""
        for stage in self.plan.rollout:
            if stage.environment != environment:
                continue
            for index, step in enumerate(stage.steps):
                if step.kind == "change" and (step.from_version, step.to_version) == (a, b) and (
                        not cluster or step.cluster == cluster):
                    return f"steps[{index + 1}] {step.title!r}"
        return f"hop {a} -> {b}"

    def _edited_values(self, cs, after: dict[str, str]) -> None:
        """Values an edit touched must be accepted by the hop's target chart."""
        value_edits = [e for e in cs.edits if e.purpose == "values" and e.file in after]
        if not value_edits:
            return
        chart_version = self.knowledge.chart_version_for(cs.to_version)
        if self.charts is None or not chart_version:
            self.inconclusive.append(f"values edited for {cs.hop} not checked against the chart (no chart store or "
                                     "unknown chart version)")
            return
        try:
            chart = self.charts.get(self.knowledge.chart.repository, self.knowledge.chart.name, chart_version)
        except ChartUnavailable as exc:
            self.inconclusive.append(f"values edited for {cs.hop}: {exc}")
            return
        checker = ChartValues(chart)
        for edit in value_edits:
            values = _values_at(after[edit.file], edit.document, edit.values_root)
            if values is None:
                continue
            touched = ".".join(str(p) for p in (edit.new_path or edit.path))
            for problem in checker.check(values):
                if problem.path == touched or problem.path.startswith(touched + "."):
                    step = self._step_of(cs.environment, cs.from_version, cs.to_version, edit.cluster)
                    self.violations.append(Violation(check="chart-values", environment=cs.environment, step=step,
                                                     message=f"{edit.file}: after the edit, {problem.message}"))

    def _migrated_manifests(self, cs, after: dict[str, str]) -> None:
        migrated = [e for e in cs.edits if e.purpose == "api-version" and e.file in after]
        if not migrated:
            return
        if self.manifests is None:
            self.inconclusive.append("migrated manifests not validated: no manifest validator")
            return
        for edit in migrated:
            try:
                docs = [d for d in yamlio.load_all(after[edit.file]) if isinstance(d, dict)]
            except yamlio.YAMLError as exc:
                self.violations.append(Violation(check="manifest-schema", environment=cs.environment,
                                                 step=self._step_of(cs.environment, cs.from_version,
                                                                    cs.to_version, edit.cluster),
                                                 message=f"{edit.file} is not valid YAML after the edit: {exc}"))
                continue
            for cluster in edit.applies_to or [edit.cluster]:
                kube = self.kubernetes_versions.get(cluster, "")
                for doc in docs:
                    if doc.get("apiVersion") != edit.new:
                        continue
                    error, note = self.manifests.validate(doc, kube, cluster)
                    if note:
                        self.inconclusive.append(note)
                    if error:
                        self.violations.append(Violation(
                            check="manifest-schema", environment=cs.environment,
                            step=self._step_of(cs.environment, cs.from_version, cs.to_version, edit.cluster),
                            message=f"{edit.file}: {doc.get('kind')} {(doc.get('metadata') or {}).get('name', '')} "
                                    f"at {edit.new} on Kubernetes {kube} ({cluster}): {error}"))  # fmt: skip


def _same(a: str, b: str) -> bool | None:
    """Whether version `a` names `b` (a minor line like 2.6 names every 2.6.z); None when `a` is no version."""
    try:
        named, wanted = Version.parse(a), Version.parse(b)
    except VersionError:
        return None
    return named.line == wanted.line if named.is_line else named == wanted


def _same_title(template_title: str, step: Step) -> bool:
    """Whether a step's title was rendered from this template title (placeholders stand for any text)."""
    title = step.title.split(": ", 1)[1] if ": " in step.title else step.title
    pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", ".+?", re.escape(template_title)) + "$"
    return re.match(pattern, title) is not None


def _values_at(text: str, document: dict[str, str], root: list) -> dict[str, Any] | None:
    for doc in yamlio.load_all(text):
        if not isinstance(doc, dict):
            continue
        meta = doc.get("metadata") or {}
        if document and (doc.get("kind") != document.get("kind") or meta.get("name") != document.get("name")):
            continue
        node: Any = doc
        for key in root:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None
    return None


def verify_plan(plan: Plan, knowledge: ToolKnowledge, fleet_root: Path | None, *, charts: ChartStore | None = None,
                parse_command: CommandParser | None = None, manifests: ManifestValidator | None = None,
                kubernetes_versions: dict[str, str] | None = None) -> PlanVerification:  # fmt: skip
    """Every check over one plan; the verdict lists what was checked, what could not be, and each violation."""
    versions = kubernetes_versions or {c.name: c.kubernetes_version for c in plan.clusters}
    return Verifier(plan, knowledge, fleet_root, charts, parse_command, manifests, versions).run()

