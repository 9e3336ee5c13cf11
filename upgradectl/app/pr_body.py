"""Pull-request descriptions for a plan's change sets: one per environment and hop, in execute's order.

The way dependency bots describe their PRs: what changes and why (the hop, its reason, the files and the
changes it crosses), the evidence (the problems found on these clusters), the gates to watch while it soaks,
how to roll it back, and the approval it needs. `upgradectl changes --plan plan.json --pr-body` prints or
writes them; the numbers come from the plan (and the soak from the one rollout timeline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from upgradectl.app.problems import distinct_problems
from upgradectl.app.timeline import duration
from upgradectl.models import Hop, Plan, RolloutStage
from upgradectl.tools.gitops.changes import ChangeSet, change_sets, describe
from upgradectl.tools.knowledge.loader import load_tool

TOP_PROBLEMS = 8


@dataclass(frozen=True)
class PullRequestBody:
    """One change set's PR: its title, a file name for it, and the Markdown description."""

    environment: str
    from_version: str
    to_version: str
    title: str
    body: str

    @property
    def file_name(self) -> str:
        return f"pr-{self.environment}-{self.from_version}-{self.to_version}.md"


def pull_request_bodies(plan: Plan, diffs: dict[str, str] | None = None) -> list[PullRequestBody]:
    """A PR description per change set (environment and hop); `diffs` (change-set key -> unified diff) adds
    each one's diff, folded."""
    tool = load_tool(plan.request.tool).display_name
    bodies = []
    for change in change_sets(plan):
        stage = next(s for s in plan.rollout if s.environment == change.environment)
        hop = _hop(plan, change)
        title = f"{tool} {change.from_version} -> {change.to_version} on {change.environment} " \
                f"({', '.join(change.clusters)})"  # fmt: skip
        lines = [f"## {title}", "", *_what(plan, change, hop), "", *_evidence(plan, change),
                 "", *_gates(stage), "", *_rollback(stage, change, hop), "", *_approval(plan, stage)]  # fmt: skip
        diff = (diffs or {}).get(change.key, "")
        if diff:
            fence = "`" * max(3, _longest_backtick_run(diff) + 1)  # a diff holding ``` cannot close the block
            lines += ["", "<details><summary>Diff</summary>", "", f"{fence}diff", diff.rstrip("\n"), fence, "",
                      "</details>"]  # fmt: skip
        lines += ["", f"*Planned by upgradectl {plan.upgradectl_version} on "
                      f"{plan.generated_at.strftime('%Y-%m-%d %H:%M UTC')} for fleet `{plan.fleet}`; "
                      "check it with `upgradectl verify-plan`.*"]  # fmt: skip
        bodies.append(PullRequestBody(change.environment, change.from_version, change.to_version, title,
                                      "\n".join(lines) + "\n"))  # fmt: skip
    return bodies


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _hop(plan: Plan, change: ChangeSet) -> Hop | None:
    for path in plan.paths:
        if set(change.clusters) & set(path.clusters):
            for hop in path.hops:
                if (hop.from_version, hop.to_version) == (change.from_version, change.to_version):
                    return hop
    return None


def _what(plan: Plan, change: ChangeSet, hop: Hop | None) -> list[str]:
    lines = ["### What changes and why", ""]
    if hop is not None:
        lines.append(f"- **{hop.kind}** hop: {hop.reason}")
    lines.append(f"- request: {plan.request.text or plan.request.tool} (track {plan.decision.track}, "
                 f"risk {plan.decision.risk.level}, strategy {plan.decision.strategy.kind})")  # fmt: skip
    lines += [f"- edits `{file}`" for file in change.files]
    lines += [f"- by hand before merging: {describe(edit)}" for edit in change.manual]
    if hop is not None and hop.notes:
        lines += ["", "Changes this hop crosses (from the release notes):", ""]
        lines += [f"- {note}" for note in hop.notes]
    return lines


def _evidence(plan: Plan, change: ChangeSet) -> list[str]:
    scoped = plan.model_copy(update={"findings": [f for f in plan.findings
                                                   if f.subject.cluster in change.clusters]})  # fmt: skip
    problems = distinct_problems(scoped)
    lines = ["### Evidence", ""]
    if not problems:
        return [*lines, "- no findings on these clusters"]
    for problem in problems[:TOP_PROBLEMS]:
        first = problem.instances[0].evidence[0]
        lines.append(f"- {problem.severity} **{problem.code}** ({len(problem.instances)} on these clusters): "
                     f"{problem.title}; e.g. [{first.source}] `{first.ref}`")  # fmt: skip
    if len(problems) > TOP_PROBLEMS:
        lines.append(f"- ... {len(problems) - TOP_PROBLEMS} more problems in plan.md")
    return lines


def _gates(stage: RolloutStage) -> list[str]:
    lines = ["### Gates to watch", "",
             f"After the controller reconciles, soak {duration(stage.soak_minutes)}, then every gate must pass "
             "(`upgradectl validate`); a failed or inconclusive gate stops the rollout:", ""]  # fmt: skip
    for gate in stage.gates:
        rule = f"{gate.comparison} {gate.threshold:+.0%} of the baseline" if gate.relative_to_baseline \
            else f"{gate.comparison} {gate.threshold}"  # fmt: skip
        lines.append(f"- **{gate.name}** ({rule} over {gate.window}): `{gate.promql}`")
    if not stage.gates:
        lines.append("- none defined for this version: watch the controller's logs and events by hand")
    return lines


def _rollback(stage: RolloutStage, change: ChangeSet, hop: Hop | None) -> list[str]:
    lines = ["### Rollback", ""]
    steps = [s for s in stage.rollback_steps
             if (s.from_version, s.to_version) == (change.from_version, change.to_version)]  # fmt: skip
    for step in steps:
        lines.append(f"- {step.title}" + (f": {step.detail}" if step.detail else ""))
        lines += [f"  - `{command}`" for command in step.commands]
    if hop is not None and hop.rollback:
        lines.append(f"- limit: {hop.rollback}")
    if len(lines) == 2:
        lines.append("- revert this PR's commit")
    return lines


def _approval(plan: Plan, stage: RolloutStage) -> list[str]:
    lines = ["### Approval", ""]
    if stage.approval_required:
        lines += [f"- required before merging: {reason}" for reason in stage.approval_reasons or ["(see plan)"]]
    else:
        lines.append(f"- no approval gate for {stage.environment}; review as usual")
    if plan.decision.approval_required:
        lines += [f"- senior approval: {reason}" for reason in plan.decision.approval_reasons]
    return lines
