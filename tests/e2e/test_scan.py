"""`upgradectl scan` as a user runs it: Flux repos and Pluto-shaped inputs, Pluto's exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from run_cli import upgradectl

DATA = Path(__file__).resolve().parents[1] / "data"


def scan_json(*args: str) -> tuple[int, dict]:
    result = upgradectl("scan", *args, "--format", "json")
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def test_flux_repo_still_on_v2beta1_lists_every_object_with_file_and_line():
    code, report = scan_json("--manifests", str(DATA / "flux-repo-v2beta1"), "--target", "flux=2.7")
    assert code == 3
    removed = {(u["file"], u["line"], u["name"]) for u in report["usages"] if u["status"] == "removed"}
    assert ("apps/base/podinfo/release.yaml", 1, "podinfo") in removed
    assert ("infrastructure/controllers/cert-manager.yaml", 18, "cert-manager") in removed
    assert {u["api_version"] for u in report["usages"] if u["status"] == "removed"} == {
        "helm.toolkit.fluxcd.io/v2beta1"
    }
    deprecated = {(u["file"], u["line"]) for u in report["usages"] if u["kind"] == "Kustomization"}
    assert ("clusters/production/infrastructure.yaml", 2) in deprecated
    assert ("clusters/production/infrastructure.yaml", 18) in deprecated
    every = [u for u in report["usages"]]
    assert all(u["replacement"] for u in every)
    # every v2beta1 / v1beta2 document in the repo is listed, and nothing else
    texts = [p for p in (DATA / "flux-repo-v2beta1").rglob("*.yaml")]
    expected = sum(
        p.read_text().count("apiVersion: helm.toolkit.fluxcd.io/v2beta1")
        + p.read_text().count("apiVersion: kustomize.toolkit.fluxcd.io/v1beta2")
        + p.read_text().count("apiVersion: source.toolkit.fluxcd.io/v1beta2")
        for p in texts
    )
    assert len(every) == expected


def test_migrated_copy_is_clean():
    code, report = scan_json("--manifests", str(DATA / "flux-repo-migrated"), "--target", "flux=2.7")
    assert code == 0 and report["usages"] == []


def test_flux_28_removes_the_v1beta2_apis_too():
    code, report = scan_json("--manifests", str(DATA / "flux-repo-v2beta1"), "--target", "flux=2.8")
    assert code == 3
    assert {u["status"] for u in report["usages"]} == {"removed"}


@pytest.mark.parametrize(
    ("file", "target", "code", "status"),
    [
        ("deployment-extensions-v1beta1.yaml", "k8s=1.15", 2, "deprecated"),  # deprecated-in v1.9.0
        ("deployment-extensions-v1beta1.yaml", "k8s=1.16", 3, "removed"),  # removed-in v1.16.0
        ("deployment-extensions-v1beta1.yaml", "k8s=1.8", 0, None),  # before deprecation
        ("deployment-apps-v1.yaml", "k8s=1.30", 0, None),  # the replacement itself
        ("ingress-extensions-v1beta1.yaml", "k8s=1.16", 4, "replacement-unavailable"),  # networking/v1 from 1.19
        ("ingress-extensions-v1beta1.yaml", "k8s=1.20", 2, "deprecated"),
        ("ingress-extensions-v1beta1.yaml", "k8s=1.22", 3, "removed"),
    ],
)
def test_kubernetes_targets_agree_with_pluto(tmp_path, file, target, code, status):
    shutil.copy(DATA / "pluto" / file, tmp_path / file)
    got, report = scan_json("--manifests", str(tmp_path), "--target", target)
    assert got == code
    assert [u["status"] for u in report["usages"]] == ([status] if status else [])
    if status:
        usage = report["usages"][0]
        assert usage["file"] == file and usage["line"] == 1 and usage["replacement"]


def test_list_documents_are_scanned_item_by_item(tmp_path):
    shutil.copy(DATA / "pluto" / "list-deployment-deprecated-and-non-deprecated.yaml", tmp_path)
    code, report = scan_json("--manifests", str(tmp_path), "--target", "k8s=1.16")
    assert code == 3
    assert [(u["name"], u["line"]) for u in report["usages"]] == [("utilities", 3)]


def test_helm_templates_are_skipped_with_a_note_not_crashed_on():
    code, report = scan_json("--manifests", str(DATA / "pluto" / "chart"), "--target", "k8s=1.16")
    assert code == 0
    assert any("Helm chart template" in n for n in report["notes"])


def test_additional_versions_file_in_pluto_format(tmp_path):
    shutil.copy(DATA / "pluto" / "another-crd.yaml", tmp_path)
    extra = str(DATA / "pluto" / "additional-versions.yaml")
    code, report = scan_json("--manifests", str(tmp_path), "--additional-versions", extra)
    assert code == 0  # the file's own target-versions: other v1.0.0, before deprecated-in v1.9.0
    code, report = scan_json("--manifests", str(tmp_path), "--additional-versions", extra, "--target", "other=1.16")
    assert code == 3 and report["usages"][0]["kind"] == "AnotherCRD"


def test_fleet_scan_finds_stored_versions_and_helm_manifests():
    code, report = scan_json("--fleet", "demo", "--cluster", "keystone", "--helm", "--target", "flux=2.7")
    assert code == 3
    stored = [u for u in report["usages"] if u["source"] == "crd-stored-version"]
    assert any(u["name"] == "helmreleases.helm.toolkit.fluxcd.io" for u in stored)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--manifests", "/nonexistent"], "no such file"),
        (["--manifests", "tests", "--target", "flux"], "is not component=version"),
        (["--manifests", "tests", "--target", "nosuch=1.0"], "no rules for component"),
        ([], "nothing to scan"),
    ],
)
def test_bad_input(args, message):
    result = upgradectl("scan", *args)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
