"""The plan verifier (`upgradectl verify-plan`): clean on the plans upgradectl writes, and naming the step of each
planted defect, one per class the issue lists: a rollback that reinstalls the version it leaves, a step outside
its condition (the 1.0 downgrade on a hop below 1.0), a rollback below a crossed limit, a file no step wrote,
an undeclared placeholder, an upgradectl command without --fleet/--baseline, an edit that no longer applies, an
edit whose result the target chart rejects, and a migrated manifest the Kubernetes version does not serve."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml
from helm_repository import CHARTS
from metrics_servers import DEMO, cli_in_process

SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"


def plan(*args: str) -> dict:
    result = cli_in_process("plan", *args, "--format", "json", "--no-fetch-charts")
    assert result.returncode in (0, 1, 3), result.stderr
    return json.loads(result.stdout)


def verify(document: dict, tmp_path: Path, *extra: str) -> tuple[int, str]:
    path = tmp_path / f"plan-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(document))
    result = cli_in_process("verify-plan", str(path), "--no-fetch-charts", *extra)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def helm_cli_karpenter(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("helm-cli") / "fleet"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("terraform", "infra-flux", "__pycache__"))
    document = yaml.safe_load((root / "fleet.yaml").read_text())
    document.pop("terraform", None)
    document.pop("gitops", None)
    (root / "fleet.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return plan("--tool", "karpenter", "--to", "1.0.10", "--fleet", str(root / "fleet.yaml"))


@pytest.fixture(scope="module")
def cilium_demo() -> dict:
    return plan("--tool", "cilium", "--to", "1.16", "--fleet", "demo")


@pytest.fixture(scope="module")
def vm_demo() -> dict:
    return plan("--tool", "victoriametrics", "--fleet", "demo")


def find(document: dict, env: str, predicate, rollback: bool = False) -> tuple[dict, int]:
    stage = next(s for s in document["rollout"] if s["environment"] == env)
    items = stage["rollback_steps" if rollback else "steps"]
    index = next(i for i, s in enumerate(items) if predicate(s))
    return items[index], index


def test_the_plans_upgradectl_writes_are_consistent(helm_cli_karpenter, cilium_demo, vm_demo, tmp_path):
    for document in (helm_cli_karpenter, cilium_demo, vm_demo):
        assert document["verification"]["violations"] == []
        code, output = verify(document, tmp_path, "--charts-dir", str(CHARTS))
        assert code == 0, output


def planted(document: dict, env: str, predicate, change, rollback: bool = False) -> tuple[dict, str]:
    bad = copy.deepcopy(document)
    step, index = find(bad, env, predicate, rollback)
    change(step)
    return bad, f"{'rollback_steps' if rollback else 'steps'}[{index + 1}] {step['title']!r}"


def test_rollback_that_reinstalls_the_version_it_leaves(helm_cli_karpenter, tmp_path):
    def reinstall_to_version(step):
        step["commands"] = [c.replace(f"--version {step['chart_from']} ", f"--version {step['chart_to']} ")
                            for c in step["commands"]]  # fmt: skip

    bad, where = planted(helm_cli_karpenter, "prod", lambda s: s["kind"] == "rollback" and s["commands"]
                         and s["to_version"] == "0.37.8", reinstall_to_version, rollback=True)  # fmt: skip
    code, output = verify(bad, tmp_path)
    assert code == 1 and "FAIL hop-version: prod " + where in output


def test_step_outside_its_condition(helm_cli_karpenter, tmp_path):
    bad = copy.deepcopy(helm_cli_karpenter)
    stage = next(s for s in bad["rollout"] if s["environment"] == "prod")
    downgrade = next(s for s in stage["rollback_steps"] if "Downgrade from 1.0.x" in s["title"])
    copied = {**copy.deepcopy(downgrade), "from_version": "0.31.5", "to_version": "0.32.10",
              "chart_from": "v0.31.5", "chart_to": "v0.32.10"}  # fmt: skip
    copied["title"] = copied["title"].replace("0.37.8", "v0.31.5")
    copied["commands"] = [c.replace("--version 0.37.8", "--version v0.31.5").replace("0.37.8.yaml", "0.31.5.yaml")
                          for c in copied["commands"]]  # fmt: skip
    stage["rollback_steps"].append(copied)
    code, output = verify(bad, tmp_path)
    assert code == 1
    assert f"FAIL step-condition: prod rollback_steps[{len(stage['rollback_steps'])}] {copied['title']!r}" in output
    assert "crosses 1.0.0" in output


def test_rollback_below_a_crossed_one_way_limit(vm_demo, tmp_path):
    def downgrade_instead_of_restore(step):
        step["kind"] = "rollback"

    bad, where = planted(vm_demo, "prod", lambda s: s["kind"] == "restore" and "revert" in s["title"],
                         downgrade_instead_of_restore, rollback=True)  # fmt: skip
    code, output = verify(bad, tmp_path)
    assert code == 1 and "FAIL rollback-limit: prod " + where in output and "restore instead" in output


def test_later_hop_reads_a_values_file_no_step_wrote(helm_cli_karpenter, tmp_path):
    bad = copy.deepcopy(helm_cli_karpenter)
    stage = next(s for s in bad["rollout"] if s["environment"] == "prod")
    save = next(s for s in stage["steps"] if s["title"].endswith("Save the release's values for this hop and its "
                                                                "rollback") and s["from_version"] == "0.32.10")
    stage["steps"].remove(save)
    upgrade = next(s for s in stage["steps"] if s["kind"] == "upgrade" and s["from_version"] == "0.32.10"
                   and "-f karpenter-values-ravan-0.32.10.yaml" in " ".join(s["commands"]))  # fmt: skip
    code, output = verify(bad, tmp_path)
    index = stage["steps"].index(upgrade) + 1
    assert code == 1
    named = f"FAIL file-read: prod steps[{index}] {upgrade['title']!r}: reads karpenter-values-ravan-0.32.10.yaml"
    assert named in output


def test_undeclared_placeholder(vm_demo, tmp_path):
    def no_inputs(step):
        step["inputs"] = {}

    bad, where = planted(vm_demo, "prod", lambda s: any("<bucket>" in c for c in s["commands"]), no_inputs)
    code, output = verify(bad, tmp_path)
    assert code == 1 and "FAIL placeholder: prod " + where in output and "<bucket>" in output


def test_validate_command_without_fleet_and_baseline(cilium_demo, tmp_path):
    def as_before(step):
        step["commands"] = [f"upgradectl validate --tool cilium --clusters {step['cluster']}"]

    bad, where = planted(cilium_demo, "dev", lambda s: s["kind"] == "validate", as_before)
    code, output = verify(bad, tmp_path)
    assert code == 1
    assert "FAIL upgradectl-command: dev " + where in output
    assert "--fleet is missing" in output and "no --baseline" in output


def test_upgradectl_command_the_cli_rejects(cilium_demo, tmp_path):
    def bad_option(step):
        step["commands"] = [step["commands"][0] + " --window 10m"]

    bad, where = planted(cilium_demo, "dev", lambda s: s["kind"] == "validate", bad_option)
    code, output = verify(bad, tmp_path)
    assert code == 1 and "FAIL upgradectl-command: dev " + where in output and "No such option: --window" in output


def test_edit_that_no_longer_applies(cilium_demo, tmp_path):
    def stale(step):
        step["edits"][0]["old"] = "1.13.4"

    bad, where = planted(cilium_demo, "dev", lambda s: s["kind"] == "change" and s["edits"], stale)
    code, output = verify(bad, tmp_path)
    assert code == 1 and "FAIL file-edit: dev " + where in output and "1.13.4" in output


def test_edit_whose_result_the_target_chart_rejects(cilium_demo, tmp_path):
    def keep_string_mode(step):
        for edit in step["edits"]:
            if edit["path"] == ["kubeProxyReplacement"]:
                edit["new"] = "partial"

    bad, where = planted(cilium_demo, "prod", lambda s: s["kind"] == "change" and any(
        e["path"] == ["kubeProxyReplacement"] for e in s["edits"]), keep_string_mode)
    code, output = verify(bad, tmp_path, "--charts-dir", str(CHARTS))  # cilium 1.16.19, copied from cilium/charts
    assert code == 1 and "FAIL chart-values: prod " + where in output and "kubeProxyReplacement" in output


def test_migrated_manifest_not_served_by_the_clusters_kubernetes(cilium_demo, tmp_path):
    def migrate_deployment(step):
        step["edits"].append({
            "cluster": "ravan", "from_version": step["from_version"], "to_version": step["to_version"],
            "purpose": "api-version", "action": "set", "file": "infra-flux/apps/ravan/payments/payments-api.yaml",
            "format": "yaml", "document": {"kind": "Deployment", "name": "payments-api", "namespace": "payments"},
            "path": ["apiVersion"], "old": "apps/v1", "new": "extensions/v1beta1", "applies_to": ["ravan"]})

    bad, where = planted(cilium_demo, "prod", lambda s: s["kind"] == "change" and s["cluster"] == "ravan",
                         migrate_deployment)  # fmt: skip
    code, output = verify(bad, tmp_path)
    assert code == 1 and "FAIL manifest-schema: prod " + where in output
    assert "not served by Kubernetes 1.29" in output
