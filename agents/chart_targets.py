"""Targets a chart install can reach: when the tool is installed from a Helm chart whose versions differ from the
application's, the plan's target must be an application version some chart of the repository ships, and the
plan says which newer patch exists upstream but ships in no chart (prominently for a security request)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from upgradectl.agents.base import knowledge_evidence, make_finding
from upgradectl.models import Finding, Subject, UpgradePath
from upgradectl.tools.analysis.charted import ChartedTarget, describe, from_table_chart
from upgradectl.tools.analysis.inventory import Installation
from upgradectl.tools.analysis.paths import charted_target
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.versions import Version

AGENT = "incident-responder"


@dataclass(frozen=True)
class ChartChoice:
    """The target after the chart table was consulted, why, and whether every stop must be a charted version."""

    target: str
    reason: str
    charted: bool  # plan every hop onto versions a chart ships
    chosen: ChartedTarget | None  # None: no chart install, or no shipped version in range (target kept)
    blocker: str = ""  # set when no chart ships anything newer than what runs: the target is kept, not feasible


def chart_installs(knowledge: ToolKnowledge, installs: Mapping[str, Installation]) -> list[str]:
    """Clusters (of those given) that run the tool from the knowledge file's chart with its own version line."""
    return sorted(name for name, found in installs.items() if from_table_chart(knowledge, found))


def choose(
    knowledge: ToolKnowledge,
    target: str,
    reason: str,
    installs: Mapping[str, Installation],
    kube: Mapping[str, str],
    security: bool,
) -> ChartChoice:
    """The target a chart install is planned to: `target` when a chart ships it, else the version
    `charted_target` picks, with the reason extended by what ships in no chart."""
    clusters = chart_installs(knowledge, installs)
    if not clusters:
        return ChartChoice(target, reason, False, None)
    newest_running = max((found.version for found in installs.values()), key=Version.parse)
    chosen = charted_target(knowledge, target, newest_running, kube, security=security)
    if chosen is None:
        return ChartChoice(target, reason + (
            f"; no {knowledge.chart.name} chart of the knowledge base's chart table ships a version from "
            f"{newest_running} to {target}: the chart pin is a manual step"), False, None)  # fmt: skip
    if not chosen.changed:
        return ChartChoice(target, reason, True, chosen)
    if chosen.missing_fix:  # a security fix beats a chart: the fix stays the target, its chart pin is by hand
        return ChartChoice(target, reason + (
            f"; the fix {target} ships in no {knowledge.chart.name} chart of the knowledge base's chart table (the "
            f"newest charted version of its line is {chosen.version}, chart "
            f"{knowledge.chart.spell(chosen.chart_version)}): kept as the target, its chart pin is a step by "
            "hand"), True, chosen)  # fmt: skip
    if Version.parse(chosen.version) <= Version.parse(newest_running):  # a chart can take it nowhere newer
        line = Version.parse(target).line
        blocker = (
            f"no {knowledge.chart.name} chart ships {knowledge.display_name} {target} or any version between "
            f"{newest_running} and it (the newest {line} chart is {knowledge.chart.spell(chosen.chart_version)}, "
            f"shipping {chosen.version}): wait for a chart that ships it (`helm search repo {knowledge.chart.name} "
            "--versions`) or choose another target"
        )
        return ChartChoice(target, f"{reason}; {blocker}", False, chosen, blocker)
    return ChartChoice(chosen.version, f"{reason}; {describe(knowledge, chosen)}", True, chosen)


def _table_excerpt(knowledge: ToolKnowledge, line: str) -> str:
    """The chart table rows of one line: its newest chart and the app version it ships."""
    rows = [
        (Version.parse(c), c, app) for c, app in knowledge.chart.chart_to_app.items() if Version.parse(app).line == line
    ]
    if not rows:
        return f"chart_to_app: no {knowledge.chart.name} chart ships a {line} version"
    _, chart, app = max(rows)
    return f"chart_to_app: {chart}: {app} (newest {knowledge.chart.name} chart of the {line} line)"


