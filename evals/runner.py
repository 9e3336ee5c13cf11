"""Run eval scenarios: each builds its fleet, plans the request with the planner it is given (the plan use
case of app/plan.py, which `upgradectl plan` runs; evals/ sits below app/ and is handed it) offline, or with
the model replayed or live, and scores the plan. Scenarios run in parallel worker processes; a scenario
that cannot produce a plan is an error result, never a crash of the suite."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from upgradectl import __version__
from upgradectl.agents.inventory import PlanningError
from upgradectl.agents.llm.run_log import RunLog
from upgradectl.agents.request import RequestError
from upgradectl.evals.fleets import scenario_fleet
from upgradectl.evals.osv_fixture import OsvFixtureError, fixture_client
from upgradectl.evals.provenance import prompts_sha256
from upgradectl.evals.replay import REPLAY_FILE, RecordingClient, ReplayError, ReplayLog, ReplayServer, new_log
from upgradectl.evals.results import LLMMode, LLMRun, ScenarioResult
from upgradectl.evals.scenario import LoadedScenario, ScenarioError, load_scenario
from upgradectl.evals.scoring import score_plan
from upgradectl.graph.state import PlanInput, RunContext
from upgradectl.models import CombinedPlan
from upgradectl.settings import LLMSettings
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet, FleetError, load_fleet
from upgradectl.tools.knowledge.loader import KnowledgeError
from upgradectl.tools.knowledge.overlay import bundled_knowledge_only
from upgradectl.tools.verify.commands import CommandParser

if TYPE_CHECKING:  # the anthropic SDK loads only in LLM mode
    from upgradectl.agents.llm.client import LLMSession
    from upgradectl.models import Plan

Planner = Callable[[PlanInput, RunContext], "Plan | CombinedPlan"]

REPLAY_API_KEY = "replay-not-a-real-key"


@dataclass(frozen=True)
class RunOptions:
    """How every scenario of one `upgradectl eval` runs; `planner` is a module-level function (worker processes
    receive it by name), app.plan.plan_for_eval for `upgradectl eval`."""

    planner: Planner
    command_parser: CommandParser | None = None  # the CLI's (module-level, so worker processes get it by name)
    llm: LLMMode = "off"
    record: bool = False
    model: str | None = None
    plans_dir: Path | None = None  # write each plan's JSON here (for debugging a red run)
    today: date | None = None  # the day support windows are judged on (suite.yaml `today`)


def run_scenario(folder: str, options: RunOptions) -> ScenarioResult:
    """Plan and score one scenario folder (the unit of work of a worker process)."""
    started = time.perf_counter()
    try:
        scenario = load_scenario(Path(folder))
    except ScenarioError as exc:
        return ScenarioResult(id=Path(folder).name, title="", tool="", difficulty="", error=str(exc))
    result = ScenarioResult(
        id=scenario.id,
        title=scenario.spec.title,
        tool=scenario.spec.tool,
        difficulty=scenario.spec.difficulty,
        tags=list(scenario.spec.tags),
        llm=LLMRun(mode=options.llm),
    )
    try:
        with bundled_knowledge_only():  # scored against the bundled knowledge, never a user's refreshed overlay
            plan, llm, whole = _plan(scenario, options)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the scenario's error, named
        message = _error_text(exc)
        return result.model_copy(update={"error": message, "seconds": round(time.perf_counter() - started, 2)})
    if options.plans_dir is not None:
        options.plans_dir.mkdir(parents=True, exist_ok=True)
        # the whole plan (a combined plan, not only the scored section): what verify-plan can check on the fleet
        (options.plans_dir / f"{scenario.id}.json").write_text(whole.model_dump_json(indent=2))
    return result.model_copy(
        update={
            "checks": score_plan(scenario.spec, plan),
            "summary": plan.summary,
            "llm": llm,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


def _error_text(exc: Exception) -> str:
    from upgradectl.agents.llm.client import LLMError  # the anthropic SDK: only needed to name its errors

    expected = (PlanningError, RequestError, FleetError, KnowledgeError, ScenarioError, ReplayError, LLMError,
                OsvFixtureError)
    if isinstance(exc, expected):
        return f"no plan: {exc}"
    return f"no plan (a bug in upgradectl or the evals): {type(exc).__name__}: {exc}"


def _plan(scenario: LoadedScenario, options: RunOptions) -> tuple[Plan, LLMRun, Plan | CombinedPlan]:
    """The scored plan (a combined plan's section for the scenario's tool), the model run, and the whole plan."""
    with ExitStack() as stack:
        fleet_ref = stack.enter_context(scenario_fleet(scenario))
        fleet = load_fleet(fleet_ref)
        roots = _roots(fleet)
        session, finish = _open_session(scenario, options, roots, stack)
        spec = scenario.spec.request
        plan_input = {
            "request": spec.text,
            "tool": spec.tool,
            "to": spec.to,
            "trigger": spec.trigger,
            "clusters": list(spec.clusters),
            "environments": list(spec.environments),
            "strategy": spec.strategy,
        }
        # offline and the same on every machine: no chart is fetched, so the values check says it could not run
        context = RunContext(fleet=fleet, fleet_ref=scenario.id, llm=session, charts=ChartStore(fetch=False),
                             command_parser=options.command_parser)  # fmt: skip
        if options.today is not None:  # the suite's pinned day, so support windows score the same every day
            context.today = options.today
        if scenario.spec.osv:  # the scenario's recorded OSV, answered in process; without one OSV is not asked
            osv = fixture_client(scenario.folder / scenario.spec.osv)
            stack.callback(osv.close)
            context.osv = osv
        whole = options.planner({k: v for k, v in plan_input.items() if v}, context)  # type: ignore[arg-type]
        plan = whole
        if isinstance(whole, CombinedPlan):
            plan = scored_section(whole, scenario.spec.tool, scenario.spec.after_control_plane)
        return plan, finish(plan), whole


def scored_section(combined: CombinedPlan, tool: str, after_control_plane: bool = False) -> Plan:
    """The section of a combined plan a scenario scores: the tool's own plan (before the control plane, or its move
    after it), carrying the combined plan's verdict (its sections, rollout and Kubernetes order) and the Kubernetes
    findings about that tool."""
    section = next((s for o, s in zip(combined.order, combined.sections, strict=True)
                    if s.request.tool == tool and o.after_control_plane == after_control_plane), None)
    if section is None:
        raise RuntimeError(f"the combined plan has no {tool} section{' after the control plane' * after_control_plane}"
                           " (sections: "
                           f"{', '.join(s.request.tool for s in combined.sections) or 'none'})")
    extra = [f for f in combined.kubernetes.findings if f.subject.tool == tool] if combined.kubernetes else []
    return section.model_copy(update={"verification": combined.verification,
                                      "findings": [*section.findings, *extra]})


def _roots(fleet: Fleet) -> list[str]:
    """Fleet paths that appear in prompts and differ between machines or runs (normalized in replay)."""
    return [str(fleet.root), str(fleet.root.resolve())]


def _open_session(
    scenario: LoadedScenario, options: RunOptions, roots: list[str], stack: ExitStack
) -> tuple[LLMSession | None, Callable[[Plan], LLMRun]]:
    """The model session for the mode (None when off) and how to report on it after the plan."""
    if options.llm == "off":
        return None, lambda plan: LLMRun(mode="off")
    import anthropic  # the SDK and the session load only in LLM mode

    from upgradectl.agents.llm.client import LLMSession

    replay_file = scenario.folder / REPLAY_FILE
    if options.llm == "replay":
        log = ReplayLog.read(replay_file)
        server = stack.enter_context(ReplayServer(log, roots))
        settings = LLMSettings(model=log.model)
        client = anthropic.Anthropic(
            api_key=REPLAY_API_KEY, base_url=server.base_url, max_retries=0, timeout=settings.request_timeout_seconds
        )
        session = LLMSession(settings, client, RunLog(None))
        stack.callback(session.close)

        def replayed(plan: Plan) -> LLMRun:
            return _llm_run(plan, "replay", replay_misses=list(server.misses), replay_drift=server.drift)

        return session, replayed
    settings = LLMSettings(**({"model": options.model} if options.model else {}))
    session = LLMSession.open(settings, RunLog(None))
    stack.callback(session.close)
    if not options.record:
        return session, lambda plan: _llm_run(plan, "live")
    recording = new_log(session.model, upgradectl_version=__version__, prompts_sha256=prompts_sha256())
    session.client = RecordingClient(session.client, recording, roots)

    def recorded(plan: Plan) -> LLMRun:
        recording.write(replay_file)
        return _llm_run(plan, "live", recorded_turns=len(recording.turns))

    return session, recorded


def _llm_run(plan: Plan, mode: LLMMode, **extra) -> LLMRun:
    info = plan.llm
    return LLMRun(
        mode=mode,
        model=info.model,
        calls=info.calls,
        findings_added=info.findings_accepted,
        degraded=info.degraded,
        error=info.error,
        **extra,
    )


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run_suite(
    scenarios: list[LoadedScenario],
    options: RunOptions,
    jobs: int,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    """Every scenario, in `jobs` worker processes (in this process when jobs is 1), sorted by id."""
    folders = [str(s.folder) for s in scenarios]
    results: list[ScenarioResult] = []
    if jobs <= 1 or len(folders) == 1:
        for folder in folders:
            results.append(run_scenario(folder, options))
            if progress:
                progress(results[-1])
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(folders))) as pool:
            futures = {pool.submit(run_scenario, folder, options): folder for folder in _longest_first(folders)}
            for future in as_completed(futures):
                try:
                    results.append(future.result())
                except Exception as exc:  # noqa: BLE001 - a dead worker is that scenario's error, not the suite's
                    folder = Path(futures[future])
                    error = f"no plan: the worker process failed: {type(exc).__name__}: {exc}"
                    results.append(ScenarioResult(id=folder.name, title="", tool="", difficulty="", error=error))
                if progress:
                    progress(results[-1])
    return sorted(results, key=lambda r: r.id)


def _longest_first(folders: list[str]) -> list[str]:
    """Demo-fleet scenarios first (they take longest), so the pool does not end on a long tail."""
    return sorted(folders, key=lambda f: (0 if _uses_demo(f) else 1, f))


def _uses_demo(folder: str) -> bool:
    try:
        spec = load_scenario(Path(folder)).spec.fleet
    except ScenarioError:
        return False
    return spec == "demo" or (not isinstance(spec, str) and spec.base == "demo" and not spec.clusters)
