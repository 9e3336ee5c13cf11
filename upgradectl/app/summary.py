"""The terminal summary of a plan (what `upgradectl plan` prints by default) and its one-line form (`-q`).

Like `terraform plan`'s closing lines: target and path per cluster group, distinct problems by severity with
the top blockers, the decision, the rollout timeline, where the full report is and what the exit code means.
Lines are at most 80 columns. Each line is a list of (text, style) segments: the CLI colours them on a terminal
and prints the text alone otherwise (NO_COLOR, pipes), so this module knows nothing of terminals.
"""

from __future__ import annotations

from pathlib import Path

from upgradectl.app.problems import Problem, distinct_problems, problem_counts
from upgradectl.app.timeline import duration, rollout_timeline
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_LLM_DEGRADED, EXIT_OK, MEANING
from upgradectl.models import SEVERITY_ORDER, CombinedPlan, Plan
from upgradectl.tools.knowledge.loader import load_tool

WIDTH = 80
TOP_BLOCKERS = 5
Segment = tuple[str, str]  # (text, style: "" or a rich style name)
Line = list[Segment]
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters ('...' where cut)."""
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: max(width - 3, 0)].rstrip() + "..."


def sections(plan: Plan | CombinedPlan) -> list[Plan]:
    """The single-tool plans a plan holds: itself, or a combined plan's sections in rollout order."""
    return list(plan.sections) if isinstance(plan, CombinedPlan) else [plan]


def headline(plan: Plan | CombinedPlan) -> str:
    """'Karpenter (AWS provider) -> 1.14.3', or each tool and target of a combined plan."""
    return ", then ".join(f"{load_tool(s.request.tool).display_name} -> {s.target_version}" for s in sections(plan))


def exit_meaning(plan: Plan | CombinedPlan, exit_code: int, fail_on: str) -> str:
    """What the exit code says about this plan, in words."""
    if exit_code == EXIT_BLOCKERS:
        worst = SEVERITY_ORDER.index(fail_on)  # type: ignore[arg-type]
        count = sum(1 for f in plan.findings if SEVERITY_ORDER.index(f.severity) <= worst)
        return f"exit 1: {count} finding(s) at or above --fail-on {fail_on}; resolve them before executing"
    if exit_code == EXIT_INCOMPLETE:
        return "exit 3: incomplete: some checks could not run (findings in category 'incomplete')"
    if exit_code == EXIT_LLM_DEGRADED:
        return "exit 5: the model failed; the plan holds the playbook findings"
    if exit_code == EXIT_OK:
        return f"exit 0: nothing at or above --fail-on {fail_on}; follow the rollout and its gates"
    return f"exit {exit_code}: {MEANING.get(exit_code, 'see upgradectl --help')}"


def summary_line(plan: Plan | CombinedPlan, exit_code: int, fail_on: str) -> str:
    """The plan in one line (`plan -q`)."""
    problems = distinct_problems(plan)
    counts = ", ".join(f"{n} {s}" for s, n in problem_counts([p for p in problems if p.blocking]).items()) or "none"
    timeline = rollout_timeline(plan)
    paths = [path for section in sections(plan) for path in section.paths]
    hops = max((len(path.hops) for path in paths), default=0)
    return (
        f"{headline(plan)}: {len(paths)} "
        f"path(s), up to {hops} hop(s); problems: {counts}; risk {plan.decision.risk.level}, "
        f"{plan.decision.strategy.kind}; rollout >= {duration(timeline.total_minutes)}, "
        f"{timeline.approvals} approval(s); exit {exit_code}"
    )


