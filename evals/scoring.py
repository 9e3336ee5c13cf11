"""Deterministic scoring of one plan against one scenario's expectations.

Each expectation becomes one `Check` in a category: `recall` (a required finding is there),
`precision` (a forbidden finding is not), `path` (tool, target, every cluster group's hops, rollout
stages), `decision` (track, risk, strategy, approval) and `gates` (required gates in every rollout
stage, forbidden ones in none), `why` (the advisories, features gained and payback the plan states) and
`verifier` (the plan verifier found no violation: every command, edit and
rollback step of the plan holds). A failed check says what the plan said instead, so a red eval run
names the missing finding. Pure functions: the same plan and scenario always give the same checks.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict

from upgradectl.evals.scenario import (
    Expected,
    FindingExpectation,
    ForbiddenFinding,
    PathExpectation,
    Scenario,
    SubjectMatch,
    WhyExpectation,
)
from upgradectl.models import Finding, Plan, Subject, UpgradePath

CheckCategory = Literal["recall", "precision", "path", "decision", "gates", "verifier", "why"]
CATEGORIES: tuple[CheckCategory, ...] = ("recall", "precision", "path", "decision", "gates", "verifier", "why")
SHOWN_FINDINGS = 4


class Check(BaseModel):
    """One scored expectation: what was checked, whether it held, and what the plan said when not."""

    model_config = ConfigDict(frozen=True)

    category: CheckCategory
    name: str
    passed: bool
    detail: str = ""
    known_issue: str = ""


def _field_matches(expected: str | int, actual: str | int) -> bool:
    """Equal; or a glob (charts/*/templates/*); or, for a comma list in the plan, every expected item in it."""
    if isinstance(expected, int) or isinstance(actual, int):
        return expected == actual
    if expected == actual:
        return True
    if any(c in expected for c in "*?["):
        return fnmatch.fnmatchcase(actual, expected)
    items = {a.strip() for a in actual.split(",")} if "," in actual else {actual}
    return {e.strip() for e in expected.split(",")} <= items


def subject_matches(expected: SubjectMatch | None, subject: Subject) -> bool:
    """Every given field equals the plan's (comma lists in the plan match by membership)."""
    if expected is None:
        return True
    actual = subject.model_dump()
    return all(_field_matches(value, actual[key]) for key, value in expected.given().items())


def code_matches(pattern: str | None, code: str) -> bool:
    return pattern is None or fnmatch.fnmatchcase(code, pattern)


def required_match(expectation: FindingExpectation, finding: Finding) -> bool:
    """Code, subject, severity and evidence sources all as expected."""
    if not code_matches(expectation.code, finding.code) or not subject_matches(expectation.subject, finding.subject):
        return False
    if expectation.severity and finding.severity != expectation.severity:
        return False
    sources = {e.source for e in finding.evidence}
    return all(s in sources for s in expectation.evidence)


def describe_finding(finding: Finding) -> str:
    subject = " ".join(f"{k}={v}" for k, v in finding.subject.model_dump().items() if v not in ("", 0))
    return f"{finding.code} [{finding.severity}] {{{subject}}}"


def _listing(findings: list[Finding]) -> str:
    shown = "; ".join(describe_finding(f) for f in findings[:SHOWN_FINDINGS])
    more = f"; ... {len(findings) - SHOWN_FINDINGS} more" if len(findings) > SHOWN_FINDINGS else ""
    return shown + more


def check_required(expectation: FindingExpectation, plan: Plan) -> Check:
    name = f"required {expectation.describe()}"
    if any(required_match(expectation, f) for f in plan.findings):
        return Check(category="recall", name=name, passed=True, known_issue=expectation.known_issue)
    same_code = [f for f in plan.findings if code_matches(expectation.code, f.code)]
    if same_code:
        detail = f"missing: the plan's {expectation.code} findings are about other subjects: {_listing(same_code)}"
        close = [f for f in same_code if subject_matches(expectation.subject, f.subject)]
        if close:
            detail = (
                f"missing: {expectation.code} is there for this subject but with other severity/evidence: "
                f"{_listing(close)} (evidence: {', '.join(sorted({e.source for f in close for e in f.evidence}))})"
            )
    else:
        detail = f"missing: the plan has no {expectation.code} finding at all"
    return Check(category="recall", name=name, passed=False, detail=detail, known_issue=expectation.known_issue)


def check_forbidden(expectation: ForbiddenFinding, plan: Plan) -> Check:
    name = f"forbidden {expectation.describe()}"
    hits = [
        f
        for f in plan.findings
        if code_matches(expectation.code, f.code) and subject_matches(expectation.subject, f.subject)
    ]
    detail = f"false alarm: {len(hits)} finding(s): {_listing(hits)}" if hits else ""
    return Check(category="precision", name=name, passed=not hits, detail=detail, known_issue=expectation.known_issue)


def _route(path: UpgradePath) -> str:
    return " -> ".join([path.from_version, *[f"{h.to_version} ({h.kind})" for h in path.hops]])


def _expected_route(expectation: PathExpectation) -> str:
    hops = [f"{v} ({k})" if k else v for v, k in expectation.expected_hops()]
    return " -> ".join([expectation.from_version, *hops])


def check_path(expectation: PathExpectation, plan: Plan) -> Check:
    group = sorted(expectation.clusters)
    name = f"path for {', '.join(group)}: {_expected_route(expectation)}"
    path = next((p for p in plan.paths if sorted(p.clusters) == group), None)
    if path is None:
        groups = "; ".join(f"[{', '.join(sorted(p.clusters))}] {_route(p)}" for p in plan.paths) or "none"
        return Check(category="path", name=name, passed=False, detail=f"no path for exactly this group; plan: {groups}")
    problems = []
    if path.from_version != expectation.from_version:
        problems.append(f"starts at {path.from_version}")
    want = expectation.expected_hops()
    got = [(h.to_version, h.kind) for h in path.hops]
    if len(want) != len(got) or any(w[0] != g[0] or (w[1] and w[1] != g[1]) for w, g in zip(want, got, strict=False)):
        problems.append(f"hops {_route(path)}")
    if expectation.feasible is not None and path.feasible != expectation.feasible:
        problems.append(f"feasible={path.feasible} (blockers: {'; '.join(path.blockers) or 'none'})")
    for text in expectation.blockers:
        if not any(text in b for b in path.blockers):
            problems.append(f"no blocker says {text!r} (blockers: {'; '.join(path.blockers) or 'none'})")
    detail = "plan: " + "; ".join(problems) if problems else ""
    return Check(category="path", name=name, passed=not problems, detail=detail)


def path_checks(scenario: Scenario, plan: Plan) -> list[Check]:
    expected = scenario.expected
    checks = [
        Check(
            category="path",
            name=f"plan is for {scenario.tool}",
            passed=plan.request.tool == scenario.tool,
            detail="" if plan.request.tool == scenario.tool else f"plan is for {plan.request.tool}",
        )
    ]
    if expected.target_version is not None:
        ok = plan.target_version == expected.target_version
        checks.append(
            Check(
                category="path",
                name=f"target {expected.target_version}",
                passed=ok,
                detail="" if ok else f"plan targets {plan.target_version} ({plan.target_reason})",
            )
        )
    checks.extend(check_path(p, plan) for p in expected.paths)
    if expected.paths:
        listed = {tuple(sorted(p.clusters)) for p in expected.paths}
        extra = [p for p in plan.paths if tuple(sorted(p.clusters)) not in listed]
        checks.append(
            Check(
                category="path",
                name="no other cluster group",
                passed=not extra,
                detail="; ".join(f"extra group [{', '.join(sorted(p.clusters))}] {_route(p)}" for p in extra),
            )
        )
    if expected.rollout is not None:
        want = {env: sorted(clusters) for env, clusters in expected.rollout.items()}
        got = {s.environment: sorted(s.clusters) for s in plan.rollout}
        checks.append(
            Check(
                category="path",
                name="rollout " + "; ".join(f"{e}: {', '.join(c)}" for e, c in want.items()),
                passed=want == got,
                detail="" if want == got else "plan: " + "; ".join(f"{e}: {', '.join(c)}" for e, c in got.items()),
            )
        )
    return checks


def decision_checks(expected: Expected, plan: Plan) -> list[Check]:
    if expected.decision is None:
        return []
    d = plan.decision
    actual = {
        "track": (d.track, d.track_reasons),
        "risk": (d.risk.level, d.risk.reasons),
        "strategy": (d.strategy.kind, d.strategy.reasons),
        "approval_required": (d.approval_required, d.approval_reasons),
    }
    checks = []
    for key, want in expected.decision.expected().items():
        got, reasons = actual[key]
        detail = "" if got == want else f"plan: {got} ({'; '.join(reasons) or 'no reasons given'})"
        checks.append(
            Check(
                category="decision",
                name=f"{key} {want}",
                passed=got == want,
                detail=detail[:600],
                known_issue=expected.decision.known_issues.get(key, ""),
            )
        )
    return checks


def gate_checks(expected: Expected, plan: Plan) -> list[Check]:
    checks = []
    for gate in expected.required_gates:
        missing = [s.environment for s in plan.rollout if gate not in {g.name for g in s.gates}]
        if not plan.rollout:
            missing = ["(no rollout stage)"]
        detail = f"missing from stage(s): {', '.join(missing)}" if missing else ""
        checks.append(Check(category="gates", name=f"gate {gate} in every stage", passed=not missing, detail=detail))
    for gate in expected.forbidden_gates:
        present = [s.environment for s in plan.rollout if gate in {g.name for g in s.gates}]
        detail = f"present in stage(s): {', '.join(present)}" if present else ""
        checks.append(Check(category="gates", name=f"gate {gate} in no stage", passed=not present, detail=detail))
    return checks


def verifier_checks(plan: Plan) -> list[Check]:
    """The plan verifier's verdict (graph/verify.py): any violation fails the scenario. A plan the graph did not
    verify has no verdict to score (the runner refuses such plans: see evals/runner.py)."""
    verification = plan.verification
    if verification is None:
        return []
    shown = "; ".join(f"{v.check} {v.environment} {v.step}: {v.message}" for v in verification.violations[:3])
    more = len(verification.violations) - 3
    detail = shown + (f" (+{more} more)" if more > 0 else "")
    return [Check(category="verifier", name="plan verifier: no violations", passed=verification.ok, detail=detail)]


def _feature_listed(expected: str, plan: Plan, asked: bool) -> bool:
    """'LINE: words': a feature of that line whose title holds every word (and, when asked, tied to the trigger)."""
    line, _, words = expected.partition(":")
    wanted = words.lower().split()
    return any(f.line == line.strip() and all(w in f.title.lower() for w in wanted) and (f.matches_trigger or not asked)
               for f in plan.features)  # fmt: skip


def why_checks(expected: WhyExpectation | None, plan: Plan) -> list[Check]:
    """Advisories (status, patch sufficiency, minimal target, each advisory with its fix versions), features gained
    and payback, as the plan states them."""
    if expected is None:
        return []
    checks: list[Check] = []
    report = plan.advisories

    def check(name: str, passed: bool, detail: str) -> None:
        checks.append(Check(category="why", name=name, passed=passed, detail="" if passed else detail))

    status = report.status if report else "none"
    if expected.advisories_status is not None:
        check(f"advisories {expected.advisories_status}", status == expected.advisories_status,
              f"plan: {status}{' (' + report.reason + ')' if report and report.reason else ''}")  # fmt: skip
    if expected.patch_suffices is not None:
        actual = report.patch_suffices if report else None
        check(f"patch of the running line suffices: {expected.patch_suffices}", actual == expected.patch_suffices,
              f"plan: {actual} ({report.patch_note if report else 'no advisory report'})")  # fmt: skip
    if expected.minimal_target is not None:
        actual = report.minimal_target if report else ""
        check(f"minimal fixing target {expected.minimal_target}", actual == expected.minimal_target,
              f"plan: {actual or 'none'}")  # fmt: skip
    for want in expected.advisories:
        found = report.advisory(want.id) if report else None
        listed_ids = ", ".join(a.id for a in report.advisories) if report else "nothing"
        problems = [] if found else [f"not listed (plan lists: {listed_ids or 'nothing'})"]
        if found and want.severity and found.severity != want.severity:
            problems.append(f"severity {found.severity}")
        if found and not set(want.fixed) <= set(found.fixed):
            problems.append(f"fixed in {', '.join(found.fixed) or 'nothing'}")
        if found and want.fixed_by_target is not None and (want.id in report.fixed_by_target) != want.fixed_by_target:
            problems.append(f"fixed by target: {want.id in report.fixed_by_target}")
        check(f"advisory {want.id}" + (f" fixed in {', '.join(want.fixed)}" if want.fixed else ""), not problems,
              "; ".join(problems))  # fmt: skip
    listed = "; ".join(f"{f.line}: {f.title}{' (asked)' if f.matches_trigger else ''}" for f in plan.features[:6])
    for want in expected.features:
        check(f"feature {want}", _feature_listed(want, plan, asked=False), f"plan: {listed or 'no features'}")
    for want in expected.trigger_features:
        check(f"feature for the trigger {want}", _feature_listed(want, plan, asked=True),
              f"plan: {listed or 'no features'}")  # fmt: skip
    if expected.payback is not None:
        roe = plan.return_on_effort
        stated = roe is not None and roe.payback_months is not None and bool(roe.assumptions)
        check(f"payback stated: {expected.payback}", stated == expected.payback,
              f"plan: {'payback ' + str(roe.payback_months) if roe else 'no return on effort'}")  # fmt: skip
    return checks


def score_plan(scenario: Scenario, plan: Plan) -> list[Check]:
    """Every check of the scenario against the plan, in a stable order."""
    expected = scenario.expected
    return [
        *(check_required(e, plan) for e in expected.required_findings),
        *(check_forbidden(e, plan) for e in expected.forbidden_findings),
        *path_checks(scenario, plan),
        *decision_checks(expected, plan),
        *gate_checks(expected, plan),
        *verifier_checks(plan),
        *why_checks(expected.why, plan),
    ]
