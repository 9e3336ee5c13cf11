"""`upgradectl plan` against live kube contexts (served snapshots on loopback): it never writes, and a
cluster that is unreachable or forbidden leaves an explicit incomplete finding and exit code 3."""

from __future__ import annotations

import json

import pytest
from live_servers import RAVAN, fleet_with, kubeconfig_with, served_in_thread, unused_port
from run_cli import upgradectl

pytestmark = pytest.mark.real


def findings(plan: dict, code: str) -> list[dict]:
    return [f for f in plan["findings"] if f["code"] == code]


def test_a_full_plan_against_a_live_context_never_writes(tmp_path):
    """The served API refuses (405) and logs anything but GET; a whole plan run sends none."""
    with served_in_thread(RAVAN, tmp_path) as served:
        result = upgradectl("plan", "--tool", "karpenter", "--context", "ravan", "--kubeconfig", str(served.kubeconfig),
                            "--format", "json")
        requests = list(served.requests)
    assert result.returncode in (0, 1, 3), result.stderr
    plan = json.loads(result.stdout)
    assert plan["fleet"] == "context ravan"
    assert [(c["name"], c["environment"], c["provider"], c["reachable"]) for c in plan["clusters"]] == [
        ("ravan", "prod", "eks", True)
    ]
    assert plan["versions"][0]["current_version"] == "0.31.3"
    assert findings(plan, "KARP-V1ALPHA5-PROVISIONER")  # read from the live API: the CRs at their storage version
    assert len(requests) > 20
    assert [r for r in requests if r[0] != "GET"] == []
    assert "Traceback" not in result.stderr


def test_context_environment_comes_from_env(tmp_path):
    with served_in_thread(RAVAN, tmp_path) as served:
        result = upgradectl("plan", "--tool", "karpenter", "--context", "ravan", "--kubeconfig", str(served.kubeconfig),
                            "--env", "staging", "--format", "json")
    assert result.returncode in (0, 1, 3), result.stderr
    assert json.loads(result.stdout)["clusters"][0]["environment"] == "staging"


def test_context_cluster_is_not_scoped_away_by_environment_words(tmp_path):
    """'on staging' narrows a fleet; with --context the one cluster (prod by default) is the scope."""
    with served_in_thread(RAVAN, tmp_path) as served:
        result = upgradectl("plan", "upgrade karpenter on staging", "--context", "ravan", "--kubeconfig",
                            str(served.kubeconfig), "--format", "json")
    assert result.returncode in (0, 1, 3), result.stderr
    plan = json.loads(result.stdout)
    assert plan["request"]["environments"] == [] and plan["request"]["clusters"] == ["ravan"]
    assert [v["cluster"] for v in plan["versions"] if v["target_version"]] == ["ravan"]


def test_one_unreachable_context_leaves_an_incomplete_finding_and_exit_3(tmp_path):
    with served_in_thread(RAVAN, tmp_path) as served:
        kubeconfig = kubeconfig_with(tmp_path / "kubeconfig", {
            "ravan": served.url,
            "ghost": f"http://127.0.0.1:{unused_port()}",
        })
        fleet = fleet_with(tmp_path / "fleet", [
            {"name": "ravan", "environment": "prod", "provider": "eks", "context": "ravan",
             "gitops_path": "clusters/ravan"},
            {"name": "ghost", "environment": "staging", "provider": "eks", "context": "ghost",
             "kubeconfig": str(kubeconfig)},
        ])
        result = upgradectl("plan", "--tool", "karpenter", "--fleet", str(fleet), "--kubeconfig", str(kubeconfig),
                            "--format", "json")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    plan = json.loads(result.stdout)
    assert plan["incomplete"] is True
    clusters = {c["name"]: c for c in plan["clusters"]}
    assert clusters["ravan"]["reachable"] and not clusters["ghost"]["reachable"]
    assert "cannot reach the API server" in clusters["ghost"]["error"]
    unreachable = findings(plan, "FLEET-CLUSTER-UNREACHABLE")
    assert [f["subject"]["cluster"] for f in unreachable] == ["ghost"]
    assert unreachable[0]["category"] == "incomplete"
    assert "context ghost" in unreachable[0]["evidence"][0]["excerpt"]
    assert {v["cluster"]: v["current_version"] for v in plan["versions"]}["ravan"] == "0.31.3"
    assert plan["rollout"], "the reachable cluster still gets its plan"


def test_a_forbidden_context_is_marked_incomplete_too(tmp_path):
    class NoSecrets:
        def do_GET(self):  # noqa: N802
            if "/secrets" in self.path:
                message = 'secrets is forbidden: User "viewer" cannot list resource "secrets"'
                return self._error(403, "Forbidden", message)
            return super().do_GET()

    with served_in_thread(RAVAN, tmp_path) as served, served_in_thread(RAVAN, tmp_path, NoSecrets) as locked:
        kubeconfig_with(tmp_path / "kubeconfig", {"ravan": served.url, "locked": locked.url})
        fleet = fleet_with(tmp_path / "fleet", [
            {"name": "ravan", "environment": "prod", "context": "ravan", "kubeconfig": "../kubeconfig"},
            {"name": "locked", "environment": "prod", "context": "locked", "kubeconfig": "../kubeconfig"},
        ], gitops=False)
        result = upgradectl("plan", "--tool", "karpenter", "--fleet", str(fleet), "--format", "json")
    assert result.returncode == 3, result.stderr
    plan = json.loads(result.stdout)
    [finding] = findings(plan, "FLEET-CLUSTER-UNREACHABLE")
    assert finding["subject"]["cluster"] == "locked"
    assert "HTTP 403" in finding["evidence"][0]["excerpt"] and "grant get/list" in finding["evidence"][0]["excerpt"]
    assert "Traceback" not in result.stderr


def test_a_lone_unreachable_context_exits_3_with_the_reason(tmp_path):
    kubeconfig = kubeconfig_with(tmp_path / "kubeconfig", {"ghost": f"http://127.0.0.1:{unused_port()}"})
    result = upgradectl("plan", "--tool", "karpenter", "--context", "ghost", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 3
    assert "ghost could not be read" in result.stderr and "cannot reach the API server" in result.stderr
    assert "Traceback" not in result.stderr


def test_context_does_not_combine_with_a_fleet(tmp_path):
    result = upgradectl("plan", "--tool", "karpenter", "--context", "ravan", "--fleet", str(tmp_path))
    assert result.returncode == 2 and "does not combine with --fleet" in result.stderr
