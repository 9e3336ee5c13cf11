"""`upgradectl eval`: run the offline eval suite (recorded fleets, deterministic scoring) and hold the line.

Exit codes: 0 every threshold of evals/suite.yaml met, 1 a threshold missed (the report names which
scenario missed which finding), 2 usage error (bad flag, scenario file or suite config).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_OK


def eval_command(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario ids, id prefixes or globs, comma-separated (007, *cilium*, 001*,012*); default: all.",
        ),
    ] = "*",
    llm: Annotated[
        str,
        typer.Option(
            "--llm",
            help="off: playbooks only. replay: the model's recorded turns (evals/scenarios/<id>/llm_replay.jsonl) "
            "served on loopback to the real SDK. live: the real API (ANTHROPIC_API_KEY).",
        ),
    ] = "off",
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    record: Annotated[
        bool, typer.Option("--record", help="With --llm live: write each scenario's llm_replay.jsonl.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Worker processes (default: one per CPU).", min=1)
    ] = None,
    suite: Annotated[
        str | None, typer.Option("--suite", help="A suite.yaml (or its folder) other than the bundled evals/.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="With --llm live: model id or alias.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write results.json and every plan (plans/<id>.json) here.")
    ] = None,
    show_schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of scenario.yaml and exit.")
    ] = False,
) -> None:
    """Run the eval scenarios, score every plan, print the table; exit 1 when a suite threshold is missed."""
    from upgradectl.evals import suite as eval_suite
    from upgradectl.evals.report import render
    from upgradectl.evals.results import LLM_MODES
    from upgradectl.evals.runner import RunOptions, default_jobs
    from upgradectl.evals.scenario import ScenarioError, schema

    if show_schema:
        print(json.dumps(schema(), indent=2))
        raise typer.Exit(EXIT_OK)
    if output_format not in ("table", "json"):
        raise fail(f"--format {output_format!r} is not one of table, json")
    if llm not in LLM_MODES:
        raise fail(f"--llm {llm!r} is not one of {', '.join(LLM_MODES)}")
    if record and llm != "live":
        raise fail("--record writes replay files from real model turns: use it with --llm live")
    if model and llm != "live":
        raise fail("--model chooses the live model; replay uses the model each scenario was recorded with")
    if llm == "live":
        from upgradectl.settings import api_key_configured

        if not api_key_configured():
            raise fail("--llm live needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN); offline, use --llm off or replay")
    file = eval_suite.suite_file(suite)
    try:
        chosen = eval_suite.select(file, scenario)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    if llm == "replay":
        chosen = _recorded(chosen)
    workers = jobs or default_jobs()
    options = RunOptions(llm=llm, record=record, model=model, plans_dir=out / "plans" if out else None)  # type: ignore[arg-type]
    err.print(f"running {len(chosen)} scenario(s) on {min(workers, len(chosen))} worker(s), llm {llm}", highlight=False)

    def progress(result) -> None:
        state = "error" if result.error else "pass" if result.passed else "FAIL"
        err.print(f"  {result.id}: {state} ({result.seconds:.1f}s)", highlight=False, markup=False)

    try:
        result = eval_suite.run(file, chosen, options, workers, progress)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    report = result.model_dump_json(indent=2)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(report + "\n")
        err.print(f"wrote {out / 'results.json'} and {out / 'plans'}/", highlight=False)
    sys.stdout.write(report + "\n" if output_format == "json" else render(result))
    raise typer.Exit(EXIT_OK if result.passed else EXIT_BLOCKERS)


def _recorded(scenarios: list) -> list:
    """Replay runs the scenarios that have recorded model turns; the others are named on stderr."""
    from upgradectl.evals.replay import REPLAY_FILE

    recorded = [s for s in scenarios if (s.folder / REPLAY_FILE).is_file()]
    missing = [s.id for s in scenarios if s not in recorded]
    if not recorded:
        raise fail(
            f"none of the {len(scenarios)} chosen scenario(s) has recorded model turns ({REPLAY_FILE}); record them "
            "with `upgradectl eval --llm live --record --scenario ID` (needs ANTHROPIC_API_KEY)"
        )
    if missing:
        err.print(f"skipping {len(missing)} scenario(s) without {REPLAY_FILE}: {', '.join(missing)}", highlight=False)
    return recorded


def register(app: typer.Typer) -> None:
    app.command(name="eval")(eval_command)
