"""`upgradectl snapshot`: record a served ravan through its kube context, plan from the recording, and
get the plan the original snapshot gives. Credentials never reach the recording, the plan or the logs."""

from __future__ import annotations

import base64
import json
import shutil

import pytest
import yaml
from live_servers import (
    RAVAN,
    copy_snapshot,
    fleet_with,
    kubeconfig_with,
    served_by_cli,
    served_in_thread,
    unused_port,
)
from run_cli import upgradectl

from upgradectl.tools.cluster.sources import SnapshotCluster
from upgradectl.tools.helm import decode_release_payload, encode_release

pytestmark = pytest.mark.real

RAVAN_ENTRY = {"name": "ravan", "environment": "prod", "provider": "eks", "region": "ap-south-1",
               "snapshot": "clusters/ravan", "gitops_path": "clusters/ravan"}


RUN_TO_RUN = {"generated_at", "duration_ms", "seconds", "start", "end"}  # when the plan was made (the timeline
# starts then), how long its parts took


def comparable(plan_json: str):
    """A plan minus what differs run to run (its timestamp and timings), anywhere in the document."""

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in RUN_TO_RUN}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(json.loads(plan_json))


def test_round_trip_serve_record_plan(tmp_path):
    """serve-snapshot ravan -> snapshot --context -> plan equals the plan from the original snapshot.

    Both plans run on the same fleet directory (same GitOps repo and Terraform copies, same paths); only
    clusters/ravan changes. The original is used without metrics/: serve-snapshot serves the Kubernetes
    API, and that is all `upgradectl snapshot` records."""
    recording = tmp_path / "recording"
    with served_by_cli(RAVAN, tmp_path) as (served, _):
        recorded = upgradectl("snapshot", "--context", served.context, "--kubeconfig", str(served.kubeconfig),
                              "--out", str(recording))
    assert recorded.returncode == 0, recorded.stderr
    assert "recorded" in recorded.stderr and "Traceback" not in recorded.stderr

    meta = yaml.safe_load((recording / "cluster.yaml").read_text())
    original = SnapshotCluster(RAVAN)
    assert meta["server_version"] == original.server_version()
    assert meta["recorded_at"] == "2026-11-20T09:00:00Z"  # the served API's clock
    assert meta["name"] == "ravan" and meta["provider"] == "eks" and meta["region"] == "ap-south-1"
    assert meta["recorded_from"].startswith("context ravan (http://127.0.0.1:")
    crds = SnapshotCluster(recording).objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert crds == original.objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert all(crd["status"]["storedVersions"] for crd in crds)

    fleet = fleet_with(tmp_path / "fleet", [RAVAN_ENTRY])
    copy_snapshot(RAVAN, tmp_path / "fleet" / "clusters" / "ravan")
    before = upgradectl("plan", "--tool", "karpenter", "--fleet", str(fleet), "--format", "json")
    shutil.rmtree(tmp_path / "fleet" / "clusters" / "ravan")
    shutil.copytree(recording, tmp_path / "fleet" / "clusters" / "ravan")
    after = upgradectl("plan", "--tool", "karpenter", "--fleet", str(fleet), "--format", "json")
    assert before.returncode == after.returncode, (before.stderr, after.stderr)
    assert comparable(after.stdout) == comparable(before.stdout)


def plant_canaries(snapshot, canary: str) -> None:
    """A non-Helm Secret holding the canary, and the canary in the karpenter Helm release's values and manifest."""
    file = snapshot / "resources" / "core" / "v1" / "secrets.yaml"
    doc = yaml.safe_load(file.read_text())
    doc["items"].append({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "payments-db", "namespace": "karpenter"},
        "data": {"password": base64.b64encode(canary.encode()).decode()},
        "stringData": {"url": f"postgres://app:{canary}@db:5432/payments"},
    })
    for secret in doc["items"]:
        if secret["metadata"]["name"].startswith("sh.helm.release.v1.karpenter."):
            release = decode_release_payload(secret["data"]["release"])
            release["config"]["webhook"] = {"password": canary}
            release["config"]["controller"] = {**release["config"].get("controller", {}),
                                               "env": [{"name": "SLACK_TOKEN", "value": canary}]}
            release["manifest"] += (
                f"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: k\ndata:\n  token: {canary}\n"
            )
            secret["data"]["release"] = encode_release(release)
    file.write_text(yaml.safe_dump(doc))


