"""Cluster health (tools/cluster/health.py): what makes an incident, what is only noted, what pre-release
namespaces change, and what counts as new after a hop. Objects follow the Kubernetes API's shapes (Pod
status.containerStatuses[].state.waiting.reason, Node Ready condition, core/v1 Event lastTimestamp/count),
Flux's Ready condition and spec.suspend, Argo CD's status.health.status; alerts the /api/v1/alerts format."""

from __future__ import annotations

from pathlib import Path

import yaml

from upgradectl.tools.cluster.health import new_since, read_health
from upgradectl.tools.cluster.sources import SnapshotCluster
from upgradectl.tools.metrics.alerts import AlertsRead, for_cluster, parse_alerts, recorded_alerts

RECORDED_AT = "2026-11-20T09:00:00Z"


def pod(name: str, namespace: str, *, waiting: str = "", ready: bool = True, phase: str = "Running",
        started: str = "2026-11-20T07:00:00Z", owner: str = "") -> dict:
    status = {"phase": phase, "startTime": started,
              "conditions": [{"type": "Ready", "status": "True" if ready and not waiting else "False"}],
              "containerStatuses": [{"name": "app", "restartCount": 9 if waiting else 0,
                                     "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}]}
    meta = {"name": name, "namespace": namespace, "creationTimestamp": started}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": "n1"}, "status": status}


def node(name: str, ready: str = "True") -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletNotReady",
                                       "lastTransitionTime": "2026-11-20T08:40:00Z"}]}}


def event(obj: str, namespace: str, reason: str, last: str, count: int = 3, kind: str = "Pod") -> dict:
    return {"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": reason, "count": count,
            "message": f"{reason} on {obj}", "lastTimestamp": last,
            "metadata": {"name": f"{obj}.abc", "namespace": namespace},
            "involvedObject": {"kind": kind, "name": obj, "namespace": namespace}}


def snapshot(root: Path, *, pods=(), nodes=(node("n1"),), events=(), kustomizations=(), name="c1") -> SnapshotCluster:
    files = {"core/v1/pods.yaml": list(pods), "core/v1/nodes.yaml": list(nodes), "core/v1/events.yaml": list(events),
             "kustomize.toolkit.fluxcd.io/v1/kustomizations.yaml": list(kustomizations)}
    for rel, items in files.items():
        path = root / "resources" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    (root / "cluster.yaml").write_text(yaml.safe_dump({"name": name, "recorded_at": RECORDED_AT,
                                                       "server_version": {"gitVersion": "v1.29.6"}}))
    return SnapshotCluster(root, name=name)


NO_ALERTS = AlertsRead([], "test")


def test_crash_loop_outside_prerelease_is_an_incident_inside_it_is_not(tmp_path):
    source = snapshot(tmp_path, pods=[pod("api-1", "checkout", waiting="CrashLoopBackOff"),
                                      pod("rec-1", "alpha", waiting="CrashLoopBackOff")])
    health = read_health("c1", source, NO_ALERTS, prerelease={"alpha"})
    assert [s.ref for s in health.incident] == ["c1: v1 Pod checkout/api-1"]
    assert [s.ref for s in health.prerelease] == ["c1: v1 Pod alpha/rec-1"]
    assert "CrashLoopBackOff" in health.incident[0].excerpt
    assert read_health("c1", source, NO_ALERTS, prerelease=set()).summary() == "2 failing pod(s)"


def test_unready_pods_block_only_in_system_namespaces_and_after_a_grace_period(tmp_path):
    source = snapshot(tmp_path, pods=[
        pod("coredns-1", "kube-system", ready=False),
        pod("web-1", "shop", ready=False),
        pod("web-2", "shop", ready=False, started="2026-11-20T08:58:00Z"),  # 2 minutes old: still starting
        pod("batch-1", "shop", phase="Succeeded", ready=False),
    ])
    health = read_health("c1", source, NO_ALERTS)
    assert [s.ref for s in health.incident] == ["c1: v1 Pod kube-system/coredns-1"]
    assert [s.ref for s in health.noted] == ["c1: v1 Pod shop/web-1"]


