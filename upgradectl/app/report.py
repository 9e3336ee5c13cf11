"""Render a Plan (or a combined plan) to Markdown (Jinja2 templates in prompts/report/), JSON and one
self-contained HTML page, and write them out."""

from __future__ import annotations

import json
import re
import secrets
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path

from upgradectl.agents.registry import STAGE_NAMES
from upgradectl.app.aside import waited_on_error
from upgradectl.app.cost_report import draw_aside, with_plot_links
from upgradectl.app.html_report import inline_plots, markdown_page, page_renderer
from upgradectl.app.problems import distinct_problems, problem_counts
from upgradectl.app.templates import template_environment, tidy
from upgradectl.app.timeline import duration, rollout_timeline
from upgradectl.cost_models import CostReport
from upgradectl.models import SEVERITY_ORDER, CombinedPlan, Plan
from upgradectl.tools.knowledge.loader import load_tool

WRAP_WIDTH = 110

DETAILS_OPEN = "<!-- upgradectl: instances {count} -->"  # the HTML report folds a problem's instances here
DETAILS_CLOSE = "<!-- upgradectl: end of instances -->"
TOP_BLOCKERS = 5

# A plan draws cost plots for at most this many clusters: drawing costs ~0.3 s per cluster, and a plan over a
# hundred clusters would spend most of its time on pictures nobody pages through; `upgradectl cost` draws any.
PLAN_PLOT_CLUSTERS = 12


def render_markdown(plan: Plan | CombinedPlan, html_markers: bool = False) -> str:
    """plan.md: executive summary, distinct problems with their instances, rollout, then detail; a combined plan
    is its order, combined rollout, then each section as its own plan.

    `html_markers` leaves a marker around each problem's instances that render_html folds into <details>."""
    if isinstance(plan, CombinedPlan):
        sections = [_demoted(render_markdown(section, html_markers)) for section in plan.sections]
        text = template_environment().get_template("report/combined.md.j2").render(plan=plan, sections=sections)
        return tidy(text).lstrip("\n")
    return _markdown_variants(plan, [html_markers])[0]


def markdown_for_md_and_html(plan: Plan | CombinedPlan) -> tuple[str, str]:
    """plan.md, and the same with the markers plan.html is made from: a plan's template renders once for both."""
    if isinstance(plan, CombinedPlan):
        return render_markdown(plan), render_markdown(plan, html_markers=True)
    markdown, marked = _markdown_variants(plan, [False, True])
    return markdown, marked  # plan.md, plan.html's Markdown


def _markdown_variants(plan: Plan, html_markers: list[bool]) -> list[str]:
    """The plan's Markdown without and/or with the HTML markers, from one rendering of the template: it leaves a
    placeholder (unguessable, so no text from the fleet can pose as one) where the markers go or nothing does."""
    placeholder = f"\x00{secrets.token_hex(8)}:"
    opened = re.compile(re.escape(placeholder) + r"open:(\d+)\x00")
    closed = placeholder + "close\x00"
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
        details_open=lambda count: f"{placeholder}open:{count}\x00",
        details_close=lambda: closed,
    )
    variants = []
    for marked in html_markers:
        filled = opened.sub((lambda m: DETAILS_OPEN.format(count=m[1])) if marked else "", text)
        variants.append(tidy(filled.replace(closed, DETAILS_CLOSE if marked else "")).lstrip("\n"))
    return variants


