"""`upgradectl status` as a user runs it: the fleet board as JSON, text and HTML, with its exit codes."""

from __future__ import annotations

import json

from run_cli import upgradectl

TODAY = {"UPGRADECTL_TODAY": "2026-12-06"}


def test_status_json_lists_every_cluster_and_tool_with_version_support_and_compatibility():
    result = upgradectl("status", "--fleet", "demo", "--format", "json", env=TODAY)
    assert result.returncode == 1, result.stderr  # out-of-support and incompatible tools: exit 1 for CI
    board = json.loads(result.stdout)
    cells = {(c["cluster"], c["tool"]): c for c in board["cells"]}
    # the demo snapshots: ravan (EKS 1.29.6) runs Karpenter's Helm release karpenter-v0.31.3
    ravan = cells[("ravan", "karpenter")]
    assert ravan["version"] == "0.31.3" and ravan["kubernetes_version"] == "1.29.6"
    assert ravan["compatible"] is False and ravan["support"] == "ended"  # v0.31 supports Kubernetes <= 1.28
    assert ravan["evidence"] and ravan["support_source"] and ravan["compatibility_source"]
    assert {c["cluster"] for c in board["cells"]} == {
        "dev-apps", "eks-staging-apps", "gke-staging-apps", "ravan", "keystone", "monitor"}
    assert board["exit_code"] == 1 and board["failing"] > 0


def test_status_text_and_html_and_bad_input():
    text = upgradectl("status", "--fleet", "demo", "--clusters", "keystone", env=TODAY)
    assert text.returncode == 1 and "keystone" in text.stdout and "argocd" in text.stdout
    assert "ravan" not in text.stdout.split("\n- ")[0]
    page = upgradectl("status", "--format", "html", env=TODAY)
    assert page.stdout.startswith("<!doctype html>") and "<table>" in page.stdout
    unknown = upgradectl("status", "--clusters", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr and "Traceback" not in unknown.stderr
    bad = upgradectl("status", "--format", "xml")
    assert bad.returncode == 2 and "xml" in bad.stderr
