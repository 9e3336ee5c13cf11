"""The health use case: is a cluster in an incident now, and what is new since a recorded read?

`upgradectl health` is the pre-flight a plan's rollout stage starts with (like `flux check --pre`) and the
check after each hop (`--baseline` the pre-flight's `--out` file): exit 0 when clear, 1 on an incident or
on a problem that is new since the baseline, 3 when part of the health could not be read (alerts source
down, cluster unreachable) and nothing is wrong in what was read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from upgradectl.app.errors import UseCaseError
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK
from upgradectl.tools.cluster.fleet import Fleet, FleetError, default_live_opener, load_fleet
from upgradectl.tools.cluster.health import ClusterHealth, HealthSignal, fleet_cluster_health, new_since


@dataclass
class HealthRequest:
    fleet: str = "demo"
    clusters: list[str] = field(default_factory=list)  # empty: every cluster of the fleet
    baseline: Path | None = None  # a previous `--out` file: judge what is new since then
    alerts_timeout: float = 10.0


@dataclass
class ClusterVerdict:
    health: ClusterHealth
    new: list[HealthSignal] = field(default_factory=list)  # with a baseline: gating signals new since then
    verdict: str = "clear"  # clear | incident | new-problems | incomplete

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "health": self.health.to_dict(),
                "new": [s.__dict__ for s in self.new]}  # fmt: skip


@dataclass
class HealthResult:
    fleet: str
    clusters: list[ClusterVerdict]

    @property
    def exit_code(self) -> int:
        verdicts = {c.verdict for c in self.clusters}
        if verdicts & {"incident", "new-problems"}:
            return EXIT_BLOCKERS
        return EXIT_INCOMPLETE if "incomplete" in verdicts else EXIT_OK

    def baseline_document(self) -> dict:
        """What `--out` writes and `--baseline` reads back."""
        return {"fleet": self.fleet, "clusters": {c.health.cluster: c.health.to_dict() for c in self.clusters}}

    def to_dict(self) -> dict:
        return {"fleet": self.fleet, "exit_code": self.exit_code,
                "clusters": {c.health.cluster: c.to_dict() for c in self.clusters}}  # fmt: skip


def read_baseline(path: Path) -> dict[str, ClusterHealth]:
    """A previous --out file, per cluster (a usage error when it is not one)."""
    try:
        document = json.loads(path.read_text())
        return {name: ClusterHealth.from_dict(data) for name, data in document["clusters"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UseCaseError(
            f"--baseline {path}: not a health file written by `upgradectl health --out` ({exc})"
        ) from None


def judge(health: ClusterHealth, before: ClusterHealth | None) -> ClusterVerdict:
    """Incident first; then, with a baseline, anything new that counts for the gate; then unread parts."""
    if health.incident and before is None:
        return ClusterVerdict(health, verdict="incident")
    if before is not None:
        new = new_since(before, health)
        if new:
            return ClusterVerdict(health, new, "new-problems")
        if health.incident:  # the same incident as at the baseline: still not clear to go on
            return ClusterVerdict(health, verdict="incident")
    return ClusterVerdict(health, verdict="incomplete" if health.problems else "clear")


def check_health(request: HealthRequest, fleet: Fleet | None = None) -> HealthResult:
    """Read every requested cluster's health (and compare it with the baseline, if given)."""
    if request.alerts_timeout <= 0:
        raise UseCaseError(f"--timeout {request.alerts_timeout}: must be positive")
    if fleet is None:
        try:
            fleet = load_fleet(request.fleet, live_opener=default_live_opener)
        except FleetError as exc:
            raise UseCaseError(str(exc)) from None
    unknown = [c for c in request.clusters if c not in fleet.clusters]
    if unknown:
        raise UseCaseError(f"unknown cluster(s) {', '.join(unknown)}; the fleet has {', '.join(fleet.clusters)}")
    baseline = read_baseline(request.baseline) if request.baseline else {}
    missing = [c for c in request.clusters or fleet.clusters if baseline and c not in baseline]
    if missing:
        raise UseCaseError(f"--baseline {request.baseline} has no record of {', '.join(missing)}")
    verdicts = []
    for name in request.clusters or list(fleet.clusters):
        health = fleet_cluster_health(fleet, name, alerts_timeout=request.alerts_timeout)
        verdicts.append(judge(health, baseline.get(name)))
    return HealthResult(request.fleet, verdicts)
