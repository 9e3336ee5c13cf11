"""Combined plans as a user runs them: several tools in one plan, and a Kubernetes upgrade with the tools it needs
first; both proven by `verify-plan`, and a reordered rollout caught by it.

Expectations from upstream compatibility pages (cited by the knowledge files) and the demo fleet's snapshots:
Karpenter 0.31 (ravan, dev-apps, eks-staging-apps) supports Kubernetes up to 1.28, Cilium 1.14 up to 1.27, Flux 2.2
up to 1.29, Argo CD 2.10 (keystone) up to 1.28: each blocks 1.30 and 1.31 on the EKS clusters.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from run_cli import plan, upgradectl

DATA = Path(__file__).resolve().parents[1] / "data"
DEMO_FLEET = Path(__file__).resolve().parents[2] / "upgradectl" / "demo_fleet"

TODAY = {"UPGRADECTL_TODAY": "2026-12-06"}


@pytest.fixture(scope="module")
def kubernetes_131() -> dict:
    """The demo fleet's plan for Kubernetes 1.31 (two tests read it)."""
    return plan("upgrade kubernetes to 1.31", "--fleet", "demo", "--llm", "off", env=TODAY)


def _verify(tmp_path, planned: dict, name: str):
    path = tmp_path / name
    path.write_text(json.dumps(planned))
    return upgradectl("verify-plan", str(path), "--no-fetch-charts", env=TODAY)


def test_two_tools_in_one_plan_with_both_paths_and_one_rollout(tmp_path):
    planned = plan("upgrade Cilium and Karpenter", "--fleet", "demo", "--llm", "off", env=TODAY)
    assert planned["kind"] == "multi-tool"
    assert [s["request"]["tool"] for s in planned["sections"]] == [o["tool"] for o in planned["order"]]
    assert {o["tool"] for o in planned["order"]} == {"cilium", "karpenter"}
    sections = {s["request"]["tool"]: s for s in planned["sections"]}
    assert sections["cilium"]["paths"][0]["from_version"] == "1.14.5"
    assert {p["from_version"] for p in sections["karpenter"]["paths"]} == {"0.31.3", "0.31.5"}
    assert [stage["environment"] for stage in planned["rollout"]] == ["dev", "staging", "prod"]
    dev = [step["title"] for step in planned["rollout"][0]["steps"]]
    last_cilium = max(i for i, t in enumerate(dev) if t.startswith("[cilium]"))
    assert all(t.startswith("[karpenter]") for t in dev[last_cilium + 1:])  # one tool after the other
    levels = {s["decision"]["risk"]["level"] for s in planned["sections"]}
    order = ["low", "medium", "high", "critical"]
    assert planned["decision"]["risk"]["level"] == max(levels, key=order.index)
    assert not planned["verification"]["violations"]
    checked = _verify(tmp_path, planned, "multi.json")
    assert checked.returncode == 0, checked.stdout
    same = upgradectl("plan", "--tool", "cilium,karpenter", "--fleet", "demo", "--llm", "off", "--format", "json",
                      env=TODAY)
    assert [o["tool"] for o in json.loads(same.stdout)["order"]] == ["cilium", "karpenter"]


def test_a_combination_that_cannot_be_planned_is_a_usage_error():
    both = upgradectl("plan", "upgrade Cilium and Karpenter", "--to", "1.16", "--llm", "off")
    assert both.returncode == 2 and "names 2 tools" in both.stderr and "Traceback" not in both.stderr
    no_target = upgradectl("plan", "upgrade kubernetes", "--llm", "off")
    assert no_target.returncode == 2 and "target minor" in no_target.stderr


def test_kubernetes_131_lists_the_blocking_tools_per_eks_cluster_in_a_supported_order(tmp_path, kubernetes_131):
    planned = copy.deepcopy(kubernetes_131)  # the test reorders its rollout
    assert planned["kind"] == "kubernetes" and planned["kubernetes"]["target"] == "1.31"
    blockers = {(b["cluster"], b["tool"]): b for b in planned["kubernetes"]["blockers"] if b["when"] == "before"}
    for cluster in ("dev-apps", "eks-staging-apps", "ravan"):
        assert {"karpenter", "cilium", "flux"} <= {t for c, t in blockers if c == cluster}
    assert blockers[("keystone", "argocd")]["needed_version"].startswith("3.0.")  # 3.0 supports 1.29-1.32
    assert blockers[("ravan", "cilium")]["needed_version"].startswith("1.17.")  # 1.16 stops at 1.30
    assert blockers[("ravan", "flux")]["needed_version"].startswith("2.4.")  # 2.5 starts at 1.30
    hops = [(h["from_version"], h["to_version"]) for h in planned["kubernetes"]["hops"] if h["cluster"] == "ravan"]
    assert hops == [("1.29", "1.30"), ("1.30", "1.31")]  # one minor at a time
    prod = [s for s in planned["rollout"] if s["environment"] == "prod"][0]["steps"]
    first_control_plane = next(i for i, s in enumerate(prod) if s["title"].startswith("[kubernetes] ravan: control"))
    assert "aws eks update-cluster-version" in prod[first_control_plane]["commands"][0]
    assert "--kubernetes-version 1.30" in prod[first_control_plane]["commands"][0]
    last_control_plane = max(i for i, s in enumerate(prod) if s["title"].startswith("[kubernetes]"))
    control_plane = prod[first_control_plane - 1:last_control_plane + 1]
    assert all(s["title"].startswith("[kubernetes]") for s in control_plane)  # tools first, then the control plane
    assert not planned["verification"]["violations"]
    assert _verify(tmp_path, planned, "k8s.json").returncode == 0
    prod.insert(0, prod.pop(first_control_plane))  # the control plane before the tools: caught
    broken = _verify(tmp_path, planned, "reordered.json")
    assert broken.returncode == 1 and "kubernetes-order" in broken.stdout
    assert "karpenter 0.31.3 on ravan" in broken.stdout


