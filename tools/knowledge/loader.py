"""The upgrade knowledge base: one schema for every tool, loaded from YAML and validated on load.

Each `tools/knowledge/data/<tool>.yaml` file holds a tool's releases (with their Kubernetes ranges),
chart location and chart<->app version mapping, breaking changes (each with a detector that says how
to see it in a cluster, a Helm release or a GitOps repo), path rules (required intermediate versions,
one-minor-at-a-time, patch first), rollback limits, metric renames and validation gates. Every entry
keeps the source it came from; facts marked uncertain stay visibly uncertain in every plan.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from upgradectl.models import Category, Comparison, Owner, Severity, ToolName
from upgradectl.tools import yamlio
from upgradectl.tools.knowledge.overlay import OverlayError, merge, overlay_disabled, overlay_path, read_overlay
from upgradectl.tools.textfiles import parse_yaml, read_text, schema_problems
from upgradectl.tools.versions import Version, VersionError, in_line_range, kube_minor


class KnowledgeError(ValueError):
    """A knowledge file that does not match the schema; the message names the file and field."""


class Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


DATE_PATTERN = r"^\d{4}-\d{2}(-\d{2})?$"
DATE_OR_EMPTY = r"^$|" + DATE_PATTERN


def _iso_date(value: object) -> object:
    """YAML reads 2026-02-13 as a date: keep dates as ISO text (YYYY-MM or YYYY-MM-DD) like the rest."""
    return value.isoformat() if isinstance(value, date) else value


def _check_version(value: str) -> str:
    try:
        Version.parse(value)
    except VersionError as exc:
        raise ValueError(str(exc)) from exc
    return value


class KubeRange(Entry):
    min: str
    max: str

    def contains(self, kubernetes_version: str) -> bool:
        return kube_minor(self.min) <= kube_minor(kubernetes_version) <= kube_minor(self.max)

    def __str__(self) -> str:
        return f"{self.min}-{self.max}"


class KubeRangeOverride(Entry):
    """From this patch on, the line supports a different range (e.g. Karpenter 1.0.5+: up to 1.31)."""

    from_patch: str
    kubernetes: KubeRange
    source: str


class SupportWindow(Entry):
    """When a line stops receiving fixes, as upstream states it for that line (e.g. an LTS line's end)."""

    until: str = Field(pattern=DATE_PATTERN, description="Last month (YYYY-MM) or day (YYYY-MM-DD) of fixes")
    source: str
    uncertain: bool = False

    _d = field_validator("until", mode="before")(_iso_date)


class Feature(Entry):
    """A user-facing improvement a line brings, as its upstream release or upgrade notes announce it."""

    title: str
    tags: list[Literal["cost", "performance", "security", "reliability", "operations", "networking", "observability",
                       "gitops", "ui"]] = Field(min_length=1, description="What it serves; cost/performance tie it "
                                                "to a request's trigger")
    source: str
    uncertain: bool = False


class AdvisoryPackage(Entry):
    """Where OSV lists the tool's vulnerabilities: a Go module, or a container image's package (then only for
    clusters running that image), for the versions that package name covers."""

    ecosystem: str = Field(description="OSV ecosystem name: Go, Bitnami, ...")
    name: str
    versions: str = Field(default="", description="'>=2.0.0 <3.0.0': tool versions published under this name; '' all")
    image: str = Field(default="", description="Container images only: queried when a cluster runs an image "
                       "whose reference contains this")
    source: str

    def covers(self, version: str) -> bool:
        """Whether this package name carries `version` (a Go module path changes with the major version)."""
        wanted = Version.parse(version)
        for bound in self.versions.split():
            op, text = (bound[:2], bound[2:]) if bound[:2] in (">=", "<=") else (bound[:1], bound[1:])
            limit = Version.parse(text)
            if not {">=": wanted >= limit, "<=": wanted <= limit, ">": wanted > limit, "<": wanted < limit}.get(
                op, False
            ):
                return False
        return True

    def label(self) -> str:
        return f"{self.ecosystem} {self.name}"


class Release(Entry):
    """One minor line of a tool: its newest known patch and the Kubernetes versions it supports."""

    line: str = Field(description="Minor line, e.g. '0.37'")
    latest_patch: str
    latest_patch_date: str = Field(default="", pattern=DATE_OR_EMPTY, description="When latest_patch was published")
    released: str = Field(default="", pattern=DATE_OR_EMPTY, description="When the line's x.y.0 was published")
    lts: bool = Field(default=False, description="A long-term-support line (VictoriaMetrics, Karpenter)")
    lts_patch: str = Field(
        default="",
        description="Newest LTS patch when it is not latest_patch (VictoriaMetrics: LTS patches are Enterprise builds; "
        "the chart ships latest_patch)",
    )
    lts_patch_date: str = Field(default="", pattern=DATE_OR_EMPTY)
    support: SupportWindow | None = Field(
        default=None, description="Upstream's own end-of-support date for this line; else the tool's support policy"
    )
    notes_reviewed: bool = Field(
        default=True,
        description="False for a line `knowledge refresh` found upstream: no one has read its upgrade notes, so its "
        "breaking changes and Kubernetes range are unknown",
    )
    kubernetes: KubeRange | None = Field(default=None, description="None when the tool publishes no range")
    kubernetes_overrides: list[KubeRangeOverride] = Field(default_factory=list)
    chart_version: str = Field(default="", description="Chart version carrying latest_patch when they differ")
    avoid: list[str] = Field(default_factory=list, description="Patch releases not to use, with reasons in notes")
    notes: list[str] = Field(default_factory=list)
    features: list[Feature] = Field(default_factory=list, description="What the line brings (upstream notes)")
    source: str
    uncertain: bool = False

    _v = field_validator("latest_patch")(_check_version)
    _d = field_validator("latest_patch_date", "released", "lts_patch_date", mode="before")(_iso_date)

    @model_validator(mode="after")
    def _patch_in_line(self) -> Release:
        for patch in filter(None, (self.latest_patch, self.lts_patch)):
            if Version.parse(patch).line != Version.parse(self.line).line:
                raise ValueError(f"{patch} is not in line {self.line}")
        return self

    @property
    def newest_patch(self) -> str:
        """The newest patch of the line that is published at all (the LTS patch when it is newer)."""
        if self.lts_patch and Version.parse(self.lts_patch) > Version.parse(self.latest_patch):
            return self.lts_patch
        return self.latest_patch

    def kube_range_for(self, version: str) -> KubeRange | None:
        """The Kubernetes range of a specific patch of this line."""
        chosen = self.kubernetes
        for override in self.kubernetes_overrides:
            if Version.parse(version) >= Version.parse(override.from_patch):
                chosen = override.kubernetes
        return chosen


DetectorKind = Literal[
    "api_in_use",  # objects of api_version+resource_kind exist (cluster, Helm manifests, GitOps files)
    "stored_version",  # a CRD's status.storedVersions still lists stored_version
    "helm_value",  # any of `keys` is set in the release's user-supplied values (renames: old -> new)
    "object_present",  # an object of resource_kind (namespace/name optional) exists, e.g. a ConfigMap
    "annotation_in_use",  # any object (pods, workloads) carries `annotation`
    "label_selector_in_use",  # a workload selects nodes or pods with `label`
    "metric_used",  # dashboards or alert rules use any of `metrics` (renames: old -> new)
    "config_key",  # a tool ConfigMap (resource_kind/name) sets any of `keys` (or misses one of `absent`)
    "field_value",  # objects of resource_kind (cluster, GitOps files) whose `field` matches values/pattern
    "node_kernel_below",  # nodes whose kernel is older than min_version (osImage exemptions allowed)
    "chart_values_null",  # GitOps-repo charts deployed by Argo CD whose values set a subchart table to null
    "not_helm_owned",  # objects of resource_kind named like `pattern` that Helm release `helm_release` cannot adopt
]


class Requirement(Entry):
    """A value a migrated setting needs beside it (routingMode=native needs a native-routing CIDR when the
    agent masquerades), and when it does not."""

    key: str = Field(description="Dotted Helm value path that must be set")
    why: str
    unless: dict[str, str] = Field(
        default_factory=dict,
        description="Not needed when every one of these values is set to this (case-insensitive) text, "
        "e.g. {enableIPv4Masquerade: 'false'} or {ipam.mode: 'eni'}",
    )
    unless_any: list[dict[str, str]] = Field(
        default_factory=list, description="Not needed when any one of these sets of values holds"
    )


class ValueMigration(Entry):
    """How one old value of a removed or changed Helm value maps to new keys and values.

    `values` selects the old values this mapping covers ('*' for any). `set` gives the new keys with their
    values as YAML scalars (`{value}` keeps the old value: tunnel: vxlan -> tunnelProtocol: vxlan); the old key
    is removed unless `set` names it too. `also_false` lists feature keys the old value forced off (set them to
    false where the release sets them: they stop being ignored). `requires` are values that must also be set.
    `manual` (no `set`): no safe automatic edit exists; the text says what a person must decide.
    """

    values: list[str] = Field(description="Old values covered (case-insensitive), or ['*']")
    set: dict[str, str] = Field(default_factory=dict)
    also_false: list[str] = Field(default_factory=list)
    requires: list[Requirement] = Field(default_factory=list)
    manual: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _set_or_manual(self) -> ValueMigration:
        if bool(self.set) == bool(self.manual):
            raise ValueError("a value migration has either `set` (an automatic edit) or `manual` (why not)")
        return self

    def covers(self, value: object) -> bool:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return "*" in self.values or text.lower() in {v.lower() for v in self.values}


class Detector(Entry):
    """How to see in the fleet that a breaking change affects it."""

    kind: DetectorKind
    api_version: str = ""
    resource_kind: str = ""
    crd: str = Field(default="", description="CRD name for stored_version, e.g. provisioners.karpenter.sh")
    stored_version: str = ""
    namespace: str = ""
    name: str = ""
    keys: list[str] = Field(default_factory=list)
    values: list[str] = Field(
        default_factory=list, description="helm_value/config_key: match only when the value is one of these"
    )
    renames: dict[str, str] = Field(default_factory=dict, description="old -> new ('' when removed)")
    migrations: dict[str, list[ValueMigration]] = Field(
        default_factory=dict,
        description="helm_value: per old key, how each old value maps to new keys and values (first match wins); "
        "a key listed here is never renamed blindly",
    )
    invalid_unless: str = Field(
        default="", description="helm_value: match only values that do not fullmatch this regex"
    )
    requires: dict[str, str] = Field(default_factory=dict, description="helm_value: other values that must equal these")
    unset: list[str] = Field(default_factory=list, description="helm_value: match only when these keys are not set")
    annotation: str = ""
    label: str = ""
    metrics: list[str] = Field(default_factory=list)
    replacement: str = Field(default="", description="api_in_use: what to use instead ('' when none)")
    deprecated_in: str = Field(default="", description="api_in_use: release that deprecated it ('' when unknown)")
    field: str = Field(
        default="", description="field_value: dotted path in the object, [] for every list item: spec.roles[].name"
    )
    pattern: str = Field(
        default="", description="config_key/field_value: match only values where this regex is found (per line)"
    )
    absent: list[str] = Field(default_factory=list, description="config_key: also match when these keys are missing")
    unless: dict[str, str] = Field(
        default_factory=dict,
        description="config_key: no match where a ConfigMap of the same namespace has a key fully matching a regex, "
        "as {'<configmap>/<key>': regex}: {'argocd-rbac-cm/policy.default': 'role:(readonly|admin)'}",
    )
    helm_release: str = Field(
        default="",
        description="not_helm_owned: the release that must own the objects (its ownership label and annotations)",
    )
    min_version: str = Field(default="", description="node_kernel_below: oldest kernel that is fine, e.g. 5.10")
    exempt_os_image: str = Field(default="", description="node_kernel_below: osImage regex exempt from the minimum")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Detector:
        need = {
            "api_in_use": ("api_version", "resource_kind"),
            "stored_version": ("crd", "stored_version"),
            "object_present": ("resource_kind",),
            "annotation_in_use": ("annotation",),
            "label_selector_in_use": ("label",),
            "config_key": ("resource_kind", "name"),
            "field_value": ("resource_kind", "field"),
            "node_kernel_below": ("min_version",),
            "not_helm_owned": ("resource_kind", "pattern", "helm_release"),
        }.get(self.kind, ())
        missing = [f for f in need if not getattr(self, f)]
        if missing:
            raise ValueError(f"detector kind {self.kind} needs {', '.join(missing)}")
        if self.kind == "helm_value" and not (self.keys or self.renames):
            raise ValueError("detector kind helm_value needs keys or renames")
        if self.kind == "config_key" and not (self.keys or self.renames or self.absent):
            raise ValueError("detector kind config_key needs keys, renames or absent")
        if self.kind == "field_value" and not (self.values or self.pattern):
            raise ValueError("detector kind field_value needs values or pattern")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as e:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regex: {e}") from e
        if self.kind == "metric_used" and not (self.metrics or self.renames):
            raise ValueError("detector kind metric_used needs metrics or renames")
        return self

    def watched_keys(self) -> list[str]:
        return list(dict.fromkeys([*self.keys, *self.renames]))

    def watched_metrics(self) -> list[str]:
        return list(dict.fromkeys([*self.metrics, *self.renames]))


class BreakingChange(Entry):
    """A change introduced in `version` that affects every path crossing it (from < version <= to)."""

    id: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)+$", description="Also the finding code")
    version: str
    severity: Severity
    category: Category
    title: str
    detail: str = ""
    remediation: str = ""
    detector: Detector | None = Field(default=None, description="None: a procedure note for every crossing")
    applies_below: str = Field(default="", description="Only when the path starts below this version")
    first_hop: bool = Field(
        default=False,
        description="A hazard of how the install was made rather than of one release (e.g. CRDs a new chart must "
        "adopt): checked on the first hop of every path that reaches `version`",
    )
    source: str
    uncertain: bool = False

    _v = field_validator("version")(_check_version)


