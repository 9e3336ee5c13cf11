"""Helm values as the GitOps controllers compute them, each value with its origin; YAML as they read it.

Expectations come from the controllers' documentation: Flux helm-controller docs/spec/v2/helmreleases.md
("Values references": valuesFrom merged in the order given, later wins, inline values over those; valuesKey
defaults to values.yaml; optional ignores a missing object), Argo CD docs/operator-manual/application.yaml
(valueFiles relative to the source path; valuesObject takes precedence over values) and user-guide/
multiple_sources.md ($ref/ paths), kustomize's helmCharts (valuesFile, then valuesInline), and YAML 1.2
(an alias refers to the most recent preceding node with that anchor).
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from upgradectl.tools import yamlio
from upgradectl.tools.gitops.kustomize import read_kustomizations
from upgradectl.tools.gitops.manifests import load_manifests
from upgradectl.tools.gitops.values import RepoFiles, compose_argocd, compose_flux, compose_helm_chart

DATA = Path(__file__).parents[1] / "data" / "gitops"


def _repo(tmp_path: Path, files: dict[str, str]) -> RepoFiles:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(dedent(text).lstrip())
    manifests, problems = load_manifests(tmp_path)
    assert not problems
    return RepoFiles(tmp_path, manifests, read_kustomizations(tmp_path))


def _release(files: RepoFiles, kind: str = "HelmRelease"):
    return next(m for m in files.manifests if m.kind == kind)


# ---------------------------------------------------------------- YAML as controllers read it


def test_an_anchor_defined_twice_parses_and_the_later_one_wins():
    doc = yamlio.load("a: &x 1\nb: *x\nc: &x 2\nd: *x\n")
    assert doc == {"a": 1, "b": 1, "c": 2, "d": 2}


def test_unknown_tags_read_as_plain_values_and_the_yaml11_value_tag_as_a_string():
    doc = yamlio.load("base_url: !env_var RADARR_URL\nmatchType: =\nnested: !custom {a: 1}\n")
    assert doc == {"base_url": "RADARR_URL", "matchType": "=", "nested": {"a": 1}}


def test_real_files_with_a_redefined_anchor_or_custom_tags_are_read_and_only_manifests_count():
    for repo, redefined in (
        ("onedr0p-home-ops-2023-12-17",
         "kubernetes/main/apps/observability/kube-prometheus-stack/app/helmrelease.yaml"),
        ("buroa-k8s-gitops-2025-03", "kubernetes/apps/networking/external-dns/unifi/helmrelease.yaml"),
    ):  # fmt: skip
        manifests, problems = load_manifests(DATA / repo)
        assert problems == []
        assert any(m.file == redefined and m.kind == "HelmRelease" for m in manifests)
    manifests, _ = load_manifests(DATA / "onedr0p-home-ops-2023-12-17")
    assert not any(m.file.endswith("recyclarr.yml") for m in manifests)  # an app config, not a manifest
    manifests, _ = load_manifests(DATA / "buroa-k8s-gitops-2025-03")
    alertmanager = next(m for m in manifests if m.kind == "AlertmanagerConfig")
    routes = alertmanager.doc["spec"]["route"]["routes"]
    assert routes[0]["matchers"][0]["matchType"] == "="  # kubernetes/apps/monitoring/.../alertmanagerconfig.yaml:15


def test_a_broken_manifest_is_still_reported(tmp_path):
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata: [unclosed\n")
    (tmp_path / "app-config.yml").write_text("setting: [unclosed\n")
    _, problems = load_manifests(tmp_path)
    assert [p.file for p in problems] == ["broken.yaml"]


# ---------------------------------------------------------------- Flux


FLUX_RELEASE = """
    apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    metadata:
      name: app
    spec:
      chart:
        spec:
          chart: app
          version: 1.0.0
      valuesFrom:
        - kind: ConfigMap
          name: base-values
        - kind: ConfigMap
          name: env-values
          valuesKey: env.yaml
        - kind: ConfigMap
          name: flat
          valuesKey: replicas
          targetPath: deployment.replicas
        - kind: Secret
          name: not-in-git
          optional: true
      values:
        shared: inline
"""


def test_flux_values_merge_in_order_with_inline_values_last_and_keep_their_origin(tmp_path):
    files = _repo(tmp_path, {
        "app/release.yaml": FLUX_RELEASE,
        "app/kustomization.yaml": """
            resources: [release.yaml, env.yaml]
            configMapGenerator:
              - name: base-values
                files:
                  - values.yaml=./base.yaml
        """,
        "app/base.yaml": "shared: base\nonly_base: true\nnested:\n  a: base\n  b: base\n",
        "app/env.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: env-values
            data:
              env.yaml: |
                shared: env
                nested:
                  b: env
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: flat
            data:
              replicas: "3"
        """,
    })  # fmt: skip
    values = compose_flux(_release(files), files)
    assert values.values["shared"] == "inline"  # inline values over every valuesFrom item
    assert values.values["nested"] == {"a": "base", "b": "env"}  # later valuesFrom items win, maps merge
    assert values.values["deployment"] == {"replicas": 3}  # targetPath: one value, typed as --set types it
    assert values.origin("shared").ref == "app/release.yaml:24"
    assert values.origin("only_base").ref == "app/base.yaml:2"  # the generator's source file, not a manifest
    assert values.origin("only_base").site.editable and values.origin("only_base").site.root == ()
    assert values.origin("nested.b").site.file == "app/env.yaml" and not values.origin("nested.b").site.editable
    assert values.origin("nested.b").line == 9  # the line inside the ConfigMap's text block
    assert values.unread == []  # the missing Secret is optional


