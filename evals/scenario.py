"""The eval scenario format: `evals/scenarios/<NNN_slug>/scenario.yaml`, validated on load.

A scenario is one request on one fleet plus what a correct plan must say about it: findings that
must be there (code + any subset of subject fields, optionally the evidence sources), findings that
must not (false alarms), the upgrade path per cluster group, the rollout stages, the decision-tree
outcome, the gates and why upgrade (advisories from a recorded OSV fixture, features gained, payback). Every
expectation is a fact read from the fixture and the knowledge base
(`why` says where), never copied from what the planner happens to print.

Unknown fields are errors (a typo must not silently drop an expectation); `upgradectl eval --schema`
prints the JSON schema (also kept in evals/scenario.schema.json).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from upgradectl.models import (
    Environment,
    EvidenceSource,
    HopKind,
    RiskLevel,
    Severity,
    StrategyKind,
    ToolName,
    Track,
    Trigger,
)

SCENARIO_FILE = "scenario.yaml"
SCENARIO_ID = re.compile(r"^\d{3}_[a-z0-9][a-z0-9_]*$")
HOP_KINDS: tuple[str, ...] = ("patch-first", "required-intermediate", "one-minor", "target")
DecisionField = Literal["track", "risk", "strategy", "approval_required"]
DECISION_FIELDS: tuple[DecisionField, ...] = ("track", "risk", "strategy", "approval_required")


class ScenarioError(ValueError):
    """A scenario folder or file that cannot be used; the message names the file and the field."""


class Strict(BaseModel):
    """Base for every part of a scenario: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class RequestSpec(Strict):
    """The request as a user types it: free text, flags, or both (flags override the text, as in `plan`)."""

    text: str = Field(default="", description="Chat-style request, e.g. 'Karpenter needs upgrade for bin packing'")
    tool: str | None = Field(default=None, description="--tool (aliases accepted)")
    to: str | None = Field(default=None, description="--to target version")
    clusters: list[str] = Field(default_factory=list, description="--clusters")
    environments: list[Environment] = Field(default_factory=list, description="--env")
    trigger: Trigger | None = Field(default=None, description="--trigger")
    strategy: StrategyKind | None = Field(default=None, description="--strategy instead of the decision tree's")

    @model_validator(mode="after")
    def _says_something(self) -> RequestSpec:
        if not self.text and not self.tool:
            raise ValueError("request needs text or tool")
        return self


class FleetOverlay(Strict):
    """A fleet built at eval time in a temporary directory: a base fleet, trimmed and patched."""

    base: str = Field(default="demo", description="'demo' or a fleet directory relative to the scenario folder")
    clusters: list[str] = Field(
        default_factory=list, description="Keep only these clusters in fleet.yaml (empty keeps all)"
    )
    overlay: str = Field(
        default="",
        description="Folder (relative to the scenario) copied over the base file by file; a <plural>.append.yaml "
        "List adds its items to the base's <plural>.yaml",
    )
    remove: list[str] = Field(default_factory=list, description="Paths inside the fleet to delete, e.g. a metrics dir")
    kubernetes_versions: dict[str, str] = Field(
        default_factory=dict, description="cluster -> server gitVersion to record, e.g. ravan: v1.27.16-eks-a18cd3a"
    )

    @field_validator("remove")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"remove: {path!r} must be a path inside the fleet")
        return paths


class SubjectMatch(Strict):
    """Any subset of a finding's subject fields. A text field matches when equal, when it is a glob that
    matches (file: charts/*/templates/*), or, when the plan's value is a comma-separated list (a finding
    about several clusters or metrics), when every expected item is in that list."""

    cluster: str | None = None
    tool: str | None = None
    api_version: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    file: str | None = None
    line: int | None = None
    helm_release: str | None = None
    helm_value_path: str | None = None
    metric: str | None = None
    version: str | None = None

    def given(self) -> dict[str, str | int]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class FindingExpectation(Strict):
    """A finding the plan must contain."""

    code: str = Field(description="Finding code, or a glob over codes (KARP-V1ALPHA5-*)")
    subject: SubjectMatch = Field(default_factory=SubjectMatch)
    evidence: list[EvidenceSource] = Field(
        default_factory=list, description="Evidence sources the finding must cite (each at least once)"
    )
    severity: Severity | None = None
    why: str = Field(default="", description="Where in the fixture and knowledge base this fact comes from")
    known_issue: str = Field(
        default="", description="The planner is known to get this wrong (why); reported, not counted in thresholds"
    )

    def describe(self) -> str:
        subject = " ".join(f"{k}={v}" for k, v in self.subject.given().items())
        extra = f" severity={self.severity}" if self.severity else ""
        extra += f" evidence={','.join(self.evidence)}" if self.evidence else ""
        return f"{self.code}{' {' + subject + '}' if subject else ''}{extra}"