def test_tools_whose_newer_line_needs_the_new_kubernetes_move_after_the_control_plane(tmp_path, kubernetes_131):
    # Cilium's compatibility page: 1.18 supports Kubernetes 1.30-1.33 (not the demo clusters' 1.29); Flux's supported
    # versions: 2.5 starts at 1.30. Both can move past their "before" release only once the control plane runs 1.31.
    planned = copy.deepcopy(kubernetes_131)  # the test reorders its rollout
    later = {(b["cluster"], b["tool"]): b for b in planned["kubernetes"]["blockers"] if b["when"] == "after"}
    first = {(b["cluster"], b["tool"]): b for b in planned["kubernetes"]["blockers"] if b["when"] == "before"}
    assert later[("ravan", "cilium")]["needed_version"].startswith("1.18.")
    assert not later[("ravan", "flux")]["needed_version"].startswith(("2.2.", "2.3.", "2.4."))
    for key, blocker in later.items():
        low = tuple(int(p) for p in blocker["needed_kubernetes_range"].split("-")[0].split("."))
        assert low > (1, 29), key  # needs more than the cluster runs today
        if key in first:  # it starts where its first move leaves it
            assert f"from {first[key]['needed_version']}" in blocker["reason"]
    pairs = zip(planned["order"], planned["sections"], strict=True)
    after_sections = [(o, s) for o, s in pairs if o["after_control_plane"]]
    assert {o["tool"] for o, _ in after_sections} >= {"cilium", "flux"}
    cilium_after = next(s for o, s in after_sections if o["tool"] == "cilium")
    assert {p["from_version"] for p in cilium_after["paths"]} == {first[("ravan", "cilium")]["needed_version"]}
    prod = [s for s in planned["rollout"] if s["environment"] == "prod"][0]["steps"]
    ravan_hops = [i for i, s in enumerate(prod) if s["title"].startswith("[kubernetes] ravan: control plane")]
    ravan_after = [i for i, s in enumerate(prod) if s["title"].startswith("[cilium] ravan: Cilium 1.17")
                   and s["to_version"].startswith("1.18.")]
    assert ravan_after and min(ravan_after) > max(ravan_hops)  # in the after slot
    # its Git edit starts from what the first move wrote (1.17.x), not from what Git holds today (1.14.5)
    edit = next(e for i in ravan_after for e in prod[i]["edits"] if e["purpose"] == "chart-version")
    assert edit["old"] == first[("ravan", "cilium")]["needed_version"]
    assert not planned["verification"]["violations"]
    assert _verify(tmp_path, planned, "after.json").returncode == 0
    step = prod.pop(min(ravan_after))
    prod.insert(0, step)  # Cilium 1.18 before the control plane: caught
    broken = _verify(tmp_path, planned, "after-moved.json")
    assert broken.returncode == 1 and "kubernetes-order" in broken.stdout and "1.18." in broken.stdout


def test_a_manifest_that_stops_validating_at_the_target_is_a_finding_with_its_file_and_line(tmp_path):
    # the deprecation guide: Kubernetes 1.32 no longer serves flowcontrol.apiserver.k8s.io/v1beta3; the demo
    # clusters run 1.29, where it is served. The FlowSchema is kube-no-trouble's fixture (tests/data/README.md).
    fleet = tmp_path / "fleet"
    shutil.copytree(DEMO_FLEET, fleet)
    shutil.copy(DATA / "kube-no-trouble" / "fixtures" / "flowschema-v1beta3.yaml",
                fleet / "infra-flux" / "clusters" / "ravan" / "flowschema-v1beta3.yaml")
    planned = plan("upgrade kubernetes to 1.32", "--fleet", str(fleet / "fleet.yaml"), "--cluster", "ravan",
                   "--llm", "off", env=TODAY)  # fmt: skip
    invalid = [f for f in planned["kubernetes"]["findings"] if f["code"] == "K8S-MANIFEST-INVALID-AT-TARGET"]
    assert [(f["subject"]["kind"], f["evidence"][0]["ref"]) for f in invalid] == [
        ("FlowSchema", "clusters/ravan/flowschema-v1beta3.yaml:1")]
    assert "validates on Kubernetes 1.29 but not on 1.32" in invalid[0]["title"]
    # Flux and Karpenter custom resources are listed as not validated, never silently passed
    assert any("not validated against Kubernetes 1.32" in n and "HelmRelease" in n
               for n in planned["kubernetes"]["schema_notes"])
    same_at_131 = plan("upgrade kubernetes to 1.31", "--fleet", str(fleet / "fleet.yaml"), "--cluster", "ravan",
                       "--llm", "off", env=TODAY)  # fmt: skip
    assert not [f for f in same_at_131["kubernetes"]["findings"] if f["code"] == "K8S-MANIFEST-INVALID-AT-TARGET"]
