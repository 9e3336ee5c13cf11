"""`upgradectl cost`: Karpenter cost and bin-packing KPIs, the consolidation projection, before/after deltas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.options import ClusterOpt, ClustersAliasOpt, cluster_names, format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail

COST_FORMATS = ("md", "json")


def cost(
    fleet: Annotated[
        str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo'.")
    ] = "demo",
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="A price table (same schema as tools/knowledge/data/cost/prices.yaml) merged "
                     "over the bundled one: your negotiated or current rates."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help=format_help(COST_FORMATS, "md"))] = "md",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Also write cost.md, cost.json and PNG plots into this directory."),
    ] = None,
    before: Annotated[
        Path | None, typer.Option("--before", help="Snapshot directory recorded before an upgrade (with --after).")
    ] = None,
    after: Annotated[
        Path | None, typer.Option("--after", help="Snapshot directory recorded after the upgrade (with --before).")
    ] = None,
    region: Annotated[
        str, typer.Option("--region", help="Price region for --before/--after snapshots without one recorded.")
    ] = "",
) -> None:
    """Measure cost per pod-hour, spot share, bin-packing efficiency and scale-up time, and project what
    consolidating the Karpenter nodes onto the cheapest allowed instance types would save (with the
    lower bound it is measured against). With --before/--after: the KPI deltas of an upgrade."""
    # the cost analysis loads numpy and scipy: imported when it runs, so --help stays fast
    from upgradectl.app.cost import CostRequest
    from upgradectl.app.cost import cost as analyze_cost
    from upgradectl.app.cost_report import render_comparison_markdown, render_cost_json, render_cost_markdown

    output_format = choose_format(output_format, COST_FORMATS)
    wanted = CostRequest(
        fleet=fleet, clusters=cluster_names(cluster, clusters_alias), prices=prices,
        out=out, before=before, after=after, region=region,
    )  # fmt: skip
    try:
        outcome = analyze_cost(wanted)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    if outcome.comparison is not None and output_format == "json":
        text = outcome.comparison.model_dump_json(indent=2)
    elif outcome.comparison is not None:
        text = render_comparison_markdown(outcome.comparison)
    elif output_format == "json":
        text = render_cost_json(outcome.reports)
    else:
        text = render_cost_markdown(outcome.reports, outcome.fleet)
    if outcome.files:
        err.print(f"wrote {', '.join(str(p) for p in outcome.files)}", highlight=False)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    for line in outcome.unreachable:
        err.print(f"incomplete: {line}", highlight=False, markup=False)
    for violation in outcome.violations:
        err.print(f"checker violation: {violation}", highlight=False, markup=False)
    raise typer.Exit(outcome.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(cost)
