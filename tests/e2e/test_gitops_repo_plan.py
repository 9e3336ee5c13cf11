"""Planning from a GitOps repository alone, on real repositories' layouts (tests/data/gitops, origins in
tests/data/README.md): clusters from the layout, versions as Git declares them with file:line, values edits
where the value is defined, and `upgradectl changes` diffs that `git apply --check` accepts.

Expected versions and lines are read from the files themselves; what the tools do with them from their
documentation (Flux helm-controller and kustomize docs, Cilium's upgrade notes in the knowledge base).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import require_binary
from run_cli import upgradectl

from upgradectl.tools.cluster.fleet import FleetError, load_fleet, repo_fleet
from upgradectl.tools.gitops.desired import desired_state
from upgradectl.tools.gitops.kustomize import read_kustomizations
from upgradectl.tools.gitops.layout import discover_clusters
from upgradectl.tools.gitops.manifests import load_manifests
from upgradectl.tools.gitops.values import RepoFiles
from upgradectl.tools.knowledge.loader import load_tool

DATA = Path(__file__).parents[1] / "data"
GITOPS = DATA / "gitops"
DEMO_SNAPSHOT = Path(__file__).parents[2] / "upgradectl" / "demo_fleet" / "clusters" / "ravan"
CILIUM_2024 = "kubernetes/main/apps/kube-system/cilium/app"


def git_copy(source: Path, target: Path) -> Path:
    """A copy of a repository under version control, as a user's checkout is."""
    git = require_binary("git")
    shutil.copytree(source, target)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit",
                                                 "-qm", "snapshot"]):  # fmt: skip
        subprocess.run([git, *args], cwd=target, check=True, capture_output=True, timeout=60)
    return target


def plan_json(*args: str) -> tuple[int, dict]:
    result = upgradectl("plan", *args, "--format", "json", "--llm", "off")
    assert result.returncode in (0, 1, 3), result.stderr
    return result.returncode, json.loads(result.stdout)


def changes_applied(plan: dict, repo: Path, tmp_path: Path) -> str:
    """`upgradectl changes` for a plan, checked with `git apply --check` in the repository."""
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    result = upgradectl("changes", "--plan", str(plan_file))
    assert result.returncode == 0, result.stderr
    diff = tmp_path / "changes.diff"
    diff.write_text(result.stdout)
    check = subprocess.run([require_binary("git"), "apply", "--check", "--allow-empty", str(diff)], cwd=repo,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stderr + result.stdout
    return result.stdout


# ---------------------------------------------------------------- layout


def test_clusters_come_from_the_layout(tmp_path):
    repos = ("onedr0p-home-ops-2023-12-17", "onedr0p-home-ops-2024-10-15", "vehagn-homelab-2024-04")
    found = {repo: [(c.name, c.gitops_path, c.environment) for c in discover_clusters(GITOPS / repo)] for repo in repos}
    assert found["onedr0p-home-ops-2023-12-17"] == [("main", "kubernetes/main", "")]  # flux/config/cluster.yaml
    assert found["onedr0p-home-ops-2024-10-15"] == [("main", "kubernetes/main", "")]  # apps/kube-system/cilium/ks.yaml
    assert found["vehagn-homelab-2024-04"] == [("in-cluster", ".", "")]  # Argo CD destination name
    flux_example = [(c.name, c.gitops_path, c.environment) for c in discover_clusters(DATA / "flux-repo-v2beta1")]
    assert flux_example == [("production", "clusters/production", "prod"), ("staging", "clusters/staging", "staging")]
    plain = tmp_path / "platform-dev"
    plain.mkdir()
    assert [(c.name, c.gitops_path, c.environment) for c in discover_clusters(plain)] == [("platform-dev", ".", "dev")]


def test_repo_fleet_environment_and_kubernetes_version():
    fleet = repo_fleet(str(GITOPS / "onedr0p-home-ops-2023-12-17"), "1.28", "staging")
    main = fleet.clusters["main"]
    assert main.entry.git_only and main.source is None and not main.unreachable
    assert (main.info.environment, main.info.kubernetes_version, main.info.git_only) == ("staging", "1.28", True)
    with pytest.raises(FleetError, match="give X.Y"):
        repo_fleet(str(GITOPS / "onedr0p-home-ops-2023-12-17"), "latest")


def test_fleet_entries_without_a_source_need_a_git_folder(tmp_path):
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(
        {"name": "f", "clusters": [{"name": "a", "environment": "dev"}]}))  # fmt: skip
    with pytest.raises(FleetError, match="planned from Git alone: give it gitops_path"):
        load_fleet(str(tmp_path))
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(
        {"name": "f", "clusters": [{"name": "a", "environment": "dev", "snapshot": "s", "context": "c"}]}))  # fmt: skip
    with pytest.raises(FleetError, match="not both"):
        load_fleet(str(tmp_path))


