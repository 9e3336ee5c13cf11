"""One eval run end to end: the suite config, the chosen scenarios, the parallel run, totals against the
mode's thresholds, and the stamp."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from upgradectl import __version__
from upgradectl.evals.provenance import git_state, knowledge_sha256, prompts_sha256
from upgradectl.evals.results import ScenarioResult, Stamp, SuiteResult, load_suite, totals, violations
from upgradectl.evals.runner import RunOptions, run_suite
from upgradectl.evals.scenario import LoadedScenario, discover
from upgradectl.tools.knowledge.loader import KNOWLEDGE_DIR_ENV

SUITE_FILE = "suite.yaml"


def default_suite_file() -> Path:
    """The bundled suite: evals/suite.yaml."""
    return Path(str(resources.files("upgradectl.evals").joinpath(SUITE_FILE)))


def suite_file(ref: str | None) -> Path:
    """--suite PATH (a suite.yaml or the folder holding one), or the bundled suite."""
    if not ref:
        return default_suite_file()
    path = Path(ref).expanduser()
    return path / SUITE_FILE if path.is_dir() else path


def select(suite: Path, pattern: str) -> list[LoadedScenario]:
    config = load_suite(suite)
    return discover((suite.parent / config.scenarios).resolve(), pattern)


def run(
    suite: Path,
    scenarios: list[LoadedScenario],
    options: RunOptions,
    jobs: int,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> SuiteResult:
    config = load_suite(suite)
    limits = config.thresholds.get(options.llm) or config.thresholds["off"]
    if config.today is not None and options.today is None:
        options = replace(options, today=config.today)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.perf_counter()
    results = run_suite(scenarios, options, jobs, progress)
    sha, dirty = git_state()
    stamp = Stamp(
        git_sha=sha,
        git_dirty=dirty,
        upgradectl_version=__version__,
        llm_mode=options.llm,
        llm_models=sorted({r.llm.model for r in results if r.llm.model}),
        prompts_sha256=prompts_sha256(),
        knowledge_sha256=knowledge_sha256(),
        knowledge_dir=os.environ.get(KNOWLEDGE_DIR_ENV, ""),
        started_at=started_at,
        seconds=round(time.perf_counter() - began, 1),
        jobs=min(jobs, len(scenarios)),
    )
    t = totals(results)
    missed = violations(t, limits, results)
    return SuiteResult(
        stamp=stamp, thresholds=limits, totals=t, violations=missed, passed=not missed, scenarios=results
    )
