"""Render a Plan to Markdown (Jinja2 template in prompts/report/), JSON and one self-contained HTML page, and
write them out."""

from __future__ import annotations

import json
import textwrap
from itertools import groupby
from pathlib import Path

from upgradectl.agents.registry import STAGE_NAMES
from upgradectl.app.cost_report import with_plots
from upgradectl.app.html_report import markdown_page
from upgradectl.app.problems import distinct_problems, problem_counts
from upgradectl.app.templates import template_environment, tidy
from upgradectl.app.timeline import duration, rollout_timeline
from upgradectl.models import SEVERITY_ORDER, Plan
from upgradectl.tools.knowledge.loader import load_tool

WRAP_WIDTH = 110

DETAILS_OPEN = "<!-- upgradectl: instances {count} -->"  # the HTML report folds a problem's instances here
DETAILS_CLOSE = "<!-- upgradectl: end of instances -->"
TOP_BLOCKERS = 5


def render_markdown(plan: Plan, html_markers: bool = False) -> str:
    """plan.md: executive summary, distinct problems with their instances, rollout, then detail.

    `html_markers` leaves a marker around each problem's instances that render_html folds into <details>."""
    problems = distinct_problems(plan)
    blocking = [p for p in problems if p.blocking]
    by_severity = []
    for severity in SEVERITY_ORDER:
        group = [p for p in problems if p.severity == severity]
        if group:
            by_severity.append((severity, group, sum(len(p.instances) for p in group)))
    log = sorted(plan.task_log, key=lambda r: r.stage)
    env = template_environment()
    env.filters["wrap"] = wrap
    text = env.get_template("report/plan.md.j2").render(
        plan=plan,
        tool_name=load_tool(plan.request.tool).display_name,
        problems_by_severity=by_severity,
        top_blockers=blocking[:TOP_BLOCKERS],
        problem_total=len(blocking),
        problem_total_all=len(problems),
        problem_counts=", ".join(f"{n} {s}" for s, n in problem_counts(blocking).items()),
        setup_problems=[p for p in problems if not p.blocking],
        timeline=rollout_timeline(plan),
        duration=duration,
        log_by_stage=[(stage, list(records)) for stage, records in groupby(log, key=lambda r: r.stage)],
        stage_names=STAGE_NAMES,
        narrative_for=lambda env: plan.narrative.get(env, ""),
        details_open=lambda count: DETAILS_OPEN.format(count=count) if html_markers else "",
        details_close=lambda: DETAILS_CLOSE if html_markers else "",
    )
    return tidy(text).lstrip("\n")


def wrap(text: str, indent: str = "", width: int = WRAP_WIDTH) -> str:
    """Long prose on several lines (continuation lines indented to stay in their list item)."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    return textwrap.fill(text, width=width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)  # fmt: skip


def render_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2)


def render_report(plan: Plan, output_format: str) -> str:
    """The full report in one format: md, json or html (plots drawn into a temporary directory and inlined)."""
    if output_format == "json":
        return render_json(plan)
    if output_format == "html":
        import tempfile  # only for plots drawn without an output directory

        with tempfile.TemporaryDirectory(prefix="upgradectl-plots-") as plots:
            return render_html(_with_plots(plan, Path(plots)), Path(plots))
    return render_markdown(plan)


def _with_plots(plan: Plan, out_dir: Path) -> Plan:
    if not plan.cost:
        return plan
    return plan.model_copy(update={"cost": with_plots(plan.cost, out_dir)})


def write_plan(plan: Plan, out_dir: Path) -> list[Path]:
    """Write plan.md, plan.json and plan.html into out_dir (created if needed); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = _with_plots(plan, out_dir)  # plots next to plan.md, linked from its cost section
    md, js, page = out_dir / "plan.md", out_dir / "plan.json", out_dir / "plan.html"
    md.write_text(render_markdown(plan))
    js.write_text(render_json(plan) + "\n")
    page.write_text(render_html(plan, out_dir))
    return [md, js, page, *[out_dir / p.path for r in plan.cost for p in r.plots]]


def render_html(plan: Plan, assets: Path | None) -> str:
    """plan.html: the Markdown report as one self-contained page (plots from `assets` inlined)."""
    title = f"Upgrade plan: {load_tool(plan.request.tool).display_name} -> {plan.target_version}"
    return markdown_page(render_markdown(plan, html_markers=True), title, assets)
