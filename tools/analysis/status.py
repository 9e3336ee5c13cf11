"""The fleet status board: per cluster and tool, what runs, whether it is supported and fits the cluster's Kubernetes.

Every cell rests on evidence (the Helm release or workload the version was read from) and on knowledge entries
with their sources (the line's support window, the release's Kubernetes range). Drift between environments is
judged per tool: a later environment running a newer version than every cluster of the environment before it
skipped that environment's soak (prod ahead of staging is flagged; staging ahead of prod is the normal order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from upgradectl.models import ENVIRONMENT_ORDER, Evidence
from upgradectl.tools.analysis.charted import describe, from_table_chart
from upgradectl.tools.analysis.inventory import detect_installation
from upgradectl.tools.analysis.paths import PathError, charted_target, latest_compatible
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.cluster.sources import SourceError
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.knowledge.support import line_support
from upgradectl.tools.versions import Version


@dataclass(frozen=True)
class StatusCell:
    """One tool on one cluster: running version, support, Kubernetes compatibility and drift, with sources."""

    cluster: str
    environment: str
    provider: str
    kubernetes_version: str
    tool: str
    version: str
    support: str  # supported, ended, unknown
    support_reason: str
    support_source: str
    kubernetes_range: str  # the running release's range, '' when the tool publishes none
    compatible: bool | None  # None when the range is not known
    compatibility_source: str
    newest_target: str  # newest release fitting this cluster's Kubernetes (supported lines first)
    newest_target_reason: str
    provider_managed: bool = False
    drift: str = ""  # why this cluster runs ahead of the environment before it; '' when in order
    evidence: tuple[Evidence, ...] = ()

    @property
    def problems(self) -> list[str]:
        """What makes this cell fail a CI schedule: out of support, incompatible, or ahead of an earlier stage."""
        found = []
        if self.support == "ended":
            found.append("out of support")
        if self.compatible is False:
            found.append(f"incompatible with Kubernetes {self.kubernetes_version}")
        if self.drift:
            found.append("drift")
        return found


@dataclass
class StatusBoard:
    """Every cluster x installed tool of a fleet, plus the clusters that could not be read."""

    fleet: str
    today: str
    cells: list[StatusCell] = field(default_factory=list)
    unread: dict[str, str] = field(default_factory=dict)  # cluster -> why it could not be read

    @property
    def failing(self) -> list[StatusCell]:
        return [cell for cell in self.cells if cell.problems]


def _cell(knowledge: ToolKnowledge, cluster, today: date) -> StatusCell | None:
    """The status of tool `k` on one fleet cluster; None when the tool is not installed there."""
    installed = detect_installation(knowledge, cluster.source, cluster.info.name)
    if installed is None:
        return None
    info = cluster.info
    support = line_support(knowledge, installed.version, today)
    release = knowledge.release(installed.version)
    kube_range = release.kube_range_for(installed.version) if release else None
    compatible = kube_range.contains(info.kubernetes_version) if kube_range else None
    kube = {info.name: info.kubernetes_version}
    try:
        target, target_reason = latest_compatible(knowledge, kube, today)
    except PathError as exc:
        target, target_reason = "", str(exc)
    if target and from_table_chart(knowledge, installed):  # the newest a chart of its repository ships, as plans target
        chosen = charted_target(knowledge, target, installed.version, kube)
        if chosen is not None and chosen.changed:
            target, target_reason = chosen.version, f"{target_reason}; {describe(knowledge, chosen)}"
    return StatusCell(
        cluster=info.name,
        environment=info.environment,
        provider=info.provider,
        kubernetes_version=info.kubernetes_version,
        tool=knowledge.tool,
        version=installed.version,
        support=support.status,
        support_reason=support.reason,
        support_source=support.source,
        kubernetes_range=str(kube_range) if kube_range else "",
        compatible=compatible,
        compatibility_source=release.source if release else "",
        newest_target=target,
        newest_target_reason=target_reason,
        provider_managed=installed.provider_managed,
        evidence=installed.evidence,
    )


def _with_drift(cells: list[StatusCell]) -> list[StatusCell]:
    """Flag each cell running a newer version than every cluster of the nearest earlier environment with the tool."""
    flagged = []
    for cell in cells:
        earlier_envs = ENVIRONMENT_ORDER[: ENVIRONMENT_ORDER.index(cell.environment)]
        earlier: list[StatusCell] = []
        for env in reversed(earlier_envs):
            earlier = [c for c in cells if c.tool == cell.tool and c.environment == env and not c.provider_managed]
            if earlier:
                break
        newest = max(earlier, key=lambda c: Version.parse(c.version), default=None)
        if newest is not None and not cell.provider_managed and Version.parse(cell.version) > Version.parse(
            newest.version
        ):
            drift = (
                f"{cell.environment} runs {cell.version}, ahead of every {newest.environment} cluster (newest: "
                f"{newest.cluster} {newest.version}): the {newest.environment} soak was skipped"
            )
            cell = StatusCell(**{**cell.__dict__, "drift": drift})
        flagged.append(cell)
    return flagged


def build_board(fleet: Fleet, products: Iterable[ToolKnowledge], today: date, clusters: list[str] | None = None,
                ) -> StatusBoard:
    """The status board of `fleet` (or of the named clusters) for every product, judged on `today`."""
    board = StatusBoard(fleet=fleet.name, today=today.isoformat())
    ordered = sorted(
        (c for c in fleet.clusters.values() if clusters is None or c.info.name in clusters),
        key=lambda c: (ENVIRONMENT_ORDER.index(c.info.environment), c.info.name),
    )
    knowledge = list(products)
    cells: list[StatusCell] = []
    for cluster in ordered:
        if cluster.source is None:
            board.unread[cluster.info.name] = cluster.error
            continue
        try:
            cells.extend(cell for k in knowledge if (cell := _cell(k, cluster, today)) is not None)
        except SourceError as exc:
            board.unread[cluster.info.name] = str(exc)
    board.cells = _with_drift(cells)
    return board