def test_notready_node_is_an_incident(tmp_path):
    health = read_health("c1", snapshot(tmp_path, nodes=[node("n1"), node("n2", "Unknown")]), NO_ALERTS)
    assert [s.ref for s in health.incident] == ["c1: v1 Node n2"]
    assert "Ready=Unknown" in health.incident[0].excerpt


def test_flux_not_ready_blocks_unless_suspended_or_still_reconciling(tmp_path):
    def ks(name: str, status: str, suspend: bool = False) -> dict:
        return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": name, "namespace": "flux-system"}, "spec": {"suspend": suspend},
                "status": {"conditions": [{"type": "Ready", "status": status, "reason": "BuildFailed",
                                           "message": "kustomize build failed"}]}}

    source = snapshot(tmp_path, kustomizations=[ks("apps", "False"), ks("infra", "False", suspend=True),
                                                ks("monitoring", "Unknown"), ks("flux-system", "True")])
    health = read_health("c1", source, NO_ALERTS)
    assert [s.ref for s in health.incident] == ["c1: kustomize.toolkit.fluxcd.io/v1 Kustomization flux-system/apps"]
    assert [(s.ref.rsplit("/", 1)[1], s.gating) for s in health.noted] == [("monitoring", False)]


def test_argocd_applications_count_for_their_destination(tmp_path):
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "shop", "namespace": "argocd"},
           "spec": {"destination": {"name": "c1", "namespace": "shop"}},
           "status": {"health": {"status": "Degraded"}, "sync": {"status": "Synced"}}}
    health = read_health("c1", snapshot(tmp_path), NO_ALERTS, applications=[("mgmt", app)])
    assert [s.ref for s in health.incident] == ["mgmt: argoproj.io/v1alpha1 Application argocd/shop"]


def test_alerts_critical_blocks_warning_is_noted_watchdog_is_ignored(tmp_path):
    alerts = parse_alerts([
        {"labels": {"alertname": "Watchdog", "severity": "none"}, "state": "firing"},
        {"labels": {"alertname": "CheckoutDown", "severity": "critical", "namespace": "checkout"}, "state": "firing",
         "annotations": {"summary": "checkout answers 5xx"}, "activeAt": "2026-11-20T08:50:00Z"},
        {"labels": {"alertname": "KubeCPUOvercommit", "severity": "warning"}, "state": "firing"},
        {"labels": {"alertname": "DiskFilling", "severity": "critical"}, "state": "pending"},
    ])
    health = read_health("c1", snapshot(tmp_path), AlertsRead(alerts, "http://vm/api/v1/alerts"))
    assert [s.excerpt.split(" ")[0] for s in health.incident] == ["CheckoutDown"]
    assert "checkout answers 5xx" in health.incident[0].excerpt
    assert [s.excerpt.split(" ")[0] for s in health.noted] == ["KubeCPUOvercommit"]


def test_alerts_of_a_shared_store_are_kept_per_cluster_label():
    alerts = parse_alerts([{"labels": {"alertname": "A", "cluster": "c1"}, "state": "firing"},
                           {"labels": {"alertname": "B", "cluster": "c2"}, "state": "firing"},
                           {"labels": {"alertname": "C"}, "state": "firing"}])
    assert [a.name for a in for_cluster(alerts, "c1", store_is_shared=True)] == ["A"]
    assert [a.name for a in for_cluster(alerts, "c1", store_is_shared=False)] == ["A", "C"]


def test_recorded_alerts_file(tmp_path):
    assert recorded_alerts(tmp_path) is None
    (tmp_path / "alerts.json").write_text('{"status": "success", "data": {"alerts": [{"labels": '
                                          '{"alertname": "X", "severity": "critical"}, "state": "firing"}]}}')
    assert [a.name for a in recorded_alerts(tmp_path)] == ["X"]


