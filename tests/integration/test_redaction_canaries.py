"""Issue 19, defect 7: the canary suite. Credentials planted in every shape the adversarial run leaked (and
every format detect-secrets knows) never reach a snapshot, a plan, a log, a run log or a model request.

The fleet is a copy of the demo's ravan cluster and GitOps repo with tests/canaries.py planted in a
ConfigMap, a Deployment (annotations, env, args, a shell command), a Pod, the Karpenter Helm release's
values and a GitOps values file. One `plan --llm on` runs against the scripted Messages API on loopback
(the real SDK), with a model that reads every planted place; one `snapshot` records the planted cluster
served as a Kubernetes API.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from canaries import CANARIES, annotations, configmap_data, container, gitops_values, helm_values, leaks
from live_servers import served_in_thread
from run_cli import upgradectl
from scripted_anthropic import Conversation, ScriptedAnthropic, submit, tool_use, turn

from upgradectl.tools.cluster.fleet import demo_fleet_path
from upgradectl.tools.helm import decode_release_payload, encode_release
from upgradectl.tools.redact import REDACTED, redact

pytestmark = pytest.mark.real


# ------------------------------------------------------------------------------------------ unit level


@pytest.mark.parametrize("name", sorted(CANARIES))
def test_every_planted_shape_is_redacted_where_it_was_planted(name):
    planted = {
        "configmap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": configmap_data()},
        "annotations": {"metadata": {"name": "d", "annotations": annotations()}},
        "container": container(),
        "helm": helm_values(),
        "gitops": gitops_values(),
    }
    where = [k for k, v in planted.items() if CANARIES[name] in json.dumps(v)]
    assert where, f"{name} is planted nowhere"
    assert name not in leaks(json.dumps(redact(planted)))


def test_redaction_keeps_what_plans_need():
    """Names, images, versions, digests, UIDs, git SHAs and references are not credentials."""
    kept = {
        "image": "public.ecr.aws/karpenter/controller:v0.31.3@sha256:" + "a1b2c3d4" * 8,
        "uid": "3f2a9c1e-5b2d-4e6f-8a7b-9c0d1e2f3a4b",
        "targetRevision": "0d521c6e049889134f3122eb32d7ed342f43ca0d",
        "chart": "karpenter-v0.31.3",
        "existingSecret": "payments-db",
        "passwordSecretRef": {"name": "pg", "key": "password"},
        "bypass": "cache",
        "args": ["--leader-elect", "--metrics-bind-address=:8080"],
        "podName": "karpenter-7d9f8b6c4-x2x9z",
        "note": "rotate the password every 90 days",
    }
    assert redact(kept) == kept


# --------------------------------------------------------------------------------------- the fleet


def _edit_items(file: Path, edit) -> None:
    doc = yaml.safe_load(file.read_text())
    edit(doc["items"])
    file.write_text(yaml.safe_dump(doc, sort_keys=False))


def planted_fleet(root: Path) -> Path:
    """ravan and the GitOps repo of the demo fleet, canaries planted; returns fleet.yaml."""
    demo = demo_fleet_path().parent
    shutil.copytree(demo / "clusters" / "ravan", root / "clusters" / "ravan")
    shutil.copytree(demo / "infra-flux", root / "infra-flux")
    resources = root / "clusters" / "ravan" / "resources"

    def add_configmap(items):
        items.append({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "payments-canary", "namespace": "payments"}, "data": configmap_data()})

    def plant_workload(items):
        target = next(d for d in items if d["metadata"].get("namespace") == "payments")
        target["metadata"].setdefault("annotations", {}).update(annotations())
        target["spec"]["template"]["spec"]["containers"].append(container())

    def plant_pod(items):
        target = next(p for p in items if p["metadata"].get("namespace") == "payments")
        target["spec"]["containers"].append(container())

    def plant_helm(items):
        for secret in items:
            if secret.get("type") != "helm.sh/release.v1":
                continue
            release = decode_release_payload(secret["data"]["release"])
            if release.get("name") == "karpenter":
                release.setdefault("config", {}).update(helm_values())
                secret["data"]["release"] = encode_release(release)

    _edit_items(resources / "core" / "v1" / "configmaps.yaml", add_configmap)
    _edit_items(resources / "apps" / "v1" / "deployments.yaml", plant_workload)
    _edit_items(resources / "core" / "v1" / "pods.yaml", plant_pod)
    _edit_items(resources / "core" / "v1" / "secrets.yaml", plant_helm)
    (root / "infra-flux" / "apps" / "payments").mkdir(parents=True, exist_ok=True)
    (root / "infra-flux" / "apps" / "payments" / "values.yaml").write_text(gitops_values())
    fleet = root / "fleet.yaml"
    fleet.write_text(yaml.safe_dump({
        "name": "canaries",
        "gitops": {"path": "infra-flux"},
        "clusters": [{"name": "ravan", "environment": "prod", "provider": "eks", "region": "ap-south-1",
                      "snapshot": "clusters/ravan", "gitops_path": "clusters/ravan"}],
    }))  # fmt: skip
    return fleet


def reading_everything() -> list[Conversation]:
    """A model that reads every planted place, then submits nothing."""
    calls = [
        tool_use("list_objects", {"cluster": "ravan", "api_version": "v1", "kind": "ConfigMap",
                                  "namespace": "payments"}, "toolu_cm"),
        tool_use("list_objects", {"cluster": "ravan", "api_version": "apps/v1", "kind": "Deployment",
                                  "namespace": "payments"}, "toolu_deploy"),
        tool_use("list_objects", {"cluster": "ravan", "api_version": "v1", "kind": "Pod", "namespace": "payments"},
                 "toolu_pod"),
        tool_use("helm_values", {"cluster": "ravan", "release": "karpenter"}, "toolu_values"),
        tool_use("gitops_grep", {"pattern": "secret|password"}, "toolu_grep"),
        tool_use("gitops_file", {"path": "apps/payments/values.yaml"}, "toolu_file"),
        tool_use("list_objects", {"cluster": "ravan", "api_version": "v1", "kind": "Secret"}, "toolu_secrets"),
    ]  # fmt: skip
    return [Conversation("Task id: breaking-changes", [[turn(*calls)], [submit([], "toolu_submit")]])]


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory):
    fleet = planted_fleet(tmp_path_factory.mktemp("canaries"))
    out = tmp_path_factory.mktemp("canary-plan")
    with ScriptedAnthropic(reading_everything()) as server:
        env = {**server.env(), "UPGRADECTL_LLM_TASKS": "breaking-changes", "UPGRADECTL_RETRY_INITIAL_SECONDS": "0.01"}
        result = upgradectl(
            "plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(fleet), "--llm", "on",
            "--out", str(out), "--format", "json",
            timeout=300, env=env,
        )  # fmt: skip
        bodies = list(server.bodies)
    return fleet, out, result, bodies


def test_the_model_read_every_planted_place(canary_run):
    """The suite proves something only if the planted data went through the tools (redacted)."""
    _, out, result, bodies = canary_run
    assert result.returncode in (0, 1, 3), result.stderr
    events = [json.loads(line) for line in (out / "run-log.jsonl").read_text().splitlines()]
    calls = {e["tool"] for e in events if e["event"] == "tool_call" and e["ok"]}
    assert {"list_objects", "helm_values", "gitops_grep", "gitops_file"} <= calls
    sent = "\n".join(bodies)
    assert sent.count(REDACTED) >= 20  # the planted values arrived, as <redacted>
    assert "payments-canary" in sent and "apps/payments/values.yaml" in sent


def test_zero_canaries_in_model_requests_plans_and_logs(canary_run):
    _, out, result, bodies = canary_run
    places = {
        "model request bodies": "\n".join(bodies),
        "plan.json": (out / "plan.json").read_text(),
        "plan.md": (out / "plan.md").read_text(),
        "run-log.jsonl": (out / "run-log.jsonl").read_text(),
        "stdout": result.stdout,
        "stderr": result.stderr,
    }
    assert {where: leaks(text) for where, text in places.items() if leaks(text)} == {}


def test_zero_canaries_in_a_recorded_snapshot(canary_run, tmp_path):
    fleet, *_ = canary_run
    out = tmp_path / "recorded"
    with served_in_thread(fleet.parent / "clusters" / "ravan", tmp_path) as served:
        result = upgradectl(
            "snapshot", "--context", served.context, "--kubeconfig", str(served.kubeconfig), "--out", str(out),
            timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    recorded = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    # the planted Deployment (annotations, env, args) and Helm values were recorded (ConfigMaps only in tool
    # namespaces, by design)
    assert "ops.example.com/slack" in recorded["resources/apps/v1/deployments.yaml"]
    releases = [
        decode_release_payload(s["data"]["release"])
        for s in yaml.safe_load(recorded["resources/core/v1/secrets.yaml"])["items"]
    ]
    recorded["decoded Helm releases"] = json.dumps(releases)
    assert {where: leaks(text) for where, text in recorded.items() if leaks(text)} == {}
    assert leaks(result.stderr) == []