def test_flux_values_that_cannot_be_read_are_listed_not_taken_as_empty(tmp_path):
    files = _repo(tmp_path, {
        "release.yaml": """
            apiVersion: helm.toolkit.fluxcd.io/v2
            kind: HelmRelease
            metadata:
              name: app
            spec:
              chart:
                spec:
                  chart: app
              valuesFrom:
                - kind: Secret
                  name: encrypted
                - kind: ConfigMap
                  name: missing
        """,
        "secret.yaml": """
            apiVersion: v1
            kind: Secret
            metadata:
              name: encrypted
            stringData:
              values.yaml: ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]
            sops:
              mac: ENC[AES256_GCM,data:xyz]
              version: 3.8.1
        """,
    })  # fmt: skip
    values = compose_flux(_release(files), files)
    reasons = {u.what.split(" ")[1]: u.why for u in values.unread}
    assert "SOPS-encrypted" in reasons["encrypted"]
    assert reasons["missing"] == "not in the GitOps repository"


def test_real_repository_values_from_a_generated_configmap_live_in_its_source_file():
    root = DATA / "onedr0p-home-ops-2024-10-15"
    manifests, _ = load_manifests(root)
    files = RepoFiles(root, manifests, read_kustomizations(root))
    values = compose_flux(_release(files), files)
    app = "kubernetes/main/apps/kube-system/cilium/app"
    # helm-values.yaml line 17 and helmrelease.yaml line 30, read from the files
    assert values.origin("enableRuntimeDeviceDetection").ref == f"{app}/helm-values.yaml:17"
    assert values.origin("hubble.enabled").ref == f"{app}/helmrelease.yaml:30"
    assert values.values["enableRuntimeDeviceDetection"] is True


# ---------------------------------------------------------------- Argo CD and kustomize helmCharts


def test_argocd_multi_source_value_files_then_values_object(tmp_path):
    files = _repo(tmp_path, {
        "apps/cilium.yaml": """
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: cilium
              namespace: argocd
            spec:
              sources:
                - repoURL: https://helm.cilium.io
                  chart: cilium
                  targetRevision: 1.15.6
                  helm:
                    valueFiles:
                      - $values/values/cilium-common.yaml
                      - $values/values/cilium-prod.yaml
                    values: |
                      ignored: true
                    valuesObject:
                      tunnel: vxlan
                - repoURL: https://github.com/example/gitops
                  targetRevision: main
                  ref: values
              destination:
                name: prod
        """,
        "values/cilium-common.yaml": "ipam:\n  mode: kubernetes\ntunnel: disabled\n",
        "values/cilium-prod.yaml": "ipam:\n  mode: cluster-pool\n",
    })  # fmt: skip
    values = compose_argocd(_release(files, "Application"), ("spec", "sources", 0), files)
    assert values.values == {"ipam": {"mode": "cluster-pool"}, "tunnel": "vxlan"}
    assert values.origin("ipam.mode").ref == "values/cilium-prod.yaml:2"
    assert values.origin("tunnel").site.root == ("spec", "sources", 0, "helm", "valuesObject")
    assert values.origin("tunnel").ref == "apps/cilium.yaml:18"


def test_kustomize_helm_chart_values_file_then_inline():
    root = DATA / "vehagn-homelab-2024-04"
    manifests, _ = load_manifests(root)
    files = RepoFiles(root, manifests, read_kustomizations(root))
    chart = next(c for k in files.kustomizations for c in k.helm_charts if c.name == "cilium")
    assert (chart.version, chart.kustomization, chart.version_line) == ("1.15.0", "infra/cilium/kustomization.yaml", 12)
    values = compose_helm_chart(chart, files)
    assert values.layers == ["infra/cilium/values.yaml (helmCharts cilium)"]
    assert values.origin("kubeProxyReplacement").ref == "infra/cilium/values.yaml:8"


def test_hand_written_shapes_that_are_not_lists_are_skipped_not_fatal(tmp_path):
    files = _repo(tmp_path, {
        "release.yaml": """
            apiVersion: helm.toolkit.fluxcd.io/v2
            kind: HelmRelease
            metadata:
              name: app
            spec:
              chart: {spec: {chart: app, version: 1.0.0}}
              valuesFrom: values.yaml
              values: [not, a, map]
        """,
        "kustomization.yaml": "configMapGenerator: oops\nhelmCharts: {name: x}\n",
    })  # fmt: skip
    values = compose_flux(_release(files), files)
    assert values.values == {} and values.unread == []
