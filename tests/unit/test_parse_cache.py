"""Parsed YAML snapshot lists are cached as JSON: read back unchanged, parsed again when the file changes,
never cached when JSON would change them, and not used at all when the cache is turned off. A cluster's cost
report is kept the same way until its snapshot or the code that works it out changes."""

from __future__ import annotations

import os

import pytest

from upgradectl.tools import parse_cache
from upgradectl.tools.cluster.sources import SnapshotCluster

PODS = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, namespace: shop, labels: {app: web}}
  spec: {nodeName: n1, containers: [{name: app, image: "web:1"}]}
  status: {phase: Running, podIP: 10.0.0.7}
"""


def _snapshot(tmp_path, text: str) -> tuple[SnapshotCluster, object]:
    root = tmp_path / "snap"
    (root / "resources" / "core" / "v1").mkdir(parents=True, exist_ok=True)
    (root / "cluster.yaml").write_text("name: snap\nserver_version: {gitVersion: v1.30.0}\n")
    file = root / "resources" / "core" / "v1" / "pods.yaml"
    file.write_text(text)
    return SnapshotCluster(root), file


def test_a_cached_list_reads_the_same_and_an_edit_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", str(tmp_path / "cache"))
    source, file = _snapshot(tmp_path, PODS)
    first = source.objects("v1", "Pod")
    assert first[0]["status"] == {"phase": "Running"}  # kept lean
    assert parse_cache.read(file, "snapshot-list") == first
    assert SnapshotCluster(file.parents[3]).objects("v1", "Pod") == first  # a new reader gets it from the cache
    file.write_text(PODS.replace("web-1", "web-2"))
    os.utime(file, ns=(1, 1))  # a different modification time (and here size): the entry no longer applies
    assert parse_cache.read(file, "snapshot-list") is None
    assert SnapshotCluster(file.parents[3]).objects("v1", "Pod")[0]["metadata"]["name"] == "web-2"


def test_what_json_would_change_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", str(tmp_path / "cache"))
    dated = PODS.replace("labels: {app: web}", "labels: {app: web}, creationTimestamp: 2026-11-20T03:40:10Z")
    source, file = _snapshot(tmp_path, dated)
    assert source.objects("v1", "Pod")[0]["metadata"]["creationTimestamp"].year == 2026  # YAML's timestamp
    assert parse_cache.read(file, "snapshot-list") is None
    numbered = PODS.replace("labels: {app: web}", "labels: {1: web}")
    source, file = _snapshot(tmp_path / "other", numbered)
    assert source.objects("v1", "Pod")[0]["metadata"]["labels"] == {1: "web"}
    assert parse_cache.read(file, "snapshot-list") is None


def test_turned_off_it_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    source, file = _snapshot(tmp_path, PODS)
    assert source.objects("v1", "Pod")[0]["metadata"]["name"] == "web-1"
    assert parse_cache.read(file, "snapshot-list") is None
    assert not (tmp_path / "xdg").exists()


def test_gitops_and_terraform_files_are_never_cached(tmp_path, monkeypatch):
    """Repository files may hold credentials (plain Secrets, tfvars): only snapshot lists, already redacted by
    the recorder, are copied into the cache."""
    from upgradectl.tools.cluster.fleet import demo_fleet_path
    from upgradectl.tools.gitops.manifests import load_manifests
    from upgradectl.tools.terraform import read_root

    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", str(tmp_path / "cache"))
    demo = demo_fleet_path().parent
    manifests, _problems = load_manifests(demo / "infra-flux")
    read_root(demo / "terraform" / "eks", demo)
    assert len(manifests) > 100
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())



def _demo_cluster(tmp_path):
    """A copy of the demo fleet's ravan snapshot (its own files, so the test may change them)."""
    import shutil

    from upgradectl.tools.cluster.fleet import demo_fleet_path

    root = tmp_path / "ravan"
    shutil.copytree(demo_fleet_path().parent / "clusters" / "ravan", root)
    return root


def _counted_cost_fact(calls: list):
    from upgradectl.agents.snapshot_facts import _priced
    from upgradectl.cost_models import CostReport
    from upgradectl.tools.cluster.prefetch import Derived

    def priced(source, region, provider):
        calls.append(source.name)
        return _priced(source, region, provider)

    return Derived(("cost-report", "ap-south-1", "eks"), priced, ("ap-south-1", "eks"), kept_as=CostReport)


def _without_timing(report) -> dict:
    """The report's facts, without how long its consolidation took to work out (differs from run to run)."""
    return report.model_dump(mode="json", exclude={"consolidation": {"seconds"}})


@pytest.fixture
def kept_cost(tmp_path, monkeypatch):
    """(snapshot root, the compute calls so far, the cost fact, its first value) on a copy of ravan, cache on."""
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", str(tmp_path / "cache"))
    root = _demo_cluster(tmp_path)
    calls: list[str] = []
    fact = _counted_cost_fact(calls)
    return root, calls, fact, fact.value(SnapshotCluster(root))


def test_a_kept_cost_report_is_the_computed_one_until_the_snapshot_or_the_code_changes(kept_cost, tmp_path,
                                                                                        monkeypatch):
    root, calls, fact, computed = kept_cost
    assert calls == ["ravan"] and computed.nodes  # a real report: the demo's priced nodes
    kept = fact.value(SnapshotCluster(root))  # a new reader of the same files
    assert calls == ["ravan"] and kept == computed
    nodes = root / "resources" / "core" / "v1" / "nodes.yaml"
    nodes.write_text(nodes.read_text().replace("m5.large", "m5.xlarge"))
    changed = fact.value(SnapshotCluster(root))
    assert _without_timing(changed) != _without_timing(computed) and calls == ["ravan"] * 2  # a new recording
    code = tmp_path / "binpack.py"
    code.write_text("# the code before\n")
    monkeypatch.setattr(parse_cache, "_code_files", lambda: (code,))
    fact.value(SnapshotCluster(root))
    assert calls == ["ravan"] * 3
    fact.value(SnapshotCluster(root))
    assert calls == ["ravan"] * 3  # kept for this code
    code.write_text("# the code after an upgrade of upgradectl\n")
    fact.value(SnapshotCluster(root))
    assert calls == ["ravan"] * 4


def test_a_kept_fact_that_no_longer_reads_is_worked_out_again_and_none_is_kept_when_off(kept_cost, monkeypatch):
    root, calls, fact, computed = kept_cost
    parse_cache.write_derived(root, fact.kept_kind, {"cluster": "ravan", "current": "not a KPI table"})
    assert _without_timing(fact.value(SnapshotCluster(root))) == _without_timing(computed) and len(calls) == 2
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", "")
    fact.value(SnapshotCluster(root))
    fact.value(SnapshotCluster(root))
    assert len(calls) == 4