RuleKind = Literal["entry", "max_minor_step"]


class PathRule(Entry):
    """A constraint every hop must obey.

    entry: a hop that crosses `crossing` (from < crossing <= to) must start within
    [from_min, from_max] (a bound written as a line covers all its patches), and on the latest patch
    of its line when `from_latest_patch`; only when the hop starts below `applies_if_from_below`, if set.
    max_minor_step: a hop may move at most `max_minor_step` minors, and must start on the latest
    patch of its line when `from_latest_patch` and the minor changes.
    """

    id: str
    kind: RuleKind
    crossing: str = ""
    from_min: str = ""
    from_max: str = ""
    from_latest_patch: bool = False
    applies_if_from_below: str = ""
    max_minor_step: int = 0
    reason: str
    source: str
    uncertain: bool = False

    @model_validator(mode="after")
    def _fields_for_kind(self) -> PathRule:
        if self.kind == "entry" and not self.crossing:
            raise ValueError("entry rule needs crossing")
        if self.kind == "max_minor_step" and self.max_minor_step < 1:
            raise ValueError("max_minor_step rule needs max_minor_step >= 1")
        for field in ("crossing", "from_min", "from_max", "applies_if_from_below"):
            if getattr(self, field):
                _check_version(getattr(self, field))
        return self

    def crossed_by(self, a: str, b: str) -> bool:
        return Version.parse(a) < Version.parse(self.crossing) <= Version.parse(b)

    def applies(self, a: str) -> bool:
        return not self.applies_if_from_below or Version.parse(a) < Version.parse(self.applies_if_from_below)

    def from_ok(self, a: str) -> bool:
        return in_line_range(a, self.from_min or None, self.from_max or None)


