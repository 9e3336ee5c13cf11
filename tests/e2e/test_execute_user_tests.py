"""Your own tests as gates, owners and notifications, end to end: the demo fleet in a temp git repo declares a
passing smoke test for dev and a failing one for staging, owners per environment and a CODEOWNERS file; the plan
lists them per stage; `execute --notify` against a loopback Slack-compatible webhook reverts staging when its
smoke test fails, never touches prod, and posts the start, gate and rollback messages."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import require_binary
from gitops_reconciler import Reconciler, cilium_series, git, init_repo
from metrics_servers import DEMO, victoria_metrics, vm_import
from run_cli import upgradectl
from webhook_receiver import webhook_receiver

CLUSTERS = ["dev-apps", "eks-staging-apps", "ravan"]
CHARTS = {c: f"infra-flux/infrastructure/cilium/{c}/helmrelease.yaml" for c in CLUSTERS}
pytestmark = pytest.mark.real


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return upgradectl(*args, timeout=timeout, env={"UPGRADECTL_NOTIFY_URL": None})


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    binary = require_binary("victoria-metrics")
    work = tmp_path_factory.mktemp("vm")
    server = victoria_metrics(binary, work).start()
    now = time.time()
    data = work / "cilium.jsonl"
    data.write_text("".join(cilium_series(c, now - 3600, now + 1800) for c in CLUSTERS))  # healthy metrics
    vm_import(server, [data])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fleet(vm, tmp_path_factory) -> Path:
    """The demo fleet with metrics, owners, notify lists, a dev smoke test that passes and a staging smoke test
    that fails (it records its environment variables so the test can see what it was run with)."""
    root = tmp_path_factory.mktemp("fleet") / "fleet"
    import shutil  # (only this fixture copies a tree)

    shutil.copytree(DEMO, root)
    spec = yaml.safe_load((root / "fleet.yaml").read_text())
    for cluster in spec["clusters"]:
        cluster["metrics_url"] = vm.url
    spec["environments"] = {
        "dev": {"tests": [{"name": "dev-smoke", "command": ["sh", "-c", "exit 0"], "timeout_seconds": 30}]},
        "staging": {
            "owners": ["@acme/platform-staging"], "notify": ["#deploys"],
            "tests": [{"name": "checkout-smoke", "timeout_seconds": 30, "command": [
                "sh", "-c", 'echo "$UPGRADECTL_ENVIRONMENT $UPGRADECTL_TO_VERSION" >> smoke-runs.txt; '
                            'echo "checkout returned 503" >&2; exit 1']}],
        },
        "prod": {"owners": ["@acme/sre"], "notify": ["#prod-changes"]},
    }  # fmt: skip
    (root / "fleet.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (root / "infra-flux" / ".github").mkdir(parents=True, exist_ok=True)
    (root / "infra-flux" / ".github" / "CODEOWNERS").write_text(
        "# the networking team owns the CNI\n* @acme/gitops\ninfrastructure/cilium/ @acme/networking\n"
    )
    (root / ".gitignore").write_text("smoke-runs.txt\n")
    init_repo(root)
    return root


@pytest.fixture(scope="module")
def plan(fleet) -> dict:
    result = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--clusters", ",".join(CLUSTERS), "--fleet",
                 str(fleet / "fleet.yaml"), "--format", "json", "--no-osv", "--no-fetch-charts")  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    (fleet.parent / "plan.json").write_text(result.stdout)
    return json.loads(result.stdout)


def test_the_plan_lists_each_stages_tests_owners_and_messages(plan):
    stages = {s["environment"]: s for s in plan["rollout"]}
    assert [t["name"] for t in stages["staging"]["tests"]] == ["checkout-smoke"]
    assert [t["name"] for t in stages["dev"]["tests"]] == ["dev-smoke"] and stages["prod"]["tests"] == []
    staging = stages["staging"]["owners"]
    # CODEOWNERS: the last matching pattern wins, so infrastructure/cilium/ files belong to @acme/networking
    assert staging["approvers"] == ["@acme/platform-staging", "@acme/networking"]
    assert "#deploys" in staging["informed"]
    assert any(s.startswith("infra-flux/.github/CODEOWNERS:3 ") for s in staging["sources"])
    assert stages["prod"]["owners"]["approvers"] == ["@acme/sre", "@acme/networking"]
    assert [m["kind"] for m in stages["staging"]["messages"]] == ["start", "gate", "rollback"]
    assert "checkout-smoke" in stages["staging"]["messages"][0]["markdown"]


def test_a_failing_smoke_test_in_staging_reverts_staging_never_touches_prod_and_notifies(fleet, plan):
    reconciler = Reconciler(fleet, CHARTS)
    reconciler.start()
    try:
        with webhook_receiver() as hook:
            result = cli("execute", "--plan", str(fleet.parent / "plan.json"), "--fleet", str(fleet), "--no-dry-run",
                         "--run-id", "smoke", "--state-dir", str(fleet.parent / "state"), "--soak", "0.3",
                         "--reconcile-timeout", "20", "--poll", "0.1", "--format", "json", "--notify", hook.url)
            while result.returncode == 6:  # open critical/high findings: accepted as they are, by code
                paused = json.loads(result.stdout)["paused"]
                accept = [f"--accept={code}" for code in sorted({f["code"] for f in paused["findings"]})]
                result = cli("approve", "smoke", "--by", "alice", *accept, *(["--done"] if paused["checklist"] else []),
                             "--state-dir", str(fleet.parent / "state"), "--format", "json", "--notify", hook.url)
            messages = list(hook.messages)
    finally:
        reconciler.stop()
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert hook.url not in result.stdout + result.stderr  # the webhook URL is a secret
    report = json.loads(result.stdout)
    assert report["status"] == "rolled-back"
    staging = next(s for s in report["steps"] if s["key"] == "staging/1.14.5->1.14.19")
    tests = staging["gates"]["tests (staging)"]
    assert [(t["name"], t["result"]) for t in tests] == [("test: checkout-smoke", "fail")]
    assert "exit 1" in tests[0]["message"] and "checkout returned 503" in tests[0]["message"]
    assert all(g["result"] == "pass" for g in staging["gates"]["eks-staging-apps"])  # the metrics were fine
    assert staging["result"] == "fail" and staging["revert"] and "checkout-smoke" in staging["revert_reason"]
    assert all(s["status"] == "not started" for s in report["steps"] if s["environment"] == "prod")
    assert [c for c, _, _ in reconciler.applied].count("ravan") == 0
    assert git(fleet, "diff", "main", "upgradectl/smoke", "--", CHARTS["ravan"], CHARTS["eks-staging-apps"]) == ""
    assert (fleet / "smoke-runs.txt").read_text() == "staging 1.14.19\n"  # run from the fleet's directory
    # dev: start + a gate result per hop; staging: start, the failed gate, the rollback; nothing for prod
    heads = [m.splitlines()[0] for m in messages]
    assert heads == ["*Cilium upgrade starting in dev* (run smoke)", "*Cilium gates passed in dev* for dev-apps: "
                     "1.14.5 -> 1.14.19", "*Cilium gates passed in dev* for dev-apps: 1.14.19 -> 1.15.19",
                     "*Cilium upgrade starting in staging* (run smoke)", "*Cilium gates FAILED in staging* for "
                     "eks-staging-apps: 1.14.5 -> 1.14.19", "*Cilium ROLLED BACK in staging*: eks-staging-apps: "
                     "1.14.5 -> 1.14.19"]  # fmt: skip
    told = messages[4].splitlines()[-1].split()
    assert "fail: test: checkout-smoke: exit 1" in messages[4]
    assert told[0] == "cc" and {"#deploys", "@acme/platform-staging", "@acme/networking"} == set(told[1:])
    assert staging["revert"][:12] in messages[5] and "gates after the rollback: pass" in messages[5]
