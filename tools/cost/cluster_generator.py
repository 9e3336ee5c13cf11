"""Synthetic Karpenter clusters of any size, for the cost benchmark and the packing property tests.

`generate_cluster(pods=5000, seed=1)` returns an in-memory ClusterSource: three pools (a v1 NodePool
for general spot/on-demand work, a tainted on-demand v1 NodePool, a tainted v1alpha5 batch
Provisioner), three DaemonSets, a system node group, and Deployments/StatefulSets of mixed sizes with
the constraints real fleets carry: pool selectors and tolerations, on-demand-only selectors, zone
affinity, PersistentVolumeClaims, one-per-node anti-affinity, PDBs that allow no disruption and
do-not-disrupt annotations. Pods sit on nodes filled to 40-75%, so there is something to consolidate.
Deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from upgradectl.tools.cluster.sources import ResourceType, split_api_version
from upgradectl.tools.cost.prices import InstanceShape, estimated_allocatable, load_prices
from upgradectl.tools.helm import HelmRelease

REGION = "ap-south-1"
ZONES = ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
Obj = dict[str, Any]


class InMemoryCluster:
    """A ClusterSource over a list of objects (no files): what the generator returns."""

    def __init__(self, name: str, objects: list[Obj], region: str = REGION, provider: str = "eks"):
        self.name = name
        self.meta = {"name": name, "region": region, "provider": provider}
        self._by_kind: dict[tuple[str, str], list[Obj]] = {}
        for obj in objects:
            self._by_kind.setdefault((obj["apiVersion"], obj["kind"]), []).append(obj)

    def server_version(self) -> dict[str, Any]:
        return {"major": "1", "minor": "30", "gitVersion": "v1.30.4-eks-synthetic"}

    def resource_types(self) -> list[ResourceType]:
        out = []
        for api_version, kind in self._by_kind:
            group, version = split_api_version(api_version)
            out.append(ResourceType(group, version, kind.lower() + "s", kind, kind not in ("Node", "NodePool",
                                                                                       "Provisioner")))
        return out

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[Obj]:
        items = self._by_kind.get((api_version, kind), [])
        return [o for o in items if namespace is None or o["metadata"].get("namespace") == namespace]

    def objects_of_kind(self, kind: str, group: str | None = None) -> list[Obj]:
        out = []
        for (api_version, k), items in self._by_kind.items():
            if k == kind and (group is None or split_api_version(api_version)[0] == group):
                out.extend(items)
        return out

    def helm_releases(self) -> list[HelmRelease]:
        return []

    def observed_at(self) -> datetime:
        return datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _req(key: str, op: str, values: list[str]) -> Obj:
    return {"key": key, "operator": op, "values": values}


def _pools() -> list[Obj]:
    general = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "general"}, "spec": {
        "weight": 10, "template": {"metadata": {"labels": {"pool": "general"}}, "spec": {"requirements": [
            _req("karpenter.k8s.aws/instance-category", "In", ["c", "m", "r"]),
            _req("karpenter.k8s.aws/instance-generation", "Gt", ["4"]),
            _req("karpenter.sh/capacity-type", "In", ["spot", "on-demand"]),
            _req("kubernetes.io/arch", "In", ["amd64"]),
            _req("topology.kubernetes.io/zone", "In", ZONES)]}}}}
    critical = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "critical"}, "spec": {
        "weight": 50, "template": {"metadata": {"labels": {"pool": "critical"}}, "spec": {
            "taints": [{"key": "dedicated", "value": "critical", "effect": "NoSchedule"}],
            "requirements": [_req("karpenter.k8s.aws/instance-family", "In", ["m5", "m6i"]),
                             _req("karpenter.sh/capacity-type", "In", ["on-demand"])]}}}}
    batch = {"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {"name": "batch"}, "spec": {
        "weight": 20, "labels": {"pool": "batch"},
        "taints": [{"key": "workload", "value": "batch", "effect": "NoSchedule"}],
        "requirements": [_req("karpenter.k8s.aws/instance-category", "In", ["c", "m"]),
                         _req("karpenter.k8s.aws/instance-size", "In", ["xlarge", "2xlarge", "4xlarge"]),
                         _req("karpenter.sh/capacity-type", "In", ["spot", "on-demand"])]}}
    return [general, critical, batch]


POOL_TYPES = {
    "general": ["m5.xlarge", "m5.2xlarge", "c5.2xlarge", "r5.xlarge", "m6i.xlarge", "c6i.xlarge", "m5.4xlarge"],
    "critical": ["m5.xlarge", "m5.2xlarge", "m6i.2xlarge"],
    "batch": ["c5.xlarge", "c5.2xlarge", "m5.2xlarge", "c6i.4xlarge"],
}
POOL_LABEL = {"general": "karpenter.sh/nodepool", "critical": "karpenter.sh/nodepool",
              "batch": "karpenter.sh/provisioner-name"}
POOL_TAINTS = {"critical": [{"key": "dedicated", "value": "critical", "effect": "NoSchedule"}],
               "batch": [{"key": "workload", "value": "batch", "effect": "NoSchedule"}]}
DAEMONSETS = [("cilium", "100m", "128Mi"), ("node-exporter", "50m", "64Mi"), ("fluent-bit", "100m", "200Mi")]


def _container(cpu_m: int, mem_mi: int) -> Obj:
    return {"name": "app", "image": "app:1", "resources": {"requests": {"cpu": f"{cpu_m}m", "memory": f"{mem_mi}Mi"}}}


class _Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.prices = load_prices()
        self.objects: list[Obj] = []
        self.nodes: dict[str, Obj] = {}
        self.room: dict[str, list[float]] = {}
        self.open: dict[tuple, str] = {}
        self.count = 0

    def node(self, pool: str, capacity: str, zone: str) -> str:
        itype = self.rng.choice(POOL_TYPES[pool])
        shape: InstanceShape = self.prices.instance_types[itype]
        alloc = estimated_allocatable(shape)
        self.count += 1
        name = f"ip-10-0-{self.count // 250}-{self.count % 250}.{REGION}.compute.internal"
        family, _, size = itype.partition(".")
        labels = {"node.kubernetes.io/instance-type": itype, "karpenter.sh/capacity-type": capacity,
                  "topology.kubernetes.io/zone": zone, "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                  "kubernetes.io/hostname": name, POOL_LABEL[pool]: pool, "pool": pool,
                  "karpenter.k8s.aws/instance-family": family, "karpenter.k8s.aws/instance-size": size,
                  "karpenter.k8s.aws/instance-category": family[0]}
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                "spec": {"taints": POOL_TAINTS.get(pool, [])},
                "status": {"allocatable": {"cpu": f"{int(alloc.cpu * 1000)}m",
                                           "memory": f"{int(alloc.memory // 1024)}Ki", "pods": str(shape.max_pods)}}}
        self.nodes[name] = node
        self.objects.append(node)
        target = self.rng.uniform(0.40, 0.75)
        room = [alloc.cpu * target, alloc.memory / 2**20 * target, shape.max_pods]
        for _name, cpu, mem in DAEMONSETS:
            room[0] -= int(cpu[:-1]) / 1000
            room[1] -= int(mem[:-2])
            room[2] -= 1
            self.pod(f"{_name}-{name[3:20]}", "kube-system", name, int(cpu[:-1]), int(mem[:-2]), {"app": _name},
                     owner=("DaemonSet", _name), tolerations=[{"operator": "Exists"}])
        self.room[name] = room
        return name

    def place(self, key: tuple, cpu_m: int, mem_mi: int, one_per_node: set[str] | None = None) -> str:
        pool, capacity, zone = key
        name = self.open.get(key)
        while True:
            if name is not None and name not in (one_per_node or set()):
                room = self.room[name]
                if room[0] >= cpu_m / 1000 and room[1] >= mem_mi and room[2] >= 1:
                    room[0] -= cpu_m / 1000
                    room[1] -= mem_mi
                    room[2] -= 1
                    return name
            name = self.node(pool, capacity, zone)
            self.open[key] = name

    def pod(self, name: str, ns: str, node: str, cpu_m: int, mem_mi: int, labels: dict[str, str], *,
            owner: tuple[str, str] | None, annotations: dict[str, str] | None = None, **spec: Any) -> None:
        meta: Obj = {"name": name, "namespace": ns, "labels": labels}
        if owner:
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                        "controller": True}]
        if annotations:
            meta["annotations"] = annotations
        self.objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                             "spec": {"nodeName": node, "containers": [_container(cpu_m, mem_mi)], **spec},
                             "status": {"phase": "Running"}})


def generate_cluster(pods: int = 5000, seed: int = 1, name: str = "") -> InMemoryCluster:
    """A synthetic cluster with about `pods` workload pods (see the module docstring for the mix)."""
    b = _Builder(seed)
    rng = b.rng
    b.objects.extend(_pools())
    for ds, cpu, mem in DAEMONSETS:
        b.objects.append({"apiVersion": "apps/v1", "kind": "DaemonSet",
                          "metadata": {"name": ds, "namespace": "kube-system"},
                          "spec": {"template": {"spec": {"containers": [_container(int(cpu[:-1]), int(mem[:-2]))],
                                                         "tolerations": [{"operator": "Exists"}]}}}})
    placed = 0
    n = 0
    while placed < pods:
        n += 1
        app = f"app-{n}"
        replicas = min(rng.randint(3, 45), pods - placed)
        cpu_m = rng.choice([100, 150, 250, 300, 500, 750, 1000, 1500, 2000])
        mem_mi = int(cpu_m * rng.choice([1, 2, 2, 4, 4, 8]) * 1.024)
        roll = rng.random()
        spec: Obj = {}
        pool, capacity, zones = "general", rng.choice(["spot", "spot", "on-demand"]), ZONES
        if roll < 0.10:
            pool, capacity = "critical", "on-demand"
            spec = {"nodeSelector": {"pool": "critical"},
                    "tolerations": [{"key": "dedicated", "value": "critical", "effect": "NoSchedule"}]}
        elif roll < 0.20:
            pool = "batch"
            spec = {"nodeSelector": {"karpenter.sh/provisioner-name": "batch"},
                    "tolerations": [{"key": "workload", "operator": "Exists", "effect": "NoSchedule"}]}
        elif roll < 0.25:
            capacity = "on-demand"
            spec = {"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"}}
        elif roll < 0.30:
            zones = [rng.choice(ZONES)]
            spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [_req("topology.kubernetes.io/zone", "In", zones)]}]}}}}
        labels = {"app": app}
        pvc = roll > 0.97
        anti = 0.93 < roll <= 0.97
        if anti:
            replicas = min(replicas, 6)
            spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}]}}
        annotations = {"karpenter.sh/do-not-disrupt": "true"} if 0.90 < roll <= 0.91 else None
        if 0.91 < roll <= 0.93:
            b.objects.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                              "metadata": {"name": app, "namespace": "apps"},
                              "spec": {"maxUnavailable": 0, "selector": {"matchLabels": labels}}})
        used: set[str] = set()
        for i in range(replicas):
            zone = zones[i % len(zones)]
            node = b.place((pool, capacity, zone), cpu_m, mem_mi, used if anti else None)
            if anti:
                used.add(node)
                b.open[(pool, capacity, zone)] = None  # type: ignore[assignment]
            pod_spec = dict(spec)
            if pvc:
                pod_spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{app}-{i}"}}]
            b.pod(f"{app}-{i}", "apps", node, cpu_m, mem_mi, labels,
                  owner=("StatefulSet" if pvc else "ReplicaSet", app), annotations=annotations, **pod_spec)
        placed += replicas
    return InMemoryCluster(name or f"synthetic-{pods}-{seed}", b.objects)
