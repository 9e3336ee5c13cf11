"""The scan tool: the scan use case `upgradectl scan` runs (app/scan.py), results bounded."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from upgradectl.app.scan import ScanRequest
from upgradectl.app.scan import scan as run_scan
from upgradectl.mcp_server.guard import tool_call
from upgradectl.mcp_server.planning import Limit
from upgradectl.mcp_server.results import ScanResult, ScanUsage, clip
from upgradectl.mcp_server.roots import confine, confine_fleet
from upgradectl.tools.analysis.scanner import EXIT_FOR_STATUS

ScanStatus = Literal["deprecated", "removed", "stored", "replacement-unavailable"]


def scan(
    fleet: Annotated[
        str | None,
        Field(description="Scan the fleet's clusters (objects and CRD stored versions): 'demo' or a fleet.yaml path."),
    ] = None,
    manifests: Annotated[
        list[str] | None,
        Field(description="Directories or files of manifests to scan (GitOps repo, Kustomize overlays)."),
    ] = None,
    clusters: Annotated[list[str] | None, Field(description="Only these clusters of the fleet.")] = None,
    helm: Annotated[bool, Field(description="Also scan Helm release manifests decoded from the clusters.")] = False,
    target: Annotated[
        str,
        Field(
            description="Target versions per component, e.g. 'k8s=1.30,karpenter=1.0.10,flux=2.7'. Default: "
            "every component's newest known version."
        ),
    ] = "",
    status: Annotated[ScanStatus | None, Field(description="List only usages with this status.")] = None,
    cluster: Annotated[str | None, Field(description="List only usages on this cluster.")] = None,
    limit: Limit = 25,
) -> ScanResult:
    """Find Kubernetes and tool APIs that a target version deprecates or removes (like Pluto, plus CRD
    stored versions and Helm release manifests).

    Use before a Kubernetes or tool upgrade to see which objects, manifests (file:line) and releases still
    use an API that is going away, and what replaces it. Give fleet and/or manifests. Returns counts by
    status, the scanned totals, notes about what was skipped or could not be read, Pluto's exit code (0 none,
    1 a manifest, cluster or release could not be read, 2 deprecated, 3 removed or still stored, 4 replacement
    not served yet) and up to `limit` usages, worst first. Paths must lie under the server's roots.
    """
    with tool_call("scan"):
        if not fleet and not manifests:
            raise ToolError("nothing to scan: pass fleet ('demo' or a fleet.yaml path) and/or manifests (directories)")
        if helm and not fleet:
            raise ToolError("helm=true reads Helm release secrets from clusters: pass fleet too")
        wanted = ScanRequest(
            target=target, manifests=[confine(m, "manifests") for m in manifests or []],
            fleet=confine_fleet(fleet) if fleet else None, clusters=clusters, helm=helm,
        )  # fmt: skip
        report = run_scan(wanted)
        rows = sorted(report.usages, key=lambda u: (-EXIT_FOR_STATUS[u.status], u.rule.component, u.location))
        matching = [
            u for u in rows if (status is None or u.status == status) and (cluster is None or u.cluster == cluster)
        ]
        shown = matching[:limit]
        truncated = len(shown) < len(matching)
        return ScanResult(
            targets=report.targets,
            scanned=report.scanned,
            exit_code=report.exit_code,
            by_status=dict(Counter(u.status for u in rows)),
            matching=len(matching),
            shown=[
                ScanUsage(
                    status=u.status,
                    component=u.rule.component,
                    api_version=u.rule.api_version,
                    kind=u.rule.kind,
                    name=u.name,
                    location=clip(u.location, 200),
                    removed_in=u.rule.removed_in,
                    replacement=u.rule.replacement,
                )
                for u in shown
            ],
            notes=[clip(n, 300) for n in report.notes[:20]],
            truncated=truncated,
            note=(
                f"{len(matching)} usages match, first {len(shown)} shown; narrow with status='removed' or "
                "cluster='<name>', or run `upgradectl scan ... --format json` for all of them"
                if truncated
                else ""
            ),
        )
