"""Each specialist's playbook on the demo fleet, called directly: what it finds and what it says it checked."""

from __future__ import annotations

import pytest

from upgradectl.agents.base import FleetView, TaskInput
from upgradectl.agents.inventory import PlanningError, take_inventory
from upgradectl.agents.registry import TASKS, task
from upgradectl.agents.request import parse_request
from upgradectl.graph.decision import assess_risk, choose_track, make_decision
from upgradectl.tools.analysis.inventory import tool_release
from upgradectl.tools.cluster.fleet import load_fleet
from upgradectl.tools.knowledge.loader import load_tool


@pytest.fixture(scope="module")
def karpenter_input() -> TaskInput:
    fleet = load_fleet("demo")
    request = parse_request("Karpenter needs upgrade for better bin packing and cost optimization")
    k = load_tool("karpenter")
    inventory = take_inventory(request, fleet, k)
    t = TaskInput(
        request=request, fleet=fleet, view=FleetView(fleet), knowledge=k, scope=inventory.scope,
        releases={c.info.name: tool_release(k, c.source) for c in inventory.scope},
        versions=inventory.versions, target=inventory.target, paths=inventory.paths,
        findings=list(inventory.findings),
    )
    for stage in (1, 2, 3):  # what stages 4-5 build on
        for spec in [s for s in TASKS if s.stage == stage]:
            result = spec.playbook(t)
            t.findings.extend(result.findings)
            t.hop_gates.update(result.hop_gates)
    track, reasons = choose_track(request.trigger)
    t.decision = make_decision(track, reasons, assess_risk(t.findings, [], 5), False)
    return t


def run(t: TaskInput, task_id: str):
    return task(task_id).playbook(t)


def by_code(findings, code):
    return [f for f in findings if f.code == code]


def test_inventory_scope_versions_and_gke_exclusion(karpenter_input):
    assert sorted(c.info.name for c in karpenter_input.scope) == ["dev-apps", "eks-staging-apps", "ravan"]
    assert {p.from_version for p in karpenter_input.paths} == {"0.31.3", "0.31.5"}


def test_inventory_refuses_a_tool_nobody_runs():
    fleet = load_fleet("demo")
    request = parse_request("", tool="karpenter", clusters=["gke-staging-apps"])
    with pytest.raises(PlanningError, match="no cluster in scope runs Karpenter"):
        take_inventory(request, fleet, load_tool("karpenter"))


def test_flux_navigator_breaking_changes(karpenter_input):
    result = run(karpenter_input, "breaking-changes")
    configmaps = by_code(result.findings, "KARP-GLOBAL-SETTINGS-CONFIGMAP")
    assert {f.subject.cluster for f in configmaps} == {"ravan", "eks-staging-apps", "dev-apps"}
    gitops = [f for f in by_code(result.findings, "KARP-V1ALPHA5-PROVISIONER") if f.subject.file]
    assert {f.subject.file for f in gitops} >= {"infrastructure/karpenter/ravan/provisioner-default.yaml"}
    assert all(f.evidence[0].source == "gitops" and f.subject.line > 0 for f in gitops)
    assert any("hit(s)" in c for c in result.checked)


def test_flux_navigator_helm_values_and_crd_chart(karpenter_input):
    result = run(karpenter_input, "helm-and-crds")
    renamed = {(f.subject.cluster, f.subject.helm_value_path) for f in by_code(result.findings,
                                                                               "KARP-HELM-VALUE-RENAMED")}
    assert ("ravan", "settings.featureGates.driftEnabled") in renamed
    assert ("eks-staging-apps", "settings.featureGates.driftEnabled") not in renamed  # not set there
    assert len(by_code(result.findings, "KARP-CRD-CHART-MISSING")) == 3


def test_terraform_auditor_finds_the_spot_request_tagging_gap(karpenter_input):
    result = run(karpenter_input, "terraform-compatibility")
    gaps = by_code(result.findings, "KARP-IAM-MISSING-ACTIONS")
    assert any("0.33" in f.subject.version for f in gaps)
    assert all(e.source in ("terraform", "knowledge") for f in gaps for e in f.evidence)
    assert any("pinned at v0.31.3" in c and "ravan.tfvars" in c for c in result.checked)


def test_argo_troubleshooter_node_cycling_victims(karpenter_input):
    result = run(karpenter_input, "application-impact")
    jobs = by_code(result.findings, "WORKLOAD-LONG-RUNNING-JOB")
    assert [(f.subject.cluster, f.subject.name) for f in jobs] == [("ravan", "search-reindex")]
    pdbs = {(f.subject.cluster, f.subject.namespace, f.subject.name)
            for f in by_code(result.findings, "WORKLOAD-PDB-BLOCKS-DRAIN")}
    assert ("ravan", "payments", "payments-api") in pdbs
    assert ("dev-apps", "checkout", "checkout-api") in pdbs  # minAvailable 1 on a single replica
    assert ("ravan", "checkout", "checkout-api") not in pdbs  # minAvailable 2 of 3 still allows one
    annotated = by_code(result.findings, "KARP-DO-NOT-EVICT-ANNOTATION")
    assert [(f.subject.kind, f.subject.name) for f in annotated] == [("Job", "ledger-export")]


def test_monitoring_analyst_cost_and_dashboards(karpenter_input):
    cost = run(karpenter_input, "cost-opportunities")
    low = {f.subject.cluster for f in by_code(cost.findings, "KARP-BINPACKING-LOW")}
    assert "ravan" in low
    dashboards = run(karpenter_input, "monitoring-integration")
    panels = [f for f in dashboards.findings if f.subject.file.endswith("karpenter-capacity.json")]
    assert any(f.subject.metric == "karpenter_nodes_created" and "panel" in f.evidence[0].ref for f in panels)


def test_incident_responder_rollback_limits_and_rollout(karpenter_input):
    limits = run(karpenter_input, "rollback-design")
    assert {f.subject.version for f in by_code(limits.findings, "KARP-ROLLBACK-LIMIT")} >= {"0.32.0", "1.1.0"}
    karpenter_input.hop_gates.update(run(karpenter_input, "monitoring-preparation").hop_gates)
    prod = run(karpenter_input, "rollout-prod").rollout[0]
    assert prod.clusters == ["ravan"] and prod.approval_required
    assert prod.gates and prod.rollback_steps
    first = prod.rollback_steps[0]  # newest hop undone first, back to its from-version
    assert (first.kind, first.cluster) == ("rollback", "ravan")
    assert (first.from_version, first.to_version) == ("1.0.14", "1.14.3")
    assert first.title == "ravan: if 1.0.14 -> 1.14.3 fails: revert its commit (back to 1.0.14)"


def test_every_task_says_what_it_checked(karpenter_input):
    for spec in TASKS:
        result = spec.playbook(karpenter_input)
        assert result.checked, f"{spec.id} returned no checked lines"
        for f in result.findings:
            assert f.agent == spec.agent and f.evidence
