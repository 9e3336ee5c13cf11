"""Render cost reports (`upgradectl cost`, the plan's cost section) to Markdown and JSON, with plots."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from upgradectl import __version__
from upgradectl.app.aside import run_aside
from upgradectl.app.templates import template_environment, tidy
from upgradectl.cost_models import CostComparison, CostReport
from upgradectl.tools.cost.plots import cached_plots, draw_plots, plot_refs, write_plots


def render_cost_markdown(reports: list[CostReport], fleet: str) -> str:
    template = template_environment().get_template("report/cost.md.j2")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return tidy(template.render(reports=reports, fleet=fleet, generated=generated, version=__version__))


def render_comparison_markdown(comparison: CostComparison) -> str:
    return tidy(template_environment().get_template("report/cost_compare.md.j2").render(cmp=comparison))


def render_cost_json(reports: list[CostReport]) -> str:
    return json.dumps({"reports": [r.model_dump(mode="json") for r in reports]}, indent=2)


def with_plots(reports: list[CostReport], out_dir: Path) -> list[CostReport]:
    """Draw each report's plots into out_dir (PNG) and return the reports linking to them."""
    return [write_plots(r, out_dir) for r in reports]


def with_plot_links(report: CostReport) -> CostReport:
    """The report linking to its plots, which draw_aside (or with_plots) draws."""
    return report.model_copy(update={"plots": plot_refs(report)})


def draw_aside(reports: list[CostReport], out_dir: Path) -> Callable[[], None]:
    """Start drawing the reports' plots into out_dir in a forked process (upgradectl/app/aside.py); returns the
    call that waits for them and raises what drawing raised (an OSError as the caller would have seen it).

    Importing matplotlib and drawing take about a second of CPU, which a second core spends while this process
    renders the report. With one core, or without fork (not Linux), the plots are drawn here, before returning.
    Plots drawn before from the same numbers are copied from the plot cache (tools/cost/plots.py) instead."""
    reports = [report for report in reports if not cached_plots(report, out_dir)]
    if not reports:
        return lambda: None
    return run_aside(_draw_all, reports, out_dir, name=f"drawing the cost plots into {out_dir}")


def _draw_all(reports: list[CostReport], out_dir: Path) -> None:
    for report in reports:
        draw_plots(report, out_dir)


def write_cost(reports: list[CostReport], fleet: str, out_dir: Path) -> list[Path]:
    """cost.md, cost.json and the plots into out_dir; returns every path written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "cost.md", out_dir / "cost.json"
    md.write_text(render_cost_markdown(reports, fleet))
    js.write_text(render_cost_json(reports) + "\n")
    return [md, js, *[out_dir / p.path for r in reports for p in r.plots]]
