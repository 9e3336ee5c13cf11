"""`upgradectl plan --tool <each of the five> --fleet demo`: paths, findings and steps match the
knowledge base's facts (KNOWLEDGE.md sections 1-5), asserted on the CLI's JSON."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from run_cli import plan, upgradectl


def codes(p: dict) -> set[str]:
    return {f["code"] for f in p["findings"]}


def steps_text(p: dict) -> str:
    return json.dumps(p["rollout"])


def test_flux_22_to_latest_compatible_flags_deprecated_apis_in_git_and_storage():
    p = plan("--tool", "flux", "--fleet", "demo")
    assert {v["current_version"] for v in p["versions"]} == {"2.2.3"}
    assert p["target_version"] == "2.4.0"  # 2.5+ needs Kubernetes 1.30, the EKS clusters run 1.29
    deprecated = [f for f in p["findings"] if f["code"] == "FLUX-DEPRECATED-API-IN-USE"]
    files = {f["subject"]["file"] for f in deprecated}
    assert "infrastructure/argocd/helmrelease.yaml" in files  # helm.toolkit v2beta1 in git
    assert "clusters/monitor/apps.yaml" in files  # kustomize.toolkit v1beta2 in git
    stored = {
        (f["subject"]["cluster"], f["subject"]["name"])
        for f in p["findings"]
        if f["code"] == "FLUX-DEPRECATED-STORED-VERSION"
    }
    assert ("keystone", "helmreleases.helm.toolkit.fluxcd.io") in stored
    # the v2beta1 text inside a comment of a migrated file is not a finding
    dev = [f for f in deprecated if f["subject"]["file"] == "infrastructure/cilium/dev-apps/helmrelease.yaml"]
    assert all("v2beta2" in f["subject"]["api_version"] for f in dev)
    unsupported = [f for f in p["findings"] if f["code"] == "FLUX-CURRENT-K8S-UNSUPPORTED"]
    assert [f["subject"]["cluster"] for f in unsupported] == ["gke-staging-apps"]  # 2.2 supports 1.26-1.29


def test_flux_to_27_makes_removals_blocking_and_migrate_a_step():
    p = plan("--tool", "flux", "--to", "2.7", "--fleet", "demo")
    assert "FLUX-HELMRELEASE-V2BETA1-REMOVED" in codes(p)
    assert "FLUX-STORED-HELMRELEASE-V2BETA1" in codes(p)
    stored = [f for f in p["findings"] if f["code"] == "FLUX-STORED-HELMRELEASE-V2BETA1"]
    assert stored[0]["severity"] == "critical"
    assert "flux migrate" in steps_text(p)


def test_argocd_210_to_30_legacy_repos_metrics_and_rollback():
    p = plan("--tool", "argocd", "--to", "3.0", "--fleet", "demo")
    assert [v["current_version"] for v in p["versions"] if v["current_version"]] == ["2.10.7"]
    assert p["target_version"].startswith("3.0.")
    assert {"ARGO-LEGACY-REPO-CONFIG", "ARGO-LEGACY-APP-METRICS-REMOVED", "ARGO-ROLLBACK-LIMIT"} <= codes(p)
    metric = [f for f in p["findings"] if f["code"] == "ARGO-LEGACY-APP-METRICS-REMOVED"]
    assert any(f["subject"]["file"].endswith("argocd-applications.json") for f in metric)
    # keystone's argo-cd release is reconciled by the Flux HelmRelease flux-system/argo-cd (in Git and in the
    # cluster): the plan commits and waits for Flux, it never runs helm or kubectl apply against that release
    commands = [c for s in p["rollout"][0]["steps"] for c in s["commands"]]
    assert "flux reconcile helmrelease argo-cd -n flux-system --with-source" in commands
    assert not [c for c in commands if c.startswith(("helm upgrade", "kubectl apply"))]


def test_cilium_114_to_116_two_hops_preflight_and_removed_values():
    p = plan("--tool", "cilium", "--to", "1.16", "--fleet", "demo")
    path = p["paths"][0]
    assert [h["to_version"] for h in path["hops"]] == ["1.14.19", "1.15.19", "1.16.19"]
    assert path["hops"][0]["kind"] == "patch-first" and path["hops"][1]["kind"] == "one-minor"
    assert "gke-staging-apps" not in {v["cluster"] for v in p["versions"] if v["target_version"]}  # GKE-managed
    tunnel = [f for f in p["findings"] if f["code"] == "CIL-TUNNEL-REMOVED"]
    assert [f["subject"]["cluster"] for f in tunnel] == ["ravan"]
    kpr = [f for f in p["findings"] if f["code"] == "CIL-KPR-STRING-MODES-REMOVED"]
    assert [f["subject"]["cluster"] for f in kpr] == ["keystone"]  # only where the value is a string mode
    assert "preflight.enabled=true" in steps_text(p)


def test_victoriametrics_187_lts_crosses_one_way_storage_changes_with_backup_first():
    p = plan("--tool", "victoriametrics", "--fleet", "demo")
    version = next(v for v in p["versions"] if v["cluster"] == "monitor")
    assert version["current_version"] == "1.87.6"
    assert any(e["source"] == "cluster" and "v1.87.6" in e["excerpt"] for e in version["detected_from"])
    limits = {f["subject"]["version"] for f in p["findings"] if f["code"] == "VM-ROLLBACK-LIMIT"}
    assert {"1.90.0", "1.92.0", "1.133.0"} <= limits
    stage = p["rollout"][0]
    titles = [s["title"].lower() for s in stage["steps"]]
    backup = next(i for i, t in enumerate(titles) if "back up" in t or "backup" in t)
    upgrade = next(i for i, t in enumerate(titles) if "1.87.6 -> 1.150.0" in t)
    assert backup < upgrade


def test_karpenter_plan_uses_the_knowledge_path_rules():
    p = plan("--tool", "karpenter", "--fleet", "demo")
    ravan = next(x for x in p["paths"] if "ravan" in x["clusters"])
    # 1.14 is an LTS line (supported until Jul 2027), so the default target stays on a supported line
    assert [h["to_version"] for h in ravan["hops"]] == ["0.31.5", "0.32.10", "0.37.8", "1.0.14", "1.14.3"]
    assert not [f for f in p["findings"] if f["code"] == "KARP-TARGET-LINE-UNSUPPORTED"]
    assert "KARP-IAM-MISSING-ACTIONS" in codes(p)  # ec2:CreateTags scoped without spot-instances-request...


@pytest.fixture
def fleet_on_127(tmp_path: Path) -> Path:
    """The demo fleet with ravan's Kubernetes at 1.27 (Cilium 1.14 supports up to 1.27)."""
    demo = Path(str(resources.files("upgradectl") / "demo_fleet"))
    copy = tmp_path / "fleet"
    shutil.copytree(demo, copy)
    meta_file = copy / "clusters" / "ravan" / "cluster.yaml"
    meta = yaml.safe_load(meta_file.read_text())
    meta["server_version"].update({"minor": "27+", "gitVersion": "v1.27.16-eks-a18cd3a"})
    meta_file.write_text(yaml.safe_dump(meta))
    return copy