def findings(
    knowledge: ToolKnowledge, choice: ChartChoice, paths: list[UpgradePath], installs: Mapping[str, Installation]
) -> list[Finding]:
    """One finding per plan when the target or a stop is older than its line's newest patch because no chart
    ships that patch: low (the plan is still correct), high when a security fix ships in no chart."""
    if not choice.charted and not choice.blocker:
        return []
    skipped: dict[str, tuple[str, str]] = {}  # line -> (stop planned, newest upstream patch)
    for path in paths:
        for hop in path.hops:
            release = knowledge.release(hop.to_version)
            if release and Version.parse(release.latest_patch) > Version.parse(hop.to_version):
                skipped[release.line] = (hop.to_version, release.latest_patch)
    chosen = choice.chosen
    if chosen is not None and chosen.changed:
        wanted_line = Version.parse(chosen.wanted).line
        skipped.setdefault(wanted_line, (chosen.version, chosen.wanted))
    if not skipped:
        return []
    clusters = chart_installs(knowledge, installs)
    missing_fix = chosen is not None and chosen.missing_fix
    listed = "; ".join(
        f"{line}: {newest} exists upstream, the newest any {knowledge.chart.name} chart ships is {stop}"
        f" (chart {knowledge.chart.spell(knowledge.chart_version_for(stop))})"
        for line, (stop, newest) in sorted(skipped.items(), key=lambda kv: Version.parse(kv[0]))
    )
    table = knowledge.chart.table_source or knowledge.chart.source
    evidence = [knowledge_evidence(knowledge, f"chart.chart_to_app[{line}]", _table_excerpt(knowledge, line), table)
                for line in sorted(skipped, key=Version.parse)]  # fmt: skip
    evidence += [
        knowledge_evidence(knowledge, f"releases[{line}].latest_patch", f"{line} latest_patch: {newest}", rel.source)
        for line, (_, newest) in sorted(skipped.items(), key=lambda kv: Version.parse(kv[0]))
        if (rel := knowledge.release(line)) is not None
    ]
    evidence += [found.evidence[0] for name, found in sorted(installs.items()) if name in clusters][:3]
    if missing_fix:
        assert chosen is not None
        title = (f"SECURITY: the {knowledge.display_name} fix {chosen.wanted} ships in no {knowledge.chart.name} "
                 "chart: the plan keeps it as the target and its chart pin is a step by hand (the newest charted "
                 f"version of its line is {chosen.version})")  # fmt: skip
    else:
        title = (f"Newer {knowledge.display_name} patches exist but ship in no {knowledge.chart.name} chart: the plan "
                 "stops at charted versions")  # fmt: skip
    return [
        make_finding(
            code=f"{knowledge.prefix}-PATCH-NOT-CHARTED",
            severity="high" if missing_fix else "low",
            category="security" if missing_fix else "inventory",
            title=title,
            agent=AGENT,
            subject=Subject(tool=knowledge.tool, version=choice.target, cluster=",".join(clusters)),
            evidence=evidence,
            detail=f"{', '.join(clusters)} {'runs' if len(clusters) == 1 else 'run'} {knowledge.display_name} from the "
            f"{knowledge.chart.name} chart ({knowledge.chart.repository}), whose versions differ from "
            f"{knowledge.display_name}'s; each chart ships one {knowledge.display_name} version (its appVersion). "
            f"{listed}.",
            remediation=(
                f"Check `helm search repo {knowledge.chart.name} --versions` (the table is from {table}) for a chart "
                f"released since that ships a newer patch, and plan again with --to that version."
                + (
                    f" Until one does, pin a chart of the line by hand and override its image tag to {chosen.wanted} "
                    "(the chart's values document the image tag), or weigh the advisory against waiting."
                    if missing_fix and chosen is not None
                    else ""
                )  # fmt: skip
            ),
            sources=[table, knowledge.chart.source],
        )
    ]
