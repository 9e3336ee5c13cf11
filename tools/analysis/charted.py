"""Versions a Helm chart ships: a tool installed from a chart can only be moved to an application version that
some chart version of its repository carries (the chart's appVersion), so targets and hops are chosen among
those. Read from the knowledge file's chart table (`chart.chart_to_app`, from the repository's index.yaml);
a chart that follows the application (`app_version_mapping: same`) ships every version.
"""

from __future__ import annotations

from dataclasses import dataclass

from upgradectl.tools.analysis.inventory import Installation
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.versions import Version


@dataclass(frozen=True)
class ChartedTarget:
    """The target a chart install can reach, and what the chart table says about the version asked for."""

    version: str
    wanted: str  # the version the request or policy chose before the chart was considered
    chart_version: str  # the chart that ships `version`
    missing_fix: bool  # a security target: `version` is older than the fix wanted (no chart ships the fix)

    @property
    def changed(self) -> bool:
        return self.version != self.wanted


def ships(knowledge: ToolKnowledge, version: str) -> bool:
    """Whether a chart of the tool's repository ships this application version."""
    return knowledge.chart.app_version_mapping == "same" or bool(knowledge.chart_version_for(version))


def from_table_chart(knowledge: ToolKnowledge, found: Installation) -> bool:
    """Whether an installation runs the knowledge file's chart and that chart's versions are not the application's
    (another chart of the tool, e.g. victoria-metrics-single, has a version line of its own)."""
    return (
        knowledge.chart.app_version_mapping == "table"
        and bool(found.chart_version)
        and found.chart_name == knowledge.chart.name
    )


def shipped_versions(knowledge: ToolKnowledge) -> list[str]:
    """Every application version the chart table (or a release's chart_version) ships, oldest first; only
    versions of release lines the knowledge base covers, none it says to avoid."""
    found = {Version.parse(app) for app in knowledge.chart.chart_to_app.values()}
    found |= {Version.parse(r.latest_patch) for r in knowledge.releases if r.chart_version}
    usable = []
    for version in sorted(found):
        release = knowledge.release(str(version))
        if release is not None and str(version) not in release.avoid and release.notes_reviewed:
            usable.append(str(version))
    return usable


def newest_shipped_patch(knowledge: ToolKnowledge, line: str) -> str:
    """The newest patch of a line that a chart ships ('' when none does); the line's latest patch when the chart
    follows the application."""
    release = knowledge.release(line)
    if release is None:
        return ""
    if knowledge.chart.app_version_mapping == "same":
        return release.latest_patch
    in_line = [v for v in shipped_versions(knowledge) if Version.parse(v).line == Version.parse(line).line]
    return in_line[-1] if in_line else ""


def describe(knowledge: ToolKnowledge, target: ChartedTarget) -> str:
    """One sentence for the target reason: which version ships in no chart and what is planned instead."""
    chart = knowledge.chart.name
    text = (
        f"{target.wanted} ships in no {chart} chart of the knowledge base's chart "
        f"table{' (' + knowledge.chart.table_source + ')' if knowledge.chart.table_source else ''}; planned to "
        f"{target.version}, the "
        f"{'smallest' if Version.parse(target.version) > Version.parse(target.wanted) else 'newest'} version any "
        f"{chart} chart ships (chart {knowledge.chart.spell(target.chart_version)})"
    )
    if target.missing_fix:
        text += (
            f"; SECURITY: {target.version} is older than {target.wanted} and may lack the fixes released since: "
            f"no {chart} chart ships a fixed {knowledge.display_name} yet"
        )
    return text
