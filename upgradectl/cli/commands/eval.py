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

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.argv import command_parser
from upgradectl.cli.options import format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_OK


def eval_command(
    ctx: typer.Context,
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
    output_format: Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))] = "text",
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
        Path | None, typer.Option("--out", "-o", help="Also write results.json and every plan (plans/<id>.json) here.")
    ] = None,
    show_schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of scenario.yaml and exit.")
    ] = False,
) -> None:
    """Run the eval scenarios, score every plan, print the table; exit 1 when a suite threshold is missed."""
    # the eval use case loads the planner (agents, langgraph): imported when it runs, so --help stays fast
    from upgradectl.app.eval import EvalRequest, evaluate
    from upgradectl.evals.replay import REPLAY_FILE
    from upgradectl.evals.report import render
    from upgradectl.evals.scenario import schema

    if show_schema:
        print(json.dumps(schema(), indent=2))
        raise typer.Exit(EXIT_OK)
    output_format = choose_format(output_format, ("text", "json"))
    wanted = EvalRequest(scenario=scenario, llm=llm, record=record, jobs=jobs, suite=suite, model=model, out=out)

    def starting(count: int, workers: int, skipped: list[str]) -> None:
        if skipped:
            names = ", ".join(skipped)
            err.print(f"skipping {len(skipped)} scenario(s) without {REPLAY_FILE}: {names}", highlight=False)
        err.print(f"running {count} scenario(s) on {workers} worker(s), llm {llm}", highlight=False)

    def progress(result) -> None:
        state = "error" if result.error else "pass" if result.passed else "FAIL"
        err.print(f"  {result.id}: {state} ({result.seconds:.1f}s)", highlight=False, markup=False)

    try:
        outcome = evaluate(wanted, on_start=starting, progress=progress, command_parser=command_parser(ctx))
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    result = outcome.result
    if outcome.files:
        err.print(f"wrote {out / 'results.json'} and {out / 'plans'}/", highlight=False)
    report = result.model_dump_json(indent=2)
    sys.stdout.write(report + "\n" if output_format == "json" else render(result))
    raise typer.Exit(EXIT_OK if result.passed else EXIT_BLOCKERS)


def register(app: typer.Typer) -> None:
    app.command(name="eval")(eval_command)