class RollbackLimit(Entry):
    """What crossing `version` does to the way back."""

    version: str
    rollback_to_min: str = Field(default="", description="Lowest version a rollback can reach, if bounded")
    irreversible: bool = Field(default=False, description="No rollback below `version` once crossed")
    description: str
    source: str
    uncertain: bool = False


class MetricRename(Entry):
    version: str
    old: str
    new: str = Field(default="", description="'' when removed without replacement")
    source: str
    uncertain: bool = False


class GateSpec(Entry):
    """A validation gate template; applies to versions in [min_version, max_version]."""

    name: str
    description: str
    promql: str
    comparison: Comparison
    threshold: float
    relative_to_baseline: bool = False
    window: str = "10m"
    metric_names: list[str]
    min_version: str = ""
    max_version: str = ""
    seed_test: str = Field(default="", description="The seed's specific test this gate covers, if any")
    source: str

    def applies_to(self, version: str) -> bool:
        return in_line_range(version, self.min_version or None, self.max_version or None)


class ChartInfo(Entry):
    name: str
    repository: str
    crd_chart: str = ""
    app_version_mapping: Literal["same", "table"] = "same"
    chart_to_app: dict[str, str] = Field(default_factory=dict, description="When mapping is 'table'")
    table_source: str = Field(default="", description="Where chart_to_app was read (the Helm index and its commit)")
    kube_version: str = ""
    v_prefix_below: str = Field(default="", description="Chart versions below this carry a leading 'v'")
    notes: list[str] = Field(default_factory=list)
    source: str

    def spell(self, chart_version: str) -> str:
        """The chart version as the repository tags it (e.g. Karpenter 'v0.32.10' but '1.0.10')."""
        bare = chart_version.lstrip("v")
        if self.v_prefix_below and Version.parse(bare) < Version.parse(self.v_prefix_below):
            return f"v{bare}"
        return bare


