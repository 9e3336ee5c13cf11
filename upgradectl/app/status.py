"""The status use case: the fleet board (cluster x tool) that `upgradectl status` prints, with its exit code.

Exit 0 when every installed tool runs a supported line that fits its cluster's Kubernetes and no environment runs
ahead of the one before it; 1 (EXIT_BLOCKERS) otherwise, for CI schedules; 3 when a cluster could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from upgradectl.app.errors import UseCaseError
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK
from upgradectl.tools.analysis.status import StatusBoard, build_board
from upgradectl.tools.cluster.fleet import FleetError, open_fleet, unknown_clusters_message
from upgradectl.tools.knowledge.freshness import ClockError, today
from upgradectl.tools.knowledge.loader import KnowledgeError, products


@dataclass(frozen=True)
class StatusRequest:
    """Which fleet (and optionally which of its clusters) to show."""

    fleet: str = "demo"
    clusters: list[str] | None = None
    kubeconfig: str = ""


def exit_code(board: StatusBoard) -> int:
    """1 when something is out of support, incompatible or drifted; else 3 when a cluster was not read; else 0."""
    if board.failing:
        return EXIT_BLOCKERS
    return EXIT_INCOMPLETE if board.unread else EXIT_OK


def status(request: StatusRequest) -> StatusBoard:
    """The board for the fleet; UseCaseError (exit 2) for a fleet, cluster name or knowledge file that is wrong."""
    try:
        fleet = open_fleet(request.fleet, kubeconfig=request.kubeconfig)
        unknown = [c for c in request.clusters or [] if c not in fleet.clusters]
        if unknown:
            raise UseCaseError(unknown_clusters_message(unknown, fleet.clusters))
        return build_board(fleet, products(), today(), request.clusters)
    except (FleetError, KnowledgeError, ClockError) as exc:
        raise UseCaseError(str(exc)) from None