# ---------------------------------------------------------------- desired state


def _declarations(repo: str, tool: str):
    root = GITOPS / repo
    manifests, _ = load_manifests(root)
    return desired_state(load_tool(tool), RepoFiles(root, manifests, read_kustomizations(root)), [], []).declarations


def test_versions_as_git_declares_them_with_file_and_line():
    cilium = _declarations("onedr0p-home-ops-2023-12-17", "cilium")
    assert [(d.via, d.version, d.ref) for d in cilium] == [
        ("flux-helmrelease", "1.14.5", "kubernetes/main/apps/kube-system/cilium/app/helmrelease.yaml:12")
    ]
    assert cilium[0].repository.startswith("https://helm.cilium.io (HelmRepository cilium, "
                                           "kubernetes/main/flux/repositories/helm/cilium.yaml:")  # fmt: skip
    flux = {(d.version, d.ref, d.pin) for d in _declarations("onedr0p-home-ops-2023-12-17", "flux")}
    assert ("2.2.1", "kubernetes/main/flux/config/flux.yaml:12", "app") in flux  # the flux-manifests OCIRepository
    assert ("2.2.1", "kubernetes/main/bootstrap/flux/kustomization.yaml:8", "bootstrap") in flux  # ?ref=v2.2.1
    chart_ref = _declarations("buroa-k8s-gitops-2025-03", "cilium")
    assert [(d.via, d.version, d.ref) for d in chart_ref] == [
        ("flux-chartref", "1.17.1", "kubernetes/apps/kube-system/cilium/app/helmrelease.yaml:12")  # OCIRepository tag
    ]
    flux_instance = _declarations("buroa-k8s-gitops-2025-03", "flux")
    assert [(d.version, d.ref) for d in flux_instance] == [
        ("2.5.1", "kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml:5")  # generator source file
    ]
    helm_charts = _declarations("vehagn-homelab-2024-04", "argocd")
    # argo-cd chart 6.7.10 ships Argo CD v2.10.6 (argoproj/argo-helm charts/argo-cd/Chart.yaml at argo-cd-6.7.10)
    assert [(d.via, d.declared, d.version, d.ref) for d in helm_charts] == [
        ("kustomize-helmchart", "6.7.10", "2.10.6", "infra/argocd/kustomization.yaml:12")
    ]


# ---------------------------------------------------------------- plan --repo and changes


def test_plan_from_a_repository_edits_values_where_the_generator_reads_them(tmp_path):
    repo = git_copy(GITOPS / "onedr0p-home-ops-2024-10-15", tmp_path / "home-ops")
    code, plan = plan_json("--tool", "cilium", "--repo", str(repo), "--kubernetes", "1.30", "--to", "1.18")
    assert code in (0, 1)
    main = next(v for v in plan["versions"] if v["cluster"] == "main")
    assert (main["current_version"], main["kubernetes_version"]) == ("1.16.3", "1.30")
    assert main["detected_from"][0]["ref"] == f"{CILIUM_2024}/helmrelease.yaml:12"
    # Cilium 1.18 removes enableRuntimeDeviceDetection; this repo sets it in helm-values.yaml line 17, which the
    # kustomize configMapGenerator turns into the ConfigMap the HelmRelease takes valuesFrom
    removed = next(f for f in plan["findings"] if f["code"] == "CIL-118-HELM-VALUES-REMOVED")
    assert (removed["subject"]["file"], removed["subject"]["line"]) == (f"{CILIUM_2024}/helm-values.yaml", 17)
    assert removed["evidence"][0] == {"source": "gitops", "ref": f"{CILIUM_2024}/helm-values.yaml:17",
                                      "excerpt": "enableRuntimeDeviceDetection: true (HelmRelease cilium)"}  # fmt: skip
    diff = changes_applied(plan, repo, tmp_path)
    assert f"--- a/{CILIUM_2024}/helm-values.yaml\n" in diff and "-enableRuntimeDeviceDetection: true\n" in diff
    refused = upgradectl("execute", "--plan", str(tmp_path / "plan.json"))  # no cluster to wait for or judge
    assert refused.returncode == 2 and "planned from Git alone" in refused.stderr
    assert "-      version: 1.16.3\n+      version: 1.16.19\n" in diff
    assert "spec.values.enableRuntimeDeviceDetection" not in diff


