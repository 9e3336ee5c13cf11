"""Charts of the GitOps repo (tools/gitops/charts.py): the demo's Argo CD apps that depend on charts/app-compat,
the Helm 3.17.1 null-over-table change (argo-cd docs/operator-manual/upgrading/2.14-3.0.md: before 3.17.1 a
null over a subchart table only warned "cannot overwrite table with non table"; from 3.17.1 it is rendered),
and rendering with `helm template` or, without helm, reading the templates as manifests (app-compat's
pdb.yaml and hpa.yaml choose policy/v1 and autoscaling/v2 with .Capabilities.APIVersions.Has)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import require_binary

from upgradectl.tools.gitops import charts
from upgradectl.tools.gitops.charts import chart_apps, null_overrides, render
from upgradectl.tools.gitops.manifests import load_manifests

DEMO = Path(__file__).resolve().parents[2] / "upgradectl" / "demo_fleet"
REPO_URL = "https://github.com/livspace-demo/infra-flux"


@pytest.fixture()
def gitops(tmp_path) -> Path:
    root = tmp_path / "infra-flux"
    shutil.copytree(DEMO / "infra-flux", root)
    return root


def apps_of(root: Path):
    return {a.name: a for a in chart_apps(root, load_manifests(root)[0], {REPO_URL})}


def test_demo_apps_deploy_their_charts_with_app_compat(gitops):
    apps = apps_of(gitops)
    assert sorted(apps) == ["alpha-orders-api", "alpha-recommendation-engine", "alpha-storefront",
                            "beta-inventory-api", "beta-orders-api", "beta-storefront"]  # fmt: skip
    storefront = apps["alpha-storefront"]
    assert (storefront.cluster, storefront.namespace, storefront.release) == ("gke-staging-apps", "alpha", "storefront")
    assert storefront.subcharts == {"app-compat": (gitops / "charts" / "app-compat").resolve()}
    assert all(null_overrides(a) == [] for a in apps.values())  # the demo sets no nulls


def test_a_null_over_a_subchart_table_is_found_with_its_line(gitops):
    values = gitops / "apps/gke-staging-apps/alpha/storefront/values.yaml"
    values.write_text(values.read_text() + "  probes: null\n  env: null\n")
    found = null_overrides(apps_of(gitops)["alpha-storefront"])
    # probes defaults to the table {path: /healthz}; env defaults to a list, which Helm replaces anyway
    assert [(n.path, n.file.name, n.default) for n in found] == [("app-compat.probes", "values.yaml",
                                                                  "{path: /healthz}")]  # fmt: skip
    assert values.read_text().splitlines()[found[0].line - 1].strip() == "probes: null"


def test_templates_read_as_manifests_resolve_capabilities_for_the_destination(gitops, monkeypatch):
    monkeypatch.setattr(charts, "helm_binary", lambda: "")
    app = apps_of(gitops)["beta-storefront"]  # pdb.enabled: true
    values = gitops / "apps/gke-staging-apps/beta/storefront/values.yaml"
    values.write_text(values.read_text())
    served = ["apps/v1", "v1", "policy/v1", "policy/v1/PodDisruptionBudget", "autoscaling/v2"]
    rendered = render(app, "1.30.5", served)
    kinds = {(m.kind, m.api_version, m.file) for m in rendered.manifests}
    assert ("PodDisruptionBudget", "policy/v1", "charts/app-compat/templates/pdb.yaml") in kinds
    assert ("HorizontalPodAutoscaler", "autoscaling/v2", "charts/app-compat/templates/hpa.yaml") in kinds
    assert not any(m.api_version in ("policy/v1beta1", "autoscaling/v2beta2") for m in rendered.manifests)
    assert "not checked without helm" in rendered.notes[0]
    old = render(app, "1.20.15", ["apps/v1", "v1", "policy/v1beta1"])  # a cluster that predates policy/v1
    assert ("PodDisruptionBudget", "policy/v1beta1") in {(m.kind, m.api_version) for m in old.manifests}


def test_helm_template_renders_the_app_and_names_the_subchart_template(gitops):
    require_binary("helm")
    rendered = render(apps_of(gitops)["beta-storefront"], "1.30.5", ["policy/v1/PodDisruptionBudget"])
    assert rendered.how.startswith("helm template") and not rendered.error
    got = {(m.kind, m.api_version, m.file, m.name, m.namespace) for m in rendered.manifests}
    assert ("Deployment", "apps/v1", "charts/app-compat/templates/deployment.yaml", "storefront", "beta") in got
    assert ("PodDisruptionBudget", "policy/v1", "charts/app-compat/templates/pdb.yaml", "storefront", "beta") in got


def test_helm_template_of_a_null_probes_fails_as_argo_cd_3_would(gitops):
    require_binary("helm")
    values = gitops / "apps/gke-staging-apps/alpha/storefront/values.yaml"
    values.write_text(values.read_text() + "  probes: null\n")
    rendered = render(apps_of(gitops)["alpha-storefront"], "1.30.5", [])
    version = charts.helm_version(charts.helm_binary())
    major, minor, patch = (int(x) for x in version.lstrip("v").split(".")[:3])
    if (major, minor, patch) >= (3, 17, 1):  # the behaviour Argo CD 3.0's Helm has
        assert "probes" in rendered.error or "nil pointer" in rendered.error
    else:
        assert not rendered.error
