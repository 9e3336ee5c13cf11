"""The cost use case: Karpenter cost and bin-packing KPIs per cluster, the consolidation projection with its
lower bound, and the KPI deltas between two snapshots (before and after an upgrade).

`upgradectl cost` and the MCP `cost` tool call `cost`; the result says what was incomplete (unreadable
clusters, checker violations), which makes the exit code 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upgradectl.app.cost_report import render_comparison_markdown, with_plots, write_cost
from upgradectl.app.errors import UseCaseError
from upgradectl.cost_models import CostComparison, CostReport
from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_OK
from upgradectl.tools.cluster.fleet import FleetError, load_fleet, unknown_clusters_message
from upgradectl.tools.cluster.sources import SnapshotCluster, SourceError
from upgradectl.tools.cost.kpis import analyze_cluster, compare
from upgradectl.tools.cost.prices import PriceError, load_prices


@dataclass(frozen=True)
class CostRequest:
    """A fleet's clusters, or two snapshots to compare, priced with the bundled table (or one merged over it)."""

    fleet: str = "demo"
    clusters: list[str] = field(default_factory=list)  # default: every reachable one
    prices: Path | None = None
    out: Path | None = None  # also write cost.md, cost.json and PNG plots (cost-compare.* with before/after)
    before: Path | None = None  # snapshot directories recorded before and after an upgrade
    after: Path | None = None
    region: str = ""  # price region for before/after snapshots without one recorded


@dataclass
class CostOutcome:
    fleet: str
    reports: list[CostReport] = field(default_factory=list)
    comparison: CostComparison | None = None
    unreachable: list[str] = field(default_factory=list)  # "<cluster>: <why>"
    violations: list[str] = field(default_factory=list)  # placements the independent checker refused
    files: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        incomplete = self.unreachable or self.violations or any(r.incomplete for r in self.reports)
        return EXIT_INCOMPLETE if incomplete else EXIT_OK

    def data(self) -> dict[str, Any]:
        """As `cost --format json` prints it (and the MCP tool returns it)."""
        if self.comparison is not None:
            return self.comparison.model_dump(mode="json")
        return {"reports": [r.model_dump(mode="json") for r in self.reports]}


def cost(request: CostRequest) -> CostOutcome:
    """Measure and project (or compare before/after); bad input raises UseCaseError (exit 2)."""
    if bool(request.before) != bool(request.after):
        raise UseCaseError("--before and --after go together: pass both snapshot directories")
    try:
        table = load_prices(request.prices)
    except PriceError as exc:
        raise UseCaseError(str(exc)) from None
    if request.before and request.after:
        return _compare(request, table)
    try:
        loaded = load_fleet(request.fleet)
    except FleetError as exc:
        raise UseCaseError(str(exc)) from None
    wanted = request.clusters or list(loaded.clusters)
    unknown = [c for c in wanted if c not in loaded.clusters]
    if unknown:
        raise UseCaseError(unknown_clusters_message(unknown, loaded.clusters))
    outcome = CostOutcome(fleet=loaded.name)
    for name in wanted:
        entry = loaded.clusters[name]
        if entry.source is None:
            outcome.unreachable.append(f"{name}: {entry.error}")
            continue
        region = _region_of(entry.source, entry.entry.region)
        try:
            outcome.reports.append(analyze_cluster(entry.source, table, region, entry.entry.provider))
        except SourceError as exc:  # a snapshot file that does not read: this cluster is incomplete
            outcome.unreachable.append(f"{name}: {exc}")
    if request.out:
        outcome.reports = with_plots(outcome.reports, request.out)
        outcome.files = write_cost(outcome.reports, loaded.name, request.out)
    outcome.violations = [v for r in outcome.reports if r.consolidation for v in r.consolidation.violations]
    return outcome


def _compare(request: CostRequest, table) -> CostOutcome:
    try:
        sources = [SnapshotCluster(request.before), SnapshotCluster(request.after)]  # type: ignore[arg-type]
    except SourceError as exc:
        raise UseCaseError(str(exc)) from None
    try:
        reports = [
            analyze_cluster(s, table, _region_of(s, request.region), str(s.meta.get("provider", ""))) for s in sources
        ]
    except SourceError as exc:
        raise UseCaseError(str(exc)) from None
    outcome = CostOutcome(fleet="", reports=reports, comparison=compare(*reports))
    if request.out:
        request.out.mkdir(parents=True, exist_ok=True)
        md, js = request.out / "cost-compare.md", request.out / "cost-compare.json"
        md.write_text(render_comparison_markdown(outcome.comparison))
        js.write_text(outcome.comparison.model_dump_json(indent=2) + "\n")
        outcome.files = [md, js]
    return outcome


def _region_of(source, fallback: str) -> str:
    meta = getattr(source, "meta", {}) or {}
    return fallback or str(meta.get("region") or "")