def test_cilium_118_on_kubernetes_127_needs_a_kubernetes_upgrade_first(fleet_on_127):
    result = upgradectl(
        "plan",
        "--tool",
        "cilium",
        "--to",
        "1.18",
        "--clusters",
        "ravan",
        "--fleet",
        str(fleet_on_127),
        "--format",
        "json",
    )
    assert result.returncode == 1  # a critical finding: the target cannot run there
    p = json.loads(result.stdout)
    path = p["paths"][0]
    assert not path["feasible"]
    assert "upgrade Kubernetes on ravan from 1.27 to at least 1.30 before Cilium 1.18" in path["blockers"][0]
    assert "go to Cilium 1.16.19 first" in path["blockers"][0]
    assert "TARGET-K8S-UNSUPPORTED" in " ".join(codes(p))
    assert "NOT FEASIBLE" in p["summary"]


def test_scoping_to_a_later_environment_reports_the_skipped_earlier_stages():
    prod = plan("--tool", "cilium", "--to", "1.16", "--env", "prod", "--fleet", "demo")
    skipped = [f for f in prod["findings"] if f["code"] == "ROLLOUT-EARLIER-STAGE-SKIPPED"]
    assert len(skipped) == 1 and skipped[0]["severity"] == "high"
    assert "dev-apps (1.14.5), eks-staging-apps (1.14.5)" in skipped[0]["title"]
    assert {e["ref"].split(":")[0] for e in skipped[0]["evidence"]} == {"dev-apps", "eks-staging-apps"}
    staging = plan("cilium on staging to 1.16", "--fleet", "demo")
    assert {v["cluster"] for v in staging["versions"] if v["target_version"]} == {"eks-staging-apps"}
    skipped = [f for f in staging["findings"] if f["code"] == "ROLLOUT-EARLIER-STAGE-SKIPPED"]
    assert len(skipped) == 1 and skipped[0]["severity"] == "medium" and "dev-apps (1.14.5)" in skipped[0]["title"]
    everywhere = plan("--tool", "cilium", "--to", "1.16", "--fleet", "demo")
    assert "ROLLOUT-EARLIER-STAGE-SKIPPED" not in codes(everywhere)


