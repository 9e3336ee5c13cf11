"""The CLI end to end, as a user runs it: the installed `upgradectl` script on the demo fleet."""

from __future__ import annotations

import json

import pytest
from run_cli import upgradectl

KARPENTER_REQUEST = "Karpenter needs upgrade for better bin packing and cost optimization"


@pytest.fixture(scope="module")
def karpenter_plan() -> dict:
    result = upgradectl("plan", KARPENTER_REQUEST, "--fleet", "demo", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_plan_writes_markdown_and_json_offline(tmp_path):
    """Timing lives in benchmarks/bench_plan.py (speed targets are not timed tests)."""
    result = upgradectl("plan", KARPENTER_REQUEST, "--fleet", "demo", "--out", str(tmp_path))
    assert result.returncode in (0, 1), result.stderr
    assert (tmp_path / "plan.md").read_text().startswith("# Upgrade plan: Karpenter")
    assert json.loads((tmp_path / "plan.json").read_text())["target_version"]


def test_current_versions_per_cluster(karpenter_plan):
    current = {v["cluster"]: v["current_version"] for v in karpenter_plan["versions"]}
    assert current["ravan"] == "0.31.3"
    assert current["eks-staging-apps"] == "0.31.3"
    assert current["dev-apps"] == "0.31.5"
    assert current["gke-staging-apps"] == ""  # no Karpenter on GKE
    ravan = next(v for v in karpenter_plan["versions"] if v["cluster"] == "ravan")
    assert ravan["detected_from"][0]["source"] == "helm"


def test_flags_v031_outside_its_kubernetes_range(karpenter_plan):
    unsupported = [f for f in karpenter_plan["findings"] if f["code"] == "KARP-CURRENT-K8S-UNSUPPORTED"]
    assert {f["subject"]["cluster"] for f in unsupported} == {"ravan", "eks-staging-apps", "dev-apps"}
    assert all("1.23-1.28" in f["title"] and "1.29" in f["title"] for f in unsupported)


def test_target_is_compatible_with_every_cluster(karpenter_plan):
    assert karpenter_plan["target_version"] == "1.14.3"
    in_scope = [v for v in karpenter_plan["versions"] if v["target_version"]]
    assert in_scope and all(v["target_supported"] for v in in_scope)
    assert "compatible with every target cluster" in karpenter_plan["target_reason"]


def test_path_passes_through_032_and_says_why(karpenter_plan):
    for path in karpenter_plan["paths"]:
        stops = [h["to_version"] for h in path["hops"]]
        assert "0.32.10" in stops
        hop = next(h for h in path["hops"] if h["to_version"] == "0.32.10")
        assert hop["kind"] == "required-intermediate" and "0.32" in hop["reason"] and "v1beta1" in hop["reason"]


def test_every_alpha_object_is_listed_by_name(karpenter_plan):
    provisioners = {
        (f["subject"]["cluster"], f["subject"]["name"])
        for f in karpenter_plan["findings"]
        if f["code"] == "KARP-V1ALPHA5-PROVISIONER" and f["subject"]["cluster"] and not f["subject"]["file"]
    }
    assert {
        ("ravan", "default"),
        ("ravan", "on-demand-critical"),
        ("ravan", "batch"),
        ("eks-staging-apps", "default"),
        ("eks-staging-apps", "batch"),
        ("dev-apps", "default"),
        ("dev-apps", "batch"),
    } <= provisioners
    templates = {
        (f["subject"]["cluster"], f["subject"]["name"])
        for f in karpenter_plan["findings"]
        if f["code"] == "KARP-V1ALPHA1-AWSNODETEMPLATE" and not f["subject"]["file"]
    }
    assert {("ravan", "default"), ("ravan", "batch"), ("dev-apps", "default")} <= templates


def test_renamed_helm_values_actually_set(karpenter_plan):
    renamed = {
        (f["subject"]["cluster"], f["subject"]["helm_value_path"]): f["title"]
        for f in karpenter_plan["findings"]
        if f["code"] == "KARP-HELM-VALUE-RENAMED"
    }
    assert ("ravan", "settings.aws.clusterName") in renamed
    assert "settings.aws.clusterName -> settings.clusterName" in renamed[("ravan", "settings.aws.clusterName")]
    assert (
        "settings.aws.interruptionQueueName -> settings.interruptionQueue"
        in renamed[("ravan", "settings.aws.interruptionQueueName")]
    )
    assert ("dev-apps", "settings.aws.interruptionQueueName") not in renamed  # not set on dev
    removed = {
        (f["subject"]["cluster"], f["subject"]["helm_value_path"])
        for f in karpenter_plan["findings"]
        if f["code"] == "KARP-HELM-VALUE-REMOVED"
    }
    assert ("ravan", "settings.aws.defaultInstanceProfile") in removed


def test_rollout_dev_staging_prod_with_gates_and_rollback(karpenter_plan):
    rollout = karpenter_plan["rollout"]
    assert [s["environment"] for s in rollout] == ["dev", "staging", "prod"]
    assert [s["clusters"] for s in rollout] == [["dev-apps"], ["eks-staging-apps"], ["ravan"]]
    for stage in rollout:
        # metric gates carry their PromQL; the health gates are judged from the clusters (`upgradectl health`)
        assert stage["gates"] and all(g["promql"] or g["source"].startswith("upgradectl health")
                                      for g in stage["gates"])  # fmt: skip
        assert {g["name"] for g in stage["gates"] if not g["promql"]} == {"cluster-health"}
        assert stage["rollback_steps"]
        assert stage["soak_minutes"] > 0
    assert rollout[-1]["approval_required"]
    prod_changes = [c for step in rollout[-1]["steps"] for c in step["changes"]]
    assert any("ravan.tfvars" in c and "v0.31.3" in c and "v0.31.5" in c for c in prod_changes)


def test_every_finding_names_its_agent_and_evidence(karpenter_plan):
    agents = {"flux-navigator", "terraform-auditor", "argo-troubleshooter", "monitoring-analyst", "incident-responder"}
    assert karpenter_plan["findings"]
    for f in karpenter_plan["findings"]:
        assert f["agent"] in agents
        assert f["evidence"] and all(e["excerpt"] for e in f["evidence"])
    assert {f["agent"] for f in karpenter_plan["findings"]} == agents


def test_task_log_covers_six_stages_without_errors(karpenter_plan):
    log = karpenter_plan["task_log"]
    assert {r["stage"] for r in log} == {1, 2, 3, 4, 5, 6}
    assert not [r for r in log if r["error"]]
    assert all(r["checked"] for r in log)


def test_to_1_0_10_goes_through_latest_037_and_states_rollback_limits():
    result = upgradectl("plan", "--tool", "karpenter", "--to", "1.0.10", "--fleet", "demo", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    plan = json.loads(result.stdout)
    for path in plan["paths"]:
        stops = [h["to_version"] for h in path["hops"]]
        assert stops[-2:] == ["0.37.8", "1.0.10"]
        hop = path["hops"][-2]
        assert "latest patch" in hop["reason"] and "webhook" in hop["reason"].lower()
    limits = [f for f in plan["findings"] if f["code"] == "KARP-ROLLBACK-LIMIT"]
    assert any(f["subject"]["version"].startswith("1.0") for f in limits)
    assert any("0.31.4" in f["title"] for f in limits)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--tool", "karpenter", "--to", "9.9", "--fleet", "demo"], "9.9 is not a known release"),
        (["plan", "karpentr needs upgrade", "--fleet", "demo"], "did you mean 'karpenter'"),
        (["plan", "--tool", "karpenterr", "--fleet", "demo"], "did you mean 'karpenter'"),
        (["plan", "karpenter", "--fleet", "/nonexistent/fleet.yaml"], "not found"),
        (["plan", "karpenter", "--fleet", "demo", "--format", "xml"], "--format 'xml'"),
    ],
)
def test_bad_input_fails_clearly_with_exit_2(args, message):
    result = upgradectl(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_schema_and_help():
    schema = json.loads(upgradectl("schema").stdout)
    assert schema["title"] == "Plan" and "findings" in schema["properties"]
    help_text = " ".join(upgradectl("plan", "--help").stdout.split())  # the help wraps to the terminal width
    assert "--fleet" in help_text and "latest version compatible" in help_text
    assert "Exit codes" in upgradectl("--help").stdout


def test_markdown_shows_each_problem_once_with_its_instances_and_json_keeps_every_one():
    """Findings of one code are one problem block (detail and fix once, a line per instance with its own
    evidence), so the few problems that matter are not buried under repeats (issue 20); plan.json keeps them
    all."""
    import json as _json

    md = upgradectl("plan", "--tool", "flux", "--fleet", "demo", "--format", "md").stdout
    js = _json.loads(upgradectl("plan", "--tool", "flux", "--fleet", "demo", "--format", "json").stdout)
    stored = [f for f in js["findings"] if f["code"] == "FLUX-DEPRECATED-STORED-VERSION"]
    helm = [f for f in stored if f["subject"]["name"] == "helmreleases.helm.toolkit.fluxcd.io"]
    assert len(helm) == 6
    assert md.count("#### FLUX-DEPRECATED-STORED-VERSION") == 1
    block = md.split("#### FLUX-DEPRECATED-STORED-VERSION")[1].split("\n#### ")[0]
    assert f"{len(stored)} instance(s)" in block
    for f in helm:  # one line per instance, with its own evidence
        assert f"`{f['evidence'][0]['ref']}`" in block
    assert block.count("\n- fix:") == 1
    codes = {f["code"] for f in js["findings"]}
    assert sum(line.startswith("#### ") and line.split(":")[0][5:] in codes for line in md.splitlines()) == len(codes)
    assert len(stored) == 42  # 7 CRD/version pairs, 6 clusters each: one problem, 42 instance lines
    assert sum(line.startswith("- ") and "stores objects at" in line for line in block.splitlines()) >= 36
