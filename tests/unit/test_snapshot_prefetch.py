"""A big fleet's snapshots are read by worker processes (tools/cluster/prefetch.py): the plan's process gets the
same lists and facts it would have read and computed itself, and a worker that fails changes nothing but speed."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from concurrent.futures import Future

import pytest

from upgradectl.agents.snapshot_facts import cluster_fact, cost_fact, snapshot_facts
from upgradectl.tools.cluster import prefetch as prefetching
from upgradectl.tools.cluster.fleet import demo_fleet_path, open_fleet
from upgradectl.tools.cluster.prefetch import Derived, derived_fact, forget_prefetched, prefetch, read_workers
from upgradectl.tools.cluster.sources import SnapshotCluster, SourceError
from upgradectl.tools.knowledge.loader import load_tool

fork_only = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                               reason="worker processes are forked")


def _ravan(tmp_path) -> SnapshotCluster:
    root = tmp_path / "ravan"
    shutil.copytree(demo_fleet_path().parent / "clusters" / "ravan", root)
    return SnapshotCluster(root, name="ravan")


def _node_count(source: SnapshotCluster) -> int:
    return len(source.objects("v1", "Node"))


@fork_only
def test_a_worker_reads_the_lists_the_plan_would_read(tmp_path):
    fresh, read_here = _ravan(tmp_path), SnapshotCluster(tmp_path / "ravan", name="ravan")
    prefetch([(fresh, (Derived(("nodes",), _node_count),))], workers=1)
    assert fresh.prefetched is not None
    fresh.take_prefetched()
    assert set(fresh._cache) == set(fresh._files)  # every list arrived from the worker, none was read here
    for key in fresh._files:
        assert fresh._list(key) == read_here._list(key)
    assert derived_fact(fresh, ("nodes",), lambda: -1) == _node_count(read_here)
    assert derived_fact(fresh, ("nodes",), lambda: -1) == -1  # handed over once; then computed where asked


def _untimed(report) -> dict:
    """A cost report without how long its consolidation took (the one field that differs between runs)."""
    data = report.model_dump()
    if data.get("consolidation"):
        data["consolidation"]["seconds"] = 0
    return data


@fork_only
def test_cluster_facts_from_a_worker_equal_the_ones_computed_in_process(monkeypatch):
    monkeypatch.setenv(prefetching.WORKERS_ENV, "1")
    karpenter = load_tool("karpenter")
    in_process, with_worker = open_fleet("demo"), open_fleet("demo")
    clusters = [c for c in with_worker.clusters.values() if isinstance(c.source, SnapshotCluster)]
    prefetch([(c.source, snapshot_facts(karpenter, c)) for c in clusters])
    for c in clusters:
        here = in_process.clusters[c.info.name]
        for derived in snapshot_facts(karpenter, c):
            from_worker, computed = cluster_fact(c, derived), derived.compute(here.source, *derived.args)
            if derived == cost_fact(c):
                from_worker, computed = _untimed(from_worker), _untimed(computed)
            assert from_worker == computed, derived.key
        assert c.source.facts == {}  # each handed over once, none left behind


def test_a_failed_worker_leaves_the_reading_to_the_plan(tmp_path):
    source = _ravan(tmp_path)
    died: Future = Future()
    died.set_exception(RuntimeError("worker killed"))
    source.prefetched = died
    assert source.objects("v1", "Node") == SnapshotCluster(source.path).objects("v1", "Node")
    assert source.prefetched is None


@fork_only
def test_a_list_the_worker_cannot_read_fails_in_the_plan_as_before(tmp_path):
    source = _ravan(tmp_path)
    (source.path / "resources" / "core" / "v1" / "nodes.yaml").write_text("items: [1, 2")
    prefetch([(source, ())], workers=1)
    with pytest.raises(SourceError, match="nodes.yaml"):
        source.objects("v1", "Node")
    assert source.objects("v1", "Pod")  # the lists that read came from the worker


def test_small_fleets_and_the_setting_decide_the_workers(monkeypatch):
    monkeypatch.delenv(prefetching.WORKERS_ENV, raising=False)
    assert read_workers(prefetching.PREFETCH_FROM - 1) == 0
    monkeypatch.setenv(prefetching.WORKERS_ENV, "0")
    assert read_workers(100) == 0
    monkeypatch.setenv(prefetching.WORKERS_ENV, "3")
    assert read_workers(2) in (0, 2)  # never more workers than snapshots (0 where fork is unavailable)


def test_replicas_share_their_status_parts(tmp_path):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"nodeName": "n1"},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0}]}}
    pods = [{**pod, "metadata": {"name": f"web-{i}"}} for i in range(3000)]
    root = tmp_path / "snap"
    (root / "resources" / "core" / "v1").mkdir(parents=True)
    (root / "cluster.yaml").write_text("name: snap\nserver_version: {gitVersion: v1.30.0}\n")
    (root / "resources" / "core" / "v1" / "pods.json").write_text(json.dumps({"kind": "List", "items": pods}))
    read = SnapshotCluster(root).objects("v1", "Pod")
    assert [p["metadata"]["name"] for p in read] == [p["metadata"]["name"] for p in pods]
    assert read[0]["status"] == pod["status"]
    assert read[0]["status"]["containerStatuses"] is read[-1]["status"]["containerStatuses"]


@fork_only
def test_forgotten_snapshots_are_read_in_the_plan_if_asked_for(tmp_path):
    source, read_here = _ravan(tmp_path), SnapshotCluster(tmp_path / "ravan", name="ravan")
    prefetch([(source, (Derived(("nodes",), _node_count),))], workers=1)
    forget_prefetched([source])
    assert source.prefetched is None
    assert derived_fact(source, ("nodes",), lambda: -1) == -1  # nothing handed over
    assert source.objects("v1", "Node") == read_here.objects("v1", "Node")


def test_released_lists_are_read_again_when_asked_for(tmp_path):
    source = _ravan(tmp_path)
    nodes = source.objects("v1", "Node")
    source.release()
    assert source._cache == {}
    assert source.objects("v1", "Node") == nodes