def test_lts_request_targets_the_newest_lts_line_and_tools_without_lts_say_so():
    p = plan("victoriametrics to the latest LTS", "--fleet", "demo")
    assert p["target_version"] == "1.148.0"  # 1.149 and 1.150 are newer but not LTS lines
    assert "LTS release" in p["target_reason"] and "Enterprise-only" in p["target_reason"]
    karpenter = plan("karpenter to the latest lts", "--fleet", "demo")  # Karpenter names LTS minors since 1.9
    assert karpenter["target_version"] == "1.14.3"
    result = upgradectl("plan", "argocd to the latest lts", "--fleet", "demo")
    assert result.returncode == 2
    assert "publishes no long-term-support lines" in result.stderr and "Traceback" not in result.stderr


def test_vmagents_on_clusters_without_victoriametrics_are_reported_not_planned():
    p = plan("--tool", "victoriametrics", "--fleet", "demo")
    outside = [f for f in p["findings"] if f["code"] == "VM-COMPONENTS-OUTSIDE-PLAN"]
    assert sorted(f["subject"]["cluster"] for f in outside) == [
        "dev-apps", "eks-staging-apps", "gke-staging-apps", "keystone", "ravan"
    ]  # monitor's vmagent comes with its k8s-stack release, which the plan upgrades
    assert all(f["evidence"][0]["excerpt"] == "image victoriametrics/vmagent:v1.87.6" for f in outside)
    pin = {"source": "gitops", "ref": "infrastructure/vmagent/deployment.yaml:28",
           "excerpt": "image: victoriametrics/vmagent:v1.87.6"}
    assert all(pin in f["evidence"] and pin["ref"] in f["remediation"] for f in outside)
    assert {v["cluster"] for v in p["versions"] if v["target_version"]} == {"monitor"}


def test_security_request_warns_when_no_patched_line_fits_the_clusters():
    p = plan("ArgoCD upgrade required for security patches", "--fleet", "demo")
    assert p["decision"]["track"] == "security-fast-track"
    unpatched = [f for f in p["findings"] if f["code"] == "ARGO-SECURITY-TARGET-UNPATCHED"]
    assert len(unpatched) == 1 and unpatched[0]["severity"] == "high"
    assert "line 3.0 no longer receives patches" in unpatched[0]["title"]
    # Argo CD patches the newest three minors (3.5, 3.4, 3.3); 3.3 was tested on Kubernetes 1.31-1.34
    assert "upgrade Kubernetes on keystone (1.29) to 1.31" in unpatched[0]["remediation"]
    assert "Argo CD 3.3" in unpatched[0]["remediation"]
    assert unpatched[0]["evidence"][0]["ref"].startswith("tools/knowledge/data/argocd.yaml support")
    assert "OUT OF SUPPORT" in p["summary"]
    feature = plan("--tool", "argocd", "--fleet", "demo")  # not a security request: the general support finding
    assert "ARGO-SECURITY-TARGET-UNPATCHED" not in codes(feature)
    (line,) = [f for f in feature["findings"] if f["code"] == "ARGO-TARGET-LINE-UNSUPPORTED"]
    assert line["severity"] == "high"  # upgradectl chose 3.0: the newest line keystone's Kubernetes 1.29 allows