def wrap(text: str, indent: str = "", width: int = WRAP_WIDTH) -> str:
    """Long prose on several lines (continuation lines indented to stay in their list item)."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    return textwrap.fill(text, width=width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)  # fmt: skip


def _demoted(markdown: str) -> str:
    """Every heading one level down, so a section's plan nests under the combined plan's title."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def _plotted(reports: list[CostReport], to_draw: list[CostReport]) -> list[CostReport]:
    """The plan's cost reports, the PLAN_PLOT_CLUSTERS with the largest projected savings linking to their plots
    (added to `to_draw`); the others say where their plots are."""
    def saving(report: CostReport) -> float:
        return report.consolidation.savings_hourly if report.consolidation else 0.0

    ranked = sorted(range(len(reports)), key=lambda i: (-saving(reports[i]), reports[i].cluster))
    drawn = set(ranked[:PLAN_PLOT_CLUSTERS])
    to_draw.extend(reports[i] for i in sorted(drawn))
    note = (f"plots are drawn for the {PLAN_PLOT_CLUSTERS} clusters with the largest projected savings; "
            "`upgradectl cost` draws this cluster's")
    return [with_plot_links(r) if i in drawn else r.model_copy(update={"notes": [*r.notes, note]})
            for i, r in enumerate(reports)]


def _with_plots(plan: Plan | CombinedPlan, to_draw: list[CostReport]) -> Plan | CombinedPlan:
    """The plan linking to its cost plots (a combined plan: each section's); the reports whose plots are to be
    drawn are added to `to_draw`."""
    if isinstance(plan, CombinedPlan):
        return plan.model_copy(update={"sections": [_with_plots(s, to_draw) for s in plan.sections]})
    if not plan.cost:
        return plan
    return plan.model_copy(update={"cost": _plotted(plan.cost, to_draw)})


@contextmanager
def _plots_drawn(plan: Plan | CombinedPlan, plots_dir: Path) -> Iterator[Plan | CombinedPlan]:
    """The plan linking to its cost plots, which another process draws into plots_dir while the block renders
    the report; they are all there when the block ends."""
    to_draw: list[CostReport] = []
    linked = _with_plots(plan, to_draw)
    plots_drawn = draw_aside(to_draw, plots_dir)
    with waited_on_error(plots_drawn):
        yield linked
    plots_drawn()


def render_json(plan: Plan | CombinedPlan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2)


def render_report(plan: Plan | CombinedPlan, output_format: str) -> str:
    """The full report in one format: md, json or html (plots drawn into a temporary directory and inlined)."""
    if output_format == "json":
        return render_json(plan)
    if output_format == "html":
        import tempfile  # only for plots drawn without an output directory

        with tempfile.TemporaryDirectory(prefix="upgradectl-plots-") as plots:
            with _plots_drawn(plan, Path(plots)) as linked:
                page = render_html(linked, None)
            return inline_plots(page, Path(plots))
    return render_markdown(plan)


def write_plan(plan: Plan | CombinedPlan, out_dir: Path) -> list[Path]:
    """Write plan.md, plan.json and plan.html into out_dir (created if needed); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js, page = out_dir / "plan.md", out_dir / "plan.json", out_dir / "plan.html"
    with _plots_drawn(plan, out_dir) as plan:  # plots next to plan.md, linked from its cost section
        markdown, marked = markdown_for_md_and_html(plan)
        finish_page = page_renderer(marked, html_title(plan), None)  # a big page renders partly aside meanwhile
        with waited_on_error(finish_page):
            md.write_text(markdown)
            js.write_text(render_json(plan) + "\n")
        html_page = finish_page()
    page.write_text(inline_plots(html_page, out_dir))  # the plots are drawn by now
    sections = plan.sections if isinstance(plan, CombinedPlan) else [plan]
    return [md, js, page, *[out_dir / p.path for s in sections for r in s.cost for p in r.plots]]


def render_html(plan: Plan | CombinedPlan, assets: Path | None) -> str:
    """plan.html: the Markdown report as one self-contained page (plots from `assets` inlined)."""
    return markdown_page(render_markdown(plan, html_markers=True), html_title(plan), assets)


def html_title(plan: Plan | CombinedPlan) -> str:
    if isinstance(plan, CombinedPlan):
        return f"Upgrade plan: {plan.request}"
    return f"Upgrade plan: {load_tool(plan.request.tool).display_name} -> {plan.target_version}"