WHEN_PATTERN = (
    r"^(always|crosses_minor|crosses_major|crosses_rollback_limit|crosses [0-9][0-9.]*(, ?[0-9][0-9.]*)*"
    r"|from_below [0-9][0-9.]*|to_at_least [0-9][0-9.]*)$"
)


def _condition_holds(condition: str, a: str, b: str, limits: list[RollbackLimit]) -> bool:
    """One `when` condition for the hop a -> b (grammar: WHEN_PATTERN)."""
    va, vb = Version.parse(a), Version.parse(b)
    word, _, rest = condition.partition(" ")
    if word == "crosses_minor":
        return va.line != vb.line
    if word == "crosses_major":
        return va.major != vb.major
    if word == "crosses_rollback_limit":
        return bool(limits)
    if word == "crosses":
        return any(va < Version.parse(v.strip()) <= vb for v in rest.split(","))
    if word == "from_below":
        return va < Version.parse(rest)
    if word == "to_at_least":
        return vb >= Version.parse(rest)
    return True


class StepTemplate(Entry):
    """A procedure step, rendered once per hop that satisfies `when` and whose release `owners` includes.

    Placeholders filled from the hop and the cluster's facts: {from}/{to} chart versions as the repository
    spells them, {from_app}/{to_app} tool versions, {cluster}, {namespace}, {release}, {chart} (repository),
    {chart_name}. A rollback step brings back {from}. `when`: always; crosses_minor / crosses_major; `crosses
    1.0.0` (or a comma list: any of them lies in (from, to]); crosses_rollback_limit (the hop crosses a rollback
    limit). `reads`/`writes`: the local files its commands read and write (rendered the same way); `inputs`:
    `<PLACEHOLDER>`s in the commands a person must fill, with how to find the value.
    """

    title: str
    detail: str = ""
    commands: list[str] = Field(default_factory=list)
    when: str = Field(default="always", pattern=WHEN_PATTERN)
    unless: str = Field(default="", pattern=r"^$|" + WHEN_PATTERN[1:], description="Skip the step when this holds")
    owners: list[Owner] = Field(default_factory=list, description="Release owners this step is for; [] = every one")
    reads: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict)
    source: str = ""

    @model_validator(mode="after")
    def _placeholders_declared(self) -> StepTemplate:
        used = {m for c in self.commands for m in re.findall(r"<[A-Za-z0-9_{}-]+>", c)}
        missing = sorted(used - set(self.inputs))
        if missing:
            raise ValueError(f"step {self.title!r}: placeholders {missing} need an entry in inputs")
        return self

    def applies(self, a: str, b: str, limits: list[RollbackLimit] | None = None) -> bool:
        """Whether the step belongs to the hop a -> b (`limits`: the rollback limits the hop crosses)."""
        holds = _condition_holds(self.when, a, b, limits or [])
        return holds and not (self.unless and _condition_holds(self.unless, a, b, limits or []))

    def for_owner(self, owner: str) -> bool:
        return not self.owners or owner in self.owners


class Procedure(Entry):
    """The documented procedure per phase. Every phase renders per hop; `restore` replaces the plain rollback
    when a hop crossed a rollback limit that a downgrade cannot undo (bring back the backup instead)."""

    pre_checks: list[StepTemplate] = Field(default_factory=list)
    upgrade: list[StepTemplate]
    verify: list[StepTemplate] = Field(default_factory=list)
    rollback: list[StepTemplate]
    restore: list[StepTemplate] = Field(default_factory=list)
    disruptive: bool = Field(default=False, description="The upgrade interrupts traffic or workloads")
    notes: list[str] = Field(default_factory=list)


