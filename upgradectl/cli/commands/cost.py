"""`upgradectl cost`: Karpenter cost and bin-packing KPIs, the consolidation projection, before/after deltas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_OK


def _region_of(source, fallback: str) -> str:
    meta = getattr(source, "meta", {}) or {}
    return fallback or str(meta.get("region") or "")


def cost(
    fleet: Annotated[
        str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo'.")
    ] = "demo",
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Comma-separated cluster names (default: every reachable one).")
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="A price table (same schema as tools/knowledge/data/cost/prices.yaml) merged "
                     "over the bundled one: your negotiated or current rates."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="md (Markdown) or json.")] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write cost.md, cost.json and PNG plots into this directory.")
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
    from upgradectl.app.cost_report import (
        render_comparison_markdown,
        render_cost_json,
        render_cost_markdown,
        with_plots,
        write_cost,
    )
    from upgradectl.tools.cluster.fleet import FleetError, load_fleet, unknown_clusters_message
    from upgradectl.tools.cluster.sources import SnapshotCluster, SourceError
    from upgradectl.tools.cost.kpis import analyze_cluster, compare
    from upgradectl.tools.cost.prices import PriceError, load_prices

    if output_format not in ("md", "json"):
        raise fail(f"--format {output_format!r} is not one of md, json")
    if bool(before) != bool(after):
        raise fail("--before and --after go together: pass both snapshot directories")
    try:
        table = load_prices(prices)
    except PriceError as exc:
        raise fail(str(exc)) from None

    if before and after:
        try:
            sources = [SnapshotCluster(before), SnapshotCluster(after)]
        except SourceError as exc:
            raise fail(str(exc)) from None
        try:
            reports = [
                analyze_cluster(s, table, _region_of(s, region), str(s.meta.get("provider", ""))) for s in sources
            ]
        except SourceError as exc:
            raise fail(str(exc)) from None
        comparison = compare(*reports)
        if output_format == "json":
            text = comparison.model_dump_json(indent=2)
        else:
            text = render_comparison_markdown(comparison)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "cost-compare.md").write_text(render_comparison_markdown(comparison))
            (out / "cost-compare.json").write_text(comparison.model_dump_json(indent=2) + "\n")
            err.print(f"wrote {out / 'cost-compare.md'}, {out / 'cost-compare.json'}", highlight=False)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        incomplete = any(r.incomplete for r in reports)
        raise typer.Exit(EXIT_INCOMPLETE if incomplete else EXIT_OK)

    try:
        loaded = load_fleet(fleet)
    except FleetError as exc:
        raise fail(str(exc)) from None
    wanted = [c.strip() for c in cluster.split(",") if c.strip()] if cluster else list(loaded.clusters)
    unknown = [c for c in wanted if c not in loaded.clusters]
    if unknown:
        raise fail(unknown_clusters_message(unknown, loaded.clusters))
    reports = []
    unreachable = []
    for name in wanted:
        entry = loaded.clusters[name]
        if entry.source is None:
            unreachable.append(f"{name}: {entry.error}")
            continue
        try:
            reports.append(analyze_cluster(entry.source, table, _region_of(entry.source, entry.entry.region),
                                           entry.entry.provider))
        except SourceError as exc:  # a snapshot file that does not read: this cluster is incomplete
            unreachable.append(f"{name}: {exc}")
    if out:
        reports = with_plots(reports, out)
        written = write_cost(reports, loaded.name, out)
        err.print(f"wrote {', '.join(str(p) for p in written)}", highlight=False)
    text = render_cost_json(reports) if output_format == "json" else render_cost_markdown(reports, loaded.name)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    for line in unreachable:
        err.print(f"incomplete: {line}", highlight=False, markup=False)
    violations = [v for r in reports if r.consolidation for v in r.consolidation.violations]
    for v in violations:
        err.print(f"checker violation: {v}", highlight=False, markup=False)
    incomplete = unreachable or violations or any(r.incomplete for r in reports)
    raise typer.Exit(EXIT_INCOMPLETE if incomplete else EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command()(cost)