class ForbiddenFinding(Strict):
    """A false alarm: no finding may match this code and/or subject."""

    code: str | None = Field(default=None, description="Finding code or glob; omitted means any code")
    subject: SubjectMatch | None = None
    why: str = Field(default="", description="Why this would be a false alarm on this fixture")
    known_issue: str = Field(
        default="", description="The planner is known to raise it anyway (why); reported, not counted in thresholds"
    )

    @model_validator(mode="after")
    def _narrow(self) -> ForbiddenFinding:
        if self.code is None and (self.subject is None or not self.subject.given()):
            raise ValueError("a forbidden finding needs a code, a subject, or both")
        return self

    def describe(self) -> str:
        subject = " ".join(f"{k}={v}" for k, v in (self.subject.given() if self.subject else {}).items())
        return f"{self.code or '*'}{' {' + subject + '}' if subject else ''}"


class PathExpectation(Strict):
    """One cluster group's upgrade path: the clusters that share a current version, and every hop."""

    clusters: list[str] = Field(min_length=1)
    from_version: str = Field(alias="from", description="Current version of the group")
    hops: list[str] = Field(
        min_length=1, description="Each hop's to-version, optionally with its kind: '0.31.5 patch-first'"
    )
    feasible: bool | None = None
    blockers: list[str] = Field(default_factory=list, description="Text each blocker list must contain")

    @field_validator("hops")
    @classmethod
    def _hop_kinds(cls, hops: list[str]) -> list[str]:
        for hop in hops:
            parts = hop.split()
            if len(parts) not in (1, 2) or (len(parts) == 2 and parts[1] not in HOP_KINDS):
                raise ValueError(f"hop {hop!r}: write 'VERSION' or 'VERSION KIND' (kind: {', '.join(HOP_KINDS)})")
        return hops

    def expected_hops(self) -> list[tuple[str, HopKind | None]]:
        return [(p[0], p[1] if len(p) > 1 else None) for p in (h.split() for h in self.hops)]  # type: ignore[misc]


class DecisionExpectation(Strict):
    """The seed's decision tree: track (trigger), risk level, strategy, approval requirement."""

    track: Track | None = None
    risk: RiskLevel | None = None
    strategy: StrategyKind | None = None
    approval_required: bool | None = None
    known_issues: dict[DecisionField, str] = Field(
        default_factory=dict,
        description="Decision parts the planner is known to get wrong (why): reported, not counted",
    )

    @model_validator(mode="after")
    def _issues_name_expectations(self) -> DecisionExpectation:
        unset = [k for k in self.known_issues if getattr(self, k) is None]
        if unset:
            raise ValueError(f"known_issues names {', '.join(unset)}, which this decision does not expect")
        return self

    def expected(self) -> dict[DecisionField, object]:
        return {k: v for k in DECISION_FIELDS if (v := getattr(self, k)) is not None}


class AdvisoryExpectation(Strict):
    """An OSV advisory the plan's 'Why upgrade' must list, written from the advisory record itself."""

    id: str = Field(description="The advisory id the plan lists (GHSA-..., else the first id OSV returned)")
    severity: Literal["critical", "high", "medium", "low", "unknown"] | None = None
    fixed: list[str] = Field(default_factory=list, description="Fixed-in versions the plan must give (each)")
    fixed_by_target: bool | None = Field(default=None, description="Whether the target fixes it")
    why: str = Field(default="", description="Where in the record this comes from")