class StrategyMechanism(Entry):
    """How the tool does one rollout strategy, from its documentation, or why it cannot (`available: false`).

    Canary: `in_cluster` says whether a subset inside one cluster can take the new version first (otherwise only
    one cluster of an environment goes first, when there are several). `values` are Helm values the hop's change
    sets to hold the rest back (dotted path -> YAML scalar; GitOps owners get them as edits, reverted in the rest
    phase; Helm CLI owners get them as `{strategy_values}` --set flags). Steps render per hop like the procedure's,
    by phase: `hold` before the change, `subset` once the change is applied (the subset takes the new version;
    its gate follows), `rest` after the subset's gate. Blue-green: `green` stands the parallel installation up at
    the hop's target and moves readers to it (its gate follows), `retire` moves readers back to the installation
    once it runs the target and removes the parallel one; `rollback` undoes the strategy's own steps.
    """

    available: bool
    in_cluster: bool = Field(default=False, description="canary: a subset inside one cluster goes first")
    summary: str = Field(description="The mechanism (or its absence) in upstream's words, short")
    reason: str = Field(default="", description="Why it is not available (or why not inside a cluster)")
    values: dict[str, str] = Field(default_factory=dict)
    needs: list[str] = Field(
        default_factory=list, description="Cluster facts the steps need (canary_pool, vmsingle, vmagent): a cluster "
        "without them rolls out without the strategy, and the stage says why",
    )
    hold: list[StepTemplate] = Field(default_factory=list)
    subset: list[StepTemplate] = Field(default_factory=list)
    rest: list[StepTemplate] = Field(default_factory=list)
    green: list[StepTemplate] = Field(default_factory=list)
    retire: list[StepTemplate] = Field(default_factory=list)
    rollback: list[StepTemplate] = Field(default_factory=list)
    source: str
    uncertain: bool = False

    @model_validator(mode="after")
    def _reason_when_missing(self) -> StrategyMechanism:
        if (not self.available or not self.in_cluster) and not self.reason and not (self.green or self.retire):
            raise ValueError("a strategy that is not available (or not inside a cluster) needs a reason")
        return self

    def templates(self) -> list[StepTemplate]:
        return [*self.hold, *self.subset, *self.rest, *self.green, *self.retire, *self.rollback]


class Strategies(Entry):
    """What the tool can do besides a rolling upgrade (graph/decision.py and agents/strategies.py read it)."""

    canary: StrategyMechanism | None = None
    blue_green: StrategyMechanism | None = None

    def templates(self) -> list[StepTemplate]:
        return [t for m in (self.canary, self.blue_green) if m is not None for t in m.templates()]


class IamRequirement(Entry):
    """Cloud permissions a version needs that older versions did not (checked against Terraform IAM)."""

    version: str
    actions: list[str]
    resource: str = Field(default="", description="ARN fragment a granting statement must cover (or '*')")
    conditional: bool = Field(default=False, description="Needed only when a feature is used (title says which)")
    title: str
    source: str
    uncertain: bool = False


class SupportPolicy(Entry):
    """Which minor lines still receive fixes (security included), as the project documents it.

    A line is supported when it is one of the `newest_lines` newest known lines, or when its own `support.until`
    has not passed, or when it is an LTS line released less than `lts_months` ago. tools/knowledge/support.py
    applies it.
    """

    newest_lines: int = Field(ge=1, description="The newest N minor lines get fixes (1: only until the next minor)")
    lts_months: int = Field(default=0, ge=0, description="LTS lines get fixes this long after their release")
    summary: str = Field(description="The policy in upstream's words, short")
    source: str
    uncertain: bool = False


class ServedApi(Entry):
    """An API version of the tool's own objects and the first release that serves it. With the removals in
    breaking_changes this bounds which versions can run a cluster whose Git applies that API, when Git does
    not pin the tool's version (a bootstrap placeholder)."""

    api_version: str
    kinds: list[str] = Field(default_factory=list, description="Kinds at this version; empty: every kind")
    served_from: str
    source: str
    uncertain: bool = False


