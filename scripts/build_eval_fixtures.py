#!/usr/bin/env python3
"""Build the small purpose-built fleets some eval scenarios need (evals/scenarios/<id>/fleet/).

Most scenarios run on the bundled demo fleet (or an overlay of it); the decision-tree branches the
demo cannot reach (a clean, well-maintained install one patch or one minor behind: low and medium
risk, rolling and canary) get a one- or two-cluster fleet recorded in the snapshot format of
docs/snapshot-format.md: cluster.yaml, the tool's workloads, its Helm release secret, CRDs, nodes and
recorded metric samples for every gate metric (so no baseline is missing). Deterministic: fixed
times, no randomness; two runs write identical trees, and tests/test_evals.py checks the committed
files match.

    python scripts/build_eval_fixtures.py            # (re)write every fixture
    python scripts/build_eval_fixtures.py --check    # exit 1 when a committed fixture differs
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from upgradectl.tools.helm import release_secret

SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios"
RECORDED_AT = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
RECORDED_FROM = "synthetic eval fixture built by scripts/build_eval_fixtures.py"
SAMPLES = 31  # one per minute up to RECORDED_AT
Obj = dict[str, Any]


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=4096)


@dataclass
class Snapshot:
    """One cluster's snapshot being assembled: resource lists by (group, version, plural), metric series."""

    name: str
    provider: str
    region: str
    git_version: str
    resources: dict[tuple[str, str, str], list[Obj]] = field(default_factory=dict)
    series: list[Obj] = field(default_factory=list)

    def add(self, group: str, version: str, plural: str, obj: Obj) -> None:
        self.resources.setdefault((group, version, plural), []).append(obj)

    def metric(self, name: str, labels: dict[str, str], values: list[float]) -> None:
        start = RECORDED_AT - timedelta(minutes=len(values) - 1)
        stamps = [int((start + timedelta(minutes=i)).timestamp() * 1000) for i in range(len(values))]
        self.series.append({"metric": {"__name__": name, "cluster": self.name, **labels}, "values": values,
                            "timestamps": stamps})

    def write(self, root: Path, metrics_file: str) -> None:
        minor = self.git_version.lstrip("v").split(".")[1]
        meta = {
            "name": self.name,
            "provider": self.provider,
            "region": self.region,
            "recorded_at": ts(RECORDED_AT),
            "recorded_from": RECORDED_FROM,
            "server_version": {"major": "1", "minor": f"{minor}+", "gitVersion": self.git_version,
                               "platform": "linux/amd64"},
        }
        (root / "resources").mkdir(parents=True, exist_ok=True)
        (root / "cluster.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
        for (group, version, plural), items in sorted(self.resources.items()):
            folder = root / "resources" / group / version
            folder.mkdir(parents=True, exist_ok=True)
            body = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
            (folder / f"{plural}.yaml").write_text(to_yaml(body))
        if self.series:
            (root / "metrics").mkdir(exist_ok=True)
            lines = [json.dumps(s, separators=(",", ":"), sort_keys=True) for s in self.series]
            (root / "metrics" / metrics_file).write_text("\n".join(lines) + "\n")


def meta(name: str, namespace: str = "", labels: dict[str, str] | None = None, **extra: Any) -> Obj:
    m: Obj = {"name": name, "creationTimestamp": ts(RECORDED_AT - timedelta(days=40))}
    if namespace:
        m["namespace"] = namespace
    if labels:
        m["labels"] = labels
    m.update(extra)
    return m


def namespaces(snap: Snapshot, *names: str) -> None:
    for name in ("default", "kube-system", *names):
        snap.add("core", "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name),
                                               "status": {"phase": "Active"}})