def test_the_gate_commands_a_git_only_plan_prints_run_as_written(tmp_path):
    """baseline and validate measure a Git-only cluster at the version Git declares (its metrics are read like any
    cluster's); without a metrics URL every gate is inconclusive and says how to give one."""
    repo = git_copy(GITOPS / "onedr0p-home-ops-2024-10-15", tmp_path / "home-ops")
    _, plan = plan_json("--tool", "cilium", "--repo", str(repo), "--kubernetes", "1.30", "--to", "1.17")
    commands = [c for stage in plan["rollout"] for step in stage["steps"] for c in step["commands"]
                if c.startswith(("upgradectl baseline", "upgradectl validate"))]  # fmt: skip
    assert {c.split()[1] for c in commands} == {"baseline", "validate"}
    for command in commands:  # from the directory of the fleet (here the repository), as the plan says
        run = upgradectl(*shlex.split(command)[1:], cwd=repo, timeout=120)
        assert run.returncode == 3, run.stdout + run.stderr  # inconclusive: nothing measured, never a pass
        assert "Traceback" not in run.stderr
        # baseline: the version the HelmRelease pins now (line 12); validate: the version the command names
        words = shlex.split(command)
        running = words[words.index("--version") + 1] if "--version" in words else "1.16.3"
        assert f"main  (Cilium {running}, metrics none)" in run.stdout, run.stdout
        assert "no metrics URL for main: set metrics_url in the fleet file or pass --metrics-url" in run.stdout


def test_a_version_older_than_the_knowledge_base_is_a_blocked_plan(tmp_path):
    """onedr0p/home-ops as it was with Flux 0.41 (bjw-s/home-ops pinned v0.41.2 in the same two places in 2023-04): the
    plan is written and blocked (exit 1), citing where Git pins it, instead of refusing the request (exit 2)."""
    repo = git_copy(GITOPS / "onedr0p-home-ops-2023-12-17", tmp_path / "home-ops")
    for file in ("kubernetes/main/flux/config/flux.yaml", "kubernetes/main/bootstrap/flux/kustomization.yaml"):
        (repo / file).write_text((repo / file).read_text().replace("v2.2.1", "v0.41.2"))
    code, plan = plan_json("--tool", "flux", "--repo", str(repo), "--kubernetes", "1.27", "--clusters", "main")
    assert code == 1
    blocked = next(f for f in plan["findings"] if f["code"] == "FLUX-CURRENT-OLDER-THAN-KNOWLEDGE")
    assert blocked["severity"] == "critical" and "Flux 0.41.2 on main" in blocked["title"]
    assert blocked["evidence"][0]["ref"] == "kubernetes/main/flux/config/flux.yaml:12"
    assert [(p["feasible"], p["hops"]) for p in plan["paths"]] == [(False, [])]
    assert "upgrade it to 2.0.1" in plan["paths"][0]["blockers"][0]


