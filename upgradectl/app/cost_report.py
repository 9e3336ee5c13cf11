"""Render cost reports (`upgradectl cost`, the plan's cost section) to Markdown and JSON, with plots."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from upgradectl import __version__
from upgradectl.app.templates import template_environment, tidy
from upgradectl.cost_models import CostComparison, CostReport


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
    from upgradectl.tools.cost.plots import write_plots  # matplotlib: loaded only when plots are drawn

    return [write_plots(r, out_dir) for r in reports]


def write_cost(reports: list[CostReport], fleet: str, out_dir: Path) -> list[Path]:
    """cost.md, cost.json and the plots into out_dir; returns every path written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "cost.md", out_dir / "cost.json"
    md.write_text(render_cost_markdown(reports, fleet))
    js.write_text(render_cost_json(reports) + "\n")
    return [md, js, *[out_dir / p.path for r in reports for p in r.plots]]
