"""Support windows as the projects document them, and what plans say about them.

Expectations come from the upstream policies (quoted per test), the release dates of the upstream tags
and chart indexes, and the LTS end dates upstream publishes, not from upgradectl's output.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

from upgradectl.app.plan import run_graph
from upgradectl.graph.state import RunContext
from upgradectl.tools.analysis.detectors import ScanInput, run_detector
from upgradectl.tools.cluster.fleet import load_fleet
from upgradectl.tools.cluster.sources import SnapshotCluster
from upgradectl.tools.knowledge.freshness import knowledge_info
from upgradectl.tools.knowledge.loader import available_tools, load_tool
from upgradectl.tools.knowledge.support import kubernetes_opening, line_support, supported_lines

DEMO = Path(str(resources.files("upgradectl") / "demo_fleet"))
DAY = date(2026, 12, 5)


def lines(tool: str, on: date = DAY) -> list[str]:
    return [r.line for r in supported_lines(load_tool(tool), on) or []]


def test_every_tool_states_its_date_policy_and_upstream():
    for tool in available_tools():
        k = load_tool(tool)
        assert k.as_of and k.support is not None and k.support.source and k.upstream is not None, tool


def test_newest_three_minors_for_argocd_cilium_and_flux():
    # Argo CD: "Only the three most recent minor versions are eligible for patch releases" (release-process doc)
    assert lines("argocd") == ["3.5", "3.4", "3.3"]
    # Cilium: the current minor plus "the prior two minor versions" get fixes (backport criteria); 1.20.0 is out
    assert lines("cilium") == ["1.20", "1.19", "1.18"]
    # Flux: "we support the last three minor releases" (releases/_index.md)
    assert lines("flux") == ["2.9", "2.8", "2.7"]
    assert "not one of the newest 3" in line_support(load_tool("flux"), "2.6", DAY).reason


def test_karpenter_regular_minors_until_the_next_and_lts_minors_until_their_published_end():
    # regular releases "are supported only until the next minor release"; v1.9 (LTS) "supported until Feb 2027",
    # v1.14 (LTS) "Supported until Jul 2027"; 1.15 is the newest release
    assert lines("karpenter") == ["1.15", "1.14", "1.9"]
    assert lines("karpenter", date(2027, 3, 1)) == ["1.15", "1.14"]
    assert line_support(load_tool("karpenter"), "1.13", DAY).status == "ended"


def test_victoriametrics_lts_lines_get_twelve_months_from_their_first_release():
    # LTS-releases.md: 12 months of fixes per LTS line; v1.136.0 released 2026-02-13, v1.148.0 2026-07-20
    assert lines("victoriametrics") == ["1.150", "1.148", "1.136"]
    assert lines("victoriametrics", date(2027, 2, 14)) == ["1.150", "1.148"]
    assert line_support(load_tool("victoriametrics"), "1.122", DAY).status == "ended"


def test_the_kubernetes_upgrade_that_opens_a_supported_flux_line_for_a_129_fleet():
    # Flux 2.7 supports Kubernetes 1.32-1.34 and is the oldest supported line: 1.32 is the smallest upgrade
    opening = kubernetes_opening(load_tool("flux"), {"a": "1.29.6", "b": "1.30.5"}, DAY)
    assert opening is not None and opening.release.line == "2.7" and str(opening.kube_range) == "1.32-1.34"
    assert opening.behind == {"a": "1.29", "b": "1.30"}


def test_knowledge_age_and_staleness():
    k = load_tool("flux")
    fresh = knowledge_info(k, date.fromisoformat(k.as_of))
    assert fresh.age_days == 0 and not fresh.stale and not fresh.warnings
    old = knowledge_info(k, date(2027, 3, 1))
    assert old.stale and old.age_days == (date(2027, 3, 1) - date.fromisoformat(k.as_of)).days
    assert "run `upgradectl knowledge refresh`" in old.warnings[0]


def test_crds_installed_by_the_main_chart_are_flagged_for_karpenter_crd_adoption():
    """Helm refuses to install karpenter-crd over CRDs without its ownership metadata (Karpenter troubleshooting
    'Helm Error When Installing the karpenter-crd Chart'); the demo clusters' CRDs came from the main chart."""
    change = next(c for c in load_tool("karpenter").breaking_changes if c.id == "KARP-CRD-CHART-ADOPTION")
    source = SnapshotCluster(DEMO / "clusters" / "ravan")
    (hit,) = run_detector(change.detector, ScanInput(clusters={"ravan": source}, releases={}))
    assert hit.subject.cluster == "ravan"
    assert hit.evidence.excerpt.startswith("3 not owned by Helm release karpenter-crd")
    for name in ("provisioners.karpenter.sh", "machines.karpenter.sh", "awsnodetemplates.karpenter.k8s.aws"):
        assert name in hit.evidence.excerpt


def plan(tool: str, to: str | None = None, trigger: str = "feature", on: date = DAY):
    context = RunContext(fleet=load_fleet("demo"), fleet_ref="demo", today=on)
    return run_graph({"tool": tool, "trigger": trigger, **({"to": to} if to else {})}, context)[0]


def test_named_out_of_support_targets_say_so():
    flux = plan("flux", "2.6")
    (finding,) = [f for f in flux.findings if f.code == "FLUX-TARGET-LINE-UNSUPPORTED"]
    assert finding.severity == "medium" and "2.9, 2.8, 2.7" in finding.title  # named: planned as asked
    assert "upgrade Kubernetes" in finding.remediation and "2.7" in finding.remediation
    assert flux.knowledge.as_of == load_tool("flux").as_of and flux.knowledge.age_days is not None
    argocd = plan("argocd", "3.0")
    assert [f.severity for f in argocd.findings if f.code == "ARGO-TARGET-LINE-UNSUPPORTED"] == ["medium"]
    assert "OUT OF SUPPORT" in argocd.summary


def test_a_plan_on_stale_knowledge_warns():
    later = plan("cilium", on=date(2027, 6, 1))
    assert later.knowledge.stale and later.knowledge.warnings
    assert later.knowledge.age_days == (date(2027, 6, 1) - date.fromisoformat(load_tool("cilium").as_of)).days
