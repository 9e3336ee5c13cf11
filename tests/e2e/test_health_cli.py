"""Fleet health as users run it: `upgradectl health` on the demo and on a cluster in an incident, `execute`
refusing to start a hop there (nothing committed), and firing alerts read from a real Prometheus on loopback
(its /api/v1/alerts, from a rule that fires) by `health` and recorded by `snapshot --metrics-url`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import require_binary
from live_servers import RAVAN, copy_snapshot, fleet_with, served_by_cli
from metrics_servers import Server, free_port
from run_cli import upgradectl

DEMO = Path(__file__).resolve().parents[2] / "upgradectl" / "demo_fleet"
pytestmark = pytest.mark.real


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def crash_loop(snapshot: Path, namespace: str) -> str:
    """Put the first pod of a namespace into CrashLoopBackOff (as the kubelet reports it); returns its name."""
    file = snapshot / "resources" / "core" / "v1" / "pods.yaml"
    doc = yaml.safe_load(file.read_text())
    pod = next(p for p in doc["items"] if p["metadata"]["namespace"] == namespace)
    for status in pod["status"]["containerStatuses"]:
        status.update({"ready": False, "restartCount": 11, "state": {"waiting": {"reason": "CrashLoopBackOff",
                       "message": "back-off 5m0s restarting failed container"}}})  # fmt: skip
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition["status"] = "False"
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return pod["metadata"]["name"]


def test_health_on_the_demo_is_clear_and_keeps_prerelease_apart():
    done = upgradectl("health", "--fleet", "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gke-staging-apps: CLEAR" in done.stdout
    assert "[pre-release] gke-staging-apps: v1 Pod alpha/recommendation-engine" in done.stdout


def test_health_blocks_a_cluster_in_an_incident_and_compares_with_a_baseline(tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(DEMO, root)
    before = tmp_path / "before.json"
    clear = upgradectl("health", "--fleet", str(root), "--clusters", "dev-apps,ravan", "--out", str(before))
    assert clear.returncode == 0, clear.stdout + clear.stderr
    pod = crash_loop(root / "clusters" / "dev-apps", "checkout")
    incident = upgradectl("health", "--fleet", str(root), "--clusters", "dev-apps", "--format", "json")
    report = json.loads(incident.stdout)
    assert incident.returncode == 1 and report["clusters"]["dev-apps"]["verdict"] == "incident"
    after = upgradectl("health", "--fleet", str(root), "--clusters", "dev-apps,ravan", "--baseline", str(before))
    assert after.returncode == 1 and "dev-apps: NEW-PROBLEMS" in after.stdout and "ravan: CLEAR" in after.stdout
    assert f"v1 Pod checkout/{pod}" in after.stdout
    bad = upgradectl("health", "--fleet", str(root), "--clusters", "nope")
    assert bad.returncode == 2 and "unknown cluster(s) nope" in bad.stderr and "Traceback" not in bad.stderr


def test_plan_blocks_only_that_cluster_and_execute_refuses_to_start_there(tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(DEMO, root)
    pod = crash_loop(root / "clusters" / "dev-apps", "checkout")
    git(root.parent, "init", "-q", str(root))
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "init", "--allow-empty")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fleet")
    planned = upgradectl("plan", "--tool", "cilium", "--to", "1.15.19", "--clusters", "dev-apps,eks-staging-apps",
                         "--fleet", str(root), "--format", "json")  # fmt: skip
    plan = json.loads(planned.stdout)
    incidents = [f for f in plan["findings"] if f["code"] == "HEALTH-INCIDENT-IN-PROGRESS"]
    assert [f["subject"]["cluster"] for f in incidents] == ["dev-apps"] and incidents[0]["severity"] == "critical"
    assert any(pod in e["ref"] for e in incidents[0]["evidence"])
    assert {s["environment"]: s["clusters"] for s in plan["rollout"]} == {"dev": ["dev-apps"],
                                                                          "staging": ["eks-staging-apps"]}
    dev = next(s for s in plan["rollout"] if s["environment"] == "dev")
    assert dev["approval_required"] and any("BLOCKED" in n for n in dev["notes"])
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(planned.stdout)
    run = upgradectl("execute", "--plan", str(plan_file), "--fleet", str(root), "--no-dry-run", "--run-id", "r1",
                     "--state-dir", str(tmp_path / "state"), "--format", "json")  # fmt: skip
    if run.returncode == 6:  # the blocked stage waits for approval first (its open findings accepted as they are):
        open_findings = json.loads(run.stdout)["paused"]["findings"]
        codes = {f["code"] for f in open_findings}
        assert "HEALTH-INCIDENT-IN-PROGRESS" in codes  # critical and high findings wait for a person, nothing less
        severity = {f["code"]: f["severity"] for f in plan["findings"]}
        assert {severity[c] for c in codes} <= {"critical", "high"}
        accept = [f"--accept={code}" for code in sorted(codes)]  # then the pre-flight
        run = upgradectl("approve", "r1", "--by", "alice", *accept, "--state-dir", str(tmp_path / "state"),
                         "--format", "json")  # refuses all the same
    report = json.loads(run.stdout)
    assert run.returncode == 1, run.stdout + run.stderr
    assert report["status"] == "blocked" and "dev-apps is in an incident" in report["outcome"]
    assert report["steps"][0]["status"] == "blocked"
    assert git(root, "log", "--oneline", "--all").count("upgradectl:") == 0  # nothing committed


RULES = """groups:
- name: test
  interval: 1s
  rules:
  - alert: CheckoutErrorBudgetBurn
    expr: vector(1)
    labels: {severity: critical, cluster: ravan, namespace: checkout}
    annotations: {summary: checkout burns its error budget}
  - alert: Unrelated
    expr: vector(1)
    labels: {severity: critical, cluster: some-other-cluster}