class WhyExpectation(Strict):
    """Why upgrade: the advisories (needs the scenario's `osv` fixture), the features the path brings, and the
    cost track's payback."""

    advisories_status: Literal["checked", "cached", "not-checked"] | None = None
    patch_suffices: bool | None = Field(
        default=None, description="Whether a patch of the running line fixes every high/critical advisory"
    )
    minimal_target: str | None = Field(default=None, description="Smallest version fixing every high/critical one")
    advisories: list[AdvisoryExpectation] = Field(default_factory=list)
    features: list[str] = Field(
        default_factory=list, description="'LINE: words of the title' for each feature the plan must list"
    )
    trigger_features: list[str] = Field(
        default_factory=list, description="Same form: features the plan must mark as what the request asked for"
    )
    payback: bool | None = Field(default=None, description="The plan states a payback figure (cost track)")


class Expected(Strict):
    """What a correct plan says; every part is optional, and only what is given is scored."""

    target_version: str | None = None
    required_findings: list[FindingExpectation] = Field(default_factory=list)
    forbidden_findings: list[ForbiddenFinding] = Field(default_factory=list)
    paths: list[PathExpectation] = Field(
        default_factory=list, description="Every cluster group's path (exact: no missing or extra group)"
    )
    rollout: dict[Environment, list[str]] | None = Field(
        default=None, description="Environment -> clusters of each rollout stage (exact)"
    )
    decision: DecisionExpectation | None = None
    required_gates: list[str] = Field(default_factory=list, description="Gate names every rollout stage must hold")
    forbidden_gates: list[str] = Field(default_factory=list, description="Gate names no rollout stage may hold")
    why: WhyExpectation | None = Field(default=None, description="Advisories, features gained, payback")


class Scenario(Strict):
    """One eval case: a request, a fleet and the expected plan."""

    title: str
    description: str = ""
    tool: ToolName = Field(description="The tool the request is about (the plan must be for it)")
    after_control_plane: bool = Field(
        default=False, description="Kubernetes plans: score the tool's section after the control plane (its second "
        "move), not the one before it")
    difficulty: Literal["easy", "medium", "hard"]
    tags: list[str] = Field(default_factory=list)
    request: RequestSpec
    fleet: str | FleetOverlay = Field(
        default="demo", description="'demo', a fleet directory/file relative to the scenario folder, or an overlay"
    )
    osv: str = Field(
        default="",
        description="Recorded OSV: a folder of advisory records (<id>.json, OSV schema) or a JSON list of them, "
        "relative to the scenario folder, answered in process (no network); empty: the plan does not ask OSV",
    )
    expected: Expected

    @field_validator("osv")
    @classmethod
    def _inside(cls, path: str) -> str:
        if path and (Path(path).is_absolute() or ".." in Path(path).parts):
            raise ValueError(f"osv: {path!r} must be a path inside the scenario folder")
        return path


class LoadedScenario(BaseModel):
    """A validated scenario with where it lives."""

    model_config = ConfigDict(frozen=True)

    id: str
    folder: Path
    spec: Scenario


def load_scenario(folder: Path) -> LoadedScenario:
    """Read and validate one scenario folder; errors name the file and every bad field."""
    file = folder / SCENARIO_FILE
    if not SCENARIO_ID.match(folder.name):
        raise ScenarioError(f"{folder}: scenario folders are named NNN_slug (three digits, lower-case slug)")
    try:
        raw = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{file} not found") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{file} is not valid YAML: {exc}") from None
    try:
        spec = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{file}: {problems}") from None
    return LoadedScenario(id=folder.name, folder=folder, spec=spec)


def discover(scenarios_dir: Path, pattern: str = "*") -> list[LoadedScenario]:
    """Every scenario folder under scenarios_dir whose id matches one of the comma-separated globs (a bare
    prefix like 007 works too), sorted by id."""
    if not scenarios_dir.is_dir():
        raise ScenarioError(f"scenario directory {scenarios_dir} not found")
    folders = sorted(p for p in scenarios_dir.iterdir() if (p / SCENARIO_FILE).is_file())
    globs = [g.strip() for g in pattern.split(",") if g.strip()] or ["*"]
    chosen = [f for f in folders if any(fnmatch.fnmatchcase(f.name, g) or f.name.startswith(g) for g in globs)]
    if not chosen:
        known = ", ".join(f.name for f in folders) or "none"
        raise ScenarioError(f"no scenario matches {pattern!r} (scenarios: {known})")
    return [load_scenario(f) for f in chosen]


def schema() -> dict:
    """JSON schema of scenario.yaml."""
    return Scenario.model_json_schema(by_alias=True)