def nodes(snap: Snapshot, count: int, instance_type: str, cpu: str, memory: str) -> None:
    for i in range(count):
        name = f"ip-10-20-{i + 1}-{10 + i}.{snap.region}.compute.internal"
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": instance_type,
            "topology.kubernetes.io/region": snap.region,
            "topology.kubernetes.io/zone": f"{snap.region}{'abc'[i % 3]}",
            "eks.amazonaws.com/capacityType": "ON_DEMAND",
        }
        snap.add("core", "v1", "nodes", {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta(name, labels=labels),
            "spec": {"providerID": f"aws:///{snap.region}a/i-0{i}eval{snap.name.replace('-', '')[:8]}"},
            "status": {
                "allocatable": {"cpu": cpu, "memory": memory, "pods": "58"},
                "capacity": {"cpu": cpu, "memory": memory, "pods": "58"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "nodeInfo": {"kubeletVersion": snap.git_version, "containerRuntimeVersion": "containerd://1.7.22"},
            },
        })


def workload(kind: str, name: str, namespace: str, image: str, replicas: int | None, labels: dict[str, str]) -> Obj:
    selector = {"app.kubernetes.io/name": name}
    spec: Obj = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": {**selector, **labels}},
                     "spec": {"containers": [{"name": name, "image": image}]}},
    }
    status: Obj = {"observedGeneration": 3}
    if replicas is not None:
        spec["replicas"] = replicas
        status.update({"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas})
    else:
        status.update({"desiredNumberScheduled": 3, "numberReady": 3, "numberAvailable": 3})
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta(name, namespace, {**selector, **labels}),
            "spec": spec, "status": status}


def helm_release(snap: Snapshot, name: str, namespace: str, chart: str, chart_version: str, app_version: str,
                 values: Obj) -> None:
    release = {
        "name": name,
        "namespace": namespace,
        "version": 3,
        "info": {"first_deployed": ts(RECORDED_AT - timedelta(days=200)),
                 "last_deployed": ts(RECORDED_AT - timedelta(days=12)), "deleted": "",
                 "description": "Upgrade complete", "status": "deployed"},
        "chart": {"metadata": {"apiVersion": "v2", "name": chart, "version": chart_version,
                               "appVersion": app_version},
                  "lock": None, "templates": [], "values": {}, "schema": None, "files": []},
        "config": values,
        "manifest": "",
        "hooks": [],
    }
    secret = release_secret(release)
    secret["metadata"]["creationTimestamp"] = ts(RECORDED_AT - timedelta(days=12))
    snap.add("core", "v1", "secrets", secret)


def crds(snap: Snapshot, group: str, plurals: dict[str, tuple[str, str]]) -> None:
    """plural -> (kind, stored version)."""
    for plural, (kind, version) in sorted(plurals.items()):
        snap.add("apiextensions.k8s.io", "v1", "customresourcedefinitions", {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": meta(f"{plural}.{group}"),
            "spec": {"group": group, "names": {"kind": kind, "plural": plural}, "scope": "Namespaced",
                     "versions": [{"name": version, "served": True, "storage": True}]},
            "status": {"storedVersions": [version]},
        })


def counter(start: float, step: float) -> list[float]:
    return [start + step * i for i in range(SAMPLES)]


def flat(value: float) -> list[float]:
    return [value] * SAMPLES


def fleet_file(root: Path, name: str, clusters: list[tuple[str, str, str]]) -> None:
    """clusters: (name, environment, region)."""
    spec = {
        "name": name,
        "clusters": [
            {"name": c, "environment": env, "provider": "eks", "region": region, "role": "workload",
             "snapshot": f"clusters/{c}", "metrics_url": ""}
            for c, env, region in clusters
        ],
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "fleet.yaml").write_text(f"# {RECORDED_FROM}\n" + yaml.safe_dump(spec, sort_keys=False))


# ------------------------------------------------------------------------------------ Cilium


def cilium_cluster(name: str, git_version: str, version: str) -> Snapshot:
    """A clean Cilium install: Helm-managed, HA operator, no value any later release renames or removes."""
    snap = Snapshot(name, "eks", "ap-south-1", git_version)
    namespaces(snap)
    nodes(snap, 3, "m6i.xlarge", "3920m", "14482Mi")
    labels = {"app.kubernetes.io/part-of": "cilium"}
    snap.add("apps", "v1", "daemonsets",
             workload("DaemonSet", "cilium", "kube-system", f"quay.io/cilium/cilium:v{version}", None, labels))
    snap.add("apps", "v1", "deployments", workload("Deployment", "cilium-operator", "kube-system",
                                                    f"quay.io/cilium/operator-aws:v{version}", 2, labels))
    values = {
        "cluster": {"name": name, "id": 11},
        "kubeProxyReplacement": "true",
        "k8sServiceHost": f"{name}.eks.internal",
        "k8sServicePort": 443,
        "routingMode": "tunnel",
        "tunnelProtocol": "vxlan",
        "hubble": {"enabled": True, "relay": {"enabled": True}, "metrics": {"enabled": ["drop", "tcp", "flow"]}},
        "prometheus": {"enabled": True},
        "operator": {"replicas": 2, "prometheus": {"enabled": True}},
        "rollOutCiliumPods": True,
    }
    helm_release(snap, "cilium", "kube-system", "cilium", version, version, values)
    crds(snap, "cilium.io", {
        "ciliumendpoints": ("CiliumEndpoint", "v2"),
        "ciliumidentities": ("CiliumIdentity", "v2"),
        "ciliumnetworkpolicies": ("CiliumNetworkPolicy", "v2"),
        "ciliumnodes": ("CiliumNode", "v2"),
    })
    snap.add("core", "v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": meta("cilium-config", "kube-system"),
                                          "data": {"kube-proxy-replacement": "true", "routing-mode": "tunnel",
                                                   "tunnel-protocol": "vxlan", "cluster-name": name}})
    for node in range(3):
        agent = {"pod": f"cilium-{node}", "job": "cilium-agent"}
        snap.metric("cilium_unreachable_nodes", agent, flat(0))
        snap.metric("cilium_unreachable_health_endpoints", agent, flat(0))
        snap.metric("cilium_endpoint_state", {**agent, "endpoint_state": "ready"}, flat(14))
        snap.metric("cilium_drop_count_total", {**agent, "reason": "Policy denied", "direction": "INGRESS"},
                    counter(120, 0.2))
        snap.metric("cilium_endpoint_regenerations_total", {**agent, "outcome": "success"}, counter(800, 1))
        snap.metric("cilium_controllers_failing", agent, flat(0))
        snap.metric("hubble_drop_total", {**agent, "reason": "POLICY_DENIED", "protocol": "TCP"}, counter(90, 0.2))
    return snap