"""


@pytest.fixture(scope="module")
def prometheus_alerts(tmp_path_factory):
    binary = require_binary("prometheus")
    work = tmp_path_factory.mktemp("prom")
    (work / "rules.yml").write_text(RULES)
    (work / "prometheus.yml").write_text("global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n")
    port = free_port()
    server = Server([binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"], port, "/-/ready", work).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait for the first evaluation to fire the rules
        with urllib.request.urlopen(server.url + "/api/v1/alerts", timeout=2) as response:
            if len(json.load(response)["data"]["alerts"]) == 2:
                break
        time.sleep(0.3)
    yield server
    server.stop()


def test_health_reads_firing_alerts_from_prometheus(prometheus_alerts, tmp_path):
    root = tmp_path / "fleet"
    snapshot = copy_snapshot(RAVAN, root / "clusters" / "ravan")  # no alerts.json: read them at metrics_url
    fleet_with(root, [{"name": "ravan", "environment": "prod", "provider": "eks", "snapshot": "clusters/ravan",
                       "gitops_path": "clusters/ravan", "metrics_url": prometheus_alerts.url}])  # fmt: skip
    assert not (snapshot / "alerts.json").exists()
    done = upgradectl("health", "--fleet", str(root / "fleet.yaml"), "--format", "json")
    report = json.loads(done.stdout)["clusters"]["ravan"]
    assert done.returncode == 1 and report["verdict"] == "incident"
    blocking = [s for s in report["health"]["signals"] if s["blocking"]]
    assert [s["excerpt"].split(" ")[0] for s in blocking] == ["CheckoutErrorBudgetBurn"]  # not some-other-cluster's
    assert f"{prometheus_alerts.url}/api/v1/alerts" in blocking[0]["ref"]


def test_snapshot_records_the_clusters_alerts_from_the_metrics_url(prometheus_alerts, tmp_path):
    recording = tmp_path / "recording"
    with served_by_cli(copy_snapshot(RAVAN, tmp_path / "served"), tmp_path) as (served, _):
        done = upgradectl("snapshot", "--context", served.context, "--kubeconfig", str(served.kubeconfig),
                          "--out", str(recording), "--metrics-url", prometheus_alerts.url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    alerts = json.loads((recording / "alerts.json").read_text())["data"]["alerts"]
    assert [a["labels"]["alertname"] for a in alerts] == ["CheckoutErrorBudgetBurn"]
    assert (recording / "resources" / "core" / "v1" / "events.yaml").is_file()
    assert sys.executable  # the recording is what `health` reads offline:
    fleet_with(tmp_path / "f", [{"name": "ravan", "environment": "prod", "provider": "eks", "snapshot": str(recording),
                                 "gitops_path": "clusters/ravan"}])  # fmt: skip
    offline = upgradectl("health", "--fleet", str(tmp_path / "f" / "fleet.yaml"))
    assert offline.returncode == 1 and "CheckoutErrorBudgetBurn" in offline.stdout
