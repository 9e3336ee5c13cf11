"""`upgradectl plan` and `upgradectl schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.cli import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK, err, fail
from upgradectl.models import SEVERITY_ORDER, Plan


def exit_code(plan: Plan, fail_on: str) -> int:
    """1 when a finding at or above fail_on exists, else 3 when incomplete, else 0."""
    if plan.findings_at_or_above(fail_on):  # type: ignore[arg-type]
        return EXIT_BLOCKERS
    if plan.incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK


def plan(
    request: Annotated[
        str,
        typer.Argument(
            help="What you want, in words: 'Karpenter needs upgrade for better bin "
            "packing and cost optimization'. Tool, version and trigger are read "
            "from it; flags override."
        ),
    ] = "",
    fleet: Annotated[
        str,
        typer.Option(
            "--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo' for the bundled demo fleet."
        ),
    ] = "demo",
    tool: Annotated[
        str | None,
        typer.Option(
            "--tool", help="Tool to upgrade: karpenter, victoriametrics, flux, argocd, cilium (aliases accepted)."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Target version (1.0.10, v0.37, 0.37.x). Default: the "
            "latest version compatible with every target cluster.",
        ),
    ] = None,
    clusters: Annotated[
        str | None, typer.Option("--clusters", help="Comma-separated cluster names to limit the plan to.")
    ] = None,
    env: Annotated[str | None, typer.Option("--env", help="Comma-separated environments (dev,staging,prod).")] = None,
    trigger: Annotated[
        str | None,
        typer.Option("--trigger", help="Override the trigger class: security, cost, feature, compliance, performance."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="md (Markdown) or json.")] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write plan.md and plan.json into this directory.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding at or above this severity exists (critical, high, medium, low, info).",
        ),
    ] = "critical",
) -> None:
    """Plan an upgrade: inventory, path, breaking changes, risk, strategy and a dev -> staging -> prod rollout."""
    from upgradectl.agents.flux_navigator import PlanningError
    from upgradectl.graph.run import run_plan
    from upgradectl.parsing import RequestError, parse_request
    from upgradectl.report import render_json, render_markdown, write_plan
    from upgradectl.tools.fleet import FleetError, load_fleet
    from upgradectl.tools.knowledge import KnowledgeError

    if output_format not in ("md", "json"):
        raise fail(f"--format {output_format!r} is not one of md, json")
    if fail_on not in SEVERITY_ORDER:
        raise fail(f"--fail-on {fail_on!r} is not one of {', '.join(SEVERITY_ORDER)}")
    if not request and not tool:
        raise fail('say what to upgrade: upgradectl plan "Karpenter needs upgrade ..." or --tool karpenter')
    try:
        loaded = load_fleet(fleet)
        upgrade = parse_request(
            request,
            tool=tool,
            to=to,
            trigger=trigger,
            clusters=[c.strip() for c in clusters.split(",") if c.strip()] if clusters else None,
            environments=[e.strip() for e in env.split(",") if e.strip()] if env else None,
            known_clusters=list(loaded.clusters),
        )
        result = run_plan(upgrade, loaded, fleet)
    except (RequestError, PlanningError, FleetError, KnowledgeError) as exc:
        raise fail(str(exc)) from None
    if out:
        written = write_plan(result, out)
        err.print(f"wrote {', '.join(str(p) for p in written)}", highlight=False)
    text = render_json(result) if output_format == "json" else render_markdown(result)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    raise typer.Exit(exit_code(result, fail_on))


def schema() -> None:
    """Print the JSON schema of the Plan that `plan --format json` emits."""
    print(json.dumps(Plan.model_json_schema(), indent=2))




def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(schema)
