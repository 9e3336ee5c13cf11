"""Eval results: per-scenario checks, suite totals, the thresholds of `evals/suite.yaml`, and the stamp
(git SHA, upgradectl version, LLM mode and model, prompt-template and knowledge hashes) that says
exactly what was measured."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from upgradectl.evals.scenario import ScenarioError
from upgradectl.evals.scoring import CATEGORIES, Check, CheckCategory

LLMMode = Literal["off", "replay", "live"]
LLM_MODES: tuple[LLMMode, ...] = ("off", "replay", "live")


class Thresholds(BaseModel):
    """What the suite must reach in one LLM mode (shares are 0..1 over the scenarios that check it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recall: float = Field(default=1.0, ge=0, le=1, description="Required findings found, over the whole suite")
    max_false_alarms: int = Field(default=0, ge=0, description="Forbidden findings present, over the whole suite")
    path: float = Field(default=1.0, ge=0, le=1, description="Scenarios whose path checks all hold")
    decision: float = Field(default=1.0, ge=0, le=1, description="Scenarios whose decision checks all hold")
    gates: float = Field(default=1.0, ge=0, le=1, description="Scenarios whose gate checks all hold")
    verifier: float = Field(default=1.0, ge=0, le=1, description="Scenarios whose plan the verifier found no fault in")
    why: float = Field(default=1.0, ge=0, le=1, description="Scenarios whose advisory, feature and payback checks hold")
    max_errors: int = Field(default=0, ge=0, description="Scenarios that produced no plan")


class SuiteConfig(BaseModel):
    """evals/suite.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenarios: str = Field(default="scenarios", description="Scenario folder, relative to suite.yaml")
    thresholds: dict[LLMMode, Thresholds]
    today: date | None = Field(
        default=None,
        description="The day plans judge support windows on: pins results that would otherwise change as lines "
        "reach their end of support (default: the real date)",
    )


def load_suite(file: Path) -> SuiteConfig:
    try:
        raw = yaml.safe_load(file.read_text())
        return SuiteConfig.model_validate(raw)
    except FileNotFoundError:
        raise ScenarioError(f"suite config {file} not found") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{file} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{file}: {problems}") from None


class LLMRun(BaseModel):
    """How the model took part in one scenario."""

    mode: LLMMode = "off"
    model: str = ""
    calls: int = 0
    findings_added: int = 0
    degraded: bool = False
    error: str = ""
    replay_misses: list[str] = Field(default_factory=list, description="Requests the replay file had no turn for")
    replay_drift: int = Field(default=0, description="Recorded turns served although the request text changed")
    recorded_turns: int = 0


class ScenarioResult(BaseModel):
    """One scenario's outcome."""

    id: str
    title: str
    tool: str
    difficulty: str
    tags: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    error: str = Field(default="", description="Why no plan could be scored")
    summary: str = ""
    seconds: float = 0.0
    llm: LLMRun = Field(default_factory=LLMRun)

    def counted(self, category: CheckCategory) -> list[Check]:
        """Checks of a category that count toward thresholds (known issues are reported apart)."""
        return [c for c in self.checks if c.category == category and not c.known_issue]

    def status(self, category: CheckCategory) -> str:
        checks = self.counted(category)
        if self.error:
            return "error"
        if not checks:
            return "-"
        return "pass" if all(c.passed for c in checks) else "fail"

    @property
    def replay_failed(self) -> bool:
        return bool(self.llm.replay_misses)

    @property
    def passed(self) -> bool:
        return not self.error and not self.replay_failed and all(self.status(c) != "fail" for c in CATEGORIES)

    def known_issues(self) -> list[Check]:
        return [c for c in self.checks if c.known_issue]


class Stamp(BaseModel):
    """What was measured: code, model and prompts."""

    git_sha: str
    git_dirty: bool | None
    upgradectl_version: str
    llm_mode: LLMMode
    llm_models: list[str]
    prompts_sha256: str
    knowledge_sha256: str
    knowledge_dir: str = Field(default="", description="Set when UPGRADECTL_KNOWLEDGE_DIR replaced tools/knowledge")
    started_at: str
    seconds: float
    jobs: int


class Totals(BaseModel):
    """Suite-wide numbers the thresholds are checked against."""

    scenarios: int
    passed: int
    errors: int
    required: int
    found: int
    recall: float
    forbidden: int
    false_alarms: int
    precision: float = Field(description="Share of forbidden findings the plans kept out")
    path: float
    decision: float
    gates: float
    verifier: float = Field(default=1.0, description="Share of plans with no plan-verifier violation")
    why: float = Field(default=1.0, description="Share of scenarios whose why-upgrade checks all hold")
    known_issues: int
    known_issues_fixed: int = Field(description="Known-issue checks that now pass (remove their known_issue)")


def _share(results: list[ScenarioResult], category: CheckCategory) -> float:
    """Share of the scenarios with checks of this category whose checks all hold (errors count in max_errors)."""
    scored = [r for r in results if not r.error and r.counted(category)]
    return 1.0 if not scored else sum(r.status(category) == "pass" for r in scored) / len(scored)


def totals(results: list[ScenarioResult]) -> Totals:
    required = [c for r in results for c in r.counted("recall")]
    forbidden = [c for r in results for c in r.counted("precision")]
    known = [c for r in results for c in r.known_issues()]
    errors = sum(1 for r in results if r.error)
    return Totals(
        scenarios=len(results),
        passed=sum(r.passed for r in results),
        errors=errors,
        required=len(required),
        found=sum(c.passed for c in required),
        recall=1.0 if not required else sum(c.passed for c in required) / len(required),
        forbidden=len(forbidden),
        false_alarms=sum(not c.passed for c in forbidden),
        precision=1.0 if not forbidden else sum(c.passed for c in forbidden) / len(forbidden),
        path=_share(results, "path"),
        decision=_share(results, "decision"),
        gates=_share(results, "gates"),
        verifier=_share(results, "verifier"),
        why=_share(results, "why"),
        known_issues=len(known),
        known_issues_fixed=sum(c.passed for c in known),
    )


def violations(t: Totals, limits: Thresholds, results: list[ScenarioResult]) -> list[str]:
    """Each threshold the run missed, in words."""
    missed = []
    if t.recall < limits.recall:
        missed.append(f"recall {t.found}/{t.required} = {t.recall:.1%} < {limits.recall:.0%}")
    if t.false_alarms > limits.max_false_alarms:
        missed.append(f"{t.false_alarms} false alarm(s) > {limits.max_false_alarms}")
    for name in ("path", "decision", "gates", "verifier", "why"):
        value, limit = getattr(t, name), getattr(limits, name)
        if value < limit:
            missed.append(f"{name} match {value:.1%} < {limit:.0%}")
    if t.errors > limits.max_errors:
        missed.append(f"{t.errors} scenario(s) produced no plan > {limits.max_errors}")
    stale = [r.id for r in results if r.replay_failed]
    if stale:
        missed.append(f"replay file missing turns for {', '.join(stale)} (re-record with --llm live --record)")
    return missed


class SuiteResult(BaseModel):
    """Everything `upgradectl eval --format json` prints."""

    stamp: Stamp
    thresholds: Thresholds
    totals: Totals
    violations: list[str]
    passed: bool
    scenarios: list[ScenarioResult]
