"""The fleet status board (tools/analysis/status.py) on the bundled demo fleet and on hand-made cells.

Expectations come from upstream documents, not from upgradectl's output: Karpenter's compatibility matrix
(aws/karpenter-provider-aws website/content/en/docs/upgrading/compatibility.md: v0.31 supports Kubernetes up to
1.28), Cilium's Kubernetes compatibility page for 1.14 (up to 1.27) and Flux 2.2's install page (1.26-1.29), and the
demo fleet's snapshots (upgradectl/demo_fleet/clusters/*/: ravan's Helm release karpenter-v0.31.3 on EKS 1.29.6).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from upgradectl.tools.analysis.status import StatusCell, _with_drift, build_board
from upgradectl.tools.cluster.fleet import load_fleet
from upgradectl.tools.knowledge.loader import products

TODAY = date(2026, 12, 6)


def _board():
    return build_board(load_fleet("demo"), products(), TODAY)


def test_every_installed_tool_on_every_cluster_has_a_cell():
    board = _board()
    cells = {(c.cluster, c.tool): c for c in board.cells}
    # what the demo snapshots hold: Karpenter on the three EKS workload clusters, Argo CD on keystone only,
    # VictoriaMetrics on monitor only, Flux everywhere
    assert {c for c, t in cells if t == "karpenter"} == {"dev-apps", "eks-staging-apps", "ravan"}
    assert {c for c, t in cells if t == "argocd"} == {"keystone"}
    assert {c for c, t in cells if t == "victoriametrics"} == {"monitor"}
    assert {c for c, t in cells if t == "flux"} == set(load_fleet("demo").clusters)
    assert not board.unread


def test_kubernetes_compatibility_follows_the_upstream_matrices():
    cells = {(c.cluster, c.tool): c for c in _board().cells}
    ravan = cells[("ravan", "karpenter")]
    assert (ravan.version, ravan.kubernetes_version) == ("0.31.3", "1.29.6")
    assert ravan.compatible is False  # Karpenter v0.31: Kubernetes <= 1.28
    assert "incompatible with Kubernetes 1.29.6" in ravan.problems
    assert cells[("ravan", "flux")].compatible is True  # Flux 2.2: 1.26-1.29
    assert cells[("gke-staging-apps", "flux")].compatible is False  # 1.30.5 is above Flux 2.2's 1.29
    assert cells[("ravan", "cilium")].compatible is False  # Cilium 1.14: up to 1.27
    assert cells[("monitor", "victoriametrics")].compatible is None  # VictoriaMetrics publishes no range


def test_support_status_and_its_source():
    cells = {(c.cluster, c.tool): c for c in _board().cells}
    argocd = cells[("keystone", "argocd")]
    # Argo CD patches only its three most recent minors (release-process-and-cadence.md); 2.10 is long past that
    assert argocd.support == "ended" and "argo-cd" in argocd.support_source
    assert "out of support" in argocd.problems
    # keystone runs the argo-cd chart 6.7.11: the newest 3.0 it can reach is what the last 3.0 chart ships, 8.2.7 ->
    # v3.0.12 (argoproj/argo-helm charts/argo-cd/Chart.yaml at argo-cd-8.2.7), not the upstream 3.0.23
    assert argocd.newest_target == "3.0.12" and "3.0.23 ships in no argo-cd chart" in argocd.newest_target_reason


def _cell(cluster: str, environment: str, version: str, managed: bool = False) -> StatusCell:
    return StatusCell(cluster, environment, "eks", "1.30.1", "flux", version, "supported", "", "", "1.30-1.32", True,
                      "", "", "", provider_managed=managed)


def test_prod_ahead_of_staging_is_flagged_staging_ahead_of_prod_is_not():
    cells = _with_drift([_cell("s", "staging", "2.7.5"), _cell("p", "prod", "2.8.1")])
    assert cells[1].drift and "staging soak was skipped" in cells[1].drift
    assert cells[1].problems == ["drift"]
    cells = _with_drift([_cell("s", "staging", "2.8.1"), _cell("p", "prod", "2.7.5")])
    assert not any(c.drift for c in cells)


def test_drift_compares_with_the_nearest_earlier_environment_running_the_tool():
    # no staging cluster runs it: prod is compared with dev
    cells = _with_drift([_cell("d", "dev", "2.7.5"), _cell("p", "prod", "2.8.1")])
    assert "dev soak" in cells[1].drift
    # provider-managed installations move with the cluster, not the team: never drift
    cells = _with_drift([_cell("s", "staging", "2.7.5"), replace(_cell("p", "prod", "2.8.1"), provider_managed=True)])
    assert not cells[1].drift