class Upstream(Entry):
    """Where `knowledge refresh` reads new releases: the project's GitHub releases (and the chart's Helm index)."""

    github: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/repo of the GitHub releases")
    tag_pattern: str = Field(
        default=r"^v?(\d+\.\d+\.\d+)$",
        description="Release tags of the tool itself; group 1 is the version (other tags are other components)",
    )
    restricted_lts_patches: bool = Field(
        default=False,
        description="Patches of LTS lines older than the newest line are restricted builds (VictoriaMetrics: "
        "Enterprise only): they are recorded as lts_patch, never as a line's latest_patch",
    )

    @field_validator("tag_pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"tag_pattern {value!r} is not a valid regex: {exc}") from exc
        if groups < 1:
            raise ValueError(f"tag_pattern {value!r} needs a group that captures the version")
        return value


class InterruptionHandling(Entry):
    """The Helm values that turn spot interruption handling on (any one set and non-empty), per version range."""

    values: list[str] = Field(description="Dotted Helm value paths, e.g. settings.interruptionQueue")
    spot_heavy_share: float = Field(
        default=0.5, gt=0, le=1,
        description="Share of workload CPU requests on spot nodes that makes a cluster spot-heavy",
    )
    summary: str
    source: str


class OverlayState(Entry):
    """What the user's overlay added to this tool's knowledge (set by the loader; never written in the YAML)."""

    path: str
    refreshed_at: str = ""
    changes: list[str] = Field(default_factory=list)
    warning: str = Field(default="", description="Why the overlay was not used ('' when it was)")


class ToolKnowledge(Entry):
    """Everything upgradectl knows about one product; its file is all a new product needs (plus optional
    playbook hooks and eval scenarios): the product list, request aliases and finding codes come from here."""

    tool: ToolName
    display_name: str
    aliases: list[str] = Field(
        default_factory=list, description="Other names a request may use for it (the tool name always works)"
    )
    alias_not_before: dict[str, str] = Field(
        default_factory=dict,
        description="alias -> regex of the words that, right after it, name another product: "
        "{'argo': '\\s+(workflows?|rollouts?|events)'}",
    )
    summary: str = Field(description="What it is in a few words, for the model that reads a request")
    finding_prefix: str = Field(pattern=r"^[A-Z0-9]+$", description="Code prefix of generic findings, e.g. KARP")
    namespace: str
    release_name: str
    install_markers: list[str] = Field(description="Chart names that identify this tool in Helm releases")
    image_markers: list[str] = Field(default_factory=list, description="Image repository fragments for the tool")
    companion_images: list[str] = Field(
        default_factory=list,
        description="Images of components released with the tool but often installed on their own (vmagent): "
        "clusters running only these are reported, not planned",
    )
    chart: ChartInfo
    releases: list[Release]
    breaking_changes: list[BreakingChange] = Field(default_factory=list)
    path_rules: list[PathRule] = Field(default_factory=list)
    rollback_limits: list[RollbackLimit] = Field(default_factory=list)
    metric_renames: list[MetricRename] = Field(default_factory=list)
    gates: list[GateSpec] = Field(default_factory=list)
    iam_requirements: list[IamRequirement] = Field(default_factory=list)
    cycles_nodes: bool = Field(default=False, description="Upgrading can replace nodes (drift, expiry)")
    deploys_applications: bool = Field(
        default=False,
        description="The tool renders and applies applications on destination clusters (Argo CD): upgrading it "
        "reaches the applications there",
    )
    interruption_handling: InterruptionHandling | None = Field(
        default=None, description="How the tool handles spot interruptions (None: it does not manage nodes)"
    )
    stores_metrics: bool = Field(
        default=False,
        description="A metrics store: validation also re-runs the baseline's series counts and past-window "
        "reference queries, so lost history fails the upgrade",
    )
    version_from: Literal["image", "label"] = Field(
        default="image",
        description="Where a workload says the version it runs: its image tag, or (when the images carry their "
        "own versions, as Flux's controllers do) the app.kubernetes.io/version label",
    )
    support: SupportPolicy | None = Field(default=None, description="None: not known which lines get fixes")
    as_of: str = Field(
        default="", pattern=DATE_OR_EMPTY, description="When these facts were last checked against upstream"
    )
    upstream: Upstream | None = Field(default=None, description="None: `knowledge refresh` skips this tool")
    advisory_packages: list[AdvisoryPackage] = Field(
        default_factory=list, description="Packages to ask OSV about for this tool's vulnerabilities"
    )
    overlay: OverlayState | None = Field(default=None, description="Set by the loader when an overlay applies")
    served_apis: list[ServedApi] = Field(
        default_factory=list, description="API versions of the tool's objects and the release that first serves each"
    )
    procedure: Procedure
    strategies: Strategies = Field(default_factory=Strategies, description="Canary and blue-green, per tool")
    sources: list[str]

    @model_validator(mode="after")
    def _releases_sorted_and_unique(self) -> ToolKnowledge:
        lines = [Version.parse(r.line) for r in self.releases]
        if lines != sorted(lines) or len(set(lines)) != len(lines):
            raise ValueError("releases must be unique minor lines in ascending order")
        ids = [b.id for b in self.breaking_changes]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate breaking change ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        return self

    _d = field_validator("as_of", mode="before")(_iso_date)

    def release(self, version: str) -> Release | None:
        """The release line a version belongs to."""
        line = Version.parse(version).line
        return next((r for r in self.releases if r.line == line), None)

    def latest_patch(self, version: str) -> str:
        release = self.release(version)
        if release is None:
            raise KnowledgeError(f"{self.tool} has no known release line {Version.parse(version).line}")
        return release.latest_patch

    def kube_range(self, version: str) -> KubeRange | None:
        release = self.release(version)
        return release.kube_range_for(version) if release else None

    def newest(self) -> str:
        return self.releases[-1].latest_patch

    def chart_version_for(self, app_version: str) -> str:
        """The chart version that ships an app version (same when the chart follows the app): the newest chart
        of the index table with that appVersion. '' when unknown: never a guess."""
        if self.chart.app_version_mapping == "same":
            return app_version
        wanted = Version.parse(app_version)
        shipping = [Version.parse(c) for c, app in self.chart.chart_to_app.items() if Version.parse(app) == wanted]
        if shipping:
            return str(max(shipping))
        release = self.release(app_version)
        if release and release.chart_version and Version.parse(release.latest_patch) == wanted:
            return release.chart_version
        return ""

    def app_version_for_chart(self, chart_version: str) -> str:
        """The app version a chart version ships; '' when the table does not know it."""
        if self.chart.app_version_mapping == "same":
            return chart_version
        bare = chart_version.lstrip("v")
        return next((app for c, app in self.chart.chart_to_app.items() if c.lstrip("v") == bare), "")

    def changes_crossed(self, a: str, b: str, path_start: str | None = None) -> list[BreakingChange]:
        """Breaking changes introduced in (a, b], honouring `applies_below` against the path start; on the first hop
        also the `first_hop` hazards of the install that the target reaches."""
        start = Version.parse(path_start or a)
        first = Version.parse(a) == start
        return [
            c
            for c in self.breaking_changes
            if (
                Version.parse(a) < Version.parse(c.version) <= Version.parse(b)
                or (c.first_hop and first and Version.parse(c.version) <= Version.parse(b))
            )
            and (not c.applies_below or start < Version.parse(c.applies_below))
        ]

    def rollback_limits_crossed(self, a: str, b: str) -> list[RollbackLimit]:
        return [r for r in self.rollback_limits if Version.parse(a) < Version.parse(r.version) <= Version.parse(b)]

    def metric_renames_crossed(self, a: str, b: str) -> list[MetricRename]:
        return [m for m in self.metric_renames if Version.parse(a) < Version.parse(m.version) <= Version.parse(b)]

    def iam_crossed(self, a: str, b: str) -> list[IamRequirement]:
        return [r for r in self.iam_requirements if Version.parse(a) < Version.parse(r.version) <= Version.parse(b)]

    @property
    def prefix(self) -> str:
        return self.finding_prefix

    def gates_for(self, version: str) -> list[GateSpec]:
        return [g for g in self.gates if g.applies_to(version)]


class ModuleRequirement(Entry):
    """From tool `version` on, a Terraform module call must be at `module` or later (and set `inputs`)."""

    version: str
    module: str
    inputs: dict[str, bool | str | int] = Field(
        default_factory=dict, description="Inputs the tool version needs, when the module manages the controller role"
    )
    conditional: bool = Field(default=False, description="Needed only when a feature is used (title says which)")
    title: str
    source: str
    uncertain: bool = False

    _v = field_validator("version", "module")(_check_version)


class PreservedInput(Entry):
    """An input whose default changed in a major: set it to the old default when the call did not set it."""

    input: str
    value: bool | str | int
    with_controller_role: bool = Field(default=False, description="Only when the module creates the controller role")


class ModuleMajor(Entry):
    """What a module call crossing into this major version must change (the module's UPGRADE guide)."""

    version: str
    terraform: str = ""
    providers: dict[str, str] = Field(default_factory=dict, description="provider source -> minimum version")
    renamed_inputs: dict[str, str] = Field(default_factory=dict, description="old input -> new input (all at once)")
    removed_inputs: list[str] = Field(default_factory=list)
    preserve: list[PreservedInput] = Field(
        default_factory=list, description="Inputs to set so a call that relied on the old defaults keeps its behaviour"
    )
    notes: list[str] = Field(default_factory=list)
    source: str


class ModuleRelease(Entry):
    """A module release a change set can move to, with what it requires of Terraform and providers."""

    version: str
    terraform: str = ""
    providers: dict[str, str] = Field(default_factory=dict)
    source: str


class TerraformModuleRule(Entry):
    """A Terraform module that installs or permissions a tool, judged against the tool versions of a path."""

    id: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)+$")
    tool: ToolName
    source: str = Field(description="Registry source as written in module blocks, without ?ref= or host")
    manages: str
    controller_role_input: str = Field(default="", description="Input that makes the module create the controller role")
    requires: list[ModuleRequirement]
    majors: list[ModuleMajor] = Field(default_factory=list)
    releases: list[ModuleRelease]