def build_cilium_patch(root: Path) -> None:
    """008: one prod cluster on Cilium 1.16.5, Kubernetes 1.29 (1.16 supports 1.27-1.30)."""
    fleet_file(root, "edge", [("edge-prod", "prod", "ap-south-1")])
    cilium_cluster("edge-prod", "v1.29.8-eks-a737599", "1.16.5").write(root / "clusters" / "edge-prod", "cilium.jsonl")


def build_cilium_two_minors(root: Path) -> None:
    """014: staging on Kubernetes 1.29 still on the latest 1.15 patch, prod on 1.30 already on the latest 1.16."""
    fleet_file(root, "edge", [("edge-staging", "staging", "ap-south-1"), ("edge-prod", "prod", "ap-south-1")])
    cilium_cluster("edge-staging", "v1.29.8-eks-a737599", "1.15.19").write(
        root / "clusters" / "edge-staging", "cilium.jsonl")
    cilium_cluster("edge-prod", "v1.30.4-eks-a737599", "1.16.19").write(root / "clusters" / "edge-prod", "cilium.jsonl")


def build_cilium_one_minor(root: Path) -> None:
    """018: one prod cluster on Kubernetes 1.30 on the latest 1.16 patch (1.16.19)."""
    fleet_file(root, "edge", [("edge-prod", "prod", "ap-south-1")])
    cilium_cluster("edge-prod", "v1.30.4-eks-a737599", "1.16.19").write(root / "clusters" / "edge-prod", "cilium.jsonl")


# ------------------------------------------------------------------------------------ Argo CD


