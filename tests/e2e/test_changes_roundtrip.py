"""Change sets: every edit of the per-tool plans applies to the demo fleet's files, keeps their comments and
layout, and changes only the intended lines; the plan's Step.changes text comes from the same edits."""

from __future__ import annotations

import json
import re

import pytest
from run_cli import plan

from upgradectl.models import FileEdit, Plan
from upgradectl.tools.cluster.fleet import demo_fleet_path
from upgradectl.tools.gitops.changes import EditError, apply_edits, change_sets, describe, unified_diff
from upgradectl.tools.gitops.yaml_edit import locate

DEMO = demo_fleet_path().parent


@pytest.fixture(scope="module", params=[("karpenter",), ("cilium", "--to", "1.17")])
def applied(request):
    """Every change set of the plan applied in order: (plan, [(change set, before, after)])."""
    p = Plan.model_validate(plan("--tool", *request.param, "--fleet", "demo"))
    texts: dict[str, str] = {}
    done = []
    for cs in change_sets(p):
        before = {f: texts.get(f) or (DEMO / f).read_text() for f in cs.files}
        after = apply_edits(before, cs.edits)
        texts.update(after)
        done.append((cs, before, after))
    return p, done


def test_step_changes_text_is_rendered_from_the_edits(applied):
    p, _ = applied
    for stage in p.rollout:
        for step in stage.steps:
            assert step.changes == list(dict.fromkeys(describe(e) for e in step.edits))


def test_comments_kept_and_only_intended_lines_change(applied):
    _, done = applied
    assert done
    for cs, before, after in done:
        for file, new in after.items():
            old = before[file]
            old_comments = [ln for ln in old.splitlines() if ln.lstrip().startswith("#")]
            assert old_comments == [ln for ln in new.splitlines() if ln.lstrip().startswith("#")], file
            diff = [ln for ln in unified_diff({file: old}, {file: new}).splitlines()
                    if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]  # fmt: skip
            edits = [e for e in cs.edits if e.file == file]
            wanted = {str(v) for e in edits for v in (e.old, e.new, *e.path, *e.new_path) if v}
            for line in diff:  # every changed line names what an edit changes
                assert any(w in line for w in wanted) or line[1:].strip().endswith(":"), (file, line)


def test_pins_are_bumped_hop_by_hop(applied):
    p, done = applied
    for cs, _, after in done:
        for edit in cs.edits:
            if edit.purpose == "chart-version" and edit.format == "yaml":
                assert re.search(rf"version: {re.escape(edit.new)}\b", after[edit.file])
            if edit.format == "hcl" and edit.action == "set" and edit.old:  # pins and module versions (quoted)
                assert f'= "{edit.new}"' in after[edit.file]


def test_a_changed_file_is_refused_not_overwritten():
    p = Plan.model_validate(plan("--tool", "cilium", "--to", "1.15.19", "--fleet", "demo"))
    cs = change_sets(p)[0]
    drifted = {f: (DEMO / f).read_text().replace("version: 1.14.5", "version: 1.14.7") for f in cs.files}
    with pytest.raises(EditError, match="expected '1.14.5'"):
        apply_edits(drifted, cs.edits)


def _edit(**fields) -> FileEdit:
    return FileEdit(cluster="ravan", from_version="1.0", to_version="1.1", **fields)


def test_argocd_applicationset_element_pin_and_quoting():
    text = (
        "# one Application per cluster\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: cilium\n  namespace: argocd\n"
        "spec:\n  generators:\n  - list:\n      elements:\n      - cluster: ravan\n"
        "        chartVersion: '1.15'  # pinned\n"
        "  template:\n    spec:\n      source:\n        chart: cilium\n        targetRevision: '{{chartVersion}}'\n"
    )
    document, path = locate(text, 12, "appset.yaml")
    assert document == {"kind": "ApplicationSet", "name": "cilium", "namespace": "argocd"}
    assert path == ["spec", "generators", 0, "list", "elements", 0, "chartVersion"]
    edit = _edit(purpose="target-revision", action="set", file="appset.yaml", format="yaml", document=document,
                 path=path, old="1.15", new="1.16", shown="chartVersion: {value}")  # fmt: skip
    new = apply_edits({"appset.yaml": text}, [edit])["appset.yaml"]
    assert new == text.replace("chartVersion: '1.15'  # pinned", "chartVersion: '1.16'  # pinned")
    plain = text.replace("'1.15'", "1.15.0")
    bumped = apply_edits({"a.yaml": plain}, [edit.model_copy(update={"file": "a.yaml", "old": "1.15.0", "new": "2.0"})])
    assert "chartVersion: '2.0'  # pinned" in bumped["a.yaml"]  # a plain 2.0 would read back as a number


def test_terraform_literal_version_and_tfvars():
    tf = 'resource "helm_release" "cilium" {\n  chart   = "cilium"\n  version = "1.15.19" # keep\n}\n'
    edit = _edit(purpose="chart-version", action="set", file="main.tf", format="hcl", line=1, path=["version"],
                 old="1.15.19", new="1.16.19", shown='version = "{value}"')  # fmt: skip
    assert apply_edits({"main.tf": tf}, [edit])["main.tf"] == tf.replace("1.15.19", "1.16.19")
    with pytest.raises(EditError, match="no line"):
        apply_edits({"main.tf": tf.replace("1.15.19", "1.15.18")}, [edit])


def test_changes_cli_prints_a_unified_diff(tmp_path):
    from run_cli import upgradectl

    out = tmp_path / "plan.json"
    out.write_text(json.dumps(plan("--tool", "karpenter", "--to", "0.32.10", "--fleet", "demo")))
    result = upgradectl("changes", "--plan", str(out))
    assert result.returncode == 0, result.stderr
    assert "# dev: karpenter 0.31.5 -> 0.32.10 (dev-apps)" in result.stdout
    assert '-karpenter_version            = "v0.31.3"' in result.stdout
    assert '+karpenter_version            = "v0.32.10"' in result.stdout
