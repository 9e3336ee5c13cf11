"""Render a Plan to Markdown (Jinja2 template in prompts/report/) and JSON, and write them out."""

from __future__ import annotations

import json
from collections import Counter
from itertools import groupby
from pathlib import Path

from upgradectl.agents.registry import STAGE_NAMES
from upgradectl.app.cost_report import with_plots
from upgradectl.app.templates import template_environment, tidy
from upgradectl.cost_models import CostReport
from upgradectl.models import SEVERITY_ORDER, CombinedPlan, Finding, Plan
from upgradectl.tools.knowledge.loader import load_tool

GROUP_SEVERITIES = ("low", "info")
GROUP_MIN = 4  # a low/info code with this many instances is shown once, with one line per instance


def _blocks(findings: list[Finding], severity: str) -> list[list[Finding]]:
    """Findings in report order, as blocks: one finding each, except that a low or info code with many
    instances becomes one block (title, detail and fix once; a line per instance), so the few findings
    that matter are not buried under dozens of repeats. The JSON keeps every finding as it is."""
    def same(f: Finding) -> tuple:  # what a group shows once must hold for every instance
        return f.code, f.detail, f.remediation, tuple(e.ref for e in f.evidence if e.source == "knowledge")

    counts = Counter(same(f) for f in findings)
    blocks: list[list[Finding]] = []
    grouped: dict[tuple, list[Finding]] = {}
    for f in findings:
        key = same(f)
        if severity in GROUP_SEVERITIES and counts[key] >= GROUP_MIN:
            if key not in grouped:
                grouped[key] = []
                blocks.append(grouped[key])
            grouped[key].append(f)
        else:
            blocks.append([f])
    return blocks


def render_markdown(plan: Plan | CombinedPlan) -> str:
    """A plan as Markdown; a combined plan is its order, combined rollout, then each section as its own plan."""
    if isinstance(plan, CombinedPlan):
        sections = [_demoted(render_markdown(section)) for section in plan.sections]
        text = template_environment().get_template("report/combined.md.j2").render(plan=plan, sections=sections)
        return tidy(text).lstrip("\n")
    by_severity = [(s, _blocks([f for f in plan.findings if f.severity == s], s)) for s in SEVERITY_ORDER]
    log = sorted(plan.task_log, key=lambda r: r.stage)
    text = (
        template_environment()
        .get_template("report/plan.md.j2")
        .render(
            plan=plan,
            tool_name=load_tool(plan.request.tool).display_name,
            findings_by_severity=[(s, blocks, sum(len(b) for b in blocks)) for s, blocks in by_severity if blocks],
            log_by_stage=[(stage, list(records)) for stage, records in groupby(log, key=lambda r: r.stage)],
            stage_names=STAGE_NAMES,
            narrative_for=lambda env: plan.narrative.get(env, ""),
        )
    )
    return tidy(text).lstrip("\n")


def _demoted(markdown: str) -> str:
    """Every heading one level down, so a section's plan nests under the combined plan's title."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def _plotted(reports: list[CostReport], out_dir: Path) -> list[CostReport]:
    """The plan's cost reports, the PLAN_PLOT_CLUSTERS with the largest projected savings drawn; the others
    say where their plots are."""
    def saving(report: CostReport) -> float:
        return report.consolidation.savings_hourly if report.consolidation else 0.0

    ranked = sorted(range(len(reports)), key=lambda i: (-saving(reports[i]), reports[i].cluster))
    drawn = set(ranked[:PLAN_PLOT_CLUSTERS])
    plotted = dict(zip(sorted(drawn), with_plots([reports[i] for i in sorted(drawn)], out_dir), strict=True))
    note = (f"plots are drawn for the {PLAN_PLOT_CLUSTERS} clusters with the largest projected savings; "
            "`upgradectl cost` draws this cluster's")
    return [plotted[i] if i in drawn else r.model_copy(update={"notes": [*r.notes, note]})
            for i, r in enumerate(reports)]


def render_json(plan: Plan | CombinedPlan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2)


# A plan draws cost plots for at most this many clusters: drawing costs ~0.3 s per cluster, and a plan over a
# hundred clusters would spend most of its time on pictures nobody pages through; `upgradectl cost` draws any.
PLAN_PLOT_CLUSTERS = 12


def write_plan(plan: Plan | CombinedPlan, out_dir: Path) -> list[Path]:
    """Write plan.md and plan.json into out_dir (created if needed); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(plan, CombinedPlan):
        md, js = out_dir / "plan.md", out_dir / "plan.json"
        md.write_text(render_markdown(plan))
        js.write_text(render_json(plan) + "\n")
        return [md, js]
    if plan.cost:  # plots next to plan.md, linked from its cost section
        plan = plan.model_copy(update={"cost": _plotted(plan.cost, out_dir)})
    md, js = out_dir / "plan.md", out_dir / "plan.json"
    md.write_text(render_markdown(plan))
    js.write_text(render_json(plan) + "\n")
    return [md, js, *[out_dir / p.path for r in plan.cost for p in r.plots]]
