"""Snapshot lists are kept lean: pods and nodes lose only the status fields nothing reads, big JSON lists are
decoded item by item, and every list reads exactly as `kubectl get -o json|yaml` wrote it otherwise."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from upgradectl.tools.cluster import sources
from upgradectl.tools.cluster.sources import SHARE_STRINGS_FROM, SnapshotCluster, SourceError, lean

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "web:1",
                                                 "resources": {"requests": {"cpu": "250m"}}}]},
    "status": {"phase": "Running", "startTime": "2026-11-20T03:40:10Z", "podIP": "10.0.0.7", "qosClass": "Burstable",
               "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "app", "ready": True, "restartCount": 2, "containerID": "containerd://x",
                                      "state": {"running": {"startedAt": "2026-11-20T03:40:20Z"}}}]},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"allocatable": {"cpu": "4"}, "nodeInfo": {"kernelVersion": "6.1.0"},
                   "images": [{"names": ["web:1"], "sizeBytes": 1}]}}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"},
             "status": {"anything": "kept"}}


def test_lean_keeps_what_upgradectl_reads():
    pod = lean(POD)
    assert pod["status"] == {"phase": "Running", "startTime": "2026-11-20T03:40:10Z",
                             "conditions": [{"type": "Ready", "status": "True"}],
                             "containerStatuses": [{"name": "app", "ready": True, "restartCount": 2}]}
    crashing = {**POD, "status": {**POD["status"], "conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": "2026-11-20T04Z"}],
        "containerStatuses": [{"name": "app", "ready": False, "restartCount": 9,
                               "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]}}
    assert lean(crashing)["status"]["conditions"] == [{"type": "Ready", "status": "False",
                                                       "reason": "ContainersNotReady"}]  # fleet health reads these
    assert lean(crashing)["status"]["containerStatuses"] == [
        {"name": "app", "ready": False, "restartCount": 9, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    assert {k: v for k, v in pod.items() if k != "status"} == {k: v for k, v in POD.items() if k != "status"}
    assert lean(NODE)["status"] == {"allocatable": {"cpu": "4"}, "nodeInfo": {"kernelVersion": "6.1.0"}}
    assert lean(CONFIGMAP) == CONFIGMAP
    assert POD["status"]["podIP"] == "10.0.0.7"  # the input is not changed


def _snapshot(tmp_path, name: str, text: str) -> SnapshotCluster:
    root = tmp_path / "snap"
    (root / "resources" / "core" / "v1").mkdir(parents=True)
    (root / "cluster.yaml").write_text("name: snap\nserver_version: {gitVersion: v1.30.0}\n")
    (root / "resources" / "core" / "v1" / name).write_text(text)
    return SnapshotCluster(root)


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_lists_read_the_same_as_a_whole_document_load(tmp_path, suffix):
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
           "items": [POD, {**POD, "metadata": {**POD["metadata"], "name": "web-2"}}, NODE]}
    text = json.dumps(doc, indent=1) if suffix == "json" else yaml.safe_dump(doc)
    source = _snapshot(tmp_path, f"pods.{suffix}", text)
    assert source.objects("v1", "Pod") == [lean(POD), lean(doc["items"][1])]


def test_big_json_lists_share_their_strings(tmp_path):
    pods = [{**POD, "metadata": {**POD["metadata"], "name": f"web-{i}"}} for i in range(8000)]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": pods})
    assert len(text) >= SHARE_STRINGS_FROM
    read = _snapshot(tmp_path, "pods.json", text).objects("v1", "Pod")
    assert read == [lean(p) for p in pods]
    assert read[0]["spec"]["containers"][0]["image"] is read[-1]["spec"]["containers"][0]["image"]


BOTH_READERS = pytest.mark.parametrize("item_by_item", [False, True], ids=["whole", "item-by-item"])


@BOTH_READERS
@pytest.mark.parametrize(
    "text",
    ['{"items": [1, 2', '{"items": [1 2]}', '{"items": []} x', '{"items" [] }', '{"a": 1,}', "[1, 2]", '"str"',
     '{"items": {"a": 1}}', '{"items": null}', "{]"],
)
def test_malformed_json_lists_are_clear_errors(tmp_path, monkeypatch, text, item_by_item):
    if item_by_item:
        monkeypatch.setattr(sources, "SHARE_STRINGS_FROM", 0)
    clear = r"pods.json(:| is) (not valid JSON|expected a List document|items\[\d+\] is)"
    with pytest.raises(SourceError, match=clear):
        _snapshot(tmp_path, "pods.json", text).objects("v1", "Pod")


@BOTH_READERS
@pytest.mark.parametrize("text", ["{}", ' {"kind": "List", "items": [], "metadata": {"a": [1, {"b": null}]}} \n'])
def test_json_lists_without_items(tmp_path, monkeypatch, text, item_by_item):
    if item_by_item:
        monkeypatch.setattr(sources, "SHARE_STRINGS_FROM", 0)
    assert _snapshot(tmp_path, "pods.json", text).objects("v1", "Pod") == []


def test_shared_parts_are_one_object_only_when_equal_in_type_too():
    shared = sources.Shared()
    spec = {"containers": [{"name": "app", "resources": {"requests": {"cpu": 1}}}], "priority": 0}
    a, b = shared.part(copy.deepcopy(spec)), shared.part(copy.deepcopy(spec))
    assert a is b and a == spec
    for other in ({"containers": [{"name": "app", "resources": {"requests": {"cpu": 1.0}}}], "priority": 0},
                  {"containers": [{"name": "app", "resources": {"requests": {"cpu": True}}}], "priority": 0},
                  {"containers": [{"name": "app", "resources": {"requests": {"cpu": "1"}}}], "priority": 0}):
        kept = shared.part(copy.deepcopy(other))
        assert kept is not a and kept == other
        assert type(kept["containers"][0]["resources"]["requests"]["cpu"]) is type(
            other["containers"][0]["resources"]["requests"]["cpu"])
    assert shared.part(["x", "y"]) is shared.part(["x", "y"])
    assert shared.part("text") is shared.part("".join(["te", "xt"]))
    shared.release()
