"""The target chart itself as the oracle for a release's values: keys it no longer has (with the closest key it
has), schema type and enum violations, values its values.yaml documents as not accepted. Works for any chart;
a knowledge-base finding about the same value wins over the generic one."""

from __future__ import annotations

from upgradectl.agents.base import TaskInput, TaskResult, make_finding
from upgradectl.models import Evidence, Finding, Subject
from upgradectl.tools.charts.store import ChartUnavailable
from upgradectl.tools.charts.values_check import ChartValues, ValueProblem

AGENT = "flux-navigator"
SEVERITY = {"unknown-key": "medium", "type": "high", "enum": "high", "schema": "high", "documented-options": "high"}


def _covered(path: str, known: set[str]) -> bool:
    """A knowledge finding is about this value (the same key, a key above it, or one below it)."""
    return any(path == k or path.startswith(k + ".") or k.startswith(path + ".") for k in known)


def _finding(task: TaskInput, cluster: str, release_ref: str, release_name: str, problem: ValueProblem,
             origin: str, chart: str) -> Finding:  # fmt: skip
    unknown = problem.kind == "unknown-key"
    what = ("is not a value of" if unknown else "is not accepted by")
    return make_finding(
        code="CHART-VALUE-UNKNOWN-KEY" if unknown else "CHART-VALUE-INVALID",
        severity=SEVERITY[problem.kind],  # type: ignore[arg-type]
        category="helm-values",
        title=f"{problem.path} {what} chart {chart} ({cluster})"
        + (f"; closest existing key: {problem.closest}" if problem.closest else ""),
        agent=AGENT,
        subject=Subject(cluster=cluster, tool=task.knowledge.tool, helm_release=release_name,
                        helm_value_path=problem.path, version=chart.rsplit(" ", 1)[-1]),  # fmt: skip
        evidence=[
            Evidence(source="helm", ref=f"{cluster}: release {release_ref} values", excerpt=f"{problem.path}: "
                     f"{problem.value}"),  # fmt: skip
            Evidence(source="helm", ref=origin, excerpt=problem.message),
        ],
        detail=("Helm ignores values a chart does not read: the setting silently stops having an effect."
                if unknown else "Helm refuses to render, or the component refuses to start with, this value."),
        remediation=(f"Move the setting to {problem.closest} if that is its new home (check the chart's values.yaml), "
                     "or drop it." if problem.closest else "Change or drop the value before this upgrade.")
        if unknown else "Set a value the target chart accepts before the upgrade.",
    )


def chart_values(task: TaskInput) -> TaskResult:
    """Each release's user-supplied values against the path's target chart (fetched, cached or local)."""
    k = task.knowledge
    findings: list[Finding] = []
    checked: list[str] = []
    if task.charts is None:
        return TaskResult([], ["target-chart values check: off for this run"])
    kb = {(f.subject.cluster, f.subject.helm_value_path) for f in task.findings if f.subject.helm_value_path}
    unavailable: dict[str, list[str]] = {}
    for path in task.paths:
        chart_version = k.chart_version_for(path.to_version)
        if not chart_version:
            reason = f"no {k.chart.name} chart version is known to ship {path.to_version} (chart index table)"
            unavailable.setdefault(reason, []).extend(c for c in path.clusters if c in task.releases)
            continue
        for cluster in path.clusters:
            release = task.releases.get(cluster)
            if release is None or not release.values:
                continue
            try:
                chart = task.charts.get(k.chart.repository, k.chart.name, chart_version)
            except ChartUnavailable as exc:
                unavailable.setdefault(str(exc), []).append(cluster)
                continue
            known = {p for c, p in kb if c == cluster}
            problems = [p for p in ChartValues(chart).check(release.values) if not _covered(p.path, known)]
            label = f"{k.chart.name} {chart.version}"
            checked.append(f"{cluster}: {len(release.values)} top-level value(s) of release {release.name} against "
                           f"{label} ({chart.origin}): {len(problems)} problem(s) beyond the knowledge base's")
            findings.extend(
                _finding(task, cluster, release.ref, release.name, p, chart.origin, label) for p in problems
            )
    for reason, clusters in unavailable.items():
        if not clusters:
            continue
        checked.append(f"target chart unavailable for {', '.join(clusters)}: {reason}")
        findings.append(make_finding(
            code="CHART-VALUES-UNCHECKED", severity="info", category="helm-values",
            title=f"Values of {', '.join(clusters)} not checked against the target {k.chart.name} chart: it could not "
            "be read", agent=AGENT, subject=Subject(cluster=",".join(clusters), tool=k.tool),
            evidence=[Evidence(source="helm", ref=k.chart.repository, excerpt=reason[:500])],
            remediation="Give the charts with --charts-dir DIR (archives or unpacked charts), or allow fetching.",
        ))  # fmt: skip
    return TaskResult(findings, checked or ["no release with user-supplied values to check"])
