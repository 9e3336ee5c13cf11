"""Procedures rendered from each hop and the release's owner, on the demo fleet and on a copy of it whose
Karpenter nobody but the Helm CLI manages. Expectations come from the upstream procedures the knowledge cites:
Karpenter's v1 migration guide (downgrade only from 1.0, to the hop's conversion-webhook patch, with webhooks
on), Cilium's upgrade guide (the pre-flight check with the version being installed, before each upgrade) and
the GitOps rule that a reconciled release changes only through Git."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from metrics_servers import DEMO, cli_in_process

from upgradectl.tools.knowledge.loader import load_tool


def plan(*args: str) -> dict:
    result = cli_in_process("plan", *args, "--format", "json", "--no-fetch-charts")
    assert result.returncode in (0, 1, 3), result.stderr
    return json.loads(result.stdout)


def steps(p: dict, kind: str | None = None, rollback: bool = False) -> list[dict]:
    key = "rollback_steps" if rollback else "steps"
    return [s for stage in p["rollout"] for s in stage[key] if kind is None or s["kind"] == kind]


@pytest.fixture(scope="module")
def karpenter_demo() -> dict:
    return plan("--tool", "karpenter", "--to", "1.0.10", "--fleet", "demo")


@pytest.fixture(scope="module")
def helm_cli_fleet(tmp_path_factory) -> Path:
    """The demo fleet without its Terraform and GitOps repository: Karpenter is then a plain Helm release."""
    root = tmp_path_factory.mktemp("helm-cli") / "fleet"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("terraform", "infra-flux", "__pycache__"))
    document = yaml.safe_load((root / "fleet.yaml").read_text())
    document.pop("terraform", None)
    document.pop("gitops", None)
    (root / "fleet.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return root / "fleet.yaml"


@pytest.fixture(scope="module")
def karpenter_helm_cli(helm_cli_fleet) -> dict:
    return plan("--tool", "karpenter", "--to", "1.0.10", "--fleet", str(helm_cli_fleet))


def test_demo_karpenter_is_terraform_owned_and_each_rollback_brings_back_its_hop_from_version(karpenter_demo):
    spelled = load_tool("karpenter").chart.spell
    rollbacks = steps(karpenter_demo, "rollback", rollback=True)
    assert rollbacks and all(s["owner"] == "terraform" for s in rollbacks)
    reverts = [s for s in rollbacks if s["edits"]]
    assert len(reverts) == 11  # dev-apps 3 hops, eks-staging-apps 4, ravan 4: each undone on its own
    for step in reverts:
        assert step["title"].endswith(f"(back to {step['from_version']})")
        # the revert puts the tfvars pin back to the hop's from-version (as the registry spells it)
        assert {e["new"] for e in step["edits"]} == {spelled(step["from_version"])}, step["title"]
        assert any("terraform" in c and "apply" in c for c in step["commands"])
        assert not [c for c in step["commands"] if c.startswith("helm ")]


def test_no_downgrade_from_1_0_on_hops_below_1_0(karpenter_demo, karpenter_helm_cli):
    for p in (karpenter_demo, karpenter_helm_cli):
        below = [s for s in steps(p, rollback=True) if s["to_version"] and not s["to_version"].startswith("1.")]
        assert below
        assert not [s for s in below if "1.0.x" in s["title"] or "webhook" in " ".join(s["commands"])]


def test_helm_cli_rollback_installs_the_hop_from_version_with_the_values_saved_before_it(karpenter_helm_cli):
    spelled = load_tool("karpenter").chart.spell
    forward = steps(karpenter_helm_cli)
    rollbacks = [s for s in steps(karpenter_helm_cli, rollback=True) if s["commands"]]
    assert rollbacks
    for step in rollbacks:
        a = step["from_version"]
        installs = [c for c in step["commands"] if c.startswith("helm upgrade --install")]
        assert installs, step["title"]
        for command in installs:
            assert f"--version {spelled(a)} " in command + " ", command
        controller = [c for c in installs if "/karpenter/karpenter " in c]
        if controller:  # with the values saved before that hop, by a step of that hop
            saved = f"karpenter-values-{step['cluster']}-{a}.yaml"
            assert all(f"-f {saved}" in c for c in controller)
            assert any(saved in s["writes"] and s["from_version"] == a for s in forward)
        else:  # the CRD chart rolls back only where the hop moved it (a minor crossed)
            assert step["from_version"].rsplit(".", 1)[0] != step["to_version"].rsplit(".", 1)[0]
    downgrade = [s for s in rollbacks if "1.0.x" in s["title"]]
    assert [(s["from_version"], s["to_version"]) for s in downgrade] == [("0.37.8", "1.0.10")] * len(downgrade)
    assert all("--set webhook.enabled=true" in " ".join(s["commands"]) for s in downgrade)


def test_every_upgrade_command_names_its_own_hop(karpenter_helm_cli):
    spelled = load_tool("karpenter").chart.spell
    for step in steps(karpenter_helm_cli, "upgrade"):
        for command in step["commands"]:
            if "--version" in command:
                assert f"--version {spelled(step['to_version'])} " in command + " ", command


def test_cilium_preflight_before_each_hop_with_that_hops_version():
    p = plan("--tool", "cilium", "--to", "1.16", "--fleet", "demo")
    for stage in p["rollout"]:
        for cluster in stage["clusters"]:
            ordered = [s for s in stage["steps"] if s["cluster"] == cluster]
            # the hop's own change (under a canary strategy its rest is a second change, phase "rest")
            changes = [s for s in ordered if s["kind"] == "change" and s["phase"] != "rest"]
            assert [(s["from_version"], s["to_version"]) for s in changes] == [
                ("1.14.5", "1.14.19"), ("1.14.19", "1.15.19"), ("1.15.19", "1.16.19")]
            for change in changes:
                before = ordered[: ordered.index(change)]
                preflight = [s for s in before if "pre-flight" in s["title"]
                             and s["to_version"] == change["to_version"]]  # fmt: skip
                assert preflight, f"{cluster}: no pre-flight before {change['title']}"
                template = preflight[-1]["commands"][0]
                assert "--set preflight.enabled=true" in template and f"--version {change['to_version']} " in template


def test_flux_reconciled_release_changes_through_git_only():
    p = plan("--tool", "cilium", "--to", "1.16", "--fleet", "demo")
    commands = [c for s in steps(p) + steps(p, rollback=True) for c in s["commands"]]
    assert not [c for c in commands if c.startswith(("helm upgrade", "helm rollback", "helm install"))]
    assert "flux reconcile helmrelease cilium -n flux-system --with-source" in commands
    for step in steps(p, "rollback", rollback=True):
        if step["phase"] == "rest":  # a canary's rest is its own commit, reverted first
            assert step["commands"][0] == "git revert --no-edit <commit-of-the-rest>"
            continue
        if step["phase"]:  # the strategy's own undo (no version change)
            continue
        assert step["commands"][0] == "git revert --no-edit <commit-of-this-hop>"
        assert "<commit-of-this-hop>" in step["inputs"]


def test_ravan_tunnel_disabled_becomes_routing_mode_native_in_the_changes(tmp_path):
    p = plan("--tool", "cilium", "--to", "1.16", "--fleet", "demo")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(p))
    diff = cli_in_process("changes", "--plan", str(plan_file)).stdout
    ravan = [block for block in diff.split("--- a/") if block.startswith("infra-flux/infrastructure/cilium/ravan/")]
    text = "\n".join(ravan)
    assert "-    tunnel: disabled\n+    routingMode: native" in text
    assert "tunnelProtocol" not in diff
    finding = next(f for f in p["findings"] if f["code"] == "CIL-TUNNEL-REMOVED")
    assert "tunnel: disabled -> routingMode: native" in finding["title"]


def test_argo_cd_application_owner_is_read_from_the_cluster(tmp_path):
    """keystone's argo-cd release handed to an Argo CD Application (in the cluster; the Flux HelmRelease gone from
    Git and the cluster): the plan waits for the Application to sync, and runs no helm against it."""
    root = tmp_path / "fleet"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "infra-flux/infrastructure/argocd/kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- namespace.yaml\n")
    (root / "infra-flux/infrastructure/argocd/helmrelease.yaml").unlink()
    releases = root / "clusters/keystone/resources/helm.toolkit.fluxcd.io/v2beta2/helmreleases.yaml"
    listed = yaml.safe_load(releases.read_text())
    listed["items"] = [i for i in listed["items"] if i["metadata"]["name"] != "argo-cd"]
    releases.write_text(yaml.safe_dump(listed))
    applications = root / "clusters/keystone/resources/argoproj.io/v1alpha1/applications.yaml"
    listed = yaml.safe_load(applications.read_text()) if applications.is_file() else {"apiVersion": "v1", "items": []}
    listed["items"].append({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "argocd-self", "namespace": "argocd"},
        "spec": {"project": "default", "source": {"repoURL": "https://argoproj.github.io/argo-helm", "chart": "argo-cd",
                                                  "targetRevision": "6.7.11"},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "argocd"}},
    })  # fmt: skip
    applications.parent.mkdir(parents=True, exist_ok=True)
    applications.write_text(yaml.safe_dump(listed))
    p = plan("--tool", "argocd", "--to", "2.14.11", "--fleet", str(root / "fleet.yaml"))
    stage = p["rollout"][0]
    assert any("owned by an Argo CD Application argocd/argocd-self" in n for n in stage["notes"])
    commands = [c for s in stage["steps"] + stage["rollback_steps"] for c in s["commands"]]
    assert "kubectl -n argocd wait application.argoproj.io/argocd-self --for=jsonpath='{.status.sync.status}'" \
           "=Synced --timeout=15m" in commands
    assert not [c for c in commands if c.startswith(("helm upgrade", "helm rollback", "kubectl apply"))]
    assert p["verification"]["violations"] == []