def render_summary(plan: Plan | CombinedPlan, exit_code: int, fail_on: str, report: Path | None) -> list[Line]:
    """The terminal summary as styled lines (see the module docstring)."""
    clusters = sorted({c for section in sections(plan) for path in section.paths for c in path.clusters})
    lines: list[Line] = [
        [(clip(headline(plan), WIDTH - 30), "bold"), (f" on {len(clusters)} cluster(s), fleet {plan.fleet}", "")],
    ]
    for section in sections(plan):
        if isinstance(plan, CombinedPlan):
            lines.append([(f" {load_tool(section.request.tool).display_name}", "bold")])
        lines += _paths(section)
    problems = distinct_problems(plan)
    lines += _problems(plan, problems)
    decision = plan.decision
    approval = "senior approval required" if decision.approval_required else "approval before production"
    lines += [[], [("Decision  ", "bold"), (clip(f"risk {decision.risk.level}, strategy {decision.strategy.kind}, "
                                                f"track {decision.track}", WIDTH - 10), "")],
              [("          ", ""), (clip(f"{decision.testing}; {approval}", WIDTH - 10), "")]]
    lines += _rollout(plan)
    setup = [p for p in problems if not p.blocking]
    if setup:
        lines += [[], [("Before you execute", "bold")]]
        for problem in setup:
            where = ", ".join(problem.clusters) or "fleet"
            lines.append([("  ", ""), (clip(f"{problem.code} on {where}: {problem.remediation}", WIDTH - 2), "")])
    lines.append([])
    if report is not None:
        lines.append([("Report    ", "bold"), (f"{report}", "")])
        lines.append([("          ", ""),
                      ("plan.html (to share) and plan.json beside it; --format md|json|html", "dim")])
    else:
        lines.append([("Report    ", "bold"), ("not written (pass --out DIR)", "")])
    style = "green" if exit_code == EXIT_OK else ("red" if exit_code == EXIT_BLOCKERS else "yellow")
    lines.append([(clip(exit_meaning(plan, exit_code, fail_on), WIDTH), style)])
    return lines


def _paths(plan: Plan) -> list[Line]:
    lines: list[Line] = []
    for path in plan.paths:
        chain = " -> ".join([path.from_version, *(hop.to_version for hop in path.hops)])
        lines.append([("  ", ""), (clip(", ".join(path.clusters), WIDTH - 20), "cyan"),
                      (f" ({len(path.hops)} hop(s))", ""), ("" if path.feasible else "  NOT FEASIBLE", "bold red")])
        lines.append([("    ", ""), (clip(chain, WIDTH - 4), "")])
        for blocker in path.blockers[:2]:
            lines.append([("    blocker: ", "red"), (clip(blocker, WIDTH - 13), "")])
    return lines


def _problems(plan: Plan | CombinedPlan, problems: list[Problem]) -> list[Line]:
    blocking = [p for p in problems if p.blocking]
    counts = problem_counts(blocking)
    head: Line = [("Problems  ", "bold")]
    for index, (severity, count) in enumerate(counts.items()):
        head += [(", " if index else "", ""), (f"{count} {severity}", SEVERITY_STYLE[severity])]
    if not counts:
        head.append(("none", "green"))
    instances = sum(len(p.instances) for p in blocking)
    head.append((f" ({len(blocking)} distinct, {instances} finding(s))", "dim"))
    lines: list[Line] = [[], head]
    for problem in blocking[:TOP_BLOCKERS]:
        where = f" ({len(problem.instances)} instances)" if len(problem.instances) > 1 else ""
        lines.append([("  ", ""), (f"{problem.severity:<8} ", SEVERITY_STYLE[problem.severity]),
                      (clip(f"{problem.code}{where}", WIDTH - 11), "bold")])
        lines.append([("           ", ""), (clip(problem.title, WIDTH - 11), "")])
    if len(blocking) > TOP_BLOCKERS:
        lines.append([("  ", ""), (f"... {len(blocking) - TOP_BLOCKERS} more in the report", "dim")])
    return lines


def _rollout(plan: Plan | CombinedPlan) -> list[Line]:
    timeline = rollout_timeline(plan)
    how = "on the calendar" if timeline.on_calendar else "least time"
    lines: list[Line] = [[], [("Rollout   ", "bold"), (f"environment -> hops x soak per hop -> {how}", "dim")]]
    for index, stage in enumerate(timeline.stages, 1):
        approval = "  approval" if stage.approval_required else ""
        text = (f"  {index}. {stage.environment:<8} {clip(', '.join(stage.clusters), 22):<22} "
                f"{len(stage.hops)} hop(s) x {duration(stage.soak_minutes):<6} = {duration(stage.minutes)}")
        lines.append([(clip(text, WIDTH - len(approval)), ""), (approval, "magenta")])
    if timeline.on_calendar and timeline.start and timeline.end:
        total = (f"  total: {duration(timeline.total_minutes)}, {timeline.start:%Y-%m-%d %H:%M} -> "
                 f"{timeline.end:%Y-%m-%d %H:%M} UTC; {timeline.approvals} approval(s)")
    else:
        total = f"  total: at least {duration(timeline.total_minutes)} of soak, {timeline.approvals} approval(s)"
    lines.append([(clip(total, WIDTH), "bold")])
    return lines


def plain(lines: list[Line]) -> str:
    """The summary without styles (for files, tests and non-terminals)."""
    return "\n".join("".join(text for text, _style in line) for line in lines) + "\n"
