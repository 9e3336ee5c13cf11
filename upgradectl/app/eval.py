"""The eval use case: plan every chosen scenario with the plan use case and score it against the suite.

evals/ does the work (scenarios, fleets, scoring, worker processes, replay); this module hands it the
planner (app/plan.py) and checks the request first, so `upgradectl eval` and any other caller get the same
answers and the same errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from upgradectl.app.errors import UseCaseError
from upgradectl.app.plan import plan_for_eval
from upgradectl.evals import suite as eval_suite
from upgradectl.evals.replay import REPLAY_FILE
from upgradectl.evals.results import LLM_MODES, ScenarioResult, SuiteResult
from upgradectl.evals.runner import RunOptions, default_jobs
from upgradectl.evals.scenario import LoadedScenario, ScenarioError
from upgradectl.settings import api_key_configured
from upgradectl.tools.verify.commands import CommandParser


@dataclass(frozen=True)
class EvalRequest:
    """Which scenarios, how the model takes part, how many worker processes, where results go."""

    scenario: str = "*"  # ids, id prefixes or globs, comma-separated
    llm: str = "off"  # off, replay or live
    record: bool = False  # with live: write each scenario's llm_replay.jsonl
    jobs: int | None = None  # default: one per CPU
    suite: str | None = None  # a suite.yaml (or its folder) other than the bundled one
    model: str | None = None  # with live
    out: Path | None = None  # also write results.json and every plan here


@dataclass
class EvalOutcome:
    result: SuiteResult
    skipped: list[str] = field(default_factory=list)  # scenarios replay skipped (no recorded turns)
    files: list[Path] = field(default_factory=list)


def evaluate(
    request: EvalRequest,
    on_start: Callable[[int, int, list[str]], None] | None = None,
    progress: Callable[[ScenarioResult], None] | None = None,
    command_parser: CommandParser | None = None,
) -> EvalOutcome:
    """Run the suite; `on_start(scenarios, workers, skipped ids)` before the first scenario, `progress` after each.
    `command_parser` (the CLI's) lets each plan's verifier prove upgradectl's own commands parse."""
    if request.llm not in LLM_MODES:
        raise UseCaseError(f"--llm {request.llm!r} is not one of {', '.join(LLM_MODES)}")
    if request.record and request.llm != "live":
        raise UseCaseError("--record writes replay files from real model turns: use it with --llm live")
    if request.model and request.llm != "live":
        raise UseCaseError("--model chooses the live model; replay uses the model each scenario was recorded with")
    if request.llm == "live" and not api_key_configured():
        raise UseCaseError(
            "--llm live needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN); offline, use --llm off or replay"
        )
    file = eval_suite.suite_file(request.suite)
    try:
        chosen = eval_suite.select(file, request.scenario)
    except ScenarioError as exc:
        raise UseCaseError(str(exc)) from None
    skipped: list[str] = []
    if request.llm == "replay":
        chosen, skipped = _recorded(chosen)
    workers = request.jobs or default_jobs()
    options = RunOptions(
        planner=plan_for_eval,
        command_parser=command_parser,
        llm=request.llm,  # type: ignore[arg-type]
        record=request.record,
        model=request.model,
        plans_dir=request.out / "plans" if request.out else None,
    )
    if on_start:
        on_start(len(chosen), min(workers, len(chosen)), skipped)
    try:
        result = eval_suite.run(file, chosen, options, workers, progress)
    except ScenarioError as exc:
        raise UseCaseError(str(exc)) from None
    files = []
    if request.out:
        request.out.mkdir(parents=True, exist_ok=True)
        (request.out / "results.json").write_text(result.model_dump_json(indent=2) + "\n")
        files = [request.out / "results.json", request.out / "plans"]
    return EvalOutcome(result, skipped, files)


def _recorded(scenarios: list[LoadedScenario]) -> tuple[list[LoadedScenario], list[str]]:
    """Replay runs the scenarios that have recorded model turns; the others are returned by id."""
    recorded = [s for s in scenarios if (s.folder / REPLAY_FILE).is_file()]
    missing = [s.id for s in scenarios if s not in recorded]
    if not recorded:
        raise UseCaseError(
            f"none of the {len(scenarios)} chosen scenario(s) has recorded model turns ({REPLAY_FILE}); record them "
            "with `upgradectl eval --llm live --record --scenario ID` (needs ANTHROPIC_API_KEY)"
        )
    return recorded, missing
