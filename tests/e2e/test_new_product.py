"""A sixth product, as a platform team would add one: a knowledge file for cert-manager in a copy of the
knowledge directory (UPGRADECTL_KNOWLEDGE_DIR), no code, and `upgradectl plan` plans it on a small fleet.

Expectations come from cert-manager's documentation (tests/data/README.md): Kubernetes 1.22 is inside the
1.8 line's supported range (1.19 -> 1.24), so 1.8's newest patch is the latest compatible target; the
controller image v1.6.1 is what runs; v1.7 removed the alpha and beta APIs, so a Certificate CRD whose
storedVersions still lists v1alpha2 must be migrated before any hop that crosses 1.7.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from run_cli import upgradectl

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "tests" / "data" / "products" / "cert-manager"


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("knowledge")
    shutil.copytree(ROOT / "tools" / "knowledge" / "data", folder, dirs_exist_ok=True)
    shutil.copy(PRODUCT / "knowledge" / "cert-manager.yaml", folder)
    return folder


def test_a_knowledge_file_is_all_a_new_product_needs(knowledge):
    fleet = str(PRODUCT / "fleet")
    result = upgradectl("plan", "Upgrade cert manager for the new features", "--fleet", fleet, "--format", "json",
                        "--llm", "off", env={"UPGRADECTL_KNOWLEDGE_DIR": str(knowledge)})  # fmt: skip
    assert result.returncode == 1, result.stderr  # a critical finding, at the default --fail-on critical
    plan = json.loads(result.stdout)
    assert plan["request"]["tool"] == "cert-manager"
    assert plan["target_version"] == "1.8.2"
    assert [(v["cluster"], v["current_version"]) for v in plan["versions"]] == [("pki-dev", "1.6.1")]
    stored = [f for f in plan["findings"] if f["code"] == "CM-V1ALPHA2-STORED"]
    assert [f["subject"]["cluster"] for f in stored] == ["pki-dev"] and stored[0]["severity"] == "critical"
    assert any("v1alpha2" in e["excerpt"] and e["source"] == "cluster" for e in stored[0]["evidence"])
    assert [s["environment"] for s in plan["rollout"]] == ["dev"]
    commands = [c for step in plan["rollout"][0]["steps"] for c in step["commands"]]
    upgrade = "helm upgrade cert-manager cert-manager --repo https://charts.jetstack.io --version v1.8.2"
    assert any(c.startswith(upgrade) for c in commands)  # the jetstack chart tags versions with a v


def test_without_the_file_the_same_request_is_a_usage_error():
    result = upgradectl("plan", "--tool", "cert-manager", "--fleet", str(PRODUCT / "fleet"), "--llm", "off")
    assert result.returncode == 2
    assert "unknown tool 'cert-manager'" in result.stderr and "Traceback" not in result.stderr