class ProviderRule(Entry):
    """A provider version the configuration's syntax needs: at least `minimum`, or below `below`."""

    id: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)+$")
    provider: str
    minimum: str = ""
    below: str = ""
    when: Literal["oci_chart", "block_syntax"]
    title: str
    source: str


class TerraformRules(Entry):
    as_of: str = Field(default="", pattern=DATE_OR_EMPTY)
    modules: list[TerraformModuleRule] = Field(default_factory=list)
    providers: list[ProviderRule] = Field(default_factory=list)

    _d = field_validator("as_of", mode="before")(_iso_date)

    def for_tool(self, tool: str) -> list[TerraformModuleRule]:
        return [m for m in self.modules if m.tool == tool]


def load_terraform_rules() -> TerraformRules:
    """data/terraform/rules.yaml: module and provider rules (KnowledgeError when it does not match the schema).
    Read once per file version: a plan asks for them on every hop of every cluster."""
    return _load_terraform_rules(_source_stamp("terraform/rules"))


@cache
def _load_terraform_rules(source: tuple[str, int]) -> TerraformRules:
    try:
        return TerraformRules.model_validate(_load_yaml("terraform/rules.yaml"))
    except ValidationError as exc:
        raise KnowledgeError(f"terraform/rules.yaml: {exc}") from None


class KubernetesRemoval(Entry):
    """A Kubernetes API version no longer served from `removed_in`."""

    api_version: str
    kind: str
    deprecated_in: str = ""
    removed_in: str
    replacement: str = Field(description="apiVersion to use instead; '' when there is none")
    replacement_available_in: str = Field(default="", description="Kubernetes version that first serves it")
    source: str
    uncertain: bool = False


class ProviderUpgrade(Entry):
    """How a managed provider moves a control plane one minor, and how to list its add-ons for that minor.

    Commands are templates: {to} is the target minor, {region} the fleet entry's region; <PLACEHOLDER>s are
    explained in `inputs` (what the value is and how to find it)."""

    provider: Literal["eks", "gke", "aks"]
    control_plane: list[str] = Field(min_length=1)
    addons: list[str] = Field(default_factory=list, description="Add-on compatibility for the target minor")
    inputs: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    source: str
    uncertain: bool = False