def test_git_only_fleet_entry_plans_the_version_the_helmrelease_pins(tmp_path):
    """The issue's reproduction: a fleet cluster with only gitops_path."""
    git_copy(GITOPS / "onedr0p-home-ops-2023-12-17", tmp_path / "home-ops")
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({
        "name": "home", "gitops": {"path": "home-ops"},
        "clusters": [{"name": "main", "environment": "prod", "gitops_path": "kubernetes/main",
                      "kubernetes_version": "1.28"}]}))  # fmt: skip
    code, plan = plan_json("upgrade cilium", "--fleet", str(tmp_path / "fleet.yaml"))
    assert code in (0, 1)
    main = next(v for v in plan["versions"] if v["cluster"] == "main")
    assert main["current_version"] == "1.14.5"
    assert main["detected_from"][0]["ref"] == "home-ops/kubernetes/main/apps/kube-system/cilium/app/helmrelease.yaml:12"
    codes = {f["code"] for f in plan["findings"]}
    assert "GITOPS-UNPARSEABLE-FILE" not in codes and "FLEET-CLUSTER-UNREACHABLE" not in codes
    # the 1.15 notes remove `tunnel` (helmrelease.yaml:115 sets tunnel: disabled)
    tunnel = next(f for f in plan["findings"] if f["code"] == "CIL-TUNNEL-REMOVED")
    assert tunnel["evidence"][0]["ref"] == "kubernetes/main/apps/kube-system/cilium/app/helmrelease.yaml:115"
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    result = upgradectl("changes", "--plan", str(plan_file))
    assert result.returncode == 0, result.stderr
    diff = tmp_path / "changes.diff"
    diff.write_text(result.stdout)
    # paths are relative to the fleet file (home-ops/kubernetes/...), so check from there
    check = subprocess.run([require_binary("git"), "apply", "--check", str(diff)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert "+++ b/home-ops/kubernetes/main/apps/kube-system/cilium/app/helmrelease.yaml" in result.stdout


def test_flux_version_from_its_oci_repository_is_upgraded_there(tmp_path):
    repo = git_copy(GITOPS / "onedr0p-home-ops-2023-12-17", tmp_path / "home-ops")
    code, plan = plan_json("--tool", "flux", "--repo", str(repo), "--kubernetes", "1.28")
    assert code in (0, 1)
    main = next(v for v in plan["versions"] if v["cluster"] == "main")
    assert main["current_version"] == "2.2.1"  # flux.yaml:12 tag: v2.2.1
    diff = changes_applied(plan, repo, tmp_path)
    assert "-    tag: v2.2.1\n+    tag: v" in diff  # Git spells the tag with a v; the edit keeps it
    assert "# by hand: kubernetes/main/bootstrap/flux/kustomization.yaml:8" in diff


def test_chart_ref_pins_the_oci_repository_tag(tmp_path):
    repo = git_copy(GITOPS / "buroa-k8s-gitops-2025-03", tmp_path / "k8s-gitops")
    code, plan = plan_json("--tool", "cilium", "--repo", str(repo), "--kubernetes", "1.32", "--to", "1.17")
    assert code in (0, 1)
    diff = changes_applied(plan, repo, tmp_path)
    assert "-    tag: 1.17.1\n+    tag: 1.17.18\n" in diff  # cilium.yaml releases[1.17].latest_patch


def test_argocd_from_a_chart_is_planned_to_a_version_a_chart_ships_and_the_pin_applies(tmp_path):
    """vehagn/homelab pins the argo-cd chart 6.7.10 in a kustomize helmCharts entry. On Kubernetes 1.31 the newest
    fitting line is 3.3 (argocd.yaml releases[3.3]: 1.31-1.34); its newest patch 3.3.14 ships in no argo-cd chart,
    the newest 3.3 chart is 9.5.11 with appVersion v3.3.9 (argoproj/argo-helm charts/argo-cd/Chart.yaml at tag
    argo-cd-9.5.11, a855fda3; no tag up to argo-cd-10.1.1 ships v3.3.10 or later). So the plan targets 3.3.9 and the
    chart pin is a real edit to 9.5.11 that `git apply --check` accepts."""
    repo = git_copy(GITOPS / "vehagn-homelab-2024-04", tmp_path / "homelab")
    code, plan = plan_json("--tool", "argocd", "--repo", str(repo), "--kubernetes", "1.31")
    assert code in (0, 1)
    assert plan["target_version"] == "3.3.9"
    assert "3.3.14 ships in no argo-cd chart" in plan["target_reason"] and "(chart 9.5.11)" in plan["target_reason"]
    assert [[h["to_version"] for h in p["hops"]] for p in plan["paths"]] == [["3.3.9"]]
    not_charted = next(f for f in plan["findings"] if f["code"] == "ARGO-PATCH-NOT-CHARTED")
    assert not_charted["severity"] == "low" and "3.3.14 exists upstream" in not_charted["detail"]
    assert "infra/argocd/kustomization.yaml:12" in [e["ref"] for e in not_charted["evidence"]]
    diff = changes_applied(plan, repo, tmp_path)
    assert "--- a/infra/argocd/kustomization.yaml\n" in diff
    assert "-    version: 6.7.10\n+    version: 9.5.11\n" in diff
    assert "by hand: infra/argocd/kustomization.yaml" not in diff  # the pin is an edit, not a manual step


def test_unknown_kubernetes_version_is_never_a_pass(tmp_path):
    repo = git_copy(GITOPS / "onedr0p-home-ops-2024-10-15", tmp_path / "home-ops")
    code, plan = plan_json("--tool", "cilium", "--repo", str(repo))
    assert code == 3 and plan["incomplete"]
    main = next(v for v in plan["versions"] if v["cluster"] == "main")
    assert main["current_supported"] is None and main["target_supported"] is None
    assert any(f["code"] == "K8S-VERSION-UNKNOWN" and f["category"] == "incomplete" for f in plan["findings"])


def test_flux_version_inferred_from_the_apis_when_git_pins_none():
    """flux2-kustomize-helm-example's gotk-components.yaml is a bootstrap placeholder: no version in Git. Its
    HelmReleases are helm.toolkit.fluxcd.io/v2beta1, removed in Flux 2.7.0 (Flux 2.7 announcement)."""
    code, plan = plan_json("--tool", "flux", "--repo", str(DATA / "flux-repo-v2beta1"), "--kubernetes", "1.26")
    assert code in (0, 1)
    inferred = [f for f in plan["findings"] if f["code"] == "GITOPS-VERSION-INFERRED"]
    assert {f["subject"]["cluster"] for f in inferred} == {"production", "staging"}
    assert "to 2.6." in inferred[0]["title"]
    assert any("removed in 2.7.0" in e["excerpt"] for e in inferred[0]["evidence"])


def test_git_and_cluster_versions_that_differ_are_drift(tmp_path):
    """A cluster snapshot running Cilium 1.14.5 (the demo fleet's ravan) whose Git pins 1.16.3."""
    git_copy(GITOPS / "onedr0p-home-ops-2024-10-15", tmp_path / "home-ops")
    shutil.copytree(DEMO_SNAPSHOT, tmp_path / "snapshots" / "main")
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({
        "name": "home", "gitops": {"path": "home-ops"},
        "clusters": [{"name": "main", "environment": "prod", "snapshot": "snapshots/main",
                      "gitops_path": "kubernetes/main"}]}))  # fmt: skip
    code, plan = plan_json("--tool", "cilium", "--fleet", str(tmp_path / "fleet.yaml"), "--to", "1.14.19")
    drift = next(f for f in plan["findings"] if f["code"] == "GITOPS-VERSION-DRIFT")
    assert drift["subject"]["cluster"] == "main" and drift["severity"] == "high"
    assert "Git declares Cilium 1.16.3" in drift["title"] and "runs 1.14.5" in drift["title"]
    assert {e["source"] for e in drift["evidence"]} >= {"gitops", "helm"}


def test_doctor_checks_a_git_only_cluster_by_its_folder(tmp_path):
    from upgradectl.app.doctor import cluster_checks

    shutil.copytree(GITOPS / "onedr0p-home-ops-2024-10-15", tmp_path / "home-ops")
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({
        "name": "home", "gitops": {"path": "home-ops"},
        "clusters": [{"name": "main", "environment": "prod", "gitops_path": "kubernetes/main"},
                     {"name": "gone", "environment": "dev", "gitops_path": "kubernetes/gone"}]}))  # fmt: skip
    checks = {c.name: c for c in cluster_checks(load_fleet(str(tmp_path)))}
    assert checks["cluster main"].status == "ok" and "unknown (pass --kubernetes X.Y)" in checks["cluster main"].detail
    assert checks["cluster gone"].status == "fail" and "kubernetes/gone not found" in checks["cluster gone"].detail
