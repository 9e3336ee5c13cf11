"""argo-troubleshooter on a fleet where External Secrets Operator writes Argo CD's repository credentials, as a
user runs it (`upgradectl plan --tool argocd`): the ExternalSecret feeding the upgraded tool is found with its
API version against the CRD the cluster serves and its Ready condition; one feeding an unrelated application
is counted, not flagged. Fixtures: tests/data/external_secrets (see its README for the upstream shapes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from run_cli import upgradectl

TESTS = Path(__file__).resolve().parents[1]
DEMO = TESTS.parent / "upgradectl" / "demo_fleet"
DATA = TESTS / "data" / "external_secrets"


def test_external_secret_feeding_argo_cd_is_found_with_its_served_version_and_readiness(tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(DEMO, root)
    keystone = root / "clusters" / "keystone" / "resources"
    (keystone / "external-secrets.io" / "v1beta1").mkdir(parents=True)
    shutil.copy(DATA / "externalsecrets.yaml", keystone / "external-secrets.io" / "v1beta1" / "externalsecrets.yaml")
    crds_file = keystone / "apiextensions.k8s.io" / "v1" / "customresourcedefinitions.yaml"
    crds = yaml.safe_load(crds_file.read_text())
    crds["items"].append(yaml.safe_load((DATA / "crd.yaml").read_text()))
    crds_file.write_text(yaml.safe_dump(crds, sort_keys=False))

    done = upgradectl("plan", "--tool", "argocd", "--to", "3.0.6", "--fleet", str(root), "--format", "json",
                      timeout=300)  # fmt: skip
    assert done.returncode in (0, 1, 3), done.stderr
    plan = json.loads(done.stdout)
    found = [f for f in plan["findings"] if f["code"] == "ESO-SECRET-FEEDS-UPGRADED-TOOL"]
    assert len(found) == 1, [f["title"] for f in found]  # payments-db-credentials feeds no Argo CD Secret
    finding = found[0]
    assert "argocd/private-repo-creds" in finding["title"] and finding["severity"] == "medium"
    assert "v1beta1 is not served by the installed CRD (v1)" in finding["title"]
    assert "not Ready (SecretSyncedError" in finding["title"]
    checked = [c for r in plan["task_log"] if r["agent"] == "argo-troubleshooter" for c in r["checked"]]
    assert any(c.startswith("keystone: 2 ExternalSecret(s), 1 feeding") for c in checked)
