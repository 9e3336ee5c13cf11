"""Manifests that validate on the cluster's Kubernetes today but not on the target (kubernetes-validate's schemas).

Expectations come from the Kubernetes deprecation guide (kubernetes.io/docs/reference/using-api/deprecation-guide/):
- v1.32: flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema and PriorityLevelConfiguration are no longer served;
- v1.29: flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema and PriorityLevelConfiguration are no longer served;
- v1.27: storage.k8s.io/v1beta1 CSIStorageCapacity is no longer served;
- "Notable changes in flowcontrol.apiserver.k8s.io/v1beta3": PriorityLevelConfiguration
  spec.limited.assuredConcurrencyShares is renamed to spec.limited.nominalConcurrencyShares (so a v1beta3 object
  still using the old name is invalid before any upgrade).
The manifests are real: kube-no-trouble's fixtures and onedr0p/home-ops (see tests/data/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from upgradectl.tools.gitops.manifests import load_manifests
from upgradectl.tools.verify.target_schemas import SchemaSubject, check_for_target

DATA = Path(__file__).resolve().parents[1] / "data"


def _subjects(root: Path, current: str) -> list[SchemaSubject]:
    manifests, problems = load_manifests(root)
    assert not problems
    return [SchemaSubject(doc=m.doc, source="gitops", ref=f"{m.file}:{m.line}", current=(current,), file=m.file,
                          line=m.line) for m in manifests]


def _broken(report) -> set[tuple[str, str]]:
    return {(b.subject.file, b.subject.kind) for b in report.breaks}


def test_flowcontrol_v1beta3_breaks_going_to_1_32_with_file_and_line():
    report = check_for_target(_subjects(DATA / "kube-no-trouble", "1.31"), "1.32")
    assert _broken(report) == {("fixtures/flowschema-v1beta3.yaml", "FlowSchema")}
    (flow_schema,) = report.breaks
    assert flow_schema.subject.ref == "fixtures/flowschema-v1beta3.yaml:1" and flow_schema.passes_at == "1.31"
    assert "flowcontrol.apiserver.k8s.io/v1beta3 is not served by Kubernetes 1.32" in flow_schema.error
    # the v1beta3 PriorityLevelConfiguration still uses assuredConcurrencyShares: invalid already, not a break
    assert [(s.kind, s.api_version) for s, _ in report.already_invalid if s.kind == "PriorityLevelConfiguration"
            and s.api_version.endswith("v1beta3")] == [("PriorityLevelConfiguration",
                                                        "flowcontrol.apiserver.k8s.io/v1beta3")]
    assert any("assuredConcurrencyShares" in error for _, error in report.already_invalid)


@pytest.mark.parametrize(("current", "target", "expected"), [
    ("1.28", "1.29", {("fixtures/flowschema-v1beta2.yaml", "FlowSchema"),
                      ("fixtures/prioritylevelconfiguration-v1beta2.yaml", "PriorityLevelConfiguration")}),
    ("1.26", "1.27", {("fixtures/csistoragecapacity-v1beta1.yaml", "CSIStorageCapacity")}),
    ("1.29", "1.31", set()),  # nothing in these fixtures is removed in 1.30 or 1.31
])
def test_breaks_are_the_api_versions_the_guide_removes_at_the_target(current, target, expected):
    assert _broken(check_for_target(_subjects(DATA / "kube-no-trouble", current), target)) == expected


def test_custom_resources_are_reported_not_checked_never_passed():
    # buroa/k8s-gitops: a Service, a ClusterRole and a ClusterRoleBinding are built-in kinds; the rest are Flux
    # custom resources and kustomize files, which no Kubernetes schema describes
    subjects = _subjects(DATA / "gitops" / "buroa-k8s-gitops-2025-03", "1.29")
    report = check_for_target(subjects, "1.31")
    assert report.checked == 3 and not report.breaks and not report.already_invalid
    assert sum(report.not_checked.values()) == len(subjects) - 3
    assert report.not_checked["HelmRelease helm.toolkit.fluxcd.io/v2"] >= 1
    assert any("not validated against Kubernetes 1.31" in note and "HelmRelease" in note for note in report.notes())


def test_a_current_version_without_bundled_schemas_is_not_checked_rather_than_invalid():
    # kubernetes-validate bundles schemas from 1.25: a 1.22 cluster's verdict today is unknown
    report = check_for_target(_subjects(DATA / "kube-no-trouble", "1.22"), "1.29")
    assert not report.breaks and not [s for s, _ in report.already_invalid if s.kind == "FlowSchema"
                                      and s.api_version.endswith("v1beta2")]
    assert report.not_checked["FlowSchema flowcontrol.apiserver.k8s.io/v1beta2"] == 1
