"""The eval table: one row per scenario, then what each red scenario missed, then the suite totals
against the thresholds. Plain text, so CI logs and tests read it as printed."""

from __future__ import annotations

from upgradectl.evals.results import ScenarioResult, SuiteResult
from upgradectl.plain_table import table_lines

COLUMNS = ("Scenario", "Tool", "Diff", "Recall", "False alarms", "Path", "Decision", "Gates", "Verifier", "Why", "Time",
           "Result")


def _recall(r: ScenarioResult) -> str:
    checks = r.counted("recall")
    return "error" if r.error else f"{sum(c.passed for c in checks)}/{len(checks)}" if checks else "-"


def _false_alarms(r: ScenarioResult) -> str:
    checks = r.counted("precision")
    return "error" if r.error else str(sum(not c.passed for c in checks)) if checks else "-"


def _result(r: ScenarioResult) -> str:
    if r.error:
        return "ERROR"
    if r.passed:
        known = [c for c in r.known_issues() if not c.passed]
        return f"pass ({len(known)} known issue{'s' if len(known) != 1 else ''})" if known else "pass"
    return "FAIL"


def _llm(r: ScenarioResult) -> str:
    """Model calls, and for replay the requests with no recorded turn and the turns whose request changed."""
    text = f"{r.llm.calls} calls"
    if r.llm.replay_misses:
        text += f", {len(r.llm.replay_misses)} missed"
    if r.llm.replay_drift:
        text += f", {r.llm.replay_drift} drifted"
    if r.llm.degraded:
        text += ", degraded"
    return text


def row(r: ScenarioResult, with_llm: bool = False) -> tuple[str, ...]:
    return (
        r.id,
        r.tool,
        r.difficulty,
        _recall(r),
        _false_alarms(r),
        r.status("path"),
        r.status("decision"),
        r.status("gates"),
        r.status("verifier"),
        r.status("why"),
        f"{r.seconds:.1f}s",
        *((_llm(r),) if with_llm else ()),
        _result(r),
    )


def table(rows: list[tuple[str, ...]], with_llm: bool = False) -> str:
    columns = (*COLUMNS[:-1], "LLM", COLUMNS[-1]) if with_llm else COLUMNS
    return "\n".join(table_lines(columns, [[str(v) for v in r] for r in rows], rule=True))


def misses(results: list[ScenarioResult]) -> list[str]:
    """'<scenario>: <what was expected>: <what the plan said>' for every failed check and error."""
    lines = []
    for r in results:
        if r.error:
            lines.append(f"{r.id}: {r.error}")
        for miss in r.llm.replay_misses:
            lines.append(f"{r.id}: replay miss: {miss}")
        for c in r.checks:
            if not c.passed and not c.known_issue:
                lines.append(f"{r.id}: {c.name}: {c.detail}")
    return lines


def known_issue_lines(results: list[ScenarioResult]) -> list[str]:
    lines = []
    for r in results:
        for c in r.known_issues():
            state = "still wrong" if not c.passed else "NOW PASSES: remove its known_issue"
            lines.append(f"{r.id}: {c.name}: {state} ({c.known_issue})")
    return lines


def render(suite: SuiteResult) -> str:
    """The whole report as `upgradectl eval` prints it."""
    s, t = suite.stamp, suite.totals
    with_llm = s.llm_mode != "off"
    out = [table([row(r, with_llm) for r in suite.scenarios], with_llm), ""]
    failed = misses(suite.scenarios)
    if failed:
        out.append("Missed:")
        out.extend(f"  {line}" for line in failed)
        out.append("")
    known = known_issue_lines(suite.scenarios)
    if known:
        out.append("Known planner issues (reported, not counted):")
        out.extend(f"  {line}" for line in known)
        out.append("")
    out.append(
        f"Scenarios {t.passed}/{t.scenarios} passed; recall {t.found}/{t.required} ({t.recall:.0%}); "
        f"false alarms {t.false_alarms}/{t.forbidden} (precision {t.precision:.0%}); path {t.path:.0%}; "
        f"decision {t.decision:.0%}; gates {t.gates:.0%}; plan verifier {t.verifier:.0%}; "
        f"why upgrade {t.why:.0%}; errors {t.errors}"
    )
    model = ", ".join(s.llm_models) or "none"
    dirty = "+dirty" if s.git_dirty else ""
    out.append(
        f"upgradectl {s.upgradectl_version} at {s.git_sha[:12]}{dirty}; llm {s.llm_mode} (model {model}); "
        f"prompts {s.prompts_sha256[:12]}; knowledge {s.knowledge_sha256[:12]}"
        + (f" from {s.knowledge_dir}" if s.knowledge_dir else "")
        + f"; {s.seconds:.1f}s on {s.jobs} job(s)"
    )
    if suite.violations:
        out.append("THRESHOLDS MISSED: " + "; ".join(suite.violations))
    else:
        out.append("All thresholds met.")
    return "\n".join(out) + "\n"
