"""The API scanner reads only each manifest's head (apiVersion, kind, metadata name/namespace, file:line);
it must find exactly the manifests, lines and parse problems a full load (load_manifests) finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from upgradectl.tools.gitops.manifests import load_manifest_heads, load_manifests

DOCS = {
    "plain": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n",
    "multi": "---\n# c\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nnot: a manifest\n---\n"
    "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: '*/5 * * * *'\n",
    "list": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: one\n"
    "- just a string\n- apiVersion: policy/v1beta1\n  kind: PodDisruptionBudget\n  metadata:\n    name: two\n",
    "list-without-apiversion": "kind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: s\n",
    "merge-top": "base: &b\n  apiVersion: v1\n  kind: ConfigMap\n---\n<<: {apiVersion: v1, kind: ConfigMap}\n"
    "metadata:\n  name: merged\n",
    "merge-in-item": "apiVersion: v1\nkind: List\nitems:\n- <<: {apiVersion: v1, kind: Namespace}\n  metadata:\n"
    "    name: ns\n",
    "merge-in-metadata": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {name: from-merge}\n  namespace: x\n",
    "numbers": "apiVersion: 1.0\nkind: 12\nmetadata:\n  name: 0x10\n  namespace: true\n",
    "duplicate-keys": "apiVersion: v1\nkind: Pod\nkind: Service\nmetadata:\n  name: a\n  name: b\n",
    "null-metadata": "apiVersion: v1\nkind: Namespace\nmetadata:\n",
    "unknown-tag-deep": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  key: !Ref other\n",
    "lone-equals": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: eq\ndata:\n  k: =\n",
    "complex-key": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ck\ndata:\n  [a, b]: c\n",
    "syntax-error": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
    "anchors": "apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: anchored\nspec:\n  copy: *m\n",
    "anchor-redefined": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n first\n  namespace: *n\n"
    "data:\n  a: &n second\n  b: *n\n",
    "app-config-custom-tag": "sonarr:\n  main:\n    api_key: !env_var SONARR_API_KEY\n    bad: [unclosed\n",
}


def _full(root: Path) -> tuple[list[tuple], list]:
    manifests, problems = load_manifests(root)
    rows = []
    for m in manifests:
        meta = m.doc.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        rows.append((m.file, m.line, m.api_version, m.kind, str(meta.get("name", "")), str(meta.get("namespace", ""))))
    return rows, problems


@pytest.mark.parametrize("name", sorted(DOCS))
def test_heads_match_a_full_load(tmp_path, name):
    (tmp_path / f"{name}.yaml").write_text(DOCS[name])
    heads, problems, templates = load_manifest_heads(tmp_path)
    rows = [(h.file, h.line, h.api_version, h.kind, h.name, h.namespace) for h in heads]
    assert (rows, problems) == _full(tmp_path)
    assert templates == []


def test_every_case_in_one_tree_and_chart_templates_skipped(tmp_path):
    for name, text in DOCS.items():
        (tmp_path / "repo" / name).mkdir(parents=True)
        (tmp_path / "repo" / name / "manifest.yaml").write_text(text)
    chart = tmp_path / "repo" / "charts" / "app"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    (chart / "templates" / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n{{ .Values.x }}\n")
    heads, problems, templates = load_manifest_heads(tmp_path / "repo")
    full, full_problems = _full(tmp_path / "repo")
    assert [(h.file, h.line, h.api_version, h.kind, h.name, h.namespace) for h in heads] == full
    assert problems == full_problems
    # read as the Go YAML decoder the controllers use reads them: an unknown tag or YAML 1.1's lone `=` is the plain
    # value under it, an anchor defined again is legal (the later one wins); a file without apiVersion and kind is
    # no GitOps input whatever it holds. Complex keys and broken syntax stay problems.
    assert {p.file for p in problems} == {"complex-key/manifest.yaml", "syntax-error/manifest.yaml"}
    names = {h.name for h in heads}
    assert {"t", "eq", "first"} <= names
    assert templates == [chart / "templates" / "deploy.yaml"]
    assert ("list/manifest.yaml", 9, "policy/v1beta1", "PodDisruptionBudget", "two", "") in full
