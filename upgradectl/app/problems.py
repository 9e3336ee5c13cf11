"""Findings as distinct problems: every finding of one code is one problem with its instances.

A plan lists a finding per object (81 "high" findings on the demo are 11 problems); readers decide per
problem, so the terminal summary, plan.md and the HTML report count and show problems, and keep every
instance under its problem. plan.json keeps each finding as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from upgradectl.models import SEVERITY_ORDER, Finding, Plan, Severity


@dataclass(frozen=True)
class Problem:
    """One code's findings: the worst severity among them, the clusters they touch, every instance."""

    code: str
    severity: Severity
    category: str
    title: str  # the first instance's title
    remediation: str
    instances: list[Finding]

    @property
    def clusters(self) -> list[str]:
        return list(dict.fromkeys(f.subject.cluster for f in self.instances if f.subject.cluster))

    @property
    def blocking(self) -> bool:
        """Something the upgrade itself trips on (setup work is listed apart: it does not make the plan risky)."""
        return self.category != "setup"


def distinct_problems(plan: Plan) -> list[Problem]:
    """Problems worst first, then by how many instances they have, then by code (stable)."""
    by_code: dict[str, list[Finding]] = {}
    for finding in plan.findings:
        by_code.setdefault(finding.code, []).append(finding)
    problems = []
    for code, findings in by_code.items():
        worst = min(findings, key=lambda f: SEVERITY_ORDER.index(f.severity))
        problems.append(
            Problem(code=code, severity=worst.severity, category=worst.category, title=shared_title(findings),
                    remediation=worst.remediation, instances=findings)  # fmt: skip
        )
    return sorted(problems, key=lambda p: (SEVERITY_ORDER.index(p.severity), -len(p.instances), p.code))


def shared_title(findings: list[Finding]) -> str:
    """What the instances' titles say in common (their subjects cut off); the first title when they share little."""
    first = findings[0].title
    if len(findings) == 1:
        return first
    titles = [f.title for f in findings]
    prefix = os.path.commonprefix(titles)
    enough = max(20, min(len(t) for t in titles) // 2)  # a shared prefix that says what the problem is
    for separator in (": ", " (", "; ", " "):
        cut = prefix.rfind(separator)
        if cut >= enough:
            return prefix[:cut].rstrip(" :;(")
    return f"{first} (and {len(findings) - 1} more like it)"


def problem_counts(problems: list[Problem]) -> dict[str, int]:
    """Problems per severity, worst first, only the severities present."""
    counts = {severity: 0 for severity in SEVERITY_ORDER}
    for problem in problems:
        counts[problem.severity] += 1
    return {severity: count for severity, count in counts.items() if count}