def build_argocd_patch(root: Path) -> None:
    """015: one management cluster on Argo CD 2.14.11 (chart argo-cd 7.9.1), Kubernetes 1.30, healthy apps."""
    version = "2.14.11"
    fleet_file(root, "platform", [("mgmt", "prod", "ap-south-1")])
    snap = Snapshot("mgmt", "eks", "ap-south-1", "v1.30.4-eks-a737599")
    namespaces(snap, "argocd", "storefront", "payments")
    nodes(snap, 3, "m6i.xlarge", "3920m", "14482Mi")
    image = f"quay.io/argoproj/argocd:v{version}"
    labels = {"app.kubernetes.io/part-of": "argocd", "app.kubernetes.io/version": f"v{version}"}
    for name, replicas in (("argocd-server", 2), ("argocd-repo-server", 2), ("argocd-applicationset-controller", 2),
                           ("argocd-notifications-controller", 1)):
        snap.add("apps", "v1", "deployments", workload("Deployment", name, "argocd", image, replicas, labels))
    snap.add("apps", "v1", "deployments",
             workload("Deployment", "argocd-redis", "argocd", "public.ecr.aws/docker/library/redis:7.4.2-alpine", 1,
                      labels))
    snap.add("apps", "v1", "statefulsets",
             workload("StatefulSet", "argocd-application-controller", "argocd", image, 1, labels))
    values = {
        "fullnameOverride": "argocd",
        "global": {"logging": {"format": "json", "level": "info"}},
        "configs": {"cm": {"url": "https://argocd.mgmt.example.internal", "admin.enabled": False}},
        "server": {"replicas": 2},
        "repoServer": {"replicas": 2},
        "applicationSet": {"replicas": 2},
    }
    helm_release(snap, "argo-cd", "argocd", "argo-cd", "7.9.1", f"v{version}", values)
    snap.add("core", "v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": meta("argocd-cm", "argocd"),
                                          "data": {"url": "https://argocd.mgmt.example.internal",
                                                   "admin.enabled": "false"}})
    crds(snap, "argoproj.io", {
        "applications": ("Application", "v1alpha1"),
        "applicationsets": ("ApplicationSet", "v1alpha1"),
        "appprojects": ("AppProject", "v1alpha1"),
    })
    for app, namespace in (("storefront", "storefront"), ("payments-api", "payments")):
        snap.add("argoproj.io", "v1alpha1", "applications", {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": meta(app, "argocd"),
            "spec": {"project": "default", "destination": {"name": "mgmt", "namespace": namespace},
                     "source": {"repoURL": "https://github.com/example/apps.git", "path": app,
                                "targetRevision": "main"}},
            "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
        })
        snap.metric("argocd_app_info", {"name": app, "project": "default", "sync_status": "Synced",
                                        "health_status": "Healthy", "dest_server": "https://kubernetes.default.svc"},
                    flat(1))
        snap.metric("argocd_app_sync_total", {"name": app, "phase": "Succeeded"}, counter(40, 0.05))
        snap.metric("argocd_app_reconcile_bucket", {"le": "+Inf"}, counter(5000, 4))
    snap.metric("argocd_cluster_connection_status", {"server": "https://kubernetes.default.svc"}, flat(1))
    snap.metric("argocd_git_fetch_fail_total", {"repo": "https://github.com/example/apps.git"}, flat(0))
    snap.metric("argocd_redis_request_total", {"initiator": "argocd-server", "failed": "false"}, counter(9000, 12))
    snap.write(root / "clusters" / "mgmt", "argocd.jsonl")


FIXTURES: dict[str, Callable[[Path], None]] = {
    "008_cilium_security_patch_canary": build_cilium_patch,
    "014_cilium_two_minors_medium_canary": build_cilium_two_minors,
    "015_argocd_security_patch_rolling": build_argocd_patch,
    "018_cilium_one_minor_rollback_limit": build_cilium_one_minor,
    "019_cilium_prod_only_skips_staging": build_cilium_two_minors,  # 014's fleet, scoped to prod by the request
}


def build(scenarios: Path) -> None:
    for scenario, builder in FIXTURES.items():
        target = scenarios / scenario / "fleet"
        if target.exists():
            shutil.rmtree(target)
        builder(target)


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees."""
    comparison = filecmp.dircmp(a, b)
    found = [*comparison.left_only, *comparison.right_only, *comparison.diff_files, *comparison.funny_files]
    for sub in comparison.common_dirs:
        found.extend(f"{sub}/{d}" for d in differences(a / sub, b / sub))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures, write nothing")
    args = parser.parse_args()
    if not args.check:
        build(SCENARIOS)
        print(f"wrote {', '.join(f'{s}/fleet' for s in FIXTURES)} under {SCENARIOS}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for scenario, builder in FIXTURES.items():
            fresh = Path(tmp) / scenario
            builder(fresh)
            committed = SCENARIOS / scenario / "fleet"
            diff = differences(fresh, committed) if committed.is_dir() else ["(missing)"]
            if diff:
                print(f"{scenario}/fleet differs from the generator: {', '.join(sorted(diff))}", file=sys.stderr)
                return 1
    print("eval fixtures match the generator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