def every_text(root) -> str:
    """All recorded files, with every Helm release decoded (its payload is base64 of gzip)."""
    texts = []
    for file in sorted(root.rglob("*")):
        if file.is_file():
            texts.append(file.read_text())
    secrets = SnapshotCluster(root).objects("v1", "Secret")
    texts += [json.dumps(decode_release_payload(s["data"]["release"])) for s in secrets]
    return "\n".join(texts)


def test_canary_credentials_never_leave(tmp_path):
    canary = "canary-CRED-5f3b9e"
    encoded = base64.b64encode(canary.encode()).decode()
    snapshot = copy_snapshot(RAVAN, tmp_path / "ravan")
    plant_canaries(snapshot, canary)
    recording = tmp_path / "recording"
    with served_by_cli(snapshot, tmp_path) as (served, server):
        recorded = upgradectl("snapshot", "--context", "ravan", "--kubeconfig", str(served.kubeconfig),
                              "--out", str(recording))
        live_plan = upgradectl("plan", "--tool", "karpenter", "--context", "ravan", "--kubeconfig",
                               str(served.kubeconfig), "--format", "json")
    server_output = server.stdout.read() + server.stderr.read()
    assert recorded.returncode == 0, recorded.stderr
    assert live_plan.returncode in (0, 1, 3), live_plan.stderr

    fleet = fleet_with(tmp_path / "fleet", [RAVAN_ENTRY])
    shutil.copytree(recording, tmp_path / "fleet" / "clusters" / "ravan")
    recorded_plan = upgradectl("plan", "--tool", "karpenter", "--fleet", str(fleet), "--format", "json")
    assert recorded_plan.returncode in (0, 1, 3), recorded_plan.stderr

    recorded_text = every_text(recording)
    assert "payments-db" not in recorded_text  # the non-Helm Secret was never read
    assert "<redacted>" in recorded_text  # the Helm release values were redacted, not dropped
    karpenter = next(r for r in SnapshotCluster(recording).helm_releases() if r.chart == "karpenter")
    assert karpenter.values["webhook"] == {"password": "<redacted>"}
    assert karpenter.values["controller"]["env"] == [{"name": "SLACK_TOKEN", "value": "<redacted>"}]
    outputs = [recorded_text, recorded.stdout, recorded.stderr, live_plan.stdout, live_plan.stderr,
               recorded_plan.stdout, recorded_plan.stderr, server_output]
    for text in outputs:
        assert canary not in text and encoded not in text


def test_refuses_a_non_empty_directory_unless_forced(tmp_path):
    out = tmp_path / "out"
    (out / "resources").mkdir(parents=True)
    (out / "resources" / "stale.yaml").write_text("old")
    (out / "notes.txt").write_text("mine")
    with served_in_thread(RAVAN, tmp_path) as served:
        args = ("snapshot", "--context", "ravan", "--kubeconfig", str(served.kubeconfig), "--out", str(out))
        refused = upgradectl(*args)
        assert refused.returncode == 2 and "--force" in refused.stderr
        assert (out / "resources" / "stale.yaml").exists()
        forced = upgradectl(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (out / "resources" / "stale.yaml").exists()  # the old snapshot is replaced...
    assert (out / "notes.txt").read_text() == "mine"  # ...other files are left alone
    assert SnapshotCluster(out).objects("v1", "Node")
    assert not list(tmp_path.glob(".out.recording-*"))
    assert "\x1b[" not in forced.stderr and "━" not in forced.stderr  # no progress bars without a terminal


def test_a_failed_recording_writes_nothing(tmp_path):
    kubeconfig = kubeconfig_with(tmp_path / "kubeconfig", {"ghost": f"http://127.0.0.1:{unused_port()}"})
    out = tmp_path / "out"
    result = upgradectl("snapshot", "--context", "ghost", "--kubeconfig", str(kubeconfig), "--out", str(out))
    assert result.returncode == 3
    assert "cannot reach the API server" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.recording-*"))