class KubernetesKnowledge(Entry):
    removals: list[KubernetesRemoval]
    providers: list[ProviderUpgrade] = Field(default_factory=list)
    sources: list[str]

    def served(self, kubernetes_version: str) -> set[str]:
        """Built-in API versions ('policy/v1' and 'policy/v1/PodDisruptionBudget') a Kubernetes version serves, as
        far as the removals table says: removed ones not yet removed, replacements already available."""
        minor = kube_minor(kubernetes_version)
        served = set()
        for r in self.removals:
            if minor < kube_minor(r.removed_in):
                served |= {r.api_version, f"{r.api_version}/{r.kind}"}
            if r.replacement and r.replacement_available_in and minor >= kube_minor(r.replacement_available_in):
                served |= {r.replacement, f"{r.replacement}/{r.kind}"}
        return served

    def provider(self, name: str) -> ProviderUpgrade | None:
        return next((p for p in self.providers if p.provider == name), None)


KNOWLEDGE_DIR_ENV = "UPGRADECTL_KNOWLEDGE_DIR"


def knowledge_dir() -> Traversable:
    """tools/knowledge/data/, or the directory $UPGRADECTL_KNOWLEDGE_DIR names: an edited copy that tests and evals
    load instead (e.g. with one detector removed, to see which eval scenarios notice)."""
    override = os.environ.get(KNOWLEDGE_DIR_ENV)
    return Path(override) if override else resources.files("upgradectl.tools.knowledge").joinpath("data")


def _load_yaml(name: str) -> dict:
    """One knowledge file: KnowledgeError naming it when it is not UTF-8 YAML (never quoting it)."""
    file = knowledge_dir().joinpath(name)
    if isinstance(file, Path):  # an overlay directory on disk ($UPGRADECTL_KNOWLEDGE_DIR)
        if not file.is_file():
            raise FileNotFoundError(file)
        return parse_yaml(read_text(file, "knowledge file", KnowledgeError), file, "knowledge file", KnowledgeError)
    return yamlio.load(file.read_text())


def bundled_data(tool: str) -> dict:
    """One tool's bundled YAML as loaded, before validation (what an overlay is merged into)."""
    try:
        return _load_yaml(f"{tool}.yaml")
    except FileNotFoundError as exc:
        raise KnowledgeError(f"no knowledge file for tool '{tool}' (tools/knowledge/data/{tool}.yaml)") from exc


def load_tool(tool: str) -> ToolKnowledge:
    """One tool's knowledge: its bundled file, validated, plus the newer releases of the user's overlay
    (`upgradectl knowledge refresh`) unless UPGRADECTL_OFFLINE=1. Cached until the overlay changes."""
    path = overlay_path()
    try:
        stamp = 0 if overlay_disabled() else path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _load_tool(tool, _source_stamp(tool), str(path) if stamp else "", stamp)


def load_bundled_tool(tool: str) -> ToolKnowledge:
    """The bundled knowledge alone, without any overlay (what `knowledge refresh` compares upstream with)."""
    return _load_tool(tool, _source_stamp(tool), "", 0)


def _source_stamp(tool: str) -> tuple[str, int]:
    """Which knowledge file a load reads (an UPGRADECTL_KNOWLEDGE_DIR copy can be edited: its mtime counts)."""
    override = os.environ.get(KNOWLEDGE_DIR_ENV)
    if not override:
        return ("", 0)
    try:
        return (override, (Path(override) / f"{tool}.yaml").stat().st_mtime_ns)
    except OSError:
        return (override, 0)


@cache
def _load_tool(tool: str, source: tuple[str, int], overlay_file: str, overlay_stamp: int) -> ToolKnowledge:
    data = bundled_data(tool)
    try:
        bundled = ToolKnowledge.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeError(
            f"{knowledge_dir().joinpath(f'{tool}.yaml')} does not match the schema: {schema_problems(exc)}"
        ) from None
    if bundled.tool != tool:
        file = knowledge_dir().joinpath(f"{tool}.yaml")
        raise KnowledgeError(f"{file} says tool: {bundled.tool}; name the file after it")
    if not overlay_file:
        return bundled
    try:
        overlay = read_overlay(Path(overlay_file))
    except OverlayError as exc:
        return bundled.model_copy(update={"overlay": OverlayState(path=overlay_file, warning=f"{exc}; ignored")})
    entry = overlay.tools.get(tool) if overlay else None
    if entry is None:
        return bundled
    merged, changes = merge(data, entry)
    try:
        refreshed = ToolKnowledge.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        warning = (
            f"the knowledge overlay {overlay_file} does not fit {tool}'s bundled knowledge "
            f"({'.'.join(str(p) for p in first['loc'])}: {first['msg']}); ignored: run `upgradectl knowledge refresh` "
            "again or delete the file"
        )
        return bundled.model_copy(update={"overlay": OverlayState(path=overlay_file, warning=warning)})
    state = OverlayState(path=overlay_file, refreshed_at=entry.refreshed_at, changes=changes)
    return refreshed.model_copy(update={"overlay": state})


def load_kubernetes() -> KubernetesKnowledge:
    return _load_kubernetes(str(knowledge_dir()))


@cache
def _load_kubernetes(folder: str) -> KubernetesKnowledge:
    try:
        return KubernetesKnowledge.model_validate(_load_yaml("kubernetes.yaml"))
    except ValidationError as exc:
        raise KnowledgeError(
            f"{knowledge_dir().joinpath('kubernetes.yaml')} does not match the schema: {schema_problems(exc)}"
        ) from None


def available_tools() -> list[str]:
    """Tools that have a knowledge file: the products upgradectl plans, in name order."""
    folder = knowledge_dir()
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml") and p.name != "kubernetes.yaml")


def products() -> list[ToolKnowledge]:
    """Every product's knowledge, in name order: where lists of products, aliases and code prefixes come from."""
    return [load_tool(tool) for tool in available_tools()]
