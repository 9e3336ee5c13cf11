"""The scan use case: deprecated and removed APIs in manifests, a fleet's clusters and their Helm releases.

`upgradectl scan` and the MCP `scan` tool call `scan`; bad input raises UseCaseError with Pluto's bad-input exit
code (1), since scan keeps Pluto's exit codes for what it finds; a manifest, cluster or release that could not
be read is named in a note and makes the report's exit code 1 too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from upgradectl.app.errors import UseCaseError
from upgradectl.exit_codes import SCAN_BAD_INPUT
from upgradectl.tools.analysis.scanner import ScanError, Scanner, ScanReport, parse_targets, pluto_rules
from upgradectl.tools.cluster.fleet import FleetError, load_fleet, unknown_clusters_message
from upgradectl.tools.cluster.sources import SourceError


@dataclass(frozen=True)
class ScanRequest:
    """What to scan (manifests and/or a fleet's clusters) against which target versions."""

    target: str = ""  # 'k8s=1.30,flux=2.7'; default: every component's newest known version
    manifests: list[Path] = field(default_factory=list)
    fleet: str | None = None
    clusters: list[str] | None = None  # of the fleet (default: all)
    helm: bool = False  # also Helm release manifests decoded from the clusters
    additional_versions: Path | None = None  # extra rules in Pluto's versions.yaml format


def scan(request: ScanRequest) -> ScanReport:
    """Scan; the report's exit_code is Pluto's (0 none, 2 deprecated, 3 removed or stored, 4 no replacement)."""
    if not request.manifests and not request.fleet:
        raise UseCaseError("nothing to scan: pass --manifests DIR and/or --fleet FLEET", SCAN_BAD_INPUT)
    if request.helm and not request.fleet:
        raise UseCaseError("--helm reads Helm release secrets from clusters: add --fleet", SCAN_BAD_INPUT)
    try:
        return _scan(request)
    except (ScanError, FleetError) as exc:
        raise UseCaseError(str(exc), SCAN_BAD_INPUT) from None


def _scan(request: ScanRequest) -> ScanReport:
    extra, extra_targets = pluto_rules(request.additional_versions) if request.additional_versions else ([], {})
    scanner = Scanner(parse_targets(request.target), extra, extra_targets)
    report = ScanReport(targets=scanner.targets)
    for path in request.manifests:
        if not path.exists():
            raise ScanError(f"--manifests {path}: no such file or directory")
        if path.is_dir():
            scanner.scan_manifests(path, report)
        else:
            scanner.scan_manifests(path.parent, report, only=path)
    if request.fleet:
        loaded = load_fleet(request.fleet)
        wanted = request.clusters or list(loaded.clusters)
        unknown = [c for c in wanted if c not in loaded.clusters]
        if unknown:
            raise ScanError(unknown_clusters_message(unknown, loaded.clusters))
        for name in wanted:
            member = loaded.clusters[name]
            if member.source is None:
                report.unread.append(name)
                report.notes.append(f"{name}: not scanned: {member.error}")
                continue
            try:
                scanner.scan_cluster(name, member.source, report, request.helm)
            except SourceError as exc:  # a snapshot file that does not read: that cluster was not (fully) scanned
                report.unread.append(name)
                report.notes.append(f"{name}: not scanned: {exc}")
    return report