def test_only_recent_warning_events_and_unreadable_alerts_leave_the_check_incomplete(tmp_path):
    source = snapshot(tmp_path, events=[event("api-7d9f8c6b5-x2x9z", "shop", "BackOff", "2026-11-20T08:55:00Z"),
                                        event("old-1", "shop", "BackOff", "2026-11-20T06:00:00Z")])
    health = read_health("c1", source, AlertsRead([], "", "alerts not checked: no metrics_url for c1"))
    assert [s.ref for s in health.noted] == ["c1: v1 Event BackOff on Pod shop/api-7d9f8c6b5-x2x9z"]
    assert health.problems == ["alerts not checked: no metrics_url for c1"] and not health.incident


def test_new_since_matches_replaced_pods_by_workload_and_ignores_non_gating_warnings(tmp_path):
    before = read_health("c1", snapshot(tmp_path / "a", pods=[
        pod("rec-5c9d7f6b8-aaaaa", "alpha", waiting="CrashLoopBackOff", owner="rec-5c9d7f6b8")]), NO_ALERTS,
        prerelease={"alpha"})
    after = read_health("c1", snapshot(tmp_path / "b", pods=[
        pod("rec-5c9d7f6b8-bbbbb", "alpha", waiting="CrashLoopBackOff", owner="rec-5c9d7f6b8"),
        pod("api-6f7c8d9e5-ccccc", "shop", waiting="CrashLoopBackOff", owner="api-6f7c8d9e5"),
    ], events=[event("node-x", "", "FailedScheduling", "2026-11-20T08:59:00Z"),
               event("api-6f7c8d9e5-ccccc", "shop", "BackOff", "2026-11-20T08:59:00Z")]), NO_ALERTS,
        prerelease={"alpha"})
    new = new_since(before, after)
    assert [s.ref for s in new] == ["c1: v1 Pod shop/api-6f7c8d9e5-ccccc",
                                    "c1: v1 Event BackOff on Pod shop/api-6f7c8d9e5-ccccc"]


def test_health_gate_after_a_hop_fails_on_what_is_new_and_judges_prerelease_on_its_own(tmp_path):
    """The gate `execute` adds after each hop (graph/execute.py health_gate): a crash loop that was there at the
    pre-flight does not fail it, a new one does; pre-release namespaces get their own verdict."""
    from upgradectl.graph.execute import health_gate  # langgraph: only this test needs the execution graph

    old_loop = pod("rec-5c9d7f6b8-aaaaa", "alpha", waiting="CrashLoopBackOff", owner="rec-5c9d7f6b8")
    before = read_health("c1", snapshot(tmp_path / "a", pods=[old_loop]), NO_ALERTS, prerelease={"alpha"})
    same = read_health("c1", snapshot(tmp_path / "b", pods=[old_loop]), NO_ALERTS, prerelease={"alpha"})
    gates = {g.name: g for g in health_gate("c1", before.to_dict(), same)}
    assert {n: g.result for n, g in gates.items()} == {"cluster-health": "pass", "prerelease-workloads-health": "pass"}

    worse = read_health("c1", snapshot(tmp_path / "c", pods=[
        old_loop, pod("api-6f7c8d9e5-ccccc", "shop", waiting="CrashLoopBackOff", owner="api-6f7c8d9e5"),
        pod("inv-7d8e9f0a1-ddddd", "alpha", waiting="CrashLoopBackOff", owner="inv-7d8e9f0a1")]), NO_ALERTS,
        prerelease={"alpha"})
    gates = {g.name: g for g in health_gate("c1", before.to_dict(), worse)}
    assert gates["cluster-health"].result == "fail" and "shop/api-6f7c8d9e5-ccccc" in gates["cluster-health"].message
    assert gates["prerelease-workloads-health"].result == "fail"
    assert "alpha/inv-7d8e9f0a1-ddddd" in gates["prerelease-workloads-health"].message

    unread = health_gate("c1", None, same)  # no pre-flight record: never a pass
    assert [(g.name, g.result) for g in unread] == [("cluster-health", "inconclusive")]
