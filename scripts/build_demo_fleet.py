#!/usr/bin/env python3
"""Build upgradectl's bundled demo fleet (upgradectl/demo_fleet/).

The fleet is six recorded cluster snapshots (docs/snapshot-format.md), the GitOps repository that
Flux applies to them (infra-flux/) and the Terraform root that installs Karpenter (terraform/eks/).
Everything is generated from the tables in this file, so the three views agree: a Provisioner in a
snapshot has the same spec as its file in infra-flux, a Helm release secret carries exactly the
values file Terraform passed, every pod sits on a recorded node that has room for it.

Deterministic: ids, hashes, name suffixes and metric samples come from generators seeded with
fixed strings, and all times are offsets from RECORDED_AT. Two runs write identical trees.

    python scripts/build_demo_fleet.py           # (re)writes upgradectl/demo_fleet/
    python scripts/build_demo_fleet.py --out DIR

Hand-written static parts (Terraform *.tf, the in-repo app-compat chart) live under
scripts/demo_fleet_src/ and are copied as they are.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import math
import random
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from upgradectl.tools.helm import release_secret

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "upgradectl" / "demo_fleet"
SRC_DIR = Path(__file__).resolve().parent / "demo_fleet_src"

SEED = "upgradectl-demo-fleet/1"
RECORDED_AT = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
RECORDED_FROM = "synthetic demo fixture built by scripts/build_demo_fleet.py"
ACCOUNT = "111122223333"
GIT_HTTPS = "https://github.com/livspace-demo/infra-flux"
GIT_SSH = "ssh://git@github.com/livspace-demo/infra-flux"
GIT_BRANCH = "main"
GIT_HEAD = hashlib.sha1(b"livspace-demo/infra-flux@2026-11-19T17:42:10Z").hexdigest()
FLUX_REVISION = f"{GIT_BRANCH}@sha1:{GIT_HEAD}"
ECR = f"{ACCOUNT}.dkr.ecr.ap-south-1.amazonaws.com"

Obj = dict[str, Any]


# ------------------------------------------------------------------------------------ determinism


class Ids:
    """Seeded source of uids, hex strings, name suffixes and resourceVersions for one scope."""

    ALNUM = "bcdfghjklmnpqrstvwxz2456789"

    def __init__(self, *scope: str):
        self.rng = random.Random(":".join((SEED, *scope)))
        self._rv = 4_000_000 + self.rng.randrange(2_000_000)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(self.ALNUM) for _ in range(n))

    def rv(self) -> str:
        self._rv += self.rng.randrange(7, 900)
        return str(self._rv)


def digest(*parts: str) -> str:
    """A stable sha256 digest for an image, config or chart, derived from its name."""
    return "sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def helm_time(moment: datetime, ids: Ids) -> str:
    """Helm writes Go RFC3339Nano times with the zone offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ids.rng.randrange(10**8, 10**9)}Z"


# ------------------------------------------------------------------------------------ writers


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks and never emits aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _represent_str)


def to_yaml(obj: Any, *, sort_keys: bool = False) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False, width=4096)


def k8s_list(items: list[Obj]) -> str:
    """One List document as `kubectl get -A -o yaml` prints it (keys sorted)."""
    return to_yaml({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}},
                   sort_keys=True)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cpu_q(milli: int) -> str:
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def mem_q(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


# ------------------------------------------------------------------------------------ instance types


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    mem_gib: int
    max_pods: int
    bandwidth: int = 0  # EC2 baseline network bandwidth in Mbps (karpenter.k8s.aws/instance-network-bandwidth)

    @property
    def family(self) -> str:
        return self.name.split(".")[0] if "." in self.name else self.name.split("-")[0]

    @property
    def size(self) -> str:
        return self.name.split(".")[1]

    @property
    def category(self) -> str:
        return self.family[0]

    @property
    def generation(self) -> int:
        return int(self.family[1])


EC2 = {
    it.name: it
    for it in [
        InstanceType("m5.large", 2, 8, 29, 750),
        InstanceType("m5.xlarge", 4, 16, 58, 1250),
        InstanceType("m5.2xlarge", 8, 32, 58, 2500),
        InstanceType("c5.xlarge", 4, 8, 58, 1250),
        InstanceType("c5.2xlarge", 8, 16, 58, 2500),
        InstanceType("r5.xlarge", 4, 32, 58, 1250),
        InstanceType("m6i.xlarge", 4, 16, 58, 1562),
    ]
}
GCE = {
    it.name: it
    for it in [
        InstanceType("e2-standard-4", 4, 16, 110),
        InstanceType("e2-standard-8", 8, 32, 110),
        InstanceType("n2-standard-8", 8, 32, 110),
    ]
}


def reserved_cpu_m(vcpu: int) -> int:
    """kube-reserved CPU used by the EKS AL2 AMI and by GKE: 6% of core 1, 1% of core 2,
    0.5% of cores 3-4, 0.25% above."""
    return int(60 + (10 if vcpu > 1 else 0) + 5 * min(max(vcpu - 2, 0), 2) + 2.5 * max(vcpu - 4, 0))


def eks_memory_ki(it: InstanceType) -> tuple[int, int]:
    """(capacity, allocatable) in KiB on the EKS AL2 AMI: kube-reserved 11 MiB per max pod + 255 MiB,
    plus 100 MiB hard eviction threshold."""
    capacity = int(it.mem_gib * 1048576 * 0.96) // 4 * 4
    return capacity, capacity - (11 * it.max_pods + 255 + 100) * 1024


def gke_memory_ki(it: InstanceType) -> tuple[int, int]:
    """(capacity, allocatable) in KiB on GKE: 25% of the first 4 GiB, 20% of the next 4, 10% of the
    next 8, 6% of the next 112, plus 100 MiB eviction threshold."""
    gib = it.mem_gib
    capacity = int(gib * 1048576 * 0.977) // 4 * 4
    reserved_mib = 1024 * (0.25 * min(gib, 4) + 0.20 * min(max(gib - 4, 0), 4)
                           + 0.10 * min(max(gib - 8, 0), 8) + 0.06 * min(max(gib - 16, 0), 112)) + 100
    return capacity, capacity - int(reserved_mib * 1024)


# ------------------------------------------------------------------------------------ nodes


@dataclass
class Node:
    name: str
    provider: str  # eks | gke
    pool: str  # EKS node group, Karpenter provisioner or GKE node pool
    kind: str  # mng | karpenter | gke
    itype: InstanceType
    zone: str
    region: str
    capacity_type: str  # on-demand | spot
    created: datetime
    kubelet: str
    ip: str
    provider_id: str
    instance_id: str
    disk_gib: int
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    target: float = 0.8  # how full the scheduler packs it (CPU requests / allocatable)
    uid: str = ""
    machine: str = ""  # Karpenter Machine name
    owner_refs: list[Obj] = field(default_factory=list)
    pod_cidr: str = ""
    alloc_cpu: int = 0
    cap_mem: int = 0
    alloc_mem: int = 0
    used_cpu: int = 0
    used_mem: int = 0
    hosted: list[tuple[str, str]] = field(default_factory=list)  # (namespace, workload) per pod

    def __post_init__(self) -> None:
        self.alloc_cpu = self.itype.vcpu * 1000 - reserved_cpu_m(self.itype.vcpu)
        memory = eks_memory_ki if self.provider == "eks" else gke_memory_ki
        self.cap_mem, self.alloc_mem = memory(self.itype)


class Subnets:
    """Node and pod IPs for one VPC (EKS: a /19 per zone; pods share the node subnets via aws-cni)."""

    def __init__(self, ids: Ids, second_octet: int, zones: list[str]):
        self.ids, self.octet, self.zones, self.used = ids, second_octet, zones, set()

    def ip(self, zone: str) -> str:
        z = self.zones.index(zone)
        while True:
            addr = f"10.{self.octet}.{z * 32 + self.ids.rng.randrange(32)}.{self.ids.rng.randrange(4, 251)}"
            if addr not in self.used:
                self.used.add(addr)
                return addr


def eks_node(ctx: ClusterCtx, *, pool: str, kind: str, itype: str, zone: str, capacity: str,
             created: str, kubelet: str, disk_gib: int, target: float = 0.8,
             taints: list[Obj] | None = None, extra_labels: dict[str, str] | None = None) -> Node:
    it = EC2[itype]
    ip = ctx.subnets.ip(zone)
    name = f"ip-{ip.replace('.', '-')}.{ctx.region}.compute.internal"
    instance_id = "i-0" + ctx.ids.hex(16)
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": it.name,
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": ctx.region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "k8s.io/cloud-provider-aws": hashlib.md5(ctx.name.encode()).hexdigest(),
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": it.name,
        "topology.ebs.csi.aws.com/zone": zone,
        "topology.kubernetes.io/region": ctx.region,
        "topology.kubernetes.io/zone": zone,
    }
    annotations = {
        "alpha.kubernetes.io/provided-node-ip": ip,
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    if kind == "mng":
        labels.update({
            "eks.amazonaws.com/capacityType": "ON_DEMAND",
            "eks.amazonaws.com/nodegroup": pool,
            "eks.amazonaws.com/nodegroup-image": ctx.mng_ami,
            "eks.amazonaws.com/sourceLaunchTemplateId": ctx.mng_launch_template,
            "eks.amazonaws.com/sourceLaunchTemplateVersion": "4",
        })
    else:
        labels.update({
            "karpenter.k8s.aws/instance-category": it.category,
            "karpenter.k8s.aws/instance-cpu": str(it.vcpu),
            "karpenter.k8s.aws/instance-encryption-in-transit-supported": "true",
            "karpenter.k8s.aws/instance-family": it.family,
            "karpenter.k8s.aws/instance-generation": str(it.generation),
            "karpenter.k8s.aws/instance-hypervisor": "nitro",
            "karpenter.k8s.aws/instance-memory": str(it.mem_gib * 1024),
            "karpenter.k8s.aws/instance-network-bandwidth": str(it.bandwidth),
            "karpenter.k8s.aws/instance-pods": str(it.max_pods),
            "karpenter.k8s.aws/instance-size": it.size,
            "karpenter.sh/capacity-type": capacity,
            "karpenter.sh/initialized": "true",
            "karpenter.sh/provisioner-name": pool,
            "karpenter.sh/registered": "true",
        })
        annotations["karpenter.k8s.aws/nodetemplate-hash"] = str(int(ctx.ids.hex(15), 16))
        annotations["karpenter.sh/provisioner-hash"] = str(int(ctx.ids.hex(15), 16))
    labels.update(extra_labels or {})
    node = Node(name=name, provider="eks", pool=pool, kind=kind, itype=it, zone=zone, region=ctx.region,
                capacity_type=capacity, created=at(created), kubelet=kubelet, ip=ip,
                provider_id=f"aws:///{zone}/{instance_id}", instance_id=instance_id, disk_gib=disk_gib,
                labels=labels, annotations=annotations, taints=list(taints or []), target=target,
                uid=ctx.ids.uid())
    if kind == "karpenter":
        node.machine = f"{pool}-{ctx.ids.suffix()}"
    return node


def gke_node(ctx: ClusterCtx, *, pool: str, itype: str, zone: str, created: str, spot: bool = False,
             target: float = 0.8, pool_hash: str = "") -> Node:
    it = GCE[itype]
    name = f"gke-{ctx.name}-{pool}-{pool_hash}-{ctx.ids.suffix(4)}"
    z = ctx.zones.index(zone)
    ip = f"10.{ctx.second_octet}.{z * 16 + ctx.ids.rng.randrange(16)}.{ctx.ids.rng.randrange(2, 250)}"
    instance_id = str(ctx.ids.rng.randrange(10**18, 10**19))
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": it.name,
        "beta.kubernetes.io/os": "linux",
        "cloud.google.com/gke-boot-disk": "pd-balanced",
        "cloud.google.com/gke-container-runtime": "containerd",
        "cloud.google.com/gke-cpu-scaling-level": str(it.vcpu),
        "cloud.google.com/gke-logging-variant": "DEFAULT",
        "cloud.google.com/gke-max-pods-per-node": "110",
        "cloud.google.com/gke-nodepool": pool,
        "cloud.google.com/gke-os-distribution": "cos",
        "cloud.google.com/gke-provisioning": "spot" if spot else "standard",
        "cloud.google.com/gke-stack-type": "IPV4",
        "cloud.google.com/machine-family": it.family,
        "cloud.google.com/private-node": "true",
        "failure-domain.beta.kubernetes.io/region": ctx.region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "iam.gke.io/gke-metadata-server-enabled": "true",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": it.name,
        "topology.gke.io/zone": zone,
        "topology.kubernetes.io/region": ctx.region,
        "topology.kubernetes.io/zone": zone,
    }
    if spot:
        labels["cloud.google.com/gke-spot"] = "true"
    annotations = {
        "container.googleapis.com/instance_id": instance_id,
        "csi.volume.kubernetes.io/nodeid": json.dumps(
            {"pd.csi.storage.gke.io": f"projects/{ctx.project}/zones/{zone}/instances/{name}"},
            separators=(",", ":")),
        "node.alpha.kubernetes.io/ttl": "0",
        "node.gke.io/last-applied-node-labels": f"cloud.google.com/gke-nodepool={pool}",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    node = Node(name=name, provider="gke", pool=pool, kind="gke", itype=it, zone=zone, region=ctx.region,
                capacity_type="spot" if spot else "on-demand", created=at(created), kubelet=ctx.kubelet,
                ip=ip, provider_id=f"gce://{ctx.project}/{zone}/{name}", instance_id=instance_id,
                disk_gib=100, labels=labels, annotations=annotations, target=target, uid=ctx.ids.uid())
    node.pod_cidr = f"10.{ctx.second_octet + 4}.{len(ctx.nodes) * 2}.0/24"
    return node


def node_object(node: Node, ids: Ids) -> Obj:
    it = node.itype
    disk_ki = node.disk_gib * 1048576 - 1_120_000
    eph_alloc = str(int(disk_ki * 1024 * (0.9 if node.provider == "eks" else 0.47)))
    capacity = {"cpu": str(it.vcpu), "ephemeral-storage": f"{disk_ki}Ki", "hugepages-1Gi": "0",
                "hugepages-2Mi": "0", "memory": f"{node.cap_mem}Ki", "pods": str(it.max_pods)}
    allocatable = {"cpu": cpu_q(node.alloc_cpu), "ephemeral-storage": eph_alloc, "hugepages-1Gi": "0",
                   "hugepages-2Mi": "0", "memory": f"{node.alloc_mem}Ki", "pods": str(it.max_pods)}
    heartbeat = ts(RECORDED_AT - timedelta(seconds=ids.rng.randrange(5, 40)))
    since = ts(node.created + timedelta(seconds=40))
    conditions = [
        {"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": heartbeat,
         "lastTransitionTime": since}
        for t, r, m in [("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available")]
    ]
    conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "kubelet is posting ready status", "lastHeartbeatTime": heartbeat,
                       "lastTransitionTime": ts(node.created + timedelta(seconds=65))})
    if node.provider == "eks":
        os_image, kernel, runtime = "Amazon Linux 2", "5.10.225-213.878.amzn2.x86_64", "containerd://1.7.11"
        addresses = [{"address": node.ip, "type": "InternalIP"},
                     {"address": node.name, "type": "InternalDNS"},
                     {"address": node.name, "type": "Hostname"}]
    else:
        os_image, kernel, runtime = "Container-Optimized OS from Google", "6.1.100+", "containerd://1.7.22"
        addresses = [{"address": node.ip, "type": "InternalIP"}, {"address": node.name, "type": "Hostname"}]
    meta: Obj = {"name": node.name, "uid": node.uid, "resourceVersion": ids.rv(),
                 "creationTimestamp": ts(node.created), "labels": dict(node.labels),
                 "annotations": dict(node.annotations)}
    if node.kind == "karpenter":
        meta["finalizers"] = ["karpenter.sh/termination"]
    if node.owner_refs:
        meta["ownerReferences"] = copy.deepcopy(node.owner_refs)
    spec: Obj = {"providerID": node.provider_id}
    if node.taints:
        spec["taints"] = [dict(t) for t in node.taints]
    if node.pod_cidr:
        spec["podCIDR"] = node.pod_cidr
        spec["podCIDRs"] = [node.pod_cidr]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": spec,
        "status": {
            "addresses": addresses,
            "allocatable": allocatable,
            "capacity": capacity,
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": ids.uid(),
                "containerRuntimeVersion": runtime,
                "kernelVersion": kernel,
                "kubeProxyVersion": node.kubelet,
                "kubeletVersion": node.kubelet,
                "machineID": ids.hex(32),
                "operatingSystem": "linux",
                "osImage": os_image,
                "systemUUID": ("ec2" + ids.uid()[3:]) if node.provider == "eks" else ids.uid(),
            },
        },
    }


# ------------------------------------------------------------------------------------ workloads


@dataclass
class Container:
    name: str
    image: str
    cpu: int  # request, millicores
    mem: int  # request, MiB
    cpu_limit: int | None = None
    mem_limit: int | None = None
    ports: list[tuple[str, int]] = field(default_factory=list)
    extra: Obj = field(default_factory=dict)  # args, env, probes, securityContext, ...

    def spec(self) -> Obj:
        out: Obj = {"name": self.name, "image": self.image, "imagePullPolicy": "IfNotPresent"}
        out.update(copy.deepcopy(self.extra))
        if self.ports:
            out["ports"] = [{"containerPort": p, "name": n, "protocol": "TCP"} for n, p in self.ports]
        resources: Obj = {"requests": {"cpu": cpu_q(self.cpu)}}
        if self.mem:
            resources["requests"]["memory"] = mem_q(self.mem)
        limits = {}
        if self.cpu_limit:
            limits["cpu"] = cpu_q(self.cpu_limit)
        if self.mem_limit:
            limits["memory"] = mem_q(self.mem_limit)
        if limits:
            resources["limits"] = limits
        out["resources"] = resources
        return out


@dataclass
class Workload:
    kind: str  # Deployment | StatefulSet | DaemonSet | Job
    namespace: str
    name: str
    containers: list[Container]
    replicas: int = 1
    selector: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # object labels (selector labels are added)
    annotations: dict[str, str] = field(default_factory=dict)  # object annotations
    pod_labels: dict[str, str] = field(default_factory=dict)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Obj] = field(default_factory=list)
    affinity: Obj | None = None
    pod_extra: Obj = field(default_factory=dict)
    service_account: str = "default"
    priority_class: str | None = None
    host_network: bool = False
    created: datetime = field(default_factory=lambda: at("2026-06-10T07:30:00Z"))
    rollout: datetime = field(default_factory=lambda: at("2026-11-12T06:15:00Z"))
    revision: int = 3
    one_per_node: bool = False  # required pod anti-affinity on hostname
    pin: list[str] = field(default_factory=list)  # node names, one per replica
    service_ports: list[tuple[str, int, int | str]] = field(default_factory=list)  # (name, port, targetPort)
    service_name: str | None = None
    crashloop: bool = False
    strategy: Obj | None = None
    job_spec: Obj = field(default_factory=dict)
    owner: Obj | None = None  # ownerReference of the workload object itself (operator-managed)
    gitops: bool = False  # also written as a plain manifest into the GitOps repo

    def __post_init__(self) -> None:
        if not self.selector:
            self.selector = {"app.kubernetes.io/name": self.name}

    @property
    def pod_cpu(self) -> int:
        return sum(c.cpu for c in self.containers)

    @property
    def pod_mem_ki(self) -> int:
        return sum(c.mem for c in self.containers) * 1024


def tol(key: str, value: str | None = None, effect: str = "NoSchedule", operator: str | None = None) -> Obj:
    out: Obj = {"key": key, "operator": operator or ("Equal" if value is not None else "Exists"), "effect": effect}
    if value is not None:
        out["value"] = value
    return out


TOLERATE_ALL = [{"operator": "Exists"}]
CRITICAL_ADDONS = tol("CriticalAddonsOnly")


def flux_labels(kustomization: str) -> dict[str, str]:
    return {"kustomize.toolkit.fluxcd.io/name": kustomization, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def helm_labels(release: str, chart: str, chart_version: str, app_version: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": release, "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/version": app_version, "helm.sh/chart": f"{chart}-{chart_version}"}


def helm_annotations(release: str, namespace: str) -> dict[str, str]:
    return {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace}


# ------------------------------------------------------------------------------------ scheduling


def _tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if not t.get("key") and t.get("operator") == "Exists":
            return True
        if t.get("key") != taint["key"]:
            continue
        if t.get("operator") == "Exists" or t.get("value") == taint.get("value"):
            return True
    return False


def _expression_holds(expr: Obj, labels: dict[str, str]) -> bool:
    value = labels.get(expr["key"])
    op = expr["operator"]
    if op == "In":
        return value in expr["values"]
    if op == "NotIn":
        return value not in expr["values"]
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    raise ValueError(op)


def eligible(w: Workload, node: Node) -> bool:
    if any(node.labels.get(k) != v for k, v in w.node_selector.items()):
        return False
    if any(not _tolerates(w.tolerations, t) for t in node.taints if t["effect"] in ("NoSchedule", "NoExecute")):
        return False
    terms = (((w.affinity or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
             or {}).get("nodeSelectorTerms")
    return not terms or any(
        all(_expression_holds(e, node.labels) for e in term.get("matchExpressions", [])) for term in terms)


def _fits(node: Node, w: Workload) -> bool:
    return (node.used_cpu + w.pod_cpu <= node.alloc_cpu and node.used_mem + w.pod_mem_ki <= node.alloc_mem
            and len(node.hosted) < node.itype.max_pods)


def _bind(node: Node, w: Workload) -> None:
    if not _fits(node, w):
        raise SystemExit(f"{w.namespace}/{w.name} does not fit on {node.name}")
    node.used_cpu += w.pod_cpu
    node.used_mem += w.pod_mem_ki
    node.hosted.append((w.namespace, w.name))


def schedule(nodes: list[Node], workloads: list[Workload]) -> dict[int, list[Node]]:
    """Place every pod: DaemonSet pods on every eligible node, then the other replicas (largest first)
    on the eligible node with the most room left under its packing target, spreading replicas.
    Returns id(workload) -> nodes, one per pod in ordinal order."""
    placed: dict[int, list[Node]] = defaultdict(list)
    by_name = {n.name: n for n in nodes}
    for w in workloads:
        if w.kind == "DaemonSet":
            for node in nodes:
                if eligible(w, node):
                    _bind(node, w)
                    placed[id(w)].append(node)
    replicas = [(w, i) for w in workloads if w.kind != "DaemonSet" for i in range(w.replicas)]
    replicas.sort(key=lambda r: (-r[0].pod_cpu, -r[0].pod_mem_ki))
    for w, i in replicas:
        if w.pin:
            node = by_name[w.pin[i]]
            if not eligible(w, node):
                raise SystemExit(f"{w.namespace}/{w.name} is pinned to {node.name} but may not run there")
        else:
            key = (w.namespace, w.name)
            candidates = [n for n in nodes if eligible(w, n) and _fits(n, w)
                          and not (w.one_per_node and key in n.hosted)]
            if not candidates:
                raise SystemExit(f"no node can take {w.namespace}/{w.name} replica {i}")

            def room(n: Node, w: Workload = w, key: tuple[str, str] = key) -> float:
                return ((n.target * n.alloc_cpu - n.used_cpu - w.pod_cpu) / n.alloc_cpu
                        - 0.3 * n.hosted.count(key))

            node = max(candidates, key=room)
        _bind(node, w)
        placed[id(w)].append(node)
    return placed


# ------------------------------------------------------------------------------------ cluster context


@dataclass
class ClusterCtx:
    """Everything recorded for one cluster while it is being built."""

    name: str
    environment: str
    provider: str
    region: str
    role: str
    server_version: dict[str, str]
    zones: list[str]
    second_octet: int
    kubelet: str
    project: str = ""  # GKE project
    endpoint: str = ""  # EKS API endpoint
    mng_ami: str = ""
    mng_launch_template: str = ""
    service_cidr: tuple[int, int] = (172, 20)
    nodes: list[Node] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    resources: dict[tuple[str, str, str], list[Obj]] = field(default_factory=lambda: defaultdict(list))
    ids: Ids = field(init=False)
    subnets: Subnets = field(init=False)

    def __post_init__(self) -> None:
        self.ids = Ids("cluster", self.name)
        self.subnets = Subnets(self.ids, self.second_octet, self.zones)

    def add(self, api_version: str, plural: str, obj: Obj) -> Obj:
        group, version = api_version.split("/") if "/" in api_version else ("core", api_version)
        self.resources[(group, version, plural)].append(obj)
        return obj

    def items(self, api_version: str, plural: str) -> list[Obj]:
        group, version = api_version.split("/") if "/" in api_version else ("core", api_version)
        return self.resources.get((group, version, plural), [])

    def meta(self, name: str, namespace: str | None = None, *, created: datetime | None = None,
             labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
             generation: int | None = None) -> Obj:
        out: Obj = {"name": name}
        if namespace:
            out["namespace"] = namespace
        out["uid"] = self.ids.uid()
        out["resourceVersion"] = self.ids.rv()
        out["creationTimestamp"] = ts(created or at("2026-03-04T05:10:00Z"))
        if generation is not None:
            out["generation"] = generation
        if labels:
            out["labels"] = dict(labels)
        if annotations:
            out["annotations"] = dict(annotations)
        return out

    def cluster_ip(self) -> str:
        a, b = self.service_cidr
        return f"{a}.{b}.{self.ids.rng.randrange(0, 255)}.{self.ids.rng.randrange(1, 255)}"

    @property
    def node_names(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}


def namespace_object(ctx: ClusterCtx, name: str, *, labels: dict[str, str] | None = None,
                     created: str = "2026-03-04T05:10:00Z") -> Obj:
    meta = ctx.meta(name, created=at(created), labels={"kubernetes.io/metadata.name": name, **(labels or {})})
    return ctx.add("v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
                                         "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})


def configmap_object(ctx: ClusterCtx, namespace: str, name: str, data: dict[str, str], *,
                     labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
                     created: datetime | None = None) -> Obj:
    meta = ctx.meta(name, namespace, created=created, labels=labels, annotations=annotations)
    return ctx.add("v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})


# ------------------------------------------------------------------------------------ workload objects

_DEFAULT_TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
]
_DAEMONSET_TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists"},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/disk-pressure", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/memory-pressure", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/pid-pressure", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable", "operator": "Exists"},
]

_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}
_PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs"}


def pod_spec(w: Workload) -> Obj:
    spec: Obj = {"containers": [c.spec() for c in w.containers]}
    spec["dnsPolicy"] = "ClusterFirstWithHostNet" if w.host_network else "ClusterFirst"
    if w.host_network:
        spec["hostNetwork"] = True
    if w.node_selector:
        spec["nodeSelector"] = dict(w.node_selector)
    if w.affinity:
        spec["affinity"] = copy.deepcopy(w.affinity)
    if w.priority_class:
        spec["priorityClassName"] = w.priority_class
    spec["restartPolicy"] = "Never" if w.kind == "Job" else "Always"
    spec["schedulerName"] = "default-scheduler"
    spec["securityContext"] = {}
    spec["serviceAccountName"] = w.service_account
    spec["terminationGracePeriodSeconds"] = 30
    if w.tolerations:
        spec["tolerations"] = copy.deepcopy(w.tolerations)
    for key, value in copy.deepcopy(w.pod_extra).items():
        spec[key] = value
    return spec


def pod_template(w: Workload) -> Obj:
    meta: Obj = {"labels": {**w.selector, **w.pod_labels}}
    if w.pod_annotations:
        meta["annotations"] = dict(w.pod_annotations)
    return {"metadata": meta, "spec": pod_spec(w)}


def workload_manifest(w: Workload) -> Obj:
    """The workload as written in Git (or rendered by Helm): no status, no server-set metadata."""
    meta: Obj = {"name": w.name, "namespace": w.namespace, "labels": {**w.selector, **w.labels}}
    if w.annotations:
        meta["annotations"] = dict(w.annotations)
    template = pod_template(w)
    selector = {"matchLabels": dict(w.selector)}
    if w.kind == "Deployment":
        spec: Obj = {"replicas": w.replicas, "revisionHistoryLimit": 10, "selector": selector,
                     "strategy": w.strategy or {"type": "RollingUpdate",
                                                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "progressDeadlineSeconds": 600, "template": template}
    elif w.kind == "StatefulSet":
        spec = {"replicas": w.replicas, "selector": selector, "serviceName": w.service_name or w.name,
                "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "template": template}
    elif w.kind == "DaemonSet":
        spec = {"selector": selector, "revisionHistoryLimit": 10, "template": template,
                "updateStrategy": w.strategy or {"type": "RollingUpdate",
                                                 "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}
    elif w.kind == "Job":
        spec = {"backoffLimit": 2, "completionMode": "NonIndexed", "completions": 1, "parallelism": 1,
                "suspend": False, **w.job_spec, "template": template}
        spec.pop("selector", None)
    else:
        raise ValueError(w.kind)
    return {"apiVersion": _API[w.kind], "kind": w.kind, "metadata": meta, "spec": spec}


def service_manifest(w: Workload) -> Obj:
    ports = [{"name": n, "port": p, "protocol": "TCP", "targetPort": t} for n, p, t in w.service_ports]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": w.service_name or w.name, "namespace": w.namespace,
                         "labels": {**w.selector, **w.labels},
                         **({"annotations": dict(w.annotations)} if w.annotations else {})},
            "spec": {"type": "ClusterIP", "selector": dict(w.selector), "ports": ports}}


def _qos(containers: list[Container]) -> str:
    if all(c.cpu_limit == c.cpu and c.mem_limit == c.mem for c in containers):
        return "Guaranteed"
    return "Burstable"


def _image_id(image: str) -> str:
    repo = image.split("@")[0].rsplit(":", 1)[0]
    return f"{repo}@{image.split('@')[1]}" if "@" in image else f"{repo}@{digest(image)}"


def pod_object(ctx: ClusterCtx, w: Workload, node: Node, name: str, owner: Obj, ordinal: int,
               extra_labels: dict[str, str]) -> Obj:
    ids = ctx.ids
    if w.kind == "Job":
        start = w.rollout
    else:
        start = max(w.rollout, node.created + timedelta(seconds=95))
        start += timedelta(seconds=ordinal * 11 + ids.rng.randrange(10))
    if start >= RECORDED_AT:
        raise SystemExit(f"pod {name} would start after the recording")
    template = pod_template(w)
    spec = template["spec"]
    spec["nodeName"] = node.name
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    spec["priority"] = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}.get(
        w.priority_class or "", 0)
    spec.setdefault("tolerations", [])
    defaults = _DAEMONSET_TOLERATIONS if w.kind == "DaemonSet" else _DEFAULT_TOLERATIONS
    spec["tolerations"] += [t for t in defaults if t["key"] not in {x.get("key") for x in spec["tolerations"]}]
    if w.host_network:
        ip = node.ip
    elif node.provider == "eks":
        ip = ctx.subnets.ip(node.zone)
    else:
        ip = node.pod_cidr.rsplit(".", 1)[0] + f".{ids.rng.randrange(2, 250)}"
    running = start + timedelta(seconds=4 + ids.rng.randrange(20))
    statuses = []
    for c in w.containers:
        status: Obj = {"containerID": "containerd://" + ids.hex(64), "image": c.image.split("@")[0],
                       "imageID": _image_id(c.image), "lastState": {}, "name": c.name, "ready": True,
                       "restartCount": 0, "started": True, "state": {"running": {"startedAt": ts(running)}}}
        if w.crashloop:
            failed = RECORDED_AT - timedelta(seconds=150 + ids.rng.randrange(60))
            status.update({
                "ready": False, "started": False, "restartCount": 188 + ids.rng.randrange(40),
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": f"back-off 5m0s restarting failed container={c.name} pod={name}"
                                                 f"_{w.namespace}({ids.uid()})"}},
                "lastState": {"terminated": {"containerID": "containerd://" + ids.hex(64), "exitCode": 1,
                                             "reason": "Error", "startedAt": ts(failed),
                                             "finishedAt": ts(failed + timedelta(seconds=21))}},
            })
        statuses.append(status)
    ready = "False" if w.crashloop else "True"
    conditions = [
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": ts(running),
         "lastProbeTime": None},
        {"type": "Initialized", "status": "True", "lastTransitionTime": ts(start), "lastProbeTime": None},
        {"type": "Ready", "status": ready, "lastTransitionTime": ts(running + timedelta(seconds=9)),
         "lastProbeTime": None},
        {"type": "ContainersReady", "status": ready, "lastTransitionTime": ts(running + timedelta(seconds=9)),
         "lastProbeTime": None},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(start), "lastProbeTime": None},
    ]
    if w.crashloop:
        for cond in conditions[2:4]:
            cond.update({"reason": "ContainersNotReady",
                         "message": f"containers with unready status: [{w.containers[0].name}]"})
    labels = {**template["metadata"]["labels"], **extra_labels}
    meta = ctx.meta(name, w.namespace, created=start - timedelta(seconds=2), labels=labels,
                    annotations=template["metadata"].get("annotations"))
    if w.kind != "StatefulSet":
        meta["generateName"] = name.rsplit("-", 1)[0] + "-"
    meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {
            "conditions": conditions,
            "containerStatuses": statuses,
            "hostIP": node.ip,
            "hostIPs": [{"ip": node.ip}],
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "qosClass": _qos(w.containers),
            "startTime": ts(start),
        },
    }


def _owner(api_version: str, kind: str, meta: Obj) -> Obj:
    return {"apiVersion": api_version, "blockOwnerDeletion": True, "controller": True, "kind": kind,
            "name": meta["name"], "uid": meta["uid"]}


def _hash(ids: Ids, n: int = 10) -> str:
    return ids.suffix(n)


def record_workload(ctx: ClusterCtx, w: Workload, nodes: list[Node]) -> list[Obj]:
    """Add the workload object, its ReplicaSet (Deployments), its pods and its Service; return the pods."""
    manifest = workload_manifest(w)
    meta = ctx.meta(w.name, w.namespace, created=w.created, labels=manifest["metadata"]["labels"],
                    annotations=manifest["metadata"].get("annotations"), generation=w.revision)
    if w.owner:
        meta["ownerReferences"] = [w.owner]
    obj: Obj = {"apiVersion": manifest["apiVersion"], "kind": w.kind, "metadata": meta, "spec": manifest["spec"]}
    ready = 0 if w.crashloop else len(nodes)
    pods: list[Obj] = []
    if w.kind == "Deployment":
        meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(w.revision)
        pth = _hash(ctx.ids)
        rs_name = f"{w.name}-{pth}"
        rs_labels = {**w.selector, **w.pod_labels, "pod-template-hash": pth}
        rs_meta = ctx.meta(rs_name, w.namespace, created=w.rollout - timedelta(seconds=3), labels=rs_labels,
                           annotations={"deployment.kubernetes.io/desired-replicas": str(w.replicas),
                                        "deployment.kubernetes.io/max-replicas": str(w.replicas + 1),
                                        "deployment.kubernetes.io/revision": str(w.revision)},
                           generation=1)
        rs_meta["ownerReferences"] = [_owner("apps/v1", "Deployment", meta)]
        rs_template = copy.deepcopy(manifest["spec"]["template"])
        rs_template["metadata"]["labels"]["pod-template-hash"] = pth
        ctx.add("apps/v1", "replicasets", {
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rs_meta,
            "spec": {"replicas": w.replicas,
                     "selector": {"matchLabels": {**w.selector, "pod-template-hash": pth}},
                     "template": rs_template},
            "status": {"availableReplicas": ready, "fullyLabeledReplicas": len(nodes), "observedGeneration": 1,
                       "readyReplicas": ready, "replicas": len(nodes)},
        })
        owner = _owner("apps/v1", "ReplicaSet", rs_meta)
        for i, node in enumerate(nodes):
            pods.append(pod_object(ctx, w, node, f"{rs_name}-{ctx.ids.suffix()}", owner, i,
                                   {"pod-template-hash": pth}))
        obj["status"] = _deployment_status(w, rs_name, ready, len(nodes))
    elif w.kind == "StatefulSet":
        revision = f"{w.name}-{_hash(ctx.ids)}"
        owner = _owner("apps/v1", "StatefulSet", meta)
        for i, node in enumerate(nodes):
            pods.append(pod_object(ctx, w, node, f"{w.name}-{i}", owner, i, {
                "apps.kubernetes.io/pod-index": str(i), "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": f"{w.name}-{i}"}))
        obj["status"] = {"availableReplicas": ready, "collisionCount": 0, "currentReplicas": len(nodes),
                         "currentRevision": revision, "observedGeneration": w.revision, "readyReplicas": ready,
                         "replicas": len(nodes), "updateRevision": revision, "updatedReplicas": len(nodes)}
    elif w.kind == "DaemonSet":
        revision = _hash(ctx.ids)
        owner = _owner("apps/v1", "DaemonSet", meta)
        for i, node in enumerate(nodes):
            pods.append(pod_object(ctx, w, node, f"{w.name}-{ctx.ids.suffix()}", owner, i, {
                "controller-revision-hash": revision, "pod-template-generation": str(w.revision)}))
        obj["status"] = {"currentNumberScheduled": len(nodes), "desiredNumberScheduled": len(nodes),
                         "numberAvailable": ready, "numberMisscheduled": 0, "numberReady": ready,
                         "observedGeneration": w.revision, "updatedNumberScheduled": len(nodes)}
    elif w.kind == "Job":
        job_uid = meta["uid"]
        job_labels = {"batch.kubernetes.io/controller-uid": job_uid, "batch.kubernetes.io/job-name": w.name,
                      "controller-uid": job_uid, "job-name": w.name}
        obj["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}}
        obj["spec"]["template"]["metadata"]["labels"].update(job_labels)
        meta["labels"].update(job_labels)
        owner = _owner("batch/v1", "Job", meta)
        for i, node in enumerate(nodes):
            pods.append(pod_object(ctx, w, node, f"{w.name}-{ctx.ids.suffix()}", owner, i, job_labels))
        obj["status"] = {"active": len(nodes), "ready": ready, "startTime": ts(w.rollout - timedelta(seconds=1)),
                         "terminating": 0, "uncountedTerminatedPods": {}}
    ctx.add(_API[w.kind], _PLURAL[w.kind], obj)
    for pod in pods:
        ctx.add("v1", "pods", pod)
    if w.service_ports:
        svc = service_manifest(w)
        svc["metadata"] = ctx.meta(svc["metadata"]["name"], w.namespace, created=w.created,
                                   labels=svc["metadata"]["labels"], annotations=svc["metadata"].get("annotations"))
        ip = ctx.cluster_ip()
        svc["spec"].update({"clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster",
                            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None"})
        svc["status"] = {"loadBalancer": {}}
        ctx.add("v1", "services", svc)
    return pods


def _deployment_status(w: Workload, rs_name: str, ready: int, replicas: int) -> Obj:
    rollout = ts(w.rollout + timedelta(seconds=40))
    if ready == replicas:
        conditions = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability.", "lastTransitionTime": rollout,
             "lastUpdateTime": rollout},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": f'ReplicaSet "{rs_name}" has successfully progressed.', "lastTransitionTime": ts(w.created),
             "lastUpdateTime": rollout},
        ]
    else:
        conditions = [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
             "message": "Deployment does not have minimum availability.", "lastTransitionTime": rollout,
             "lastUpdateTime": rollout},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": f'ReplicaSet "{rs_name}" has timed out progressing.',
             "lastTransitionTime": ts(w.rollout + timedelta(seconds=600)),
             "lastUpdateTime": ts(w.rollout + timedelta(seconds=600))},
        ]
    status: Obj = {"availableReplicas": ready, "conditions": conditions, "observedGeneration": w.revision,
                   "readyReplicas": ready, "replicas": replicas, "updatedReplicas": replicas}
    if ready < replicas:
        status["unavailableReplicas"] = replicas - ready
        if ready == 0:
            del status["availableReplicas"], status["readyReplicas"]
    return status


def pdb_manifest(namespace: str, name: str, selector: dict[str, str], *, min_available: int | str | None = None,
                 max_unavailable: int | str | None = None, labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": dict(selector)}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    meta: Obj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta, "spec": spec}


def record_pdb(ctx: ClusterCtx, manifest: Obj, *, annotations: dict[str, str] | None = None) -> Obj:
    """Add a PDB with the status the disruption controller would compute from the recorded pods."""
    meta, spec = manifest["metadata"], manifest["spec"]
    selector = spec["selector"]["matchLabels"]
    pods = [p for p in ctx.items("v1", "pods") if p["metadata"]["namespace"] == meta["namespace"]
            and all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())]
    expected = len(pods)
    healthy = sum(1 for p in pods if all(s["ready"] for s in p["status"]["containerStatuses"]))
    if "minAvailable" in spec:
        desired = _int_or_percent(spec["minAvailable"], expected, round_up=True)
    else:
        desired = expected - _int_or_percent(spec["maxUnavailable"], expected, round_up=True)
    allowed = max(healthy - desired, 0)
    created = at("2026-05-21T10:02:00Z")
    obj = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.meta(meta["name"], meta["namespace"], created=created, labels=meta.get("labels"),
                             annotations=annotations, generation=1),
        "spec": copy.deepcopy(spec),
        "status": {
            "conditions": [{
                "type": "DisruptionAllowed", "status": "True" if allowed else "False",
                "reason": "SufficientPods" if allowed else "InsufficientPods", "message": "",
                "observedGeneration": 1, "lastTransitionTime": ts(RECORDED_AT - timedelta(hours=7, minutes=13)),
            }],
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
            "observedGeneration": 1,
        },
    }
    return ctx.add("policy/v1", "poddisruptionbudgets", obj)


def _int_or_percent(value: int | str, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def cronjob_manifest(namespace: str, name: str, schedule: str, w: Workload, *, time_zone: str | None = None) -> Obj:
    job = workload_manifest(w)
    spec: Obj = {"schedule": schedule, "concurrencyPolicy": "Forbid", "failedJobsHistoryLimit": 1,
                 "successfulJobsHistoryLimit": 3, "startingDeadlineSeconds": 600, "suspend": False,
                 "jobTemplate": {"metadata": {"labels": dict(w.selector)},
                                 "spec": {k: v for k, v in job["spec"].items() if k != "suspend"}}}
    if time_zone:
        spec["timeZone"] = time_zone
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": namespace, "labels": job["metadata"]["labels"]}, "spec": spec}


# ------------------------------------------------------------------------------------ CRDs


def crd_object(ctx: ClusterCtx, *, group: str, plural: str, kind: str, versions: list[tuple[str, bool, bool]],
               stored: list[str], scope: str = "Namespaced", short_names: list[str] | None = None,
               categories: list[str] | None = None, labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None, created: str = "2026-03-04T05:24:00Z",
               printer_columns: list[Obj] | None = None) -> Obj:
    """A CustomResourceDefinition as the API returns it; the schema is cut down to its top level."""
    names: Obj = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = short_names
    if categories:
        names["categories"] = categories
    schema = {"openAPIV3Schema": {
        "description": f"{kind} is the Schema for the {plural} API.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }}
    version_specs = []
    for name, served, storage in versions:
        v: Obj = {"name": name, "served": served, "storage": storage, "schema": copy.deepcopy(schema),
                  "subresources": {"status": {}}}
        if printer_columns:
            v["additionalPrinterColumns"] = copy.deepcopy(printer_columns)
        if not served:
            v["deprecated"] = True
        version_specs.append(v)
    crd_name = f"{plural}.{group}"
    moment = at(created)
    return ctx.add("apiextensions.k8s.io/v1", "customresourcedefinitions", {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": ctx.meta(crd_name, created=moment, labels=labels, annotations=annotations, generation=1),
        "spec": {"conversion": {"strategy": "None"}, "group": group, "names": names, "scope": scope,
                 "versions": version_specs},
        "status": {
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": ts(moment)},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": ts(moment)},
            ],
            "storedVersions": list(stored),
        },
    })


# ------------------------------------------------------------------------------------ Helm releases


@dataclass
class ChartMeta:
    name: str
    version: str
    app_version: str
    description: str
    home: str = ""
    sources: list[str] = field(default_factory=list)
    kube_version: str = ""
    dependencies: list[Obj] = field(default_factory=list)

    def metadata(self) -> Obj:
        out: Obj = {"apiVersion": "v2", "name": self.name, "version": self.version, "appVersion": self.app_version,
                    "description": self.description, "type": "application"}
        if self.home:
            out["home"] = self.home
        if self.sources:
            out["sources"] = list(self.sources)
        if self.kube_version:
            out["kubeVersion"] = self.kube_version
        if self.dependencies:
            out["dependencies"] = copy.deepcopy(self.dependencies)
        return out


@dataclass
class Revision:
    number: int
    chart: ChartMeta
    config: Obj
    deployed: datetime
    status: str  # deployed | superseded
    manifest: str = ""
    description: str = "Upgrade complete"


def render_manifest(chart: str, docs: list[tuple[str, Obj]]) -> str:
    """The release manifest as Helm stores it: `# Source:` comments before each rendered object."""
    return "".join(f"---\n# Source: {chart}/templates/{path}\n{to_yaml(doc)}" for path, doc in docs)


def record_helm_release(ctx: ClusterCtx, name: str, namespace: str, revisions: list[Revision],
                        first_deployed: datetime) -> None:
    """Add one release secret per stored revision, encoded by upgradectl.tools.helm.release_secret."""
    for rev in revisions:
        release = {
            "name": name,
            "namespace": namespace,
            "version": rev.number,
            "info": {"first_deployed": helm_time(first_deployed, ctx.ids),
                     "last_deployed": helm_time(rev.deployed, ctx.ids), "deleted": "",
                     "description": rev.description if rev.number > 1 else "Install complete",
                     "status": rev.status},
            "chart": {"metadata": rev.chart.metadata(), "lock": None, "templates": [], "values": {},
                      "schema": None, "files": []},
            "config": copy.deepcopy(rev.config),
            "manifest": rev.manifest,
            "hooks": [],
        }
        secret = release_secret(release)
        secret["metadata"].update({"uid": ctx.ids.uid(), "resourceVersion": ctx.ids.rv(),
                                   "creationTimestamp": ts(rev.deployed)})
        secret["metadata"]["labels"]["modifiedAt"] = str(int(rev.deployed.timestamp()))
        ctx.add("v1", "secrets", secret)


# ------------------------------------------------------------------------------------ GitOps tree


@dataclass
class GitFile:
    text: str
    docs: list[Obj] | None = None  # parsed documents for YAML manifests


class GitTree:
    """The infra-flux repository in memory, plus just enough kustomize to know what a Flux
    Kustomization applies (for inventories and for recording applied objects)."""

    def __init__(self) -> None:
        self.files: dict[str, GitFile] = {}

    def add_docs(self, path: str, docs: list[Obj], *, preamble: str = "", header: str = "") -> None:
        """Write YAML documents; `preamble` comments go before the first `---`, `header` right after it."""
        body = "".join(f"---\n{to_yaml(d)}" for d in docs)
        if header:
            body = "---\n" + header + body[4:]
        self.files[path] = GitFile(preamble + body, copy.deepcopy(docs))

    def add_text(self, path: str, text: str) -> None:
        docs = None
        if path.endswith((".yaml", ".yml")) and "/templates/" not in path:
            docs = [d for d in yaml.safe_load_all(text) if d]
        self.files[path] = GitFile(text, docs)

    def is_dir(self, path: str) -> bool:
        return any(f.startswith(path.rstrip("/") + "/") for f in self.files)

    def resolve(self, path: str, substitute: dict[str, str] | None = None) -> list[Obj]:
        path = _norm(path)
        docs = self._resolve_dir(path)
        if substitute:
            text = json.dumps(docs)
            for key, value in substitute.items():
                text = text.replace("${" + key + "}", value)
            docs = json.loads(text)
        return docs

    def _resolve_dir(self, path: str) -> list[Obj]:
        kfile = f"{path}/kustomization.yaml"
        if kfile in self.files:
            return self._resolve_kustomization(path, self.files[kfile].docs[0])
        out: list[Obj] = []
        direct = sorted(f for f in self.files if f.rsplit("/", 1)[0] == path and f.endswith((".yaml", ".yml")))
        for f in direct:
            out += copy.deepcopy(self.files[f].docs or [])
        subdirs = sorted({f[len(path) + 1:].split("/")[0] for f in self.files
                          if f.startswith(path + "/") and f[len(path) + 1:].count("/") >= 1})
        for sub in subdirs:
            out += self._resolve_dir(f"{path}/{sub}")
        return out

    def _resolve_kustomization(self, path: str, k: Obj) -> list[Obj]:
        out: list[Obj] = []
        for res in k.get("resources", []):
            target = _norm(f"{path}/{res}")
            if target in self.files:
                out += copy.deepcopy(self.files[target].docs or [])
            elif self.is_dir(target):
                out += self._resolve_dir(target)
            else:
                raise SystemExit(f"{path}/kustomization.yaml: missing resource {res}")
        for gen in k.get("configMapGenerator", []):
            data = {f.rsplit("/", 1)[-1]: self.files[_norm(f"{path}/{f}")].text for f in gen.get("files", [])}
            meta: Obj = {"name": gen["name"]}
            labels = (gen.get("options") or {}).get("labels") or (k.get("generatorOptions") or {}).get("labels")
            if labels:
                meta["labels"] = dict(labels)
            out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
        if k.get("namespace"):
            for doc in out:
                if doc["kind"] not in CLUSTER_SCOPED_KINDS:
                    doc["metadata"]["namespace"] = k["namespace"]
        return out

    def write(self, root: Path) -> None:
        for path, f in sorted(self.files.items()):
            write(root / path, f.text)


def _norm(path: str) -> str:
    parts: list[str] = []
    for part in path.replace("./", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


CLUSTER_SCOPED_KINDS = {"Namespace", "CustomResourceDefinition", "Provisioner", "AWSNodeTemplate", "Machine",
                        "CiliumClusterwideNetworkPolicy", "ClusterRole", "ClusterRoleBinding", "CiliumNode"}


def inventory_entry(doc: Obj) -> Obj:
    group, version = doc["apiVersion"].split("/") if "/" in doc["apiVersion"] else ("", doc["apiVersion"])
    namespace = doc["metadata"].get("namespace", "")
    return {"id": f"{namespace}_{doc['metadata']['name']}_{group}_{doc['kind']}", "v": version}


# ------------------------------------------------------------------------------------ Flux

FLUX_VERSION = "v2.2.3"
FLUX_CONTROLLERS = {
    "source-controller": "v1.2.4",
    "kustomize-controller": "v1.2.2",
    "helm-controller": "v0.37.4",
    "notification-controller": "v1.2.4",
}
FLUX_CRD_LABELS = {"app.kubernetes.io/instance": "flux-system", "app.kubernetes.io/part-of": "flux",
                   "app.kubernetes.io/version": FLUX_VERSION}

# (group, plural, kind, [(version, served, storage)], storedVersions, shortNames, controller)
FLUX_CRDS = [
    ("source.toolkit.fluxcd.io", "gitrepositories", "GitRepository",
     [("v1", True, True), ("v1beta1", True, False), ("v1beta2", True, False)], ["v1beta2", "v1"], ["gitrepo"],
     "source-controller"),
    ("source.toolkit.fluxcd.io", "helmrepositories", "HelmRepository",
     [("v1beta1", True, False), ("v1beta2", True, True)], ["v1beta1", "v1beta2"], ["helmrepo"], "source-controller"),
    ("source.toolkit.fluxcd.io", "helmcharts", "HelmChart",
     [("v1beta1", True, False), ("v1beta2", True, True)], ["v1beta1", "v1beta2"], ["hc"], "source-controller"),
    ("source.toolkit.fluxcd.io", "buckets", "Bucket",
     [("v1beta1", True, False), ("v1beta2", True, True)], ["v1beta2"], [], "source-controller"),
    ("source.toolkit.fluxcd.io", "ocirepositories", "OCIRepository",
     [("v1beta2", True, True)], ["v1beta2"], ["ocirepo"], "source-controller"),
    ("kustomize.toolkit.fluxcd.io", "kustomizations", "Kustomization",
     [("v1", True, True), ("v1beta1", True, False), ("v1beta2", True, False)], ["v1beta2", "v1"], ["ks"],
     "kustomize-controller"),
    ("helm.toolkit.fluxcd.io", "helmreleases", "HelmRelease",
     [("v2beta1", True, False), ("v2beta2", True, True)], ["v2beta1", "v2beta2"], ["hr"], "helm-controller"),
    ("notification.toolkit.fluxcd.io", "alerts", "Alert",
     [("v1beta1", True, False), ("v1beta2", True, False), ("v1beta3", True, True)], ["v1beta2", "v1beta3"], [],
     "notification-controller"),
    ("notification.toolkit.fluxcd.io", "providers", "Provider",
     [("v1beta1", True, False), ("v1beta2", True, False), ("v1beta3", True, True)], ["v1beta2", "v1beta3"], [],
     "notification-controller"),
    ("notification.toolkit.fluxcd.io", "receivers", "Receiver",
     [("v1", True, True), ("v1beta1", True, False), ("v1beta2", True, False)], ["v1beta2", "v1"], [],
     "notification-controller"),
]


def record_flux_crds(ctx: ClusterCtx) -> None:
    for group, plural, kind, versions, stored, short, component in FLUX_CRDS:
        crd_object(ctx, group=group, plural=plural, kind=kind, versions=versions, stored=stored,
                   short_names=short or None, categories=["flux"],
                   labels={**FLUX_CRD_LABELS, "app.kubernetes.io/component": component},
                   annotations={"controller-gen.kubebuilder.io/version": "v0.12.0"},
                   created="2026-01-21T11:04:12Z")


def flux_workloads(system_pool: str | None) -> list[Workload]:
    """The four controllers as gotk-components.yaml defines them; on clusters with a tainted system node
    group, flux-system/kustomization.yaml patches in a toleration and node selector."""
    out = []
    ports = {"source-controller": [("http", 9090), ("http-prom", 8080), ("healthz", 9440)],
             "notification-controller": [("http", 9090), ("http-webhook", 9292), ("http-prom", 8080),
                                         ("healthz", 9440)]}
    for name, version in FLUX_CONTROLLERS.items():
        args = ["--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
                "--watch-all-namespaces=true", "--log-level=info", "--log-encoding=json",
                "--enable-leader-election"]
        if name == "source-controller":
            args = [*args, "--storage-path=/data",
                    "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local."]
        if name == "notification-controller":
            args = ["--watch-all-namespaces=true", "--log-level=info", "--log-encoding=json",
                    "--enable-leader-election"]
        if name in ("kustomize-controller", "helm-controller") and system_pool:
            args = [*args, "--concurrent=10", "--requeue-dependency=10s"]
        extra: Obj = {
            "args": args,
            "env": [{"name": "RUNTIME_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "healthz"}},
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "volumeMounts": [{"mountPath": "/tmp", "name": "temp"}],
        }
        if name == "source-controller":
            extra["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"}}
            extra["volumeMounts"] = [{"mountPath": "/data", "name": "data"}, {"mountPath": "/tmp", "name": "temp"}]
        cpu = 50 if name == "source-controller" else 100
        container = Container("manager", f"ghcr.io/fluxcd/{name}:{version}", cpu, 64, cpu_limit=1000,
                              mem_limit=1024, ports=ports.get(name, [("http-prom", 8080), ("healthz", 9440)]),
                              extra=extra)
        volumes = [{"emptyDir": {}, "name": "temp"}]
        if name == "source-controller":
            volumes = [{"emptyDir": {}, "name": "data"}, *volumes]
        pod_extra: Obj = {"securityContext": {"fsGroup": 1337}, "terminationGracePeriodSeconds": 60,
                          "volumes": volumes}
        tolerations, selector = [], {"kubernetes.io/os": "linux"}
        if system_pool:
            tolerations = [CRITICAL_ADDONS]
            selector = {**selector, "eks.amazonaws.com/nodegroup": system_pool}
        out.append(Workload(
            "Deployment", "flux-system", name, [container], selector={"app": name},
            labels={"app.kubernetes.io/component": name, "app.kubernetes.io/instance": "flux-system",
                    "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": FLUX_VERSION,
                    "control-plane": "controller", **flux_labels("flux-system")},
            pod_annotations={"prometheus.io/port": "8080", "prometheus.io/scrape": "true"},
            node_selector=selector, tolerations=tolerations, pod_extra=pod_extra, service_account=name,
            priority_class="system-cluster-critical", strategy={"type": "Recreate"} if name == "source-controller"
            else None, created=at("2026-01-21T11:04:30Z"), rollout=at("2026-04-08T09:12:00Z"), revision=4,
            service_ports=[("http", 80, "http")] if name in ("source-controller", "notification-controller")
            else [],
        ))
    return out


def flux_components_docs() -> list[Obj]:
    """A short gotk-components.yaml: the namespace and the controller Deployments (no CRDs or RBAC)."""
    docs: list[Obj] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system", "labels": {
        "app.kubernetes.io/instance": "flux-system", "app.kubernetes.io/part-of": "flux",
        "app.kubernetes.io/version": FLUX_VERSION, "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest"}}}]
    for w in flux_workloads(None):
        doc = workload_manifest(w)
        doc["metadata"]["labels"] = {k: v for k, v in doc["metadata"]["labels"].items()
                                     if not k.startswith("kustomize.toolkit") and k != "app"}
        docs.append(doc)
    return docs


def flux_sync_docs(cluster: str) -> list[Obj]:
    return [
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": "1m0s", "ref": {"branch": GIT_BRANCH}, "secretRef": {"name": "flux-system"},
                  "url": GIT_SSH}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": "10m0s", "path": f"./clusters/{cluster}", "prune": True,
                  "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}},
    ]


# Version the API server returns an object at (the CRD's storage version) for kinds whose Git
# manifests may be written at an older served version.
STORAGE_VERSION = {
    "HelmRelease": "helm.toolkit.fluxcd.io/v2beta2",
    "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "HelmRepository": "source.toolkit.fluxcd.io/v1beta2",
    "Alert": "notification.toolkit.fluxcd.io/v1beta3",
    "Provider": "notification.toolkit.fluxcd.io/v1beta3",
}
PLURALS = {
    "HelmRelease": "helmreleases", "Kustomization": "kustomizations", "GitRepository": "gitrepositories",
    "HelmRepository": "helmrepositories", "Alert": "alerts", "Provider": "providers", "ConfigMap": "configmaps",
    "Provisioner": "provisioners", "AWSNodeTemplate": "awsnodetemplates", "Application": "applications",
    "ApplicationSet": "applicationsets", "AppProject": "appprojects", "VMRule": "vmrules",
    "VMServiceScrape": "vmservicescrapes", "CiliumNetworkPolicy": "ciliumnetworkpolicies",
    "CiliumClusterwideNetworkPolicy": "ciliumclusterwidenetworkpolicies", "ServiceAccount": "serviceaccounts",
}
# Kinds applied from Git that are recorded as their Git documents plus server metadata and status.
# Workloads, Services, PDBs, CronJobs and Namespaces are recorded by their own builders instead.
RECORDED_FROM_GIT = set(PLURALS) - {"ServiceAccount"}


def flux_kustomizations(ctx: ClusterCtx, git: GitTree) -> list[tuple[Obj, list[Obj]]]:
    """Every Flux Kustomization on the cluster with the documents it applies, root first."""
    root = flux_sync_docs(ctx.name)[1]
    found = [(root, git.resolve(root["spec"]["path"]))]
    seen = {root["metadata"]["name"]}
    queue = [found[0]]
    while queue:
        _, applied = queue.pop(0)
        for doc in applied:
            name = doc["metadata"]["name"]
            if doc["kind"] != "Kustomization" or not doc["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/"):
                continue
            if name in seen:
                continue
            seen.add(name)
            subst = (doc["spec"].get("postBuild") or {}).get("substitute")
            entry = (doc, git.resolve(doc["spec"]["path"], subst))
            found.append(entry)
            queue.append(entry)
    return found


def record_from_git(ctx: ClusterCtx, git: GitTree, status_of: dict[str, Any]) -> None:
    """Record what Flux applied: Kustomizations with inventories, then every applied object of the kinds in
    RECORDED_FROM_GIT at its storage version, labelled with the Kustomization that owns it."""
    for ks, applied in flux_kustomizations(ctx, git):
        ks_name = ks["metadata"]["name"]
        for doc in applied:
            if doc["kind"] not in RECORDED_FROM_GIT:
                continue
            if doc["kind"] in ("Kustomization", "GitRepository") and doc["metadata"]["name"] == "flux-system":
                continue  # recorded from gotk-sync.yaml below
            obj = copy.deepcopy(doc)
            obj["apiVersion"] = STORAGE_VERSION.get(doc["kind"], doc["apiVersion"])
            meta = obj["metadata"]
            labels = {**meta.get("labels", {}), **flux_labels(ks_name)}
            created = at("2026-02-02T08:40:00Z") if doc["kind"] != "ConfigMap" else at("2026-10-28T12:05:00Z")
            obj["metadata"] = ctx.meta(meta["name"], meta.get("namespace"), created=created, labels=labels,
                                       annotations=meta.get("annotations"),
                                       generation=None if doc["kind"] == "ConfigMap" else 1 + ctx.ids.rng.randrange(4))
            if meta.get("finalizers"):
                obj["metadata"]["finalizers"] = meta["finalizers"]
            if doc["kind"] in status_of:
                status = status_of[doc["kind"]](ctx, obj)
                if status is not None:
                    obj["status"] = status
            ctx.add(obj["apiVersion"], PLURALS[doc["kind"]], obj)
    # The root Kustomization and its GitRepository come from gotk-sync.yaml (applied by bootstrap).
    for doc in flux_sync_docs(ctx.name):
        obj = copy.deepcopy(doc)
        obj["metadata"] = ctx.meta(doc["metadata"]["name"], "flux-system", created=at("2026-01-21T11:04:40Z"),
                                   labels=flux_labels("flux-system"), generation=1)
        obj["metadata"]["finalizers"] = ["finalizers.fluxcd.io"]
        obj["status"] = status_of[doc["kind"]](ctx, obj)
        ctx.add(obj["apiVersion"], PLURALS[doc["kind"]], obj)


def flux_status_functions(git: GitTree) -> dict[str, Any]:
    ready_at = ts(RECORDED_AT - timedelta(minutes=3, seconds=12))

    def ready(reason: str, message: str, generation: int) -> list[Obj]:
        return [{"type": "Ready", "status": "True", "reason": reason, "message": message,
                 "lastTransitionTime": ready_at, "observedGeneration": generation}]

    def kustomization(ctx: ClusterCtx, obj: Obj) -> Obj:
        gen = obj["metadata"]["generation"]
        subst = (obj["spec"].get("postBuild") or {}).get("substitute")
        applied = git.resolve(obj["spec"]["path"], subst)
        entries = sorted((inventory_entry(d) for d in applied), key=lambda e: e["id"])
        return {"conditions": ready("ReconciliationSucceeded", f"Applied revision: {FLUX_REVISION}", gen),
                "inventory": {"entries": entries}, "lastAppliedRevision": FLUX_REVISION,
                "lastAttemptedRevision": FLUX_REVISION, "observedGeneration": gen}

    def git_repository(ctx: ClusterCtx, obj: Obj) -> Obj:
        path = f"gitrepository/flux-system/flux-system/{GIT_HEAD}.tar.gz"
        gen = obj["metadata"]["generation"]
        return {"artifact": {"digest": digest("artifact", ctx.name, GIT_HEAD),
                             "lastUpdateTime": ts(at("2026-11-19T17:43:02Z")), "path": path,
                             "revision": FLUX_REVISION, "size": 187_342,
                             "url": f"http://source-controller.flux-system.svc.cluster.local./{path}"},
                "conditions": [*ready("Succeeded", f"stored artifact for revision '{FLUX_REVISION}'", gen),
                               {"type": "ArtifactInStorage", "status": "True", "reason": "Succeeded",
                                "message": f"stored artifact for revision '{FLUX_REVISION}'",
                                "lastTransitionTime": ready_at, "observedGeneration": gen}],
                "observedGeneration": gen}

    def helm_repository(ctx: ClusterCtx, obj: Obj) -> Obj:
        name, gen = obj["metadata"]["name"], obj["metadata"]["generation"]
        rev = digest("index", name, "2026-11-20")
        path = f"helmrepository/flux-system/{name}/index-{rev[7:15]}.yaml"
        return {"artifact": {"digest": rev, "lastUpdateTime": ts(RECORDED_AT - timedelta(minutes=41)),
                             "path": path, "revision": rev, "size": 2_104_338 if name == "argo" else 1_204_019,
                             "url": f"http://source-controller.flux-system.svc.cluster.local./{path}"},
                "conditions": ready("Succeeded", f"stored artifact: revision '{rev}'", gen),
                "observedGeneration": gen,
                "url": f"http://source-controller.flux-system.svc.cluster.local./helmrepository/flux-system/"
                       f"{name}/index.yaml"}

    def helm_release(ctx: ClusterCtx, obj: Obj) -> Obj:
        spec, gen = obj["spec"], obj["metadata"]["generation"]
        chart = spec["chart"]["spec"]
        release, target = spec.get("releaseName", obj["metadata"]["name"]), spec.get("targetNamespace")
        revision = HELM_RELEASE_REVISIONS[(ctx.name, release)]
        deployed = HELM_RELEASE_DEPLOYED[(ctx.name, release)]
        record_helm_chart(ctx, obj)
        config_digest = digest("values", ctx.name, json.dumps(spec.get("values", {}), sort_keys=True))
        message = (f"Helm upgrade succeeded for release {target}/{release}.v{revision} with chart "
                   f"{chart['chart']}@{chart['version']}")
        return {
            "conditions": [*ready("UpgradeSucceeded", message, gen),
                           {"type": "Released", "status": "True", "reason": "UpgradeSucceeded", "message": message,
                            "lastTransitionTime": ts(deployed), "observedGeneration": gen}],
            "helmChart": f"flux-system/flux-system-{obj['metadata']['name']}",
            "history": [{"chartName": chart["chart"], "chartVersion": chart["version"], "configDigest": config_digest,
                         "digest": digest("release", ctx.name, release, str(revision)),
                         "firstDeployed": ts(HELM_RELEASE_FIRST[(ctx.name, release)]),
                         "lastDeployed": ts(deployed), "name": release, "namespace": target, "status": "deployed",
                         "version": revision}],
            "lastAppliedRevision": chart["version"],
            "lastAttemptedConfigDigest": config_digest,
            "lastAttemptedGeneration": gen,
            "lastAttemptedReleaseAction": "upgrade",
            "lastAttemptedRevision": chart["version"],
            "observedGeneration": gen,
            "storageNamespace": target,
        }

    return {"Kustomization": kustomization, "GitRepository": git_repository, "HelmRepository": helm_repository,
            "HelmRelease": helm_release}


def record_helm_chart(ctx: ClusterCtx, release: Obj) -> None:
    chart = release["spec"]["chart"]["spec"]
    name = f"flux-system-{release['metadata']['name']}"
    path = f"helmchart/flux-system/{name}/{chart['chart']}-{chart['version']}.tgz"
    ctx.add("source.toolkit.fluxcd.io/v1beta2", "helmcharts", {
        "apiVersion": "source.toolkit.fluxcd.io/v1beta2",
        "kind": "HelmChart",
        "metadata": ctx.meta(name, "flux-system", created=at("2026-02-02T08:41:00Z"), generation=3,
                             annotations={"reconcile.fluxcd.io/requestedAt": ""}),
        "spec": {"chart": chart["chart"], "interval": chart.get("interval", "1m0s"),
                 "reconcileStrategy": "ChartVersion",
                 "sourceRef": {"kind": "HelmRepository", "name": chart["sourceRef"]["name"]},
                 "version": chart["version"]},
        "status": {"artifact": {"digest": digest("chart", chart["chart"], chart["version"]),
                                "lastUpdateTime": ts(at("2026-10-30T06:12:40Z")), "path": path,
                                "revision": chart["version"], "size": 171_882,
                                "url": f"http://source-controller.flux-system.svc.cluster.local./{path}"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "ChartPullSucceeded",
                                   "message": f"pulled '{chart['chart']}' chart with version '{chart['version']}'",
                                   "lastTransitionTime": ts(at("2026-10-30T06:12:40Z")), "observedGeneration": 3}],
                   "observedChartName": chart["chart"], "observedGeneration": 3,
                   "observedSourceArtifactRevision": digest("index", chart["sourceRef"]["name"], "2026-11-20"),
                   "url": f"http://source-controller.flux-system.svc.cluster.local./{path}"},
    })


# Helm release bookkeeping for releases installed by Flux HelmReleases: (cluster, release) -> ...
HELM_RELEASE_REVISIONS: dict[tuple[str, str], int] = {}
HELM_RELEASE_DEPLOYED: dict[tuple[str, str], datetime] = {}
HELM_RELEASE_FIRST: dict[tuple[str, str], datetime] = {}


# ------------------------------------------------------------------------------------ fleet facts

FLEET = [
    # name, environment, provider, region, role, Kubernetes gitVersion
    ("dev-apps", "dev", "eks", "ap-south-1", "workload", "v1.29.6-eks-1552ad0"),
    ("eks-staging-apps", "staging", "eks", "ap-south-1", "workload", "v1.29.6-eks-1552ad0"),
    ("gke-staging-apps", "staging", "gke", "asia-south1", "workload", "v1.30.5-gke.1014001"),
    ("ravan", "prod", "eks", "ap-south-1", "workload", "v1.29.6-eks-1552ad0"),
    ("keystone", "prod", "eks", "ap-south-1", "management", "v1.29.8-eks-a737599"),
    ("monitor", "prod", "gke", "asia-south1", "monitoring", "v1.29.9-gke.1496000"),
]
SERVER_BUILD = {
    "v1.29.6-eks-1552ad0": ("2024-06-11T00:49:42Z", "go1.21.11"),
    "v1.29.8-eks-a737599": ("2024-08-26T21:27:55Z", "go1.22.5"),
    "v1.30.5-gke.1014001": ("2024-09-30T09:17:11Z", "go1.22.6 X:boringcrypto"),
    "v1.29.9-gke.1496000": ("2024-10-08T04:21:39Z", "go1.22.6 X:boringcrypto"),
}
EKS_ENDPOINTS = {
    "keystone": "https://3C1F7B9A5E2D8046B1A9C7E5D3F20B84.gr7.ap-south-1.eks.amazonaws.com",
    "ravan": "https://8F3A1C5E2B7D94E6A0C1D2E3F4A5B6C7.gr7.ap-south-1.eks.amazonaws.com",
    "eks-staging-apps": "https://B27E9D41C6A3058F1E2D7C9B4A6F3E10.gr7.ap-south-1.eks.amazonaws.com",
    "dev-apps": "https://5D0C8E2F7A9B1346C8E0F2A4B6D8C1E3.sk1.ap-south-1.eks.amazonaws.com",
}
GKE_PROJECTS = {"gke-staging-apps": "livspace-staging-412907", "monitor": "livspace-observability-398811"}


def server_version(git_version: str) -> dict[str, str]:
    minor = git_version.split(".")[1]
    build, go = SERVER_BUILD[git_version]
    return {"buildDate": build, "compiler": "gc", "gitCommit": hashlib.sha1(git_version.encode()).hexdigest(),
            "gitTreeState": "clean", "gitVersion": git_version, "goVersion": go, "major": "1",
            "minor": f"{minor}+" if "-eks-" in git_version else minor, "platform": "linux/amd64"}


# ------------------------------------------------------------------------------------ Cilium

CILIUM_VERSION = "1.14.5"
CILIUM_CLUSTERS = {"keystone": (1, "eni"), "ravan": (2, "chaining-tunnel"), "eks-staging-apps": (3, "chaining"),
                   "dev-apps": (4, "chaining")}
CILIUM_HISTORY = {  # cluster -> [(revision, chart version, deployed)]
    "keystone": [(5, "1.14.4", "2026-07-14T05:40:11Z"), (6, "1.14.5", "2026-09-22T06:02:37Z")],
    "ravan": [(3, "1.14.4", "2026-07-16T05:31:50Z"), (4, "1.14.5", "2026-09-24T05:48:09Z")],
    "eks-staging-apps": [(4, "1.14.4", "2026-07-09T09:12:45Z"), (5, "1.14.5", "2026-09-17T08:55:20Z")],
    "dev-apps": [(6, "1.14.4", "2026-07-07T10:20:03Z"), (7, "1.14.5", "2026-09-15T11:31:42Z")],
}


def cilium_chart(version: str) -> ChartMeta:
    return ChartMeta("cilium", version, version, "eBPF-based Networking, Security, and Observability",
                     home="https://cilium.io/", sources=["https://github.com/cilium/cilium"],
                     kube_version=">= 1.16.0-0")


def cilium_values(cluster: str) -> Obj:
    cluster_id, mode = CILIUM_CLUSTERS[cluster]
    values: Obj = {"cluster": {"name": cluster, "id": cluster_id}}
    if mode == "eni":
        values.update({
            "eni": {"enabled": True, "awsEnablePrefixDelegation": True, "awsReleaseExcessIPs": True},
            "ipam": {"mode": "eni"},
            "egressMasqueradeInterfaces": "eth0",
            "routingMode": "native",
            "kubeProxyReplacement": "strict",
            "k8sServiceHost": EKS_ENDPOINTS[cluster].removeprefix("https://"),
            "k8sServicePort": 443,
            "loadBalancer": {"algorithm": "maglev"},
        })
    else:
        values.update({
            "cni": {"chainingMode": "aws-cni", "exclusive": False},
            "enableIPv4Masquerade": False,
            "endpointRoutes": {"enabled": True},
            "kubeProxyReplacement": "false",
        })
        if mode == "chaining-tunnel":
            values["tunnel"] = "disabled"
        else:
            values["routingMode"] = "native"
    values.update({
        "hubble": {"enabled": True, "metrics": {"enabled": ["dns:query", "drop", "tcp", "flow", "icmp", "http"]},
                   "relay": {"enabled": cluster == "keystone"}},
        "prometheus": {"enabled": True},
        "operator": {"replicas": 1 if cluster == "dev-apps" else 2, "prometheus": {"enabled": True},
                     "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}}},
        "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}},
        "rollOutCiliumPods": True,
    })
    return values


def cilium_config_data(cluster: str) -> dict[str, str]:
    cluster_id, mode = CILIUM_CLUSTERS[cluster]
    data = {
        "agent-not-ready-taint-key": "node.cilium.io/agent-not-ready",
        "bpf-map-dynamic-size-ratio": "0.0025",
        "cluster-id": str(cluster_id),
        "cluster-name": cluster,
        "debug": "false",
        "enable-endpoint-health-checking": "true",
        "enable-hubble": "true",
        "enable-ipv4": "true",
        "enable-l7-proxy": "true",
        "hubble-metrics": "dns:query drop tcp flow icmp http",
        "hubble-metrics-server": ":9965",
        "identity-allocation-mode": "crd",
        "monitor-aggregation": "medium",
        "operator-prometheus-serve-addr": ":9963",
        "prometheus-serve-addr": ":9962",
        "tofqdns-min-ttl": "0",
    }
    if mode == "eni":
        data.update({"ipam": "eni", "enable-endpoint-routes": "true", "aws-enable-prefix-delegation": "true",
                     "aws-release-excess-ips": "true", "egress-masquerade-interfaces": "eth0",
                     "routing-mode": "native", "kube-proxy-replacement": "strict",
                     "kube-proxy-replacement-healthz-bind-address": ""})
    else:
        data.update({"cni-chaining-mode": "aws-cni", "cni-exclusive": "false", "enable-ipv4-masquerade": "false",
                     "enable-endpoint-routes": "true", "ipam": "cluster-pool", "kube-proxy-replacement": "false"})
        data["tunnel" if mode == "chaining-tunnel" else "routing-mode"] = (
            "disabled" if mode == "chaining-tunnel" else "native")
    return dict(sorted(data.items()))


def cilium_workloads(cluster: str) -> list[Workload]:
    _, mode = CILIUM_CLUSTERS[cluster]
    labels = {**helm_labels("cilium", "cilium", CILIUM_VERSION, CILIUM_VERSION), "app.kubernetes.io/part-of": "cilium"}
    labels.pop("app.kubernetes.io/instance")
    ann = helm_annotations("cilium", "kube-system")
    rollout = at(CILIUM_HISTORY[cluster][-1][2]) + timedelta(minutes=1)
    agent_image = f"quay.io/cilium/cilium:v{CILIUM_VERSION}@{digest('quay.io/cilium/cilium', CILIUM_VERSION)}"
    operator = "operator-aws" if mode == "eni" else "operator-generic"
    op_image = f"quay.io/cilium/{operator}:v{CILIUM_VERSION}@{digest(operator, CILIUM_VERSION)}"
    agent = Container("cilium-agent", agent_image, 100, 512, ports=[("peer-service", 4244), ("prometheus", 9962),
                                                                      ("hubble-metrics", 9965)],
                      extra={"command": ["cilium-agent"], "args": ["--config-dir=/tmp/cilium/config-map"],
                             "securityContext": {"privileged": True}})
    out = [
        Workload("DaemonSet", "kube-system", "cilium", [agent], selector={"k8s-app": "cilium"},
                 labels={**labels, "app.kubernetes.io/name": "cilium-agent"}, annotations=ann,
                 pod_labels={"app.kubernetes.io/name": "cilium-agent", "app.kubernetes.io/part-of": "cilium"},
                 tolerations=TOLERATE_ALL, host_network=True, priority_class="system-node-critical",
                 service_account="cilium", node_selector={"kubernetes.io/os": "linux"},
                 created=at("2026-02-02T08:45:00Z"), rollout=rollout, revision=6),
        Workload("Deployment", "kube-system", "cilium-operator",
                 [Container("cilium-operator", op_image, 50, 128, ports=[("prometheus", 9963)],
                            extra={"command": [f"cilium-{operator}"],
                                   "args": ["--config-dir=/tmp/cilium/config-map", "--debug=$(CILIUM_DEBUG)"]})],
                 replicas=cilium_values(cluster)["operator"]["replicas"],
                 selector={"io.cilium/app": "operator", "name": "cilium-operator"},
                 labels={**labels, "app.kubernetes.io/name": "cilium-operator"}, annotations=ann,
                 pod_labels={"app.kubernetes.io/name": "cilium-operator", "app.kubernetes.io/part-of": "cilium"},
                 tolerations=TOLERATE_ALL, host_network=True, priority_class="system-cluster-critical",
                 service_account="cilium-operator", one_per_node=True, node_selector={"kubernetes.io/os": "linux"},
                 created=at("2026-02-02T08:45:00Z"), rollout=rollout, revision=6),
    ]
    if cluster == "keystone":
        relay_image = f"quay.io/cilium/hubble-relay:v{CILIUM_VERSION}@{digest('hubble-relay', CILIUM_VERSION)}"
        out.append(Workload("Deployment", "kube-system", "hubble-relay",
                            [Container("hubble-relay", relay_image, 50, 64, ports=[("grpc", 4245)],
                                       extra={"command": ["hubble-relay"], "args": ["serve"]})],
                            selector={"k8s-app": "hubble-relay"},
                            labels={**labels, "app.kubernetes.io/name": "hubble-relay"}, annotations=ann,
                            service_account="hubble-relay", created=at("2026-02-02T08:45:00Z"), rollout=rollout,
                            service_ports=[("grpc", 80, 4245)]))
    return out


def record_cilium(ctx: ClusterCtx, workloads: list[Workload]) -> None:
    """Cilium CRDs, cilium-config, the Helm release secrets and one CiliumNode per node."""
    for plural, kind, version, short in [
        ("ciliumnetworkpolicies", "CiliumNetworkPolicy", "v2", ["cnp", "ciliumnp"]),
        ("ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", "v2", ["ccnp"]),
        ("ciliumendpoints", "CiliumEndpoint", "v2", ["cep", "ciliumep"]),
        ("ciliumidentities", "CiliumIdentity", "v2", ["ciliumid"]),
        ("ciliumnodes", "CiliumNode", "v2", ["cn", "ciliumn"]),
        ("ciliumexternalworkloads", "CiliumExternalWorkload", "v2", ["cew"]),
        ("ciliumlocalredirectpolicies", "CiliumLocalRedirectPolicy", "v2", ["clrp"]),
        ("ciliumegressgatewaypolicies", "CiliumEgressGatewayPolicy", "v2", ["cegp"]),
        ("ciliumenvoyconfigs", "CiliumEnvoyConfig", "v2", ["cec"]),
        ("ciliumclusterwideenvoyconfigs", "CiliumClusterwideEnvoyConfig", "v2", ["ccec"]),
        ("ciliumendpointslices", "CiliumEndpointSlice", "v2alpha1", ["ces"]),
        ("ciliumbgppeeringpolicies", "CiliumBGPPeeringPolicy", "v2alpha1", ["bgpp"]),
        ("ciliumloadbalancerippools", "CiliumLoadBalancerIPPool", "v2alpha1", ["ippools", "ippool"]),
        ("ciliumnodeconfigs", "CiliumNodeConfig", "v2alpha1", []),
        ("ciliumcidrgroups", "CiliumCIDRGroup", "v2alpha1", ["ccg"]),
        ("ciliuml2announcementpolicies", "CiliumL2AnnouncementPolicy", "v2alpha1", ["l2announcement"]),
        ("ciliumpodippools", "CiliumPodIPPool", "v2alpha1", ["cpip"]),
    ]:
        scope = "Namespaced" if kind in ("CiliumNetworkPolicy", "CiliumEndpoint", "CiliumLocalRedirectPolicy",
                                         "CiliumEnvoyConfig") else "Cluster"
        crd_object(ctx, group="cilium.io", plural=plural, kind=kind, versions=[(version, True, True)], stored=[version],
                   scope=scope, short_names=short or None, categories=["cilium"] if version == "v2" else None,
                   labels={"io.cilium.k8s.crd.schema.version": "1.26.10"}, created="2026-02-02T08:46:00Z")
    configmap_object(ctx, "kube-system", "cilium-config", cilium_config_data(ctx.name),
                     labels={"app.kubernetes.io/managed-by": "Helm"},
                     annotations=helm_annotations("cilium", "kube-system"), created=at("2026-02-02T08:45:00Z"))
    by_name = {w.name: w for w in workloads}
    manifest = render_manifest("cilium", [
        ("cilium-agent/serviceaccount.yaml", {"apiVersion": "v1", "kind": "ServiceAccount",
                                              "metadata": {"name": "cilium", "namespace": "kube-system"}}),
        ("cilium-configmap.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "cilium-config", "namespace": "kube-system"},
                                   "data": cilium_config_data(ctx.name)}),
        ("cilium-agent/daemonset.yaml", workload_manifest(by_name["cilium"])),
        ("cilium-operator/deployment.yaml", workload_manifest(by_name["cilium-operator"])),
    ])
    history = CILIUM_HISTORY[ctx.name]
    values = cilium_values(ctx.name)
    revisions = [Revision(n, cilium_chart(v), values, at(d), "deployed" if i == len(history) - 1 else "superseded",
                          manifest if i == len(history) - 1 else "")
                 for i, (n, v, d) in enumerate(history)]
    record_helm_release(ctx, "cilium", "kube-system", revisions, at("2026-02-02T08:45:00Z"))
    HELM_RELEASE_REVISIONS[(ctx.name, "cilium")] = history[-1][0]
    HELM_RELEASE_DEPLOYED[(ctx.name, "cilium")] = at(history[-1][2])
    HELM_RELEASE_FIRST[(ctx.name, "cilium")] = at("2026-02-02T08:45:00Z")


def record_cilium_nodes(ctx: ClusterCtx) -> None:
    _, mode = CILIUM_CLUSTERS[ctx.name]
    for node in ctx.nodes:
        health = ctx.subnets.ip(node.zone)
        spec: Obj = {"addresses": [{"ip": node.ip, "type": "InternalIP"},
                                   {"ip": ctx.subnets.ip(node.zone), "type": "CiliumInternalIP"}],
                     "alibaba-cloud": {}, "azure": {}, "encryption": {}, "health": {"ipv4": health},
                     "ingress": {}, "instance-id": node.instance_id, "ipam": {}}
        status: Obj = {"alibaba-cloud": {}, "azure": {}, "ipam": {"operator-status": {}}}
        if mode == "eni":
            spec["eni"] = {"availability-zone": node.zone, "first-interface-index": 0,
                           "instance-type": node.itype.name, "node-subnet-id": "subnet-0" + ctx.ids.hex(16),
                           "use-primary-address": False, "vpc-id": "vpc-0" + ctx.ids.hex(16)}
            spec["ipam"] = {"pre-allocate": 8}
            status["eni"] = {"enis": {}}
        meta = ctx.meta(node.name, created=node.created + timedelta(seconds=48),
                        labels={k: v for k, v in node.labels.items() if k.startswith(("kubernetes.io/", "topology."))},
                        generation=2)
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node.uid}]
        ctx.add("cilium.io/v2", "ciliumnodes", {"apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": meta,
                                                 "spec": spec, "status": status})


def cilium_policy_docs(cluster: str) -> list[Obj]:
    if cluster != "ravan":
        return []
    return [
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
         "metadata": {"name": "payments-api-ingress", "namespace": "payments"},
         "spec": {"description": "Only checkout may call the payments API, and only its payment routes (L7).",
                  "endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "payments-api"}},
                  "ingress": [{"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "checkout",
                                                                  "app.kubernetes.io/name": "checkout-api"}}],
                               "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
                                            "rules": {"http": [
                                                {"method": "POST", "path": "/v1/payments.*"},
                                                {"method": "GET", "path": "/v1/payments/[0-9a-f-]+"}]}}]},
                              {"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "ingress-nginx"}}],
                               "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
         "metadata": {"name": "deny-instance-metadata"},
         "spec": {"description": "Pods use IRSA; block IMDS except for the node agents that need it.",
                  "endpointSelector": {"matchExpressions": [
                      {"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": ["kube-system"]}]},
                  "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}],
                  "egress": [{"toEntities": ["all"]}]}},
    ]


# ------------------------------------------------------------------------------------ Karpenter

KARPENTER = {
    # cluster -> version, Helm history [(revision, chart version, deployed)], controller requests/limits, log level
    "ravan": {"history": [(2, "v0.30.0", "2026-08-19T06:14:22Z"), (3, "v0.31.3", "2026-11-11T05:32:48Z")],
              "resources": ("1", "1Gi", "1", "1Gi"), "log": "info", "drift": True, "interruption": True},
    "eks-staging-apps": {"history": [(2, "v0.30.0", "2026-08-12T09:02:10Z"), (3, "v0.31.3", "2026-11-04T08:41:35Z")],
                         "resources": ("500m", "512Mi", "1", "1Gi"), "log": "info", "drift": False,
                         "interruption": True},
    "dev-apps": {"history": [(3, "v0.31.3", "2026-10-28T10:15:02Z"), (4, "v0.31.5", "2026-11-16T11:48:19Z")],
                 "resources": ("250m", "512Mi", "1", "1Gi"), "log": "debug", "drift": False, "interruption": False},
}


def karpenter_version(cluster: str) -> str:
    return KARPENTER[cluster]["history"][-1][1]


def karpenter_chart(version: str) -> ChartMeta:
    return ChartMeta("karpenter", version, version.lstrip("v"),
                     "A Helm chart for Karpenter, an open-source node provisioning project built for Kubernetes.",
                     home="https://karpenter.sh/", sources=["https://github.com/aws/karpenter/"])


def karpenter_values(cluster: str, chart_version: str | None = None) -> Obj:
    """User-supplied values (terraform/eks/values/karpenter-<cluster>.yaml). The v0.30 revision on ravan
    predates the drift feature gate."""
    facts = KARPENTER[cluster]
    cpu, mem, cpu_limit, mem_limit = facts["resources"]
    aws: Obj = {"clusterName": cluster, "clusterEndpoint": EKS_ENDPOINTS[cluster],
                "defaultInstanceProfile": f"karpenter-node-{cluster}"}
    if facts["interruption"]:
        aws["interruptionQueueName"] = f"Karpenter-{cluster}"
    settings: Obj = {"aws": aws}
    if facts["drift"] and (chart_version or karpenter_version(cluster)) >= "v0.31":
        settings["featureGates"] = {"driftEnabled": True}
    return {
        "replicas": 2,
        "logLevel": facts["log"],
        "serviceAccount": {"annotations": {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/karpenter-controller-{cluster}"}},
        "controller": {"resources": {"requests": {"cpu": cpu, "memory": mem},
                                     "limits": {"cpu": cpu_limit, "memory": mem_limit}}},
        "settings": settings,
    }


def karpenter_settings_data(cluster: str) -> dict[str, str]:
    """karpenter-global-settings as the 0.31 chart renders it from settings.*"""
    aws = karpenter_values(cluster)["settings"]["aws"]
    drift = "featureGates" in karpenter_values(cluster)["settings"]
    return {
        "aws.assumeRoleARN": "",
        "aws.assumeRoleDuration": "15m",
        "aws.clusterCABundle": "",
        "aws.clusterEndpoint": aws["clusterEndpoint"],
        "aws.clusterName": aws["clusterName"],
        "aws.defaultInstanceProfile": aws["defaultInstanceProfile"],
        "aws.enableENILimitedPodDensity": "true",
        "aws.enablePodENI": "false",
        "aws.interruptionQueueName": aws.get("interruptionQueueName", ""),
        "aws.isolatedVPC": "false",
        "aws.vmMemoryOverheadPercent": "0.075",
        "batchIdleDuration": "1s",
        "batchMaxDuration": "10s",
        "featureGates.driftEnabled": "true" if drift else "false",
    }


def _requirement(key: str, operator: str, values: list[str]) -> Obj:
    return {"key": key, "operator": operator, "values": values}


def karpenter_provisioner_docs(cluster: str) -> list[Obj]:
    zones = ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    prod = cluster == "ravan"
    default = {
        "apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {"name": "default"},
        "spec": {
            "consolidation": {"enabled": True},
            "ttlSecondsUntilExpired": 2592000,
            "weight": 10,
            "labels": {"livspace.io/pool": "general"},
            "requirements": [
                _requirement("karpenter.k8s.aws/instance-category", "In", ["c", "m", "r"]),
                _requirement("karpenter.k8s.aws/instance-generation", "Gt", ["4"]),
                _requirement("karpenter.k8s.aws/instance-size", "NotIn", ["nano", "micro", "small", "medium"]),
                _requirement("karpenter.sh/capacity-type", "In", ["spot", "on-demand"]),
                _requirement("kubernetes.io/arch", "In", ["amd64"]),
                _requirement("kubernetes.io/os", "In", ["linux"]),
                _requirement("topology.kubernetes.io/zone", "In", zones),
            ],
            "limits": {"resources": {"cpu": "200" if prod else "48", "memory": "800Gi" if prod else "192Gi"}},
            "providerRef": {"name": "default"},
        },
    }
    batch = {
        "apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {"name": "batch"},
        "spec": {
            "ttlSecondsAfterEmpty": 30,
            "weight": 20,
            "labels": {"livspace.io/pool": "batch"},
            "taints": [{"key": "workload", "value": "batch", "effect": "NoSchedule"}],
            "requirements": [
                _requirement("karpenter.k8s.aws/instance-category", "In", ["c", "m"]),
                _requirement("karpenter.k8s.aws/instance-size", "In", ["xlarge", "2xlarge", "4xlarge"]),
                _requirement("karpenter.sh/capacity-type", "In", ["spot", "on-demand"]),
                _requirement("kubernetes.io/arch", "In", ["amd64"]),
                _requirement("kubernetes.io/os", "In", ["linux"]),
            ],
            "limits": {"resources": {"cpu": "64" if prod else "16"}},
            "providerRef": {"name": "batch" if prod else "default"},
        },
    }
    docs = [default, batch]
    if prod:
        docs.insert(1, {
            "apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {"name": "on-demand-critical"},
            "spec": {
                "consolidation": {"enabled": True},
                "ttlSecondsUntilExpired": 604800,
                "weight": 50,
                "labels": {"livspace.io/pool": "critical"},
                "taints": [{"key": "dedicated", "value": "critical", "effect": "NoSchedule"}],
                "requirements": [
                    _requirement("karpenter.k8s.aws/instance-family", "In", ["m5", "m6i"]),
                    _requirement("karpenter.k8s.aws/instance-size", "In", ["xlarge", "2xlarge"]),
                    _requirement("karpenter.sh/capacity-type", "In", ["on-demand"]),
                    _requirement("kubernetes.io/arch", "In", ["amd64"]),
                    _requirement("kubernetes.io/os", "In", ["linux"]),
                    _requirement("topology.kubernetes.io/zone", "In", zones),
                ],
                "limits": {"resources": {"cpu": "64", "memory": "256Gi"}},
                "providerRef": {"name": "default"},
            },
        })
    return docs


def karpenter_node_template_docs(cluster: str) -> list[Obj]:
    selector = {"karpenter.sh/discovery": cluster}
    tags = {"team": "platform", "cluster": cluster, "environment": ENVIRONMENT[cluster]}
    metadata_options = {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 2,
                        "httpTokens": "required"}
    docs = [{
        "apiVersion": "karpenter.k8s.aws/v1alpha1", "kind": "AWSNodeTemplate", "metadata": {"name": "default"},
        "spec": {
            "subnetSelector": dict(selector),
            "securityGroupSelector": dict(selector),
            "amiFamily": "AL2",
            "tags": dict(tags),
            "metadataOptions": dict(metadata_options),
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                "volumeSize": "50Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}}],
        },
    }]
    if cluster == "ravan":
        docs.append({
            "apiVersion": "karpenter.k8s.aws/v1alpha1", "kind": "AWSNodeTemplate", "metadata": {"name": "batch"},
            "spec": {
                "subnetSelector": dict(selector),
                "securityGroupSelector": dict(selector),
                "amiFamily": "AL2",
                "tags": {**tags, "workload": "batch"},
                "metadataOptions": dict(metadata_options),
                "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                    "volumeSize": "200Gi", "volumeType": "gp3", "iops": 6000, "throughput": 250, "encrypted": True,
                    "deleteOnTermination": True}}],
            },
        })
    return docs


def karpenter_workload(cluster: str) -> Workload:
    version = karpenter_version(cluster)
    values = karpenter_values(cluster)
    res = values["controller"]["resources"]

    def milli(q: str) -> int:
        return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)

    def mib(q: str) -> int:
        return int(q[:-2]) * 1024 if q.endswith("Gi") else int(q[:-2])

    selector = {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
    image = f"public.ecr.aws/karpenter/controller:{version}@{digest('public.ecr.aws/karpenter/controller', version)}"
    env = [{"name": "KUBERNETES_MIN_VERSION", "value": "1.19.0-0"},
           {"name": "KARPENTER_SERVICE", "value": "karpenter"},
           {"name": "WEBHOOK_PORT", "value": "8443"},
           {"name": "METRICS_PORT", "value": "8000"},
           {"name": "HEALTH_PROBE_PORT", "value": "8081"},
           {"name": "SYSTEM_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
           {"name": "MEMORY_LIMIT", "valueFrom": {"resourceFieldRef": {"containerName": "controller",
                                                                       "divisor": "0", "resource": "limits.memory"}}}]
    container = Container(
        "controller", image, milli(res["requests"]["cpu"]), mib(res["requests"]["memory"]),
        cpu_limit=milli(res["limits"]["cpu"]), mem_limit=mib(res["limits"]["memory"]),
        ports=[("http-metrics", 8000), ("http", 8081), ("https-webhook", 8443)],
        extra={"env": env,
               "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 30,
                                 "timeoutSeconds": 30},
               "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "initialDelaySeconds": 5,
                                  "timeoutSeconds": 30},
               "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                   "readOnlyRootFilesystem": True, "runAsGroup": 65536, "runAsNonRoot": True,
                                   "runAsUser": 65536}})
    affinity = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "karpenter.sh/provisioner-name", "operator": "DoesNotExist"}]}]}},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"}]},
    }
    deployed = at(KARPENTER[cluster]["history"][-1][2])
    return Workload(
        "Deployment", "karpenter", "karpenter", [container], replicas=values["replicas"], selector=selector,
        labels=helm_labels("karpenter", "karpenter", version, version.lstrip("v")),
        annotations=helm_annotations("karpenter", "karpenter"), affinity=affinity, tolerations=[CRITICAL_ADDONS],
        node_selector={"kubernetes.io/os": "linux"}, priority_class="system-cluster-critical",
        service_account="karpenter", one_per_node=True, strategy={"rollingUpdate": {"maxUnavailable": 1},
                                                                  "type": "RollingUpdate"},
        pod_extra={"dnsPolicy": "Default", "topologySpreadConstraints": [
            {"labelSelector": {"matchLabels": selector}, "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
             "whenUnsatisfiable": "ScheduleAnyway"}]},
        created=at("2026-02-03T07:20:00Z"), rollout=deployed + timedelta(seconds=30),
        revision=len(KARPENTER[cluster]["history"]) + 1, service_ports=[("http-metrics", 8000, "http-metrics"),
                                                                         ("https-webhook", 443, "https-webhook")],
    )


KARPENTER_CRD_ANNOTATIONS = {"controller-gen.kubebuilder.io/version": "v0.12.1"}


def record_karpenter(ctx: ClusterCtx, workload: Workload) -> None:
    """CRDs, ServiceAccount, settings ConfigMaps, PDB, webhooks, Helm release secrets and Machines."""
    version = karpenter_version(ctx.name)
    for group, plural, kind, version_name, short in [
        ("karpenter.sh", "provisioners", "Provisioner", "v1alpha5", None),
        ("karpenter.sh", "machines", "Machine", "v1alpha5", None),
        ("karpenter.k8s.aws", "awsnodetemplates", "AWSNodeTemplate", "v1alpha1", None),
    ]:
        crd_object(ctx, group=group, plural=plural, kind=kind, versions=[(version_name, True, True)],
                   stored=[version_name], scope="Cluster", short_names=short, categories=["karpenter"],
                   annotations=KARPENTER_CRD_ANNOTATIONS, created="2026-02-03T07:19:40Z")
    labels = helm_labels("karpenter", "karpenter", version, version.lstrip("v"))
    labels["app.kubernetes.io/name"] = "karpenter"
    ann = helm_annotations("karpenter", "karpenter")
    values = karpenter_values(ctx.name)
    sa_meta = ctx.meta("karpenter", "karpenter", created=at("2026-02-03T07:20:00Z"), labels=labels,
                       annotations={**ann, **values["serviceAccount"]["annotations"]})
    ctx.add("v1", "serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa_meta})
    configmap_object(ctx, "karpenter", "karpenter-global-settings", karpenter_settings_data(ctx.name), labels=labels,
                     annotations=ann, created=at("2026-02-03T07:20:00Z"))
    configmap_object(ctx, "karpenter", "config-logging", {
        "loglevel.controller": values["logLevel"], "loglevel.webhook": "error",
        "zap-logger-config": json.dumps({"level": values["logLevel"], "development": False,
                                         "disableStacktrace": True, "disableCaller": True,
                                         "sampling": {"initial": 100, "thereafter": 100},
                                         "outputPaths": ["stdout"], "errorOutputPaths": ["stderr"],
                                         "encoding": "console",
                                         "encoderConfig": {"timeKey": "time", "levelKey": "level", "nameKey": "logger",
                                                           "callerKey": "caller", "messageKey": "message",
                                                           "stacktraceKey": "stacktrace", "levelEncoder": "capital",
                                                           "timeEncoder": "iso8601"}}, indent=2),
    }, labels=labels, annotations=ann, created=at("2026-02-03T07:20:00Z"))
    pdb = pdb_manifest("karpenter", "karpenter", workload.selector, max_unavailable=1, labels=labels)
    record_pdb(ctx, pdb, annotations=ann)
    record_karpenter_webhooks(ctx, labels, ann)
    history = KARPENTER[ctx.name]["history"]
    manifest = render_manifest("karpenter", [
        ("poddisruptionbudget.yaml", pdb),
        ("serviceaccount.yaml", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
            "name": "karpenter", "namespace": "karpenter", "labels": labels,
            "annotations": values["serviceAccount"]["annotations"]}}),
        ("configmap.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "karpenter-global-settings", "namespace": "karpenter", "labels": labels},
            "data": karpenter_settings_data(ctx.name)}),
        ("service.yaml", service_manifest(workload)),
        ("deployment.yaml", workload_manifest(workload)),
    ])
    revisions = [Revision(n, karpenter_chart(v), karpenter_values(ctx.name, v), at(d),
                          "deployed" if i == len(history) - 1 else "superseded",
                          manifest if i == len(history) - 1 else "")
                 for i, (n, v, d) in enumerate(history)]
    record_helm_release(ctx, "karpenter", "karpenter", revisions, at("2026-02-03T07:19:31Z"))


def record_karpenter_webhooks(ctx: ClusterCtx, labels: dict[str, str], ann: dict[str, str]) -> None:
    def webhook(name: str, groups: list[str], resources: list[str], ops: list[str]) -> Obj:
        return {"admissionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "karpenter", "namespace": "karpenter", "port": 8443}},
                "failurePolicy": "Fail", "matchPolicy": "Equivalent", "name": name, "namespaceSelector": {},
                "objectSelector": {}, "rules": [{"apiGroups": groups, "apiVersions": ["*"], "operations": ops,
                                                 "resources": resources, "scope": "*"}],
                "sideEffects": "None", "timeoutSeconds": 10}

    created = at("2026-02-03T07:20:00Z")
    for kind, plural, name, hook in [
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validation.webhook.karpenter.sh",
         webhook("validation.webhook.karpenter.sh", ["karpenter.sh"], ["provisioners", "provisioners/status"],
                 ["CREATE", "UPDATE"])),
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validation.webhook.config.karpenter.sh",
         {**webhook("validation.webhook.config.karpenter.sh", [""], ["configmaps"], ["CREATE", "UPDATE"]),
          "objectSelector": {"matchLabels": {"app.kubernetes.io/part-of": "karpenter"}}}),
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validation.webhook.karpenter.k8s.aws",
         webhook("validation.webhook.karpenter.k8s.aws", ["karpenter.k8s.aws", "karpenter.sh"],
                 ["awsnodetemplates", "awsnodetemplates/status", "provisioners", "provisioners/status"],
                 ["CREATE", "UPDATE"])),
        ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", "defaulting.webhook.karpenter.k8s.aws",
         {**webhook("defaulting.webhook.karpenter.k8s.aws", ["karpenter.k8s.aws", "karpenter.sh"],
                    ["awsnodetemplates", "awsnodetemplates/status", "provisioners", "provisioners/status"],
                    ["CREATE", "UPDATE"]), "reinvocationPolicy": "Never"}),
    ]:
        ctx.add("admissionregistration.k8s.io/v1", plural, {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": ctx.meta(name, created=created, labels=labels, annotations=ann, generation=2),
            "webhooks": [hook]})


def karpenter_status_functions() -> dict[str, Any]:
    """Status for Provisioners and AWSNodeTemplates, computed from the cluster's Karpenter nodes."""

    def provisioner(ctx: ClusterCtx, obj: Obj) -> Obj:
        nodes = [n for n in ctx.nodes if n.kind == "karpenter" and n.pool == obj["metadata"]["name"]]
        obj["metadata"].setdefault("annotations", {})["karpenter.sh/provisioner-hash"] = str(
            int(hashlib.sha1(json.dumps(obj["spec"], sort_keys=True).encode()).hexdigest()[:15], 16))
        status: Obj = {"resources": {
            "cpu": str(sum(n.itype.vcpu for n in nodes)),
            "ephemeral-storage": f"{sum(n.disk_gib * 1048576 - 1_120_000 for n in nodes)}Ki",
            "memory": f"{sum(n.cap_mem for n in nodes)}Ki",
            "pods": str(sum(n.itype.max_pods for n in nodes)),
        }}
        if nodes:
            status["lastScaleTime"] = ts(max(n.created for n in nodes))
        return status

    def node_template(ctx: ClusterCtx, obj: Obj) -> Obj:
        rng = Ids("awsnodetemplate", ctx.name)
        zones = ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
        return {
            "amis": [{"id": "ami-0" + rng.hex(16), "name": "amazon-eks-node-1.29-v20241109",
                      "requirements": [_requirement("kubernetes.io/arch", "In", ["amd64"]),
                                       _requirement("karpenter.k8s.aws/instance-gpu-count", "DoesNotExist", []),
                                       _requirement("karpenter.k8s.aws/instance-accelerator-count", "DoesNotExist",
                                                    [])]},
                     {"id": "ami-0" + rng.hex(16), "name": "amazon-eks-arm64-node-1.29-v20241109",
                      "requirements": [_requirement("kubernetes.io/arch", "In", ["arm64"])]}],
            "securityGroups": [{"id": "sg-0" + rng.hex(16), "name": f"eks-cluster-sg-{ctx.name}-{rng.hex(10)}"},
                               {"id": "sg-0" + rng.hex(16), "name": f"{ctx.name}-node"}],
            "subnets": [{"id": "subnet-0" + rng.hex(16), "zone": z} for z in zones],
        }

    return {"Provisioner": provisioner, "AWSNodeTemplate": node_template}


def record_machines(ctx: ClusterCtx, provisioners: dict[str, Obj]) -> None:
    """One v1alpha5 Machine per Karpenter node; the Node is owned by its Machine."""
    for node in ctx.nodes:
        if node.kind != "karpenter":
            continue
        prov = provisioners[node.pool]
        labels = {k: v for k, v in node.labels.items()
                  if k.startswith(("karpenter.", "kubernetes.io/arch", "kubernetes.io/os", "topology.kubernetes.io/",
                                   "node.kubernetes.io/instance-type", "livspace.io/"))
                  and k not in ("karpenter.sh/initialized", "karpenter.sh/registered")}
        meta = ctx.meta(node.machine, created=node.created - timedelta(seconds=52), labels=labels, generation=1,
                        annotations={"karpenter.k8s.aws/nodetemplate-hash":
                                     node.annotations["karpenter.k8s.aws/nodetemplate-hash"]})
        meta["finalizers"] = ["karpenter.sh/termination"]
        meta["ownerReferences"] = [{"apiVersion": "karpenter.sh/v1alpha5", "blockOwnerDeletion": True,
                                    "kind": "Provisioner", "name": prov["metadata"]["name"],
                                    "uid": prov["metadata"]["uid"]}]
        node.owner_refs = [{"apiVersion": "karpenter.sh/v1alpha5", "blockOwnerDeletion": True, "kind": "Machine",
                            "name": node.machine, "uid": meta["uid"]}]
        requirements = [r for r in prov["spec"]["requirements"] if r["key"] != "karpenter.sh/capacity-type"]
        requirements += [
            _requirement("karpenter.sh/provisioner-name", "In", [node.pool]),
            _requirement("karpenter.sh/capacity-type", "In", [node.capacity_type]),
            _requirement("node.kubernetes.io/instance-type", "In", [node.itype.name]),
        ]
        spec: Obj = {"machineTemplateRef": {"apiVersion": "karpenter.k8s.aws/v1alpha1", "kind": "AWSNodeTemplate",
                                            "name": prov["spec"]["providerRef"]["name"]},
                     "requirements": requirements,
                     "resources": {"requests": {"cpu": cpu_q(node.used_cpu), "memory": mem_q(node.used_mem // 1024),
                                                "pods": str(len(node.hosted))}}}
        if prov["spec"].get("taints"):
            spec["taints"] = copy.deepcopy(prov["spec"]["taints"])
        moment = node.created + timedelta(seconds=75)
        conditions = [{"type": t, "status": "True", "severity": "", "lastTransitionTime": ts(moment)}
                      for t in ("MachineInitialized", "MachineLaunched", "MachineRegistered", "Ready")]
        ctx.add("karpenter.sh/v1alpha5", "machines", {
            "apiVersion": "karpenter.sh/v1alpha5", "kind": "Machine", "metadata": meta, "spec": spec,
            "status": {"allocatable": {"cpu": cpu_q(node.alloc_cpu), "memory": f"{node.alloc_mem}Ki",
                                       "pods": str(node.itype.max_pods),
                                       "ephemeral-storage": f"{int((node.disk_gib * 1048576 - 1_120_000) * 0.9)}Ki"},
                       "capacity": {"cpu": str(node.itype.vcpu), "memory": f"{node.cap_mem}Ki",
                                    "pods": str(node.itype.max_pods),
                                    "ephemeral-storage": f"{node.disk_gib * 1048576 - 1_120_000}Ki"},
                       "conditions": conditions, "nodeName": node.name, "providerID": node.provider_id},
        })


# ------------------------------------------------------------------------------------ Argo CD

ARGOCD_VERSION = "v2.10.7"
ARGOCD_CHART_VERSION = "6.7.11"
ARGOCD_CHART = ChartMeta(
    "argo-cd", ARGOCD_CHART_VERSION, ARGOCD_VERSION,
    "A Helm chart for Argo CD, a declarative, GitOps continuous delivery tool for Kubernetes.",
    home="https://github.com/argoproj/argo-helm",
    sources=["https://github.com/argoproj/argo-helm/tree/main/charts/argo-cd", "https://github.com/argoproj/argo-cd"],
    kube_version=">=1.23.0-0",
    dependencies=[{"name": "redis-ha", "version": "4.23.0", "repository": "https://dandydeveloper.github.io/charts/",
                   "condition": "redis-ha.enabled"}],
)
ARGOCD_HISTORY = [(11, "6.7.10", "v2.10.7", "2026-09-29T07:12:40Z"), (12, ARGOCD_CHART_VERSION, ARGOCD_VERSION,
                                                                            "2026-10-21T06:48:02Z")]
ARGOCD_REPOSITORIES = """\
- url: https://github.com/livspace-demo/infra-flux.git
  name: infra-flux
- url: https://github.com/livspace-demo/storefront-manifests.git
  name: storefront-manifests
  usernameSecret:
    name: argocd-repo-github
    key: username
  passwordSecret:
    name: argocd-repo-github
    key: password
- type: helm
  url: https://charts.bitnami.com/bitnami
  name: bitnami
"""


def argocd_values() -> Obj:
    def res(cpu: str, mem: str, mem_limit: str) -> Obj:
        return {"requests": {"cpu": cpu, "memory": mem}, "limits": {"memory": mem_limit}}

    return {
        "fullnameOverride": "argocd",
        "global": {"logging": {"format": "json", "level": "info"}},
        "configs": {
            "cm": {
                "url": "https://argocd.platform.livspace-demo.io",
                "application.instanceLabelKey": "argocd.argoproj.io/instance",
                "admin.enabled": False,
                "exec.enabled": False,
                "timeout.reconciliation": "180s",
                "oidc.config": "name: Google\nissuer: https://accounts.google.com\n"
                               "clientID: 284761093512-argocd.apps.googleusercontent.com\n"
                               "clientSecret: $oidc.google.clientSecret\n"
                               "requestedScopes:\n  - openid\n  - profile\n  - email\n",
                # Legacy repository list in argocd-cm (removed in Argo CD 3.0; move to repository Secrets).
                "repositories": ARGOCD_REPOSITORIES,
                "resource.exclusions": "- apiGroups:\n    - cilium.io\n  kinds:\n    - CiliumIdentity\n"
                                       "    - CiliumEndpoint\n  clusters:\n    - \"*\"\n",
            },
            "params": {"server.insecure": True, "controller.status.processors": 30,
                       "controller.operation.processors": 15, "reposerver.parallelism.limit": 10},
            "rbac": {"policy.default": "role:readonly", "scopes": "[groups, email]",
                     "policy.csv": "g, livspace-demo:platform, role:admin\n"
                                   "p, role:storefront-dev, applications, sync, staging/*, allow\n"
                                   "g, livspace-demo:storefront, role:storefront-dev\n"},
        },
        "controller": {"replicas": 1, "resources": res("500m", "1Gi", "2Gi"), "metrics": {"enabled": True}},
        "server": {
            "replicas": 2,
            "resources": res("100m", "256Mi", "512Mi"),
            "metrics": {"enabled": True},
            "ingress": {"enabled": True, "ingressClassName": "alb", "hosts": ["argocd.platform.livspace-demo.io"],
                        "annotations": {"alb.ingress.kubernetes.io/scheme": "internal",
                                        "alb.ingress.kubernetes.io/target-type": "ip",
                                        "alb.ingress.kubernetes.io/backend-protocol": "HTTP"}},
        },
        "repoServer": {"replicas": 2, "resources": res("250m", "512Mi", "1Gi"), "metrics": {"enabled": True}},
        "applicationSet": {"replicas": 1, "resources": res("100m", "128Mi", "256Mi")},
        "notifications": {"enabled": True, "resources": res("50m", "64Mi", "128Mi")},
        "dex": {"enabled": False},
        "redis": {"resources": res("100m", "128Mi", "256Mi")},
    }


def argocd_workloads() -> list[Workload]:
    image = f"quay.io/argoproj/argocd:{ARGOCD_VERSION}"
    labels = {**helm_labels("argo-cd", "argo-cd", ARGOCD_CHART_VERSION, ARGOCD_VERSION),
              "app.kubernetes.io/part-of": "argocd"}
    ann = helm_annotations("argo-cd", "argocd")
    rollout = at(ARGOCD_HISTORY[-1][3]) + timedelta(seconds=50)

    def argo(kind: str, component: str, replicas: int, container: Container, ports: list[tuple[str, int, Any]],
             **kw: Any) -> Workload:
        name = f"argocd-{component}"
        return Workload(kind, "argocd", name, [container], replicas=replicas,
                        selector={"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "argo-cd"},
                        labels={**labels, "app.kubernetes.io/component": component}, annotations=ann,
                        service_account="argocd-" + ("server" if component == "server" else component),
                        created=at("2026-02-05T10:11:00Z"), rollout=rollout, revision=12, service_ports=ports, **kw)

    return [
        argo("Deployment", "server", 2,
             Container("server", image, 100, 256, mem_limit=512, ports=[("server", 8080), ("metrics", 8083)],
                       extra={"args": ["/usr/local/bin/argocd-server", "--port=8080", "--metrics-port=8083"]}),
             [("http", 80, 8080), ("https", 443, 8080)]),
        argo("Deployment", "repo-server", 2,
             Container("repo-server", image, 250, 512, mem_limit=1024,
                       ports=[("repo-server", 8081), ("metrics", 8084)],
                       extra={"args": ["/usr/local/bin/argocd-repo-server", "--port=8081", "--metrics-port=8084"]}),
             [("tcp-repo-server", 8081, "repo-server")]),
        argo("Deployment", "applicationset-controller", 1,
             Container("applicationset-controller", image, 100, 128, mem_limit=256,
                       ports=[("metrics", 8080), ("probe", 8081), ("webhook", 7000)],
                       extra={"args": ["/usr/local/bin/argocd-applicationset-controller", "--metrics-addr=:8080",
                                       "--probe-addr=:8081", "--webhook-addr=:7000"]}),
             [("http-webhook", 7000, "webhook")]),
        argo("Deployment", "notifications-controller", 1,
             Container("notifications-controller", image, 50, 64, mem_limit=128, ports=[("metrics", 9001)],
                       extra={"args": ["/usr/local/bin/argocd-notifications", "--metrics-port=9001",
                                       "--namespace=argocd", "--argocd-repo-server=argocd-repo-server:8081"]}),
             []),
        argo("Deployment", "redis", 1,
             Container("redis", "public.ecr.aws/docker/library/redis:7.0.13-alpine", 100, 128, mem_limit=256,
                       ports=[("redis", 6379)], extra={"args": ["--save", "", "--appendonly", "no"]}),
             [("redis", 6379, 6379)]),
        argo("StatefulSet", "application-controller", 1,
             Container("application-controller", image, 500, 1024, mem_limit=2048, ports=[("metrics", 8082)],
                       extra={"args": ["/usr/local/bin/argocd-application-controller", "--metrics-port=8082"]}),
             []),
    ]


def argocd_configmaps() -> dict[str, dict[str, str]]:
    values = argocd_values()["configs"]

    def as_str(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    cm = {"server.rbac.log.enforce.enable": "false", "timeout.hard.reconciliation": "0s"}
    cm.update({k: as_str(v) for k, v in values["cm"].items()})
    params = {"applicationsetcontroller.enable.progressive.syncs": "false", "applicationsetcontroller.policy": "sync",
              "controller.repo.server.timeout.seconds": "60", "controller.self.heal.timeout.seconds": "5",
              "otlp.address": "", "server.basehref": "/", "server.disable.auth": "false",
              "server.enable.gzip": "true", "server.rootpath": "", "server.staticassets": "/shared/app",
              "server.x.frame.options": "sameorigin"}
    params.update({k: as_str(v) for k, v in values["params"].items()})
    rbac = {k: as_str(v) for k, v in values["rbac"].items()}
    return {"argocd-cm": dict(sorted(cm.items())), "argocd-cmd-params-cm": dict(sorted(params.items())),
            "argocd-rbac-cm": dict(sorted(rbac.items()))}


def record_argocd(ctx: ClusterCtx, workloads: list[Workload]) -> None:
    labels = {**helm_labels("argo-cd", "argo-cd", ARGOCD_CHART_VERSION, ARGOCD_VERSION),
              "app.kubernetes.io/part-of": "argocd"}
    ann = helm_annotations("argo-cd", "argocd")
    for plural, kind, short in [("applications", "Application", ["app", "apps"]),
                                ("applicationsets", "ApplicationSet", ["appset", "appsets"]),
                                ("appprojects", "AppProject", ["appproj", "appprojs"])]:
        crd_object(ctx, group="argoproj.io", plural=plural, kind=kind, versions=[("v1alpha1", True, True)],
                   stored=["v1alpha1"], short_names=short,
                   labels={**labels, "app.kubernetes.io/name": f"{plural}.argoproj.io"},
                   annotations={**ann, "helm.sh/resource-policy": "keep"}, created="2026-02-05T10:10:40Z")
    for name, data in argocd_configmaps().items():
        configmap_object(ctx, "argocd", name, data, labels={**labels, "app.kubernetes.io/name": name},
                         annotations=ann, created=at("2026-02-05T10:11:00Z"))
    by_name = {w.name: w for w in workloads}
    manifest = render_manifest("argo-cd", [
        ("argocd-configs/argocd-cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "argocd-cm", "namespace": "argocd"},
                                           "data": argocd_configmaps()["argocd-cm"]}),
        ("argocd-server/deployment.yaml", workload_manifest(by_name["argocd-server"])),
        ("argocd-repo-server/deployment.yaml", workload_manifest(by_name["argocd-repo-server"])),
        ("argocd-application-controller/statefulset.yaml",
         workload_manifest(by_name["argocd-application-controller"])),
    ])
    revisions = []
    for i, (n, chart_version, app_version, deployed) in enumerate(ARGOCD_HISTORY):
        chart = copy.deepcopy(ARGOCD_CHART)
        chart.version, chart.app_version = chart_version, app_version
        last = i == len(ARGOCD_HISTORY) - 1
        revisions.append(Revision(n, chart, argocd_values(), at(deployed), "deployed" if last else "superseded",
                                  manifest if last else ""))
    record_helm_release(ctx, "argo-cd", "argocd", revisions, at("2026-02-05T10:10:31Z"))
    HELM_RELEASE_REVISIONS[(ctx.name, "argo-cd")] = ARGOCD_HISTORY[-1][0]
    HELM_RELEASE_DEPLOYED[(ctx.name, "argo-cd")] = at(ARGOCD_HISTORY[-1][3])
    HELM_RELEASE_FIRST[(ctx.name, "argo-cd")] = at("2026-02-05T10:10:31Z")


# ------------------------------------------------------------------------------------ VictoriaMetrics

VM_VERSION = "v1.87.6"  # the 1.87 LTS line, pinned with image tags in the values
VM_CHART_APP_VERSION = "v1.102.1"  # what chart 0.25.17 ships by default
VM_OPERATOR_VERSION = "v0.47.3"
VM_CHART = ChartMeta(
    "victoria-metrics-k8s-stack", "0.25.17", VM_CHART_APP_VERSION,
    "Kubernetes monitoring on VictoriaMetrics stack. Includes VictoriaMetrics Operator, Grafana dashboards, "
    "ServiceScrapes and VMRules",
    home="https://github.com/VictoriaMetrics/helm-charts", sources=["https://github.com/VictoriaMetrics/helm-charts"],
    kube_version=">=1.25.0-0",
    dependencies=[
        {"name": "victoria-metrics-common", "version": "0.0.*", "repository": "https://victoriametrics.github.io/helm-charts"},
        {"name": "victoria-metrics-operator", "version": "0.34.*",
         "repository": "https://victoriametrics.github.io/helm-charts",
         "condition": "victoria-metrics-operator.enabled"},
        {"name": "kube-state-metrics", "version": "5.25.*",
         "repository": "https://prometheus-community.github.io/helm-charts", "condition": "kube-state-metrics.enabled"},
        {"name": "prometheus-node-exporter", "version": "4.39.*",
         "repository": "https://prometheus-community.github.io/helm-charts",
         "condition": "prometheus-node-exporter.enabled"},
        {"name": "grafana", "version": "8.4.*", "repository": "https://grafana.github.io/helm-charts",
         "condition": "grafana.enabled"},
    ],
)
VM_HISTORY = [(6, "0.25.16", "2026-08-27T04:35:18Z"), (7, "0.25.17", "2026-09-10T04:52:44Z")]
VM_RELEASE = "victoria-metrics-k8s-stack"
VM_SVC = "http://vmsingle-victoria-metrics-k8s-stack.monitoring.svc.cluster.local.:8429"


def vm_values() -> Obj:
    return {
        "global": {"clusterLabel": "cluster"},
        "victoria-metrics-operator": {
            "enabled": True,
            "operator": {"disable_prometheus_converter": False},
            "resources": {"requests": {"cpu": "80m", "memory": "120Mi"}, "limits": {"memory": "256Mi"}},
        },
        "defaultRules": {"create": True},
        "vmsingle": {"enabled": True, "spec": {
            "image": {"tag": VM_VERSION},
            "retentionPeriod": "3",
            "replicaCount": 1,
            "extraArgs": {"dedup.minScrapeInterval": "30s", "search.maxUniqueTimeseries": "900000"},
            "resources": {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"memory": "20Gi"}},
            "storage": {"storageClassName": "premium-rwo", "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "500Gi"}}},
        }},
        "vmcluster": {"enabled": False},
        "alertmanager": {"enabled": True, "spec": {
            "replicaCount": 2, "image": {"tag": "v0.25.0"},
            "externalURL": "https://alertmanager.monitor.livspace-demo.io",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}},
        "vmalert": {"enabled": True, "spec": {
            "image": {"tag": VM_VERSION}, "evaluationInterval": "30s",
            "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}}},
        "vmagent": {"enabled": True, "spec": {
            "image": {"tag": VM_VERSION}, "replicaCount": 2, "scrapeInterval": "30s",
            "externalLabels": {"cluster": "monitor"},
            "extraArgs": {"promscrape.streamParse": "true", "promscrape.dropOriginalLabels": "true"},
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "3Gi"}}}},
        "grafana": {
            "enabled": True,
            "ingress": {"enabled": True, "ingressClassName": "gce-internal",
                        "hosts": ["grafana.monitor.livspace-demo.io"]},
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "searchNamespace": "ALL"}},
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
        },
        "kube-state-metrics": {"enabled": True},
        "prometheus-node-exporter": {"enabled": True},
        "kubeEtcd": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeProxy": {"enabled": False},
    }


def vm_custom_resources() -> list[Obj]:
    """The VM* objects the chart renders from vm_values(), as Git-style documents."""
    v = vm_values()
    labels = {**helm_labels(VM_RELEASE, VM_RELEASE, "0.25.17", VM_CHART_APP_VERSION),
              "app.kubernetes.io/name": VM_RELEASE}

    def cr(kind: str, spec: Obj) -> Obj:
        return {"apiVersion": "operator.victoriametrics.com/v1beta1", "kind": kind,
                "metadata": {"name": VM_RELEASE, "namespace": "monitoring", "labels": dict(labels)}, "spec": spec}

    single = v["vmsingle"]["spec"]
    agent = v["vmagent"]["spec"]
    alert = v["vmalert"]["spec"]
    am = v["alertmanager"]["spec"]
    return [
        cr("VMSingle", {**copy.deepcopy(single), "image": {"repository": "victoriametrics/victoria-metrics",
                                                           "tag": VM_VERSION}, "port": "8429"}),
        cr("VMAgent", {**copy.deepcopy(agent), "image": {"repository": "victoriametrics/vmagent", "tag": VM_VERSION},
                       "port": "8429", "selectAllByDefault": True,
                       "remoteWrite": [{"url": f"{VM_SVC}/api/v1/write"}]}),
        cr("VMAlert", {**copy.deepcopy(alert), "image": {"repository": "victoriametrics/vmalert", "tag": VM_VERSION},
                       "port": "8080", "selectAllByDefault": True, "extraArgs": {"http.pathPrefix": "/"},
                       "datasource": {"url": f"{VM_SVC}/"},
                       "notifiers": [{"url": "http://vmalertmanager-victoria-metrics-k8s-stack-"
                                             f"{i}.vmalertmanager-victoria-metrics-k8s-stack.monitoring.svc.cluster."
                                             "local.:9093"} for i in range(2)],
                       "remoteRead": {"url": f"{VM_SVC}/"}, "remoteWrite": {"url": f"{VM_SVC}/"}}),
        cr("VMAlertmanager", {**copy.deepcopy(am), "image": {"repository": "prom/alertmanager", "tag": "v0.25.0"},
                              "port": "9093", "selectAllByDefault": True, "routePrefix": "/",
                              "configSecret": "vmalertmanager-victoria-metrics-k8s-stack"}),
    ]


VM_DEFAULT_RULES = {  # chart-rendered VMRule suffix -> (group, [(alert, expr, for, severity)])
    "general.rules": ("general.rules", [("TargetDown", '100 * (count(up == 0) BY (cluster, job, namespace, service) '
                                                       '/ count(up) BY (cluster, job, namespace, service)) > 10',
                                         "10m", "warning")]),
    "kubernetes-apps": ("kubernetes-apps", [
        ("KubePodCrashLooping", 'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", '
                                'job="kube-state-metrics"}[5m]) >= 1', "15m", "warning"),
        ("KubeDeploymentReplicasMismatch", '(kube_deployment_spec_replicas{job="kube-state-metrics"} > '
                                           'kube_deployment_status_replicas_available{job="kube-state-metrics"})',
         "15m", "warning")]),
    "kubernetes-resources": ("kubernetes-resources", [
        ("KubeCPUOvercommit", 'sum(namespace_cpu:kube_pod_container_resource_requests:sum{}) by (cluster) - '
                              '(sum(kube_node_status_allocatable{resource="cpu"}) by (cluster) - '
                              'max(kube_node_status_allocatable{resource="cpu"}) by (cluster)) > 0',
                              "10m", "warning")]),
    "node-exporter": ("node-exporter", [
        ("NodeFilesystemAlmostOutOfSpace", '(node_filesystem_avail_bytes{job="node-exporter",fstype!=""} / '
                                           'node_filesystem_size_bytes{job="node-exporter",fstype!=""} * 100 < 5)',
         "30m", "warning")]),
    "vm-health": ("vm-health", [
        ("TooManyRestarts", 'changes(process_start_time_seconds{job=~".*(victoriametrics|vmselect|vminsert|vmstorage|'
                            'vmagent|vmalert|vmsingle).*"}[15m]) > 2', "", "critical"),
        ("ServiceDown", 'up{job=~".*(victoriametrics|vmselect|vminsert|vmstorage|vmagent|vmalert|vmsingle).*"} == 0',
         "2m", "critical")]),
    "vmsingle": ("vmsingle", [
        ("DiskRunsOutOfSpaceIn3Days", 'vm_free_disk_space_bytes / ignoring(path) ((rate(vm_rows_added_to_storage_total'
                                      '[1d]) - ignoring(type) rate(vm_deduplicated_samples_total{type="merge"}[1d])) '
                                      '* scalar(sum(vm_data_size_bytes{type!~"indexdb.*"}) / '
                                      'sum(vm_rows{type!~"indexdb.*"}))) < 3 * 24 * 3600 > 0', "30m", "critical")]),
    "vmagent": ("vmagent", [
        ("PersistentQueueIsDroppingData",
         "sum(increase(vm_persistentqueue_bytes_dropped_total[5m])) without (path) > 0",
         "10m", "critical")]),
}


def vm_rule(name: str, group: str, rules: list[tuple[str, str, str, str]], labels: dict[str, str]) -> Obj:
    out_rules = []
    for alert, expr, duration, severity in rules:
        rule: Obj = {"alert": alert, "expr": expr, "labels": {"severity": severity},
                     "annotations": {"summary": f"{alert} on {{{{ $labels.cluster }}}}"}}
        if duration:
            rule["for"] = duration
        out_rules.append(rule)
    return {"apiVersion": "operator.victoriametrics.com/v1beta1", "kind": "VMRule",
            "metadata": {"name": name, "namespace": "monitoring", "labels": labels},
            "spec": {"groups": [{"name": group, "rules": out_rules}]}}


def vm_workloads(owners: dict[str, Obj]) -> list[Workload]:
    labels = helm_labels(VM_RELEASE, VM_RELEASE, "0.25.17", VM_CHART_APP_VERSION)
    ann = helm_annotations(VM_RELEASE, "monitoring")
    rollout = at(VM_HISTORY[-1][2]) + timedelta(minutes=2)
    created = at("2026-03-10T06:00:00Z")

    def operator_owned(kind: str, name: str, containers: list[Container], replicas: int, port: int,
                       workload_kind: str = "Deployment") -> Workload:
        component = {"VMSingle": "vmsingle", "VMAgent": "vmagent", "VMAlert": "vmalert",
                     "VMAlertmanager": "vmalertmanager"}[kind]
        selector = {"app.kubernetes.io/name": component, "app.kubernetes.io/instance": VM_RELEASE,
                    "app.kubernetes.io/component": "monitoring", "managed-by": "vm-operator"}
        return Workload(workload_kind, "monitoring", name, containers, replicas=replicas, selector=selector,
                        owner=owners.get(kind), service_account=f"{component}-{VM_RELEASE}", created=created,
                        rollout=rollout, revision=5, service_ports=[("http", port, port)],
                        service_name=name if workload_kind == "Deployment" else f"{name}")

    return [
        Workload("Deployment", "monitoring", f"{VM_RELEASE}-victoria-metrics-operator",
                 [Container("operator", f"victoriametrics/operator:{VM_OPERATOR_VERSION}", 80, 120, mem_limit=256,
                            ports=[("http", 8080), ("webhook", 9443)])],
                 selector={"app.kubernetes.io/name": "victoria-metrics-operator",
                           "app.kubernetes.io/instance": VM_RELEASE},
                 labels=labels, annotations=ann, service_account=f"{VM_RELEASE}-victoria-metrics-operator",
                 created=created, rollout=rollout, revision=7,
                 service_ports=[("http", 8080, 8080), ("webhook", 443, 9443)]),
        operator_owned("VMSingle", f"vmsingle-{VM_RELEASE}",
                       [Container("vmsingle", f"victoriametrics/victoria-metrics:{VM_VERSION}", 4000, 16384,
                                  mem_limit=20480, ports=[("http", 8429)],
                                  extra={"args": ["-dedup.minScrapeInterval=30s", "-httpListenAddr=:8429",
                                                  "-retentionPeriod=3", "-search.maxUniqueTimeseries=900000",
                                                  "-storageDataPath=/victoria-metrics-data"]})], 1, 8429),
        operator_owned("VMAgent", f"vmagent-{VM_RELEASE}",
                       [Container("vmagent", f"victoriametrics/vmagent:{VM_VERSION}", 1000, 2048, mem_limit=3072,
                                  ports=[("http", 8429)]),
                        Container("config-reloader", "quay.io/prometheus-operator/prometheus-config-reloader:v0.68.0",
                                  10, 25, cpu_limit=100, mem_limit=25)], 2, 8429),
        operator_owned("VMAlert", f"vmalert-{VM_RELEASE}",
                       [Container("vmalert", f"victoriametrics/vmalert:{VM_VERSION}", 200, 256, ports=[("http", 8080)]),
                        Container("config-reloader", "jimmidyson/configmap-reload:v0.3.0", 10, 25, cpu_limit=100,
                                  mem_limit=25)], 1, 8080),
        operator_owned("VMAlertmanager", f"vmalertmanager-{VM_RELEASE}",
                       [Container("alertmanager", "prom/alertmanager:v0.25.0", 100, 128, ports=[("web", 9093)]),
                        Container("config-reloader", "jimmidyson/configmap-reload:v0.3.0", 10, 25, cpu_limit=100,
                                  mem_limit=25)], 2, 9093, "StatefulSet"),
        Workload("Deployment", "monitoring", f"{VM_RELEASE}-grafana",
                 [Container("grafana", "grafana/grafana:11.1.0", 250, 512, ports=[("grafana", 3000)]),
                  Container("grafana-sc-dashboard", "quay.io/kiwigrid/k8s-sidecar:1.27.4", 50, 64)],
                 selector={"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": VM_RELEASE},
                 labels={**labels, "helm.sh/chart": "grafana-8.4.4"}, annotations=ann,
                 service_account=f"{VM_RELEASE}-grafana", created=created, rollout=rollout, revision=9,
                 service_ports=[("http-web", 80, 3000)]),
        Workload("Deployment", "monitoring", f"{VM_RELEASE}-kube-state-metrics",
                 [Container("kube-state-metrics", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0",
                            100, 256, ports=[("http", 8080)])],
                 selector={"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": VM_RELEASE},
                 labels={**labels, "helm.sh/chart": "kube-state-metrics-5.25.1"}, annotations=ann,
                 service_account=f"{VM_RELEASE}-kube-state-metrics", created=created, rollout=rollout,
                 service_ports=[("http", 8080, 8080)]),
        Workload("DaemonSet", "monitoring", f"{VM_RELEASE}-prometheus-node-exporter",
                 [Container("node-exporter", "quay.io/prometheus/node-exporter:v1.8.2", 50, 64,
                            ports=[("metrics", 9100)])],
                 selector={"app.kubernetes.io/name": "prometheus-node-exporter",
                           "app.kubernetes.io/instance": VM_RELEASE},
                 labels={**labels, "helm.sh/chart": "prometheus-node-exporter-4.39.0"}, annotations=ann,
                 tolerations=TOLERATE_ALL, host_network=True,
                 service_account=f"{VM_RELEASE}-prometheus-node-exporter", created=created, rollout=rollout,
                 service_ports=[("metrics", 9100, 9100)]),
    ]


VM_CRDS = [("vmsingles", "VMSingle"), ("vmclusters", "VMCluster"), ("vmagents", "VMAgent"), ("vmalerts", "VMAlert"),
           ("vmalertmanagers", "VMAlertmanager"), ("vmalertmanagerconfigs", "VMAlertmanagerConfig"),
           ("vmrules", "VMRule"), ("vmservicescrapes", "VMServiceScrape"), ("vmpodscrapes", "VMPodScrape"),
           ("vmnodescrapes", "VMNodeScrape"), ("vmprobes", "VMProbe"), ("vmstaticscrapes", "VMStaticScrape"),
           ("vmscrapeconfigs", "VMScrapeConfig"), ("vmauths", "VMAuth"), ("vmusers", "VMUser")]
PROMETHEUS_OPERATOR_CRDS = [("servicemonitors", "ServiceMonitor"), ("podmonitors", "PodMonitor"),
                            ("prometheusrules", "PrometheusRule"), ("probes", "Probe")]


def record_victoriametrics(ctx: ClusterCtx) -> dict[str, Obj]:
    """CRDs, the chart's VM* custom resources and default VMRules/VMServiceScrapes, and the Helm release.
    Returns ownerReferences by VM kind for the operator-managed workloads."""
    labels = {**helm_labels(VM_RELEASE, VM_RELEASE, "0.25.17", VM_CHART_APP_VERSION),
              "app.kubernetes.io/name": VM_RELEASE}
    ann = helm_annotations(VM_RELEASE, "monitoring")
    for plural, kind in VM_CRDS:
        crd_object(ctx, group="operator.victoriametrics.com", plural=plural, kind=kind,
                   versions=[("v1beta1", True, True)], stored=["v1beta1"], categories=["vm"],
                   labels={**labels, "app.kubernetes.io/name": "crds"}, annotations=ann,
                   created="2026-03-10T05:59:30Z")
    for plural, kind in PROMETHEUS_OPERATOR_CRDS:
        crd_object(ctx, group="monitoring.coreos.com", plural=plural, kind=kind, versions=[("v1", True, True)],
                   stored=["v1"], categories=["prometheus-operator"],
                   annotations={"controller-gen.kubebuilder.io/version": "v0.13.0",
                                "operator.prometheus.io/version": "0.68.0"}, created="2026-03-10T05:59:30Z")
    owners: dict[str, Obj] = {}
    deployed = at(VM_HISTORY[-1][2])
    for doc in vm_custom_resources():
        kind = doc["kind"]
        meta = ctx.meta(doc["metadata"]["name"], "monitoring", created=at("2026-03-10T06:00:05Z"),
                        labels=doc["metadata"]["labels"], annotations=ann, generation=4)
        status: Obj = {"updateStatus": "operational", "observedGeneration": 4,
                       "lastSyncError": ""}
        if kind == "VMAgent":
            status.update({"replicas": 2, "shards": 1})
        ctx.add("operator.victoriametrics.com/v1beta1", kind.lower() + "s",
                {**doc, "metadata": meta, "status": status})
        owners[kind] = {"apiVersion": "operator.victoriametrics.com/v1beta1", "blockOwnerDeletion": True,
                        "controller": True, "kind": kind, "name": meta["name"], "uid": meta["uid"]}
    for suffix, (group, rules) in VM_DEFAULT_RULES.items():
        doc = vm_rule(f"{VM_RELEASE}-{suffix}", group, rules, labels)
        meta = ctx.meta(doc["metadata"]["name"], "monitoring", created=at("2026-03-10T06:00:05Z"), labels=labels,
                        annotations=ann, generation=2)
        ctx.add("operator.victoriametrics.com/v1beta1", "vmrules",
                {**doc, "metadata": meta, "status": {"status": "operational", "lastSyncError": ""}})
    for name, selector, port, namespace in [
        ("kube-state-metrics", {"app.kubernetes.io/name": "kube-state-metrics"}, "http", "monitoring"),
        ("node-exporter", {"app.kubernetes.io/name": "prometheus-node-exporter"}, "metrics", "monitoring"),
        ("grafana", {"app.kubernetes.io/name": "grafana"}, "http-web", "monitoring"),
        ("victoria-metrics-operator", {"app.kubernetes.io/name": "victoria-metrics-operator"}, "http", "monitoring"),
        ("apiserver", {"component": "apiserver", "provider": "kubernetes"}, "https", "default"),
    ]:
        spec: Obj = {"endpoints": [{"port": port, "interval": "30s"}], "jobLabel": "app.kubernetes.io/name",
                     "namespaceSelector": {"matchNames": [namespace]}, "selector": {"matchLabels": selector}}
        if name == "apiserver":
            spec["endpoints"] = [{"port": "https", "scheme": "https", "bearerTokenFile":
                                  "/var/run/secrets/kubernetes.io/serviceaccount/token",
                                  "tlsConfig": {"caFile": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                                                "serverName": "kubernetes"}}]
        ctx.add("operator.victoriametrics.com/v1beta1", "vmservicescrapes", {
            "apiVersion": "operator.victoriametrics.com/v1beta1", "kind": "VMServiceScrape",
            "metadata": ctx.meta(f"{VM_RELEASE}-{name}", "monitoring", created=at("2026-03-10T06:00:05Z"),
                                 labels=labels, annotations=ann, generation=1),
            "spec": spec, "status": {"status": "operational", "lastSyncError": ""}})
    for name in ("kubelet", "cadvisor"):
        endpoint: Obj = {"port": "https-metrics", "scheme": "https", "interval": "30s",
                         "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                         "tlsConfig": {"caFile": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                                       "insecureSkipVerify": True}}
        if name == "cadvisor":
            endpoint["path"] = "/metrics/cadvisor"
        ctx.add("operator.victoriametrics.com/v1beta1", "vmnodescrapes", {
            "apiVersion": "operator.victoriametrics.com/v1beta1", "kind": "VMNodeScrape",
            "metadata": ctx.meta(f"{VM_RELEASE}-{name}", "monitoring", created=at("2026-03-10T06:00:05Z"),
                                 labels=labels, annotations=ann, generation=1),
            "spec": {**endpoint, "selector": {}}, "status": {"status": "operational", "lastSyncError": ""}})
    manifest = render_manifest(VM_RELEASE, [(f"{d['kind'].lower()}/{d['kind'].lower()}.yaml", d)
                                            for d in vm_custom_resources()])
    revisions = []
    for i, (n, chart_version, deployed_at) in enumerate(VM_HISTORY):
        chart = copy.deepcopy(VM_CHART)
        chart.version = chart_version
        last = i == len(VM_HISTORY) - 1
        revisions.append(Revision(n, chart, vm_values(), at(deployed_at), "deployed" if last else "superseded",
                                  manifest if last else ""))
    record_helm_release(ctx, VM_RELEASE, "monitoring", revisions, at("2026-03-10T05:59:21Z"))
    HELM_RELEASE_REVISIONS[(ctx.name, VM_RELEASE)] = VM_HISTORY[-1][0]
    HELM_RELEASE_DEPLOYED[(ctx.name, VM_RELEASE)] = deployed
    HELM_RELEASE_FIRST[(ctx.name, VM_RELEASE)] = at("2026-03-10T05:59:21Z")
    return owners


# ------------------------------------------------------------------------------------ vendor add-ons

EKS_ADDON_REGISTRY = "900889452093.dkr.ecr.ap-south-1.amazonaws.com"


def eks_addon_workloads(*, aws_node: bool, kube_proxy: bool, system_pool: str | None) -> list[Workload]:
    """kube-system as EKS managed add-ons leave it (vpc-cni, kube-proxy, coredns, ebs-csi) plus metrics-server."""
    created, rollout = at("2026-01-21T10:40:00Z"), at("2026-08-05T04:10:00Z")
    addon = {"app.kubernetes.io/managed-by": "EKS"}
    out = []
    if aws_node:
        out.append(Workload(
            "DaemonSet", "kube-system", "aws-node",
            [Container("aws-node", f"{EKS_ADDON_REGISTRY}/amazon-k8s-cni:v1.18.3-eksbuild.1", 25, 0,
                       ports=[("metrics", 61678)], extra={"securityContext": {"capabilities": {
                           "add": ["NET_ADMIN", "NET_RAW"]}}}),
             Container("aws-eks-nodeagent", f"{EKS_ADDON_REGISTRY}/amazon/aws-network-policy-agent:v1.1.2-eksbuild.1",
                       25, 0)],
            selector={"k8s-app": "aws-node"},
            labels={**addon, "app.kubernetes.io/instance": "aws-vpc-cni", "app.kubernetes.io/name": "aws-node",
                    "app.kubernetes.io/version": "v1.18.3"},
            tolerations=TOLERATE_ALL, host_network=True, priority_class="system-node-critical",
            service_account="aws-node", created=created, rollout=rollout, revision=7,
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}}))
    if kube_proxy:
        out.append(Workload(
            "DaemonSet", "kube-system", "kube-proxy",
            [Container("kube-proxy", f"{EKS_ADDON_REGISTRY}/eks/kube-proxy:v1.29.3-minimal-eksbuild.2", 100, 0,
                       extra={"command": ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config",
                                          "--hostname-override=$(NODE_NAME)"],
                              "securityContext": {"privileged": True}})],
            selector={"k8s-app": "kube-proxy"}, labels={**addon, "eks.amazonaws.com/component": "kube-proxy"},
            tolerations=TOLERATE_ALL, host_network=True, priority_class="system-node-critical",
            service_account="kube-proxy", created=created, rollout=rollout, revision=4))
    out.append(Workload(
        "Deployment", "kube-system", "coredns",
        [Container("coredns", f"{EKS_ADDON_REGISTRY}/eks/coredns:v1.11.1-eksbuild.9", 100, 70, mem_limit=170,
                   ports=[("dns", 53), ("metrics", 9153)],
                   extra={"args": ["-conf", "/etc/coredns/Corefile"]})],
        replicas=2, selector={"k8s-app": "kube-dns"},
        labels={**addon, "eks.amazonaws.com/component": "coredns", "kubernetes.io/name": "CoreDNS"},
        tolerations=[CRITICAL_ADDONS, tol("node-role.kubernetes.io/control-plane")],
        priority_class="system-cluster-critical", service_account="coredns", one_per_node=True,
        affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                  {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]}}},
        node_selector={"eks.amazonaws.com/nodegroup": system_pool} if system_pool else {},
        created=created, rollout=rollout, revision=5, service_ports=[("dns", 53, 53), ("dns-tcp", 53, 53)],
        service_name="kube-dns"))
    out.append(Workload(
        "DaemonSet", "kube-system", "ebs-csi-node",
        [Container("ebs-plugin", f"{EKS_ADDON_REGISTRY}/eks/aws-ebs-csi-driver:v1.35.0", 10, 40, mem_limit=256,
                   ports=[("healthz", 9808)], extra={"securityContext": {"privileged": True}}),
         Container("node-driver-registrar", f"{EKS_ADDON_REGISTRY}/eks/csi-node-driver-registrar:v2.11.1-eks-1-31-1",
                   10, 40, mem_limit=256),
         Container("liveness-probe", f"{EKS_ADDON_REGISTRY}/eks/livenessprobe:v2.13.1-eks-1-31-1", 10, 40,
                   mem_limit=256)],
        selector={"app": "ebs-csi-node", "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        labels={**addon, "app.kubernetes.io/component": "csi-driver", "app.kubernetes.io/version": "1.35.0"},
        tolerations=TOLERATE_ALL, priority_class="system-node-critical", service_account="ebs-csi-node-sa",
        node_selector={"kubernetes.io/os": "linux"}, created=created, rollout=rollout, revision=6))
    out.append(Workload(
        "Deployment", "kube-system", "metrics-server",
        [Container("metrics-server", "registry.k8s.io/metrics-server/metrics-server:v0.7.2", 100, 200,
                   ports=[("https", 10251)],
                   extra={"args": ["--secure-port=10251", "--cert-dir=/tmp",
                                   "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
                                   "--kubelet-use-node-status-port", "--metric-resolution=15s"]})],
        selector={"k8s-app": "metrics-server"}, labels={"app.kubernetes.io/name": "metrics-server"},
        tolerations=[CRITICAL_ADDONS],
        node_selector={"eks.amazonaws.com/nodegroup": system_pool} if system_pool else {},
        priority_class="system-cluster-critical", service_account="metrics-server", created=created,
        rollout=rollout, service_ports=[("https", 443, "https")]))
    return out


def gke_addon_workloads() -> list[Workload]:
    """kube-system on GKE with Dataplane V2 (anetd is Google's managed Cilium, not a user install)."""
    created, rollout = at("2026-02-11T03:20:00Z"), at("2026-10-15T02:05:00Z")
    addon = {"addonmanager.kubernetes.io/mode": "Reconcile"}
    return [
        Workload("DaemonSet", "kube-system", "anetd",
                 [Container("cilium-agent", "gke.gcr.io/cilium/cilium:v1.14.12-gke4.100", 100, 100,
                            extra={"securityContext": {"privileged": True}})],
                 selector={"k8s-app": "cilium"}, labels={**addon, "k8s-app": "cilium"}, tolerations=TOLERATE_ALL,
                 host_network=True, priority_class="system-node-critical", service_account="cilium",
                 created=created, rollout=rollout, revision=11),
        Workload("DaemonSet", "kube-system", "fluentbit-gke",
                 [Container("fluentbit", "gke.gcr.io/fluent-bit:v1.8.12-gke.44", 50, 100, mem_limit=250),
                  Container("fluentbit-gke", "gke.gcr.io/fluent-bit-gke-exporter:v0.28.0-gke.0", 5, 30,
                            mem_limit=250)],
                 selector={"k8s-app": "fluentbit-gke"}, labels=addon, tolerations=TOLERATE_ALL, host_network=True,
                 priority_class="system-node-critical", service_account="fluentbit-gke", created=created,
                 rollout=rollout, revision=9),
        Workload("DaemonSet", "kube-system", "gke-metrics-agent",
                 [Container("gke-metrics-agent", "gke.gcr.io/gke-metrics-agent:1.12.4-gke.0", 8, 60, mem_limit=60)],
                 selector={"component": "gke-metrics-agent"}, labels=addon, tolerations=TOLERATE_ALL,
                 host_network=True, priority_class="system-node-critical", service_account="gke-metrics-agent",
                 created=created, rollout=rollout, revision=8),
        Workload("DaemonSet", "kube-system", "pdcsi-node",
                 [Container("csi-driver-registrar", "gke.gcr.io/csi-node-driver-registrar:v2.9.4-gke.7", 5, 10,
                            mem_limit=50),
                  Container("gce-pd-driver", "gke.gcr.io/gcp-compute-persistent-disk-csi-driver:v1.13.15-gke.0", 5,
                            20, mem_limit=50, extra={"securityContext": {"privileged": True}})],
                 selector={"app": "gcp-compute-persistent-disk-csi-driver"}, labels=addon, tolerations=TOLERATE_ALL,
                 host_network=True, priority_class="system-node-critical", service_account="pdcsi-node-sa",
                 created=created, rollout=rollout, revision=6),
        Workload("Deployment", "kube-system", "kube-dns",
                 [Container("kubedns", "gke.gcr.io/k8s-dns-kube-dns:1.23.0-gke.9", 100, 70, mem_limit=210),
                  Container("dnsmasq", "gke.gcr.io/k8s-dns-dnsmasq-nanny:1.23.0-gke.9", 150, 20),
                  Container("sidecar", "gke.gcr.io/k8s-dns-sidecar:1.23.0-gke.9", 10, 20)],
                 replicas=2, selector={"k8s-app": "kube-dns"}, labels=addon, tolerations=[CRITICAL_ADDONS],
                 priority_class="system-cluster-critical", service_account="kube-dns", one_per_node=True,
                 created=created, rollout=rollout, revision=8, service_ports=[("dns", 53, 53), ("dns-tcp", 53, 53)]),
        Workload("Deployment", "kube-system", "kube-dns-autoscaler",
                 [Container("autoscaler", "gke.gcr.io/cluster-proportional-autoscaler:v1.8.11-gke.7", 20, 10)],
                 selector={"k8s-app": "kube-dns-autoscaler"}, labels=addon, tolerations=[CRITICAL_ADDONS],
                 priority_class="system-cluster-critical", service_account="kube-dns-autoscaler", created=created,
                 rollout=rollout, revision=4),
        Workload("Deployment", "kube-system", "konnectivity-agent",
                 [Container("konnectivity-agent", "gke.gcr.io/proxy-agent:v0.30.3-gke.2", 10, 30, mem_limit=125)],
                 replicas=3, selector={"k8s-app": "konnectivity-agent"}, labels=addon, tolerations=[CRITICAL_ADDONS],
                 priority_class="system-cluster-critical", service_account="konnectivity-agent", one_per_node=True,
                 created=created, rollout=rollout, revision=6),
        Workload("Deployment", "kube-system", "metrics-server-v1.30.3",
                 [Container("metrics-server", "gke.gcr.io/metrics-server:v0.7.1-gke.23", 48, 105, mem_limit=355),
                  Container("metrics-server-nanny", "gke.gcr.io/addon-resizer:1.8.21-gke.0", 5, 50, mem_limit=300)],
                 selector={"k8s-app": "metrics-server", "version": "v1.30.3"}, labels=addon,
                 tolerations=[CRITICAL_ADDONS], priority_class="system-cluster-critical",
                 service_account="metrics-server", created=created, rollout=rollout, revision=3),
    ]


def vmagent_docs(cluster: str) -> list[Obj]:
    """The push-mode vmagent every cluster but monitor runs (infrastructure/vmagent, cluster name substituted
    by Flux postBuild)."""
    w = vmagent_workload(cluster)
    scrape = {
        "global": {"scrape_interval": "30s"},
        "scrape_configs": [
            {"job_name": "karpenter",
             "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": ["karpenter"]}}],
             "relabel_configs": [
                 {"source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"],
                  "regex": "karpenter;http-metrics", "action": "keep"},
                 {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"}]},
            {"job_name": "flux-system",
             "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": ["flux-system"]}}],
             "relabel_configs": [
                 {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "http-prom",
                  "action": "keep"},
                 {"source_labels": ["__meta_kubernetes_pod_label_app"], "target_label": "controller"}]},
            {"job_name": "argocd",
             "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": ["argocd"]}}],
             "relabel_configs": [
                 {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "metrics",
                  "action": "keep"}]},
            {"job_name": "cilium-agent",
             "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": ["kube-system"]}}],
             "relabel_configs": [
                 {"source_labels": ["__meta_kubernetes_pod_label_k8s_app",
                                    "__meta_kubernetes_pod_container_port_name"],
                  "regex": "cilium;prometheus", "action": "keep"}]},
        ],
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vmagent", "namespace": "monitoring"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "vmagent"},
         "rules": [{"apiGroups": [""], "resources": ["nodes", "nodes/metrics", "services", "endpoints", "pods"],
                    "verbs": ["get", "list", "watch"]},
                   {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "vmagent"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "vmagent"},
         "subjects": [{"kind": "ServiceAccount", "name": "vmagent", "namespace": "monitoring"}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vmagent-scrape-config",
                                                                "namespace": "monitoring"},
         "data": {"scrape.yaml": to_yaml(scrape)}},
        strip_tool_labels(workload_manifest(w)),
    ]


def vmagent_workload(cluster: str) -> Workload:
    return Workload(
        "Deployment", "monitoring", "vmagent",
        [Container("vmagent", f"victoriametrics/vmagent:{VM_VERSION}", 200, 256, mem_limit=512,
                   ports=[("http", 8429)],
                   extra={"args": ["-promscrape.config=/config/scrape.yaml",
                                   "-remoteWrite.url=https://vmsingle.monitor.livspace-demo.internal/api/v1/write",
                                   f"-remoteWrite.label=cluster={cluster}", "-remoteWrite.tmpDataPath=/tmpData",
                                   "-promscrape.streamParse=true"],
                          "volumeMounts": [{"mountPath": "/config", "name": "config"},
                                           {"mountPath": "/tmpData", "name": "tmpdata"}]})],
        labels=flux_labels("vmagent"), service_account="vmagent",
        pod_extra={"volumes": [{"name": "config", "configMap": {"name": "vmagent-scrape-config"}},
                               {"name": "tmpdata", "emptyDir": {}}]},
        created=at("2026-03-12T08:30:00Z"), rollout=at("2026-09-12T06:40:00Z"), revision=4)


def strip_tool_labels(doc: Obj) -> Obj:
    """A cluster-side manifest as it is written in Git: without labels Flux or Argo CD add when applying."""
    doc = copy.deepcopy(doc)
    for meta in (doc.get("metadata", {}), doc.get("spec", {}).get("template", {}).get("metadata", {})):
        labels = meta.get("labels")
        if labels:
            for key in [k for k in labels if k.startswith("kustomize.toolkit.fluxcd.io/")
                        or k == "argocd.argoproj.io/instance"]:
                del labels[key]
    return doc


# ------------------------------------------------------------------------------------ applications

ENVIRONMENT = {name: env for name, env, *_ in FLEET}
ZONES = {"eks": ["ap-south-1a", "ap-south-1b", "ap-south-1c"],
         "gke": ["asia-south1-a", "asia-south1-b", "asia-south1-c"]}
APP_TAGS = {"prod": "2026.11.14", "staging": "2026.11.18", "dev": "2026.11.19"}


def app_image(name: str, environment: str, registry: str = ECR) -> str:
    day = APP_TAGS[environment]
    return f"{registry}/{name}:{day}-{hashlib.sha1(f'{name}@{day}'.encode()).hexdigest()[:7]}"


def app(namespace: str, name: str, replicas: int, cpu: int, mem: int, *, env: str, manager: dict[str, str],
        kind: str = "Deployment", mem_limit: int | None = None, service: bool = True, image: str | None = None,
        part_of: str | None = None, **kw: Any) -> Workload:
    """An application workload with the conventions every team follows (http port 8080, Service on 80)."""
    labels = {"app.kubernetes.io/part-of": part_of or namespace, "livspace.io/team": part_of or namespace,
              **manager}
    container = Container("app", image or app_image(name, env), cpu, mem, mem_limit=mem_limit or mem * 3 // 2,
                          ports=[("http", 8080)],
                          extra={"readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                                    "periodSeconds": 10},
                                 "env": [{"name": "APP_ENV", "value": env}]})
    rollout = kw.pop("rollout", at({"prod": "2026-11-14T07:25:00Z", "staging": "2026-11-18T10:40:00Z",
                                     "dev": "2026-11-19T12:05:00Z"}[env]))
    return Workload(kind, namespace, name, [container], replicas=replicas, labels=labels,
                    pod_labels={"livspace.io/team": part_of or namespace}, rollout=rollout,
                    created=at("2026-04-22T09:00:00Z"), revision=17 if env == "prod" else 24,
                    service_ports=[("http", 80, "http")] if service else [], gitops=True, **kw)


CRITICAL_POOL = {"node_selector": {"karpenter.sh/provisioner-name": "on-demand-critical"},
                 "tolerations": [tol("dedicated", "critical")]}
BATCH_POOL = {"node_selector": {"karpenter.sh/provisioner-name": "batch"}, "tolerations": [tol("workload", "batch")]}


def eks_app_workloads(cluster: str) -> list[Workload]:
    """Team workloads on the EKS workload clusters. On ravan, catalog and search are Argo CD applications
    (ravan-catalog, ravan-search); everything else is applied by the Flux `apps` Kustomization."""
    env = ENVIRONMENT[cluster]
    flux = flux_labels("apps")
    if cluster == "ravan":
        catalog = {"argocd.argoproj.io/instance": "ravan-catalog"}
        search = {"argocd.argoproj.io/instance": "ravan-search"}
        return [
            app("checkout", "checkout-api", 3, 500, 1024, env=env, manager=flux),
            app("checkout", "checkout-worker", 2, 250, 512, env=env, manager=flux, service=False),
            app("checkout", "cart-service", 4, 300, 512, env=env, manager=flux),
            app("checkout", "notification-service", 3, 100, 128, env=env, manager=flux),
            app("payments", "payments-api", 3, 1000, 2048, env=env, manager=flux, **CRITICAL_POOL),
            app("payments", "payments-ledger", 2, 500, 1024, env=env, manager=flux, **CRITICAL_POOL),
            app("payments", "fraud-scorer", 2, 750, 1536, env=env, manager=flux),
            app("catalog", "catalog-api", 4, 500, 1024, env=env, manager=catalog),
            app("catalog", "catalog-image-resizer", 3, 1000, 2048, env=env, manager=catalog, service=False),
            app("catalog", "pricing-service", 2, 250, 512, env=env, manager=catalog),
            app("catalog", "catalog-web", 6, 200, 256, env=env, manager=catalog),
            app("search", "search-api", 4, 1000, 2048, env=env, manager=search),
            app("search", "query-suggest", 3, 250, 512, env=env, manager=search),
            app("search", "search-indexer", 2, 1500, 4096, env=env, manager=search, service=False, **BATCH_POOL),
            app("search", "search-cache", 3, 500, 1024, env=env, manager=search, kind="StatefulSet",
                image="public.ecr.aws/docker/library/redis:7.2.4-alpine", service_name="search-cache"),
        ]
    out = [
        app("checkout", "checkout-api", 2 if env == "staging" else 1, 250, 512, env=env, manager=flux),
        app("checkout", "cart-service", 2 if env == "staging" else 1, 200, 256, env=env, manager=flux),
        app("catalog", "catalog-api", 2 if env == "staging" else 1, 250, 512, env=env, manager=flux),
        app("catalog", "catalog-web", 2 if env == "staging" else 1, 100, 128, env=env, manager=flux),
        app("search", "search-api", 2 if env == "staging" else 1, 500, 1024, env=env, manager=flux),
        app("search", "search-indexer", 1, 1000, 2048, env=env, manager=flux, service=False, **BATCH_POOL),
    ]
    if env == "staging":
        out.insert(2, app("payments", "payments-api", 2, 250, 512, env=env, manager=flux))
    return out


def eks_app_namespaces(cluster: str) -> list[str]:
    return sorted({w.namespace for w in eks_app_workloads(cluster)} | {"batch"})


def nightly_report(cluster: str) -> tuple[Workload, Obj]:
    """The batch/nightly-report CronJob (its job template as a Workload, and the manifest)."""
    env = ENVIRONMENT[cluster]
    w = Workload("Job", "batch", "nightly-report",
                 [Container("report", app_image("reporting-jobs", env), 500, 1024, mem_limit=2048,
                            extra={"args": ["nightly-report", "--date=yesterday", "--upload=s3://livspace-demo-reports"]})],
                 labels={"app.kubernetes.io/part-of": "reporting", **flux_labels("apps")},
                 job_spec={"backoffLimit": 1, "ttlSecondsAfterFinished": 3600}, **BATCH_POOL)
    return w, cronjob_manifest("batch", "nightly-report", "0 2 * * *", w, time_zone="Asia/Kolkata")


def eks_app_pdbs(cluster: str) -> list[Obj]:
    flux = flux_labels("apps")
    if cluster == "ravan":
        return [
            pdb_manifest("checkout", "checkout-api", {"app.kubernetes.io/name": "checkout-api"}, min_available=2,
                         labels=flux),
            pdb_manifest("payments", "payments-api", {"app.kubernetes.io/name": "payments-api"}, max_unavailable=0,
                         labels=flux),
            pdb_manifest("catalog", "catalog-api", {"app.kubernetes.io/name": "catalog-api"}, max_unavailable="25%",
                         labels={"argocd.argoproj.io/instance": "ravan-catalog"}),
            pdb_manifest("search", "search-cache", {"app.kubernetes.io/name": "search-cache"}, min_available=2,
                         labels={"argocd.argoproj.io/instance": "ravan-search"}),
        ]
    out = [pdb_manifest("checkout", "checkout-api", {"app.kubernetes.io/name": "checkout-api"}, min_available=1,
                        labels=flux)]
    if cluster == "eks-staging-apps":
        out.append(pdb_manifest("payments", "payments-api", {"app.kubernetes.io/name": "payments-api"},
                                max_unavailable=1, labels=flux))
    return out


# (namespace, app, replicas, cpu m, memory Mi, PDB minAvailable, (sync, health), live image tag override)
GKE_APPS = [
    ("beta", "storefront", 3, 250, 512, 1, ("Synced", "Healthy"), None),
    ("beta", "orders-api", 2, 500, 1024, 1, ("Synced", "Healthy"), None),
    ("beta", "inventory-api", 2, 250, 512, None, ("OutOfSync", "Healthy"), "2026.11.19-hotfix-77c2a1e"),
    ("alpha", "storefront", 2, 250, 512, 1, ("Synced", "Healthy"), None),
    ("alpha", "orders-api", 2, 500, 1024, None, ("Synced", "Healthy"), None),
    ("alpha", "recommendation-engine", 2, 1000, 2048, None, ("Synced", "Degraded"), None),
]
GKE_REGISTRY = "asia-south1-docker.pkg.dev/livspace-staging-412907/apps"


def gke_app_tag(namespace: str, name: str) -> str:
    day = "2026.11.18" if namespace == "beta" else "2026.11.19"
    return f"{day}-{hashlib.sha1(f'{namespace}/{name}@{day}'.encode()).hexdigest()[:7]}"


def gke_app_values(namespace: str, name: str) -> Obj:
    _, _, replicas, cpu, mem, pdb, _, _ = next(a for a in GKE_APPS if a[:2] == (namespace, name))
    values: Obj = {"image": {"repository": f"{GKE_REGISTRY}/{name}", "tag": gke_app_tag(namespace, name)},
                   "replicaCount": replicas,
                   "resources": {"requests": {"cpu": cpu_q(cpu), "memory": mem_q(mem)},
                                 "limits": {"memory": mem_q(mem * 3 // 2)}},
                   "env": [{"name": "APP_ENV", "value": namespace}],
                   "pdb": {"enabled": pdb is not None, "minAvailable": pdb or 1}}
    return {"app-compat": values}


def gke_app_workloads() -> list[Workload]:
    out = []
    for namespace, name, replicas, cpu, mem, _pdb, (_, health), live_tag in GKE_APPS:
        tag = live_tag or gke_app_tag(namespace, name)
        labels = {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": tag,
                  "helm.sh/chart": "app-compat-0.4.2", "argocd.argoproj.io/instance": f"{namespace}-{name}"}
        container = Container("app", f"{GKE_REGISTRY}/{name}:{tag}", cpu, mem, mem_limit=mem * 3 // 2,
                              ports=[("http", 8080)],
                              extra={"env": [{"name": "APP_ENV", "value": namespace}],
                                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                                     "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                                       "initialDelaySeconds": 20}})
        out.append(Workload("Deployment", namespace, name, [container], replicas=replicas,
                            selector={"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name},
                            labels=labels, crashloop=health == "Degraded", created=at("2026-06-03T11:00:00Z"),
                            rollout=at("2026-11-18T13:20:00Z" if namespace == "beta" else "2026-11-19T15:45:00Z"),
                            revision=9, service_ports=[("http", 80, "http")]))
    return out


def argocd_application_docs() -> dict[str, Obj]:
    """Application manifests in infra-flux/argocd/applications/, by file name."""
    out = {}
    for namespace, name, *_rest in GKE_APPS:
        app_name = f"{namespace}-{name}"
        sync = _rest[4][0]
        policy: Obj = {"syncOptions": ["CreateNamespace=false", "PruneLast=true"]}
        if namespace == "beta":  # large apps sync only what drifted (matters for the 3.0 tracking change)
            policy["syncOptions"].append("ApplyOutOfSyncOnly=true")
        if sync != "OutOfSync":
            policy["automated"] = {"prune": True, "selfHeal": True}
        out[f"{app_name}.yaml"] = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": app_name, "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"],
                         "labels": {"livspace.io/env": namespace, "livspace.io/team": "storefront"}},
            "spec": {"project": "staging",
                     "source": {"repoURL": f"{GIT_HTTPS}.git", "targetRevision": GIT_BRANCH,
                                "path": f"apps/gke-staging-apps/{namespace}/{name}",
                                "helm": {"releaseName": name, "valueFiles": ["values.yaml"]}},
                     "destination": {"name": "gke-staging-apps", "namespace": namespace},
                     "syncPolicy": policy, "revisionHistoryLimit": 10},
        }
    for app_name, namespace in (("ravan-catalog", "catalog"), ("ravan-search", "search")):
        out[f"{app_name}.yaml"] = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": app_name, "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"],
                         "labels": {"livspace.io/env": "prod", "livspace.io/team": namespace}},
            "spec": {"project": "prod-workloads",
                     "source": {"repoURL": f"{GIT_HTTPS}.git", "targetRevision": GIT_BRANCH,
                                "path": f"apps/ravan/{namespace}"},
                     "destination": {"name": "ravan", "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": False, "selfHeal": True},
                                    "syncOptions": ["ServerSideApply=true"]},
                     "revisionHistoryLimit": 10},
        }
    return out


def argocd_project_docs() -> dict[str, Obj]:
    repos = [f"{GIT_HTTPS}.git", "https://github.com/livspace-demo/storefront-manifests.git"]
    return {
        "staging.yaml": {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "staging", "namespace": "argocd"},
            "spec": {"description": "Storefront staging namespaces on gke-staging-apps", "sourceRepos": repos,
                     "destinations": [{"name": "gke-staging-apps", "namespace": ns} for ns in ("beta", "alpha")],
                     "clusterResourceWhitelist": [],
                     "namespaceResourceWhitelist": [{"group": "*", "kind": "*"}],
                     "orphanedResources": {"warn": True}},
        },
        "prod-workloads.yaml": {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "prod-workloads", "namespace": "argocd"},
            "spec": {"description": "Catalog and search on ravan", "sourceRepos": repos[:1],
                     "destinations": [{"name": "ravan", "namespace": ns} for ns in ("catalog", "search")],
                     "clusterResourceWhitelist": [],
                     "namespaceResourceWhitelist": [{"group": "*", "kind": "*"}],
                     "syncWindows": [{"kind": "deny", "schedule": "30 12 * * 5", "duration": "60h",
                                      "applications": ["*"], "manualSync": True}]},
        },
    }


def argocd_applicationset_doc() -> Obj:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "namespace-baseline", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": [{"namespace": "beta"}, {"namespace": "alpha"}]}}],
            "template": {
                "metadata": {"name": "baseline-{{.namespace}}", "labels": {"livspace.io/env": "{{.namespace}}"}},
                "spec": {"project": "staging",
                         "source": {"repoURL": f"{GIT_HTTPS}.git", "targetRevision": GIT_BRANCH,
                                    "path": "apps/gke-staging-apps/baseline"},
                         "destination": {"name": "gke-staging-apps", "namespace": "{{.namespace}}"},
                         "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
            },
        },
    }


def argocd_status_functions() -> dict[str, Any]:
    reconciled = ts(RECORDED_AT - timedelta(minutes=2, seconds=19))
    previous = hashlib.sha1(b"livspace-demo/infra-flux@2026-11-18T11:02:55Z").hexdigest()

    def resources_for(app_name: str) -> tuple[list[Obj], list[str], str]:
        if app_name.startswith("ravan-"):
            ws = [w for w in eks_app_workloads("ravan") if w.labels.get("argocd.argoproj.io/instance") == app_name]
            pdbs = [p for p in eks_app_pdbs("ravan") if p["metadata"].get("labels", {}).get(
                "argocd.argoproj.io/instance") == app_name]
            source_type = "Kustomize"
        else:
            ws = [w for w in gke_app_workloads() if w.labels["argocd.argoproj.io/instance"] == app_name]
            pdbs = [p for p in gke_pdbs() if p["metadata"]["namespace"] + "-" + p["metadata"]["name"] == app_name]
            source_type = "Helm"
        out = []
        for w in ws:
            if w.service_ports:
                out.append({"kind": "Service", "name": w.service_name or w.name, "namespace": w.namespace,
                            "status": "Synced", "health": {"status": "Healthy"}, "version": "v1"})
            entry: Obj = {"group": "apps", "kind": w.kind, "name": w.name, "namespace": w.namespace,
                          "status": "Synced", "health": {"status": "Healthy"}, "version": "v1"}
            if w.crashloop:
                entry["health"] = {"status": "Degraded",
                                   "message": f'Deployment "{w.name}" exceeded its progress deadline'}
            out.append(entry)
        for p in pdbs:
            out.append({"group": "policy", "kind": "PodDisruptionBudget", "name": p["metadata"]["name"],
                        "namespace": p["metadata"]["namespace"], "status": "Synced", "version": "v1",
                        "health": {"status": "Healthy"}})
        images = sorted({c.image for w in ws for c in w.containers})
        return out, images, source_type

    def application(ctx: ClusterCtx, obj: Obj) -> Obj:
        name, spec = obj["metadata"]["name"], obj["spec"]
        sync, health = "Synced", "Healthy"
        for namespace, app_name, *rest in GKE_APPS:
            if f"{namespace}-{app_name}" == name:
                sync, health = rest[4]
        resources, images, source_type = resources_for(name)
        if sync == "OutOfSync":
            for r in resources:
                if r["kind"] == "Deployment":
                    r["status"] = "OutOfSync"
        synced_rev = previous if sync == "OutOfSync" else GIT_HEAD
        finished = RECORDED_AT - timedelta(hours=15, minutes=58) if sync == "OutOfSync" else at("2026-11-19T17:44:31Z")
        return {
            "controllerNamespace": "argocd",
            "health": {"status": health},
            "history": [{"id": 41 + len(name) % 7, "revision": synced_rev, "source": spec["source"],
                         "deployStartedAt": ts(finished - timedelta(seconds=6)), "deployedAt": ts(finished)}],
            "operationState": {
                "finishedAt": ts(finished), "startedAt": ts(finished - timedelta(seconds=6)), "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "operation": {"initiatedBy": {"automated": sync != "OutOfSync",
                                              **({"username": "sso:priya.nair@livspace-demo.io"}
                                                 if sync == "OutOfSync" else {})},
                              "retry": {"limit": 5}, "sync": {"revision": synced_rev}},
                "syncResult": {"revision": synced_rev, "source": spec["source"],
                               "resources": [{"group": r.get("group", ""), "kind": r["kind"], "name": r["name"],
                                              "namespace": r["namespace"], "version": r["version"],
                                              "status": "Synced", "message": f"{r['kind'].lower()} configured",
                                              "syncPhase": "Sync", "hookPhase": "Running"} for r in resources]},
            },
            "reconciledAt": reconciled,
            "resources": resources,
            "sourceType": source_type,
            "summary": {"images": images},
            "sync": {"status": sync, "revision": GIT_HEAD,
                     "comparedTo": {"source": spec["source"], "destination": spec["destination"]}},
        }

    def application_set(ctx: ClusterCtx, obj: Obj) -> Obj:
        moment = ts(at("2026-11-19T17:44:02Z"))
        return {"conditions": [
            {"type": "ErrorOccurred", "status": "False", "reason": "ApplicationSetUpToDate",
             "message": "All applications have been generated successfully", "lastTransitionTime": moment},
            {"type": "ParametersGenerated", "status": "True", "reason": "ParametersGenerated",
             "message": "Successfully generated parameters for all Applications", "lastTransitionTime": moment},
            {"type": "ResourcesUpToDate", "status": "True", "reason": "ApplicationSetUpToDate",
             "message": "All applications have been generated successfully", "lastTransitionTime": moment}]}

    def project(ctx: ClusterCtx, obj: Obj) -> None:
        return None

    return {"Application": application, "ApplicationSet": application_set, "AppProject": project}


def gke_pdbs() -> list[Obj]:
    out = []
    for namespace, name, _r, _c, _m, pdb, _s, live_tag in GKE_APPS:
        if pdb is not None:
            labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name,
                      "app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "app-compat-0.4.2",
                      "app.kubernetes.io/version": live_tag or gke_app_tag(namespace, name),
                      "argocd.argoproj.io/instance": f"{namespace}-{name}"}
            out.append(pdb_manifest(namespace, name, {"app.kubernetes.io/name": name,
                                                      "app.kubernetes.io/instance": name},
                                    min_available=pdb, labels=labels))
    return out


# ------------------------------------------------------------------------------------ Flux Kustomizations


def flux_ks(name: str, path: str, *, depends: tuple[str, ...] = (), interval: str = "10m0s", wait: bool = False,
            substitute: dict[str, str] | None = None, api: str = "v1", timeout: str = "5m0s") -> Obj:
    spec: Obj = {"interval": interval, "retryInterval": "1m0s", "timeout": timeout}
    if depends:
        spec["dependsOn"] = [{"name": d} for d in depends]
    spec.update({"sourceRef": {"kind": "GitRepository", "name": "flux-system"}, "path": path, "prune": True,
                 "wait": wait})
    if substitute:
        spec["postBuild"] = {"substitute": substitute}
    return {"apiVersion": f"kustomize.toolkit.fluxcd.io/{api}", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec}


def cluster_kustomizations(cluster: str) -> tuple[list[Obj], list[Obj]]:
    """(infrastructure.yaml, apps.yaml) Kustomizations for one cluster."""
    vmagent = flux_ks("vmagent", "./infrastructure/vmagent", substitute={"cluster_name": cluster}, interval="30m0s")
    sources = flux_ks("infra-sources", "./infrastructure/sources", interval="1h0m0s")
    if cluster == "keystone":
        return ([sources, flux_ks("cilium", "./infrastructure/cilium/keystone", depends=("infra-sources",),
                                  wait=True, interval="30m0s"),
                 flux_ks("argocd", "./infrastructure/argocd", depends=("infra-sources", "cilium"), wait=True,
                         interval="30m0s"), vmagent],
                [flux_ks("argocd-apps", "./argocd", depends=("argocd",))])
    if cluster == "monitor":
        return ([sources, flux_ks("victoria-metrics", "./infrastructure/victoria-metrics", depends=("infra-sources",),
                                  wait=True, interval="30m0s", timeout="15m0s")],
                # Still written at kustomize.toolkit.fluxcd.io/v1beta2 (served by Flux 2.2, gone in 2.8).
                [flux_ks("monitoring-configs", "./monitoring", depends=("victoria-metrics",), api="v1beta2")])
    if cluster == "gke-staging-apps":
        return [vmagent], [flux_ks("apps", "./apps/gke-staging-apps/namespaces")]
    return ([sources,
             flux_ks("cilium", f"./infrastructure/cilium/{cluster}", depends=("infra-sources",), wait=True,
                     interval="30m0s"),
             flux_ks("karpenter-config", f"./infrastructure/karpenter/{cluster}", interval="30m0s"),
             vmagent],
            [flux_ks("apps", f"./apps/{cluster}", depends=("karpenter-config",))])


def notification_docs(cluster: str) -> list[Obj]:
    """Slack alerting for failed reconciliations; still written at notification.toolkit.fluxcd.io/v1beta2."""
    return [
        {"apiVersion": "notification.toolkit.fluxcd.io/v1beta2", "kind": "Provider",
         "metadata": {"name": "slack-platform", "namespace": "flux-system"},
         "spec": {"type": "slack", "channel": "#platform-deploys", "username": f"flux-{cluster}",
                  "secretRef": {"name": "slack-webhook"}}},
        {"apiVersion": "notification.toolkit.fluxcd.io/v1beta2", "kind": "Alert",
         "metadata": {"name": "reconciliation-failures", "namespace": "flux-system"},
         "spec": {"providerRef": {"name": "slack-platform"}, "eventSeverity": "error",
                  "eventSources": [{"kind": "Kustomization", "name": "*"}, {"kind": "HelmRelease", "name": "*"},
                                   {"kind": "GitRepository", "name": "*"}],
                  "summary": f"{cluster} ({ENVIRONMENT[cluster]})"}},
    ]


# ------------------------------------------------------------------------------------ GitOps content

EKS_WORKLOAD_CLUSTERS = ["ravan", "eks-staging-apps", "dev-apps"]
FLUX_COMPONENTS_HEADER = ("# This manifest was generated by flux. DO NOT EDIT.\n"
                          f"# Flux Version: {FLUX_VERSION}\n"
                          "# Components: source-controller,kustomize-controller,helm-controller,"
                          "notification-controller\n")


def kustomization_file(resources: list[str], **extra: Any) -> Obj:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **extra,
            "resources": resources}


def flux_helmrelease_doc(name: str, target: str, chart: str, version: str, repo: str, values: Obj, *,
                         api: str = "v2beta1") -> Obj:
    return {
        "apiVersion": f"helm.toolkit.fluxcd.io/{api}", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "30m",
            "releaseName": name,
            "targetNamespace": target,
            "chart": {"spec": {"chart": chart, "version": version, "interval": "12h",
                               "sourceRef": {"kind": "HelmRepository", "name": repo, "namespace": "flux-system"}}},
            "install": {"crds": "CreateReplace", "remediation": {"retries": 3}},
            "upgrade": {"crds": "CreateReplace", "cleanupOnFail": True, "remediation": {"retries": 3}},
            "values": copy.deepcopy(values),
        },
    }


def flux_system_kustomization(cluster: str) -> Obj:
    k = kustomization_file(["gotk-components.yaml", "gotk-sync.yaml"])
    if cluster in EKS_WORKLOAD_CLUSTERS:
        k["patches"] = [
            {"patch": to_yaml([
                {"op": "add", "path": "/spec/template/spec/tolerations",
                 "value": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]},
                {"op": "add", "path": "/spec/template/spec/nodeSelector/eks.amazonaws.com~1nodegroup",
                 "value": "system"}]),
             "target": {"kind": "Deployment", "labelSelector": "app.kubernetes.io/part-of=flux"}},
            {"patch": to_yaml([
                {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--concurrent=10"},
                {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--requeue-dependency=10s"}]),
             "target": {"kind": "Deployment", "name": "(kustomize-controller|helm-controller)"}},
        ]
    return k


def add_cluster_entry(git: GitTree, cluster: str) -> None:
    base = f"clusters/{cluster}"
    git.add_docs(f"{base}/flux-system/gotk-components.yaml", flux_components_docs(), header=FLUX_COMPONENTS_HEADER)
    git.add_docs(f"{base}/flux-system/gotk-sync.yaml", flux_sync_docs(cluster),
                 preamble="# This manifest was generated by flux. DO NOT EDIT.\n")
    git.add_text(f"{base}/flux-system/kustomization.yaml", to_yaml(flux_system_kustomization(cluster)))
    infrastructure, apps = cluster_kustomizations(cluster)
    git.add_docs(f"{base}/infrastructure.yaml", infrastructure)
    git.add_docs(f"{base}/apps.yaml", apps)
    git.add_docs(f"{base}/notifications.yaml", notification_docs(cluster))


def add_infrastructure(git: GitTree) -> None:
    repos = [("cilium", "https://helm.cilium.io/"), ("argo", "https://argoproj.github.io/argo-helm"),
             ("victoriametrics", "https://victoriametrics.github.io/helm-charts/")]
    for name, url in repos:
        git.add_docs(f"infrastructure/sources/{name}.yaml", [{
            "apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": "flux-system"}, "spec": {"interval": "12h", "url": url}}])
    git.add_text("infrastructure/sources/kustomization.yaml",
                 to_yaml(kustomization_file([f"{n}.yaml" for n, _ in repos])))

    for cluster in CILIUM_CLUSTERS:
        base = f"infrastructure/cilium/{cluster}"
        if cluster == "dev-apps":
            doc = flux_helmrelease_doc("cilium", "kube-system", "cilium", CILIUM_VERSION, "cilium",
                                       cilium_values(cluster), api="v2beta2")
            git.add_docs(f"{base}/helmrelease.yaml", [doc], header=(
                "# Migrated on 2026-10-02 with `flux migrate -f .` (PLAT-2231); this file used to read\n"
                "#   apiVersion: helm.toolkit.fluxcd.io/v2beta1\n"
                "# Roll the same change to the other clusters once dev has soaked.\n"))
        else:
            doc = flux_helmrelease_doc("cilium", "kube-system", "cilium", CILIUM_VERSION, "cilium",
                                       cilium_values(cluster))
            git.add_docs(f"{base}/helmrelease.yaml", [doc])
        resources = ["helmrelease.yaml"]
        if cilium_policy_docs(cluster):
            git.add_docs(f"{base}/network-policies.yaml", cilium_policy_docs(cluster))
            resources.append("network-policies.yaml")
        git.add_text(f"{base}/kustomization.yaml", to_yaml(kustomization_file(resources)))

    for cluster in EKS_WORKLOAD_CLUSTERS:
        base = f"infrastructure/karpenter/{cluster}"
        files = []
        for doc in karpenter_provisioner_docs(cluster):
            files.append(f"provisioner-{doc['metadata']['name']}.yaml")
            git.add_docs(f"{base}/{files[-1]}", [doc])
        for doc in karpenter_node_template_docs(cluster):
            files.append(f"awsnodetemplate-{doc['metadata']['name']}.yaml")
            git.add_docs(f"{base}/{files[-1]}", [doc])
        git.add_text(f"{base}/kustomization.yaml", to_yaml(kustomization_file(files)))

    git.add_docs("infrastructure/argocd/namespace.yaml",
                 [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}])
    git.add_docs("infrastructure/argocd/helmrelease.yaml", [flux_helmrelease_doc(
        "argo-cd", "argocd", "argo-cd", ARGOCD_CHART_VERSION, "argo", argocd_values())])
    git.add_text("infrastructure/argocd/kustomization.yaml",
                 to_yaml(kustomization_file(["namespace.yaml", "helmrelease.yaml"])))

    git.add_docs("infrastructure/victoria-metrics/namespace.yaml",
                 [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}])
    git.add_docs("infrastructure/victoria-metrics/helmrelease.yaml", [flux_helmrelease_doc(
        VM_RELEASE, "monitoring", VM_RELEASE, "0.25.17", "victoriametrics", vm_values())])
    git.add_text("infrastructure/victoria-metrics/kustomization.yaml",
                 to_yaml(kustomization_file(["namespace.yaml", "helmrelease.yaml"])))

    docs = vmagent_docs("${cluster_name}")
    git.add_docs("infrastructure/vmagent/namespace.yaml", docs[:1])
    git.add_docs("infrastructure/vmagent/rbac.yaml", docs[1:4])
    git.add_docs("infrastructure/vmagent/scrape-config.yaml", docs[4:5])
    git.add_docs("infrastructure/vmagent/deployment.yaml", docs[5:])
    git.add_text("infrastructure/vmagent/kustomization.yaml", to_yaml(kustomization_file(
        ["namespace.yaml", "rbac.yaml", "scrape-config.yaml", "deployment.yaml"])))


def add_eks_apps(git: GitTree, cluster: str) -> None:
    base = f"apps/{cluster}"
    workloads = eks_app_workloads(cluster)
    pdbs = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in eks_app_pdbs(cluster)}
    by_ns: dict[str, list[str]] = defaultdict(list)
    for w in workloads:
        docs = [strip_tool_labels(workload_manifest(w))]
        if w.service_ports:
            docs.append(strip_tool_labels(service_manifest(w)))
        if (w.namespace, w.name) in pdbs:
            docs.append(strip_tool_labels(pdbs[(w.namespace, w.name)]))
        git.add_docs(f"{base}/{w.namespace}/{w.name}.yaml", docs)
        by_ns[w.namespace].append(f"{w.name}.yaml")
    _, cron = nightly_report(cluster)
    git.add_docs(f"{base}/batch/nightly-report.yaml", [strip_tool_labels(cron)])
    by_ns["batch"].append("nightly-report.yaml")
    for namespace, files in by_ns.items():
        git.add_text(f"{base}/{namespace}/kustomization.yaml", to_yaml(kustomization_file(sorted(files))))
    git.add_docs(f"{base}/namespaces.yaml", [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {"livspace.io/team": ns, "livspace.io/env": ENVIRONMENT[cluster]}}}
        for ns in eks_app_namespaces(cluster)])
    argo_managed = {"catalog", "search"} if cluster == "ravan" else set()
    git.add_text(f"{base}/kustomization.yaml", to_yaml(kustomization_file(
        ["namespaces.yaml", *sorted(ns for ns in by_ns if ns not in argo_managed)])))


def add_gke_apps(git: GitTree) -> None:
    base = "apps/gke-staging-apps"
    git.add_docs(f"{base}/namespaces/namespaces.yaml", [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {"livspace.io/env": ns, "livspace.io/team": "storefront"}}}
        for ns in ("beta", "alpha")])
    git.add_text(f"{base}/namespaces/kustomization.yaml", to_yaml(kustomization_file(["namespaces.yaml"])))
    for namespace, name, *_ in GKE_APPS:
        git.add_text(f"{base}/{namespace}/{name}/Chart.yaml", to_yaml({
            "apiVersion": "v2", "name": name, "description": f"{name} ({namespace})", "type": "application",
            "version": "1.8.0", "appVersion": gke_app_tag(namespace, name).split("-")[0],
            "dependencies": [{"name": "app-compat", "version": "0.4.2",
                              "repository": "file://../../../../charts/app-compat"}]}))
        git.add_text(f"{base}/{namespace}/{name}/values.yaml", to_yaml(gke_app_values(namespace, name)))
    git.add_docs(f"{base}/baseline/resourcequota.yaml", [{
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
        "spec": {"hard": {"requests.cpu": "16", "requests.memory": "32Gi", "limits.memory": "48Gi", "pods": "60"}}}])
    git.add_docs(f"{base}/baseline/limitrange.yaml", [{
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"},
        "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                             "default": {"memory": "512Mi"}}]}}])
    git.add_text(f"{base}/baseline/kustomization.yaml",
                 to_yaml(kustomization_file(["resourcequota.yaml", "limitrange.yaml"])))


def add_argocd_config(git: GitTree) -> None:
    files = []
    for name, doc in argocd_project_docs().items():
        git.add_docs(f"argocd/projects/{name}", [doc])
        files.append(f"projects/{name}")
    for name, doc in argocd_application_docs().items():
        git.add_docs(f"argocd/applications/{name}", [doc])
        files.append(f"applications/{name}")
    git.add_docs("argocd/applicationsets/namespace-baseline.yaml", [argocd_applicationset_doc()])
    files.append("applicationsets/namespace-baseline.yaml")
    git.add_text("argocd/kustomization.yaml", to_yaml(kustomization_file(files)))


def grafana_dashboard(uid: str, title: str, tags: list[str], variable_query: str,
                      panels: list[tuple[str, str, str, list[tuple[str, str]]]]) -> Obj:
    """A Grafana dashboard; each panel is (title, type, unit, [(expr, legend)])."""
    ds = {"type": "prometheus", "uid": "${datasource}"}
    out_panels = []
    for i, (title_, kind, unit, targets) in enumerate(panels):
        out_panels.append({
            "datasource": ds,
            "fieldConfig": {"defaults": {"unit": unit, "color": {"mode": "palette-classic"}}, "overrides": []},
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "id": i + 1,
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [{"datasource": ds, "expr": expr, "legendFormat": legend, "refId": chr(65 + j)}
                        for j, (expr, legend) in enumerate(targets)],
            "title": title_,
            "type": kind,
        })
    return {
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [],
        "panels": out_panels,
        "refresh": "1m",
        "schemaVersion": 39,
        "tags": tags,
        "templating": {"list": [
            {"current": {"text": "VictoriaMetrics", "value": "VictoriaMetrics"}, "hide": 0, "name": "datasource",
             "label": "Data source", "query": "prometheus", "type": "datasource"},
            {"datasource": ds, "definition": variable_query, "includeAll": True, "multi": True, "name": "cluster",
             "label": "Cluster", "query": {"query": variable_query, "refId": "cluster"}, "refresh": 2,
             "type": "query", "sort": 1},
        ]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 7,
        "weekStart": "",
    }


def dashboards() -> dict[str, Obj]:
    c = 'cluster=~"$cluster"'
    return {
        "karpenter-capacity.json": grafana_dashboard(
            "karpenter-capacity", "Karpenter / Capacity", ["karpenter", "platform"],
            "label_values(karpenter_nodes_allocatable, cluster)", [
                ("Nodes created per provisioner (1h)", "timeseries", "short",
                 [(f"sum by (cluster, provisioner) (increase(karpenter_nodes_created{{{c}}}[1h]))",
                   "{{cluster}} {{provisioner}}")]),
                ("Nodes terminated per provisioner (1h)", "timeseries", "short",
                 [(f"sum by (cluster, provisioner) (increase(karpenter_nodes_terminated{{{c}}}[1h]))",
                   "{{cluster}} {{provisioner}}")]),
                ("Pod startup time", "timeseries", "s",
                 [(f'max by (cluster) (karpenter_pods_startup_time_seconds{{{c},quantile="0.5"}})', "p50 {{cluster}}"),
                  (f'max by (cluster) (karpenter_pods_startup_time_seconds{{{c},quantile="0.9"}})', "p90 {{cluster}}"),
                  (f'max by (cluster) (karpenter_pods_startup_time_seconds{{{c},quantile="0.99"}})',
                   "p99 {{cluster}}")]),
                ("Allocatable CPU by capacity type", "timeseries", "short",
                 [(f'sum by (cluster, capacity_type) (karpenter_nodes_allocatable{{{c},resource_type="cpu"}})',
                   "{{cluster}} {{capacity_type}}")]),
                ("Deprovisioning actions (1h)", "timeseries", "short",
                 [(f"sum by (cluster, deprovisioner, action) "
                   f"(increase(karpenter_deprovisioning_actions_performed{{{c}}}[1h]))",
                   "{{cluster}} {{deprovisioner}}/{{action}}")]),
                ("Scheduling duration p99", "timeseries", "s",
                 [(f"histogram_quantile(0.99, sum by (cluster, le) "
                   f"(rate(karpenter_provisioner_scheduling_duration_seconds_bucket{{{c}}}[5m])))", "{{cluster}}")]),
                ("Cloud provider errors", "timeseries", "reqps",
                 [(f"sum by (cluster, error) (rate(karpenter_cloudprovider_errors_total{{{c}}}[5m]))",
                   "{{cluster}} {{error}}")]),
                ("Interruption messages (1h)", "timeseries", "short",
                 [(f"sum by (cluster, message_type) "
                   f"(increase(karpenter_interruption_received_messages{{{c}}}[1h]))",
                   "{{cluster}} {{message_type}}")]),
            ]),
        "flux-reconciliation.json": grafana_dashboard(
            "flux-reconciliation", "Flux / Reconciliation", ["flux", "gitops"],
            "label_values(gotk_reconcile_duration_seconds_count, cluster)", [
                ("Reconcile duration p99 by kind", "timeseries", "s",
                 [(f"histogram_quantile(0.99, sum by (cluster, kind, le) "
                   f"(rate(gotk_reconcile_duration_seconds_bucket{{{c}}}[5m])))", "{{cluster}} {{kind}}")]),
                ("Resources not ready", "table", "short",
                 [(f'sum by (cluster, kind, name, namespace) '
                   f'(gotk_reconcile_condition{{{c},type="Ready",status="False"}})', "")]),
                ("Suspended resources", "stat", "short",
                 [(f"sum by (cluster) (gotk_suspend_status{{{c}}})", "{{cluster}}")]),
                ("Controller reconcile errors", "timeseries", "reqps",
                 [(f'sum by (cluster, controller) (rate(controller_runtime_reconcile_total{{{c},result="error"}}[5m]))',
                   "{{cluster}} {{controller}}")]),
            ]),
        "argocd-applications.json": grafana_dashboard(
            "argocd-applications", "Argo CD / Applications", ["argocd", "gitops"],
            "label_values(argocd_app_info, dest_server)", [
                ("Applications out of sync", "table", "short",
                 [('sum by (name, project) (argocd_app_sync_status{sync_status="OutOfSync"})', "")]),
                ("Application health", "piechart", "short",
                 [("sum by (health_status) (argocd_app_health_status)", "{{health_status}}")]),
                ("Sync operations (1h)", "timeseries", "short",
                 [("sum by (phase) (increase(argocd_app_sync_total[1h]))", "{{phase}}")]),
                ("Reconcile p95", "timeseries", "s",
                 [("histogram_quantile(0.95, sum by (le) (rate(argocd_app_reconcile_bucket[10m])))", "p95")]),
            ]),
    }


def monitoring_rules() -> dict[str, Obj]:
    labels = {"app.kubernetes.io/part-of": "platform-alerts"}
    return {
        "karpenter-alerts.yaml": vm_rule("karpenter-alerts", "karpenter", [
            ("KarpenterNodeChurnHigh",
             "sum by (cluster, provisioner) (increase(karpenter_nodes_terminated[30m])) > 10", "10m", "warning"),
            ("KarpenterDeprovisioningStorm",
             "sum by (cluster, deprovisioner) (increase(karpenter_deprovisioning_actions_performed[1h])) > 20",
             "5m", "warning"),
            ("KarpenterCloudProviderErrors",
             'sum by (cluster, error) (rate(karpenter_cloudprovider_errors_total{error!="MachineNotFoundError"}[10m]))'
             " > 0.05", "15m", "warning"),
            ("KarpenterControllerDown", 'sum by (cluster) (up{job="karpenter"}) == 0', "5m", "critical"),
        ], labels),
        "flux-alerts.yaml": vm_rule("flux-alerts", "flux", [
            ("FluxReconciliationFailure",
             'max by (cluster, kind, name, namespace) (gotk_reconcile_condition{type="Ready",status="False"}) == 1',
             "15m", "warning"),
            ("FluxReconcileSlow",
             "histogram_quantile(0.99, sum by (cluster, kind, le) (rate(gotk_reconcile_duration_seconds_bucket[10m])))"
             " > 120", "30m", "warning"),
        ], labels),
        "argocd-alerts.yaml": vm_rule("argocd-alerts", "argocd", [
            ("ArgoCDAppOutOfSync", 'sum by (name, project) (argocd_app_info{sync_status="OutOfSync"}) > 0', "1h",
             "warning"),
            ("ArgoCDAppDegraded", 'sum by (name, project) (argocd_app_info{health_status="Degraded"}) > 0', "15m",
             "warning"),
        ], labels),
    }


def add_monitoring(git: GitTree) -> None:
    boards = dashboards()
    for name, board in boards.items():
        git.add_text(f"monitoring/dashboards/{name}", json.dumps(board, indent=2) + "\n")
    git.add_text("monitoring/dashboards/kustomization.yaml", to_yaml({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": "monitoring",
        "generatorOptions": {"disableNameSuffixHash": True, "labels": {"grafana_dashboard": "1"}},
        "configMapGenerator": [{"name": f"dashboard-{n.removesuffix('.json')}", "files": [n]} for n in boards]}))
    rules = monitoring_rules()
    for name, doc in rules.items():
        git.add_docs(f"monitoring/rules/{name}", [doc])
    git.add_text("monitoring/rules/kustomization.yaml", to_yaml(kustomization_file(sorted(rules))))
    git.add_text("monitoring/kustomization.yaml", to_yaml(kustomization_file(["dashboards", "rules"])))


def add_app_compat_chart(git: GitTree) -> None:
    root = SRC_DIR / "charts" / "app-compat"
    for f in sorted(root.rglob("*")):
        if f.is_file():
            git.add_text(f"charts/app-compat/{f.relative_to(root).as_posix()}", f.read_text())


GITOPS_README = """\
# infra-flux

Flux v2 configuration for the livspace-demo fleet. Each cluster bootstraps from `clusters/<cluster>/`
(`flux bootstrap github --owner=livspace-demo --repository=infra-flux --path=clusters/<cluster>`).

| path | what |
|---|---|
| `clusters/<cluster>/` | Flux entry point: `flux-system/`, `infrastructure.yaml`, `apps.yaml`, `notifications.yaml` |
| `infrastructure/sources/` | HelmRepositories shared by every cluster |
| `infrastructure/cilium/<cluster>/` | Cilium HelmRelease (+ network policies) per EKS cluster |
| `infrastructure/karpenter/<cluster>/` | Karpenter Provisioners and AWSNodeTemplates (controller: Terraform) |
| `infrastructure/argocd/` | Argo CD on keystone |
| `infrastructure/victoria-metrics/` | victoria-metrics-k8s-stack on monitor |
| `infrastructure/vmagent/` | push-mode vmagent on every other cluster (`${cluster_name}` substituted by Flux) |
| `argocd/` | AppProjects, Applications and ApplicationSets reconciled on keystone |
| `apps/<cluster>/` | team workloads applied by Flux; `apps/gke-staging-apps/<ns>/<app>` are Argo CD Helm apps |
| `charts/app-compat/` | shared application chart used by the Argo CD apps |
| `monitoring/` | Grafana dashboards and VMRules loaded on monitor |
"""


def build_gitops() -> GitTree:
    git = GitTree()
    git.add_text("README.md", GITOPS_README)
    for name, *_ in FLEET:
        add_cluster_entry(git, name)
    add_infrastructure(git)
    for cluster in EKS_WORKLOAD_CLUSTERS:
        add_eks_apps(git, cluster)
    add_gke_apps(git)
    add_argocd_config(git)
    add_monitoring(git)
    add_app_compat_chart(git)
    return git


# ------------------------------------------------------------------------------------ cluster builders

SECOND_OCTET = {"keystone": 32, "ravan": 42, "eks-staging-apps": 52, "dev-apps": 62, "gke-staging-apps": 160,
                "monitor": 170}
SYSTEM_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}
MNG_KUBELET = "v1.29.3-eks-ae9a62a"
KARPENTER_KUBELET = "v1.29.6-eks-1552ad0"


def new_cluster(name: str) -> ClusterCtx:
    _, env, provider, region, role, git_version = next(f for f in FLEET if f[0] == name)
    octet = SECOND_OCTET[name]
    ctx = ClusterCtx(name=name, environment=env, provider=provider, region=region, role=role,
                     server_version=server_version(git_version), zones=ZONES[provider], second_octet=octet,
                     kubelet=git_version, project=GKE_PROJECTS.get(name, ""), endpoint=EKS_ENDPOINTS.get(name, ""),
                     service_cidr=(172, 20) if provider == "eks" else (10, octet + 8))
    ctx.mng_ami = "ami-0" + ctx.ids.hex(16)
    ctx.mng_launch_template = "lt-0" + ctx.ids.hex(16)
    return ctx


def mng_nodes(ctx: ClusterCtx, pool: str, itype: str, created: list[str], *, kubelet: str = MNG_KUBELET,
              taints: list[Obj] | None = None, target: float = 0.9) -> list[Node]:
    return [eks_node(ctx, pool=pool, kind="mng", itype=itype, zone=ctx.zones[i % 3], capacity="on-demand",
                     created=c, kubelet=kubelet, disk_gib=80, taints=taints, target=target)
            for i, c in enumerate(created)]


def karpenter_node(ctx: ClusterCtx, pool: str, itype: str, zone: int, capacity: str, created: str,
                   target: float) -> Node:
    prov = {p["metadata"]["name"]: p for p in karpenter_provisioner_docs(ctx.name)}[pool]
    template = prov["spec"]["providerRef"]["name"]
    disk = 200 if template == "batch" else 50
    return eks_node(ctx, pool=pool, kind="karpenter", itype=itype, zone=ctx.zones[zone], capacity=capacity,
                    created=created, kubelet=KARPENTER_KUBELET, disk_gib=disk, target=target,
                    taints=prov["spec"].get("taints"), extra_labels=prov["spec"].get("labels"))


def record_base_namespaces(ctx: ClusterCtx, created: str) -> None:
    for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
        namespace_object(ctx, ns, created=created)
    flux_ns = flux_components_docs()[0]["metadata"]["labels"]
    namespace_object(ctx, "flux-system", labels={**flux_ns, **flux_labels("flux-system")},
                     created="2026-01-21T11:04:20Z")


def record_aws_auth(ctx: ClusterCtx, roles: list[str]) -> None:
    entries = [{"groups": ["system:bootstrappers", "system:nodes"], "rolearn": f"arn:aws:iam::{ACCOUNT}:role/{r}",
                "username": "system:node:{{EC2PrivateDNSName}}"} for r in roles]
    configmap_object(ctx, "kube-system", "aws-auth", {"mapRoles": to_yaml(entries)},
                     created=at("2026-01-21T10:31:00Z"))


def record_cronjob(ctx: ClusterCtx, manifest: Obj) -> None:
    obj = copy.deepcopy(manifest)
    obj["metadata"] = ctx.meta(manifest["metadata"]["name"], manifest["metadata"]["namespace"],
                               created=at("2026-05-06T09:30:00Z"), labels=manifest["metadata"]["labels"],
                               generation=3)
    obj["status"] = {"lastScheduleTime": "2026-11-19T20:30:00Z", "lastSuccessfulTime": "2026-11-19T20:52:41Z"}
    ctx.add("batch/v1", "cronjobs", obj)


def record_nodes(ctx: ClusterCtx) -> None:
    for node in ctx.nodes:
        ctx.add("v1", "nodes", node_object(node, ctx.ids))


def record_workloads(ctx: ClusterCtx, workloads: list[Workload]) -> None:
    placed = schedule(ctx.nodes, workloads)
    ctx.workloads = workloads
    for w in workloads:
        record_workload(ctx, w, placed[id(w)])


def coredns_pdb() -> Obj:
    return pdb_manifest("kube-system", "coredns", {"k8s-app": "kube-dns"}, max_unavailable=1,
                        labels={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"})


def gitops_statuses(git: GitTree) -> dict[str, Any]:
    def operational(ctx: ClusterCtx, obj: Obj) -> Obj:
        return {"status": "operational", "lastSyncError": ""}

    return {**flux_status_functions(git), **karpenter_status_functions(), **argocd_status_functions(),
            "VMRule": operational}


def ravan_nodes(ctx: ClusterCtx) -> tuple[list[Node], dict[str, Node]]:
    """3 system nodes + 9 Karpenter nodes. Packing targets make several nodes run under half full
    (consolidation is blocked by PDBs, do-not-evict pods and spot-to-spot limits) and two run hot."""
    system = mng_nodes(ctx, "system", "m5.large", ["2026-09-03T04:12:09Z", "2026-09-03T04:12:47Z",
                                                   "2026-09-03T04:13:31Z"], taints=[SYSTEM_TAINT])
    reindex = karpenter_node(ctx, "batch", "c5.2xlarge", 1, "on-demand", "2026-11-16T10:05:37Z", 0.5)
    export = karpenter_node(ctx, "batch", "c5.2xlarge", 2, "spot", "2026-11-19T21:30:18Z", 0.4)
    nodes = system + [
        karpenter_node(ctx, "default", "c5.2xlarge", 0, "spot", "2026-11-12T14:03:22Z", 0.97),
        karpenter_node(ctx, "default", "m5.2xlarge", 1, "spot", "2026-11-08T02:47:51Z", 0.95),
        karpenter_node(ctx, "default", "m5.xlarge", 2, "on-demand", "2026-11-01T19:22:05Z", 0.48),
        karpenter_node(ctx, "default", "r5.xlarge", 0, "spot", "2026-11-15T06:31:40Z", 0.32),
        karpenter_node(ctx, "default", "m6i.xlarge", 1, "spot", "2026-11-20T07:41:14Z", 0.42),
        karpenter_node(ctx, "default", "c5.xlarge", 2, "spot", "2026-11-20T08:22:40Z", 0.36),
        karpenter_node(ctx, "on-demand-critical", "m5.2xlarge", 0, "on-demand", "2026-11-16T03:18:44Z", 0.9),
        reindex,
        export,
    ]
    return nodes, {"reindex": reindex, "export": export}


def ravan_jobs(pins: dict[str, Node]) -> list[Workload]:
    reindex = Workload(
        "Job", "batch", "search-reindex",
        [Container("reindexer", app_image("search-indexer", "prod"), 2000, 4096, mem_limit=6144,
                   extra={"args": ["reindex", "--full", "--catalog-schema=v14", "--batch-size=5000"]})],
        labels={"app.kubernetes.io/part-of": "search", "livspace.io/team": "search"},
        annotations={"kubernetes.io/change-cause": "full catalog reindex for search schema v14 (SRCH-1187)"},
        job_spec={"backoffLimit": 1}, created=at("2026-11-17T08:12:29Z"), rollout=at("2026-11-17T08:12:31Z"),
        revision=1, pin=[pins["reindex"].name], **BATCH_POOL)
    export = Workload(
        "Job", "batch", "ledger-export",
        [Container("exporter", app_image("payments-ledger", "prod"), 1000, 2048, mem_limit=3072,
                   extra={"args": ["export", "--period=2026-10", "--format=parquet",
                                   "--dest=s3://livspace-demo-ledger-exports/2026-10/"]})],
        labels={"app.kubernetes.io/part-of": "payments", "livspace.io/team": "payments"},
        pod_annotations={"karpenter.sh/do-not-evict": "true"},
        job_spec={"backoffLimit": 0, "activeDeadlineSeconds": 43200}, created=at("2026-11-20T03:40:10Z"),
        rollout=at("2026-11-20T03:40:12Z"), revision=1, pin=[pins["export"].name], **BATCH_POOL)
    return [reindex, export]


def staging_nodes(ctx: ClusterCtx) -> list[Node]:
    return mng_nodes(ctx, "system", "m5.large", ["2026-09-01T05:40:12Z", "2026-09-01T05:40:58Z"],
                     taints=[SYSTEM_TAINT]) + [
        karpenter_node(ctx, "default", "m5.xlarge", 0, "spot", "2026-11-13T11:05:30Z", 0.8),
        karpenter_node(ctx, "default", "c5.xlarge", 1, "spot", "2026-11-18T10:38:02Z", 0.55),
        karpenter_node(ctx, "batch", "m5.xlarge", 2, "spot", "2026-11-19T16:14:51Z", 0.6),
    ]


def dev_nodes(ctx: ClusterCtx) -> list[Node]:
    return mng_nodes(ctx, "system", "m5.large", ["2026-08-28T09:10:44Z", "2026-08-28T09:11:20Z"],
                     taints=[SYSTEM_TAINT]) + [
        karpenter_node(ctx, "default", "m5.xlarge", 0, "spot", "2026-11-19T11:58:27Z", 0.8),
        karpenter_node(ctx, "batch", "c5.xlarge", 1, "spot", "2026-11-19T12:06:40Z", 0.6),
    ]


def build_eks_workload_cluster(name: str, git: GitTree) -> ClusterCtx:
    """ravan, eks-staging-apps, dev-apps: Karpenter (Terraform), Cilium chained on aws-cni, Flux, team apps."""
    ctx = new_cluster(name)
    pins: dict[str, Node] = {}
    if name == "ravan":
        ctx.nodes, pins = ravan_nodes(ctx)
    else:
        ctx.nodes = staging_nodes(ctx) if name == "eks-staging-apps" else dev_nodes(ctx)
    karpenter = karpenter_workload(name)
    cilium = cilium_workloads(name)
    workloads = [*eks_addon_workloads(aws_node=True, kube_proxy=True, system_pool="system"), *cilium,
                 *flux_workloads("system"), karpenter, vmagent_workload(name), *eks_app_workloads(name)]
    if name == "ravan":
        workloads += ravan_jobs(pins)

    record_base_namespaces(ctx, "2026-01-21T10:05:00Z")
    namespace_object(ctx, "karpenter", created="2026-02-03T07:19:31Z")
    namespace_object(ctx, "monitoring", labels=flux_labels("vmagent"), created="2026-03-12T08:29:40Z")
    for ns in eks_app_namespaces(name):
        namespace_object(ctx, ns, labels={"livspace.io/team": ns, "livspace.io/env": ctx.environment,
                                          **flux_labels("apps")}, created="2026-04-22T08:55:00Z")
    record_flux_crds(ctx)
    record_cilium(ctx, cilium)
    record_karpenter(ctx, karpenter)
    record_aws_auth(ctx, [f"eks-node-system-{name}", f"karpenter-node-{name}"])
    record_workloads(ctx, workloads)
    record_cronjob(ctx, nightly_report(name)[1])
    for pdb in [coredns_pdb(), *eks_app_pdbs(name)]:
        record_pdb(ctx, pdb)
    record_from_git(ctx, git, gitops_statuses(git))
    provisioners = {p["metadata"]["name"]: p for p in ctx.items("karpenter.sh/v1alpha5", "provisioners")}
    record_machines(ctx, provisioners)
    record_cilium_nodes(ctx)
    record_nodes(ctx)
    return ctx


def build_keystone(git: GitTree) -> ClusterCtx:
    """Management cluster: Argo CD (Flux HelmRelease), Cilium in ENI mode replacing kube-proxy, no Karpenter."""
    ctx = new_cluster("keystone")
    ctx.nodes = mng_nodes(ctx, "platform", "m5.xlarge", ["2026-08-20T06:02:11Z", "2026-08-20T06:02:53Z",
                                                         "2026-08-20T06:03:40Z"],
                          kubelet="v1.29.8-eks-a737599", target=0.8)
    cilium = cilium_workloads("keystone")
    argocd = argocd_workloads()
    workloads = [*eks_addon_workloads(aws_node=False, kube_proxy=False, system_pool=None), *cilium,
                 *flux_workloads(None), *argocd, vmagent_workload("keystone")]
    record_base_namespaces(ctx, "2026-01-21T10:05:00Z")
    namespace_object(ctx, "argocd", labels=flux_labels("argocd"), created="2026-02-05T10:10:20Z")
    namespace_object(ctx, "monitoring", labels=flux_labels("vmagent"), created="2026-03-12T08:29:40Z")
    record_flux_crds(ctx)
    record_cilium(ctx, cilium)
    record_argocd(ctx, argocd)
    record_aws_auth(ctx, ["eks-node-platform-keystone"])
    record_workloads(ctx, workloads)
    record_pdb(ctx, coredns_pdb())
    record_from_git(ctx, git, gitops_statuses(git))
    record_argocd_defaults(ctx)
    record_cilium_nodes(ctx)
    record_nodes(ctx)
    return ctx


def record_argocd_defaults(ctx: ClusterCtx) -> None:
    """The `default` AppProject Argo CD creates, and the Applications the ApplicationSet generated."""
    ctx.add("argoproj.io/v1alpha1", "appprojects", {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": ctx.meta("default", "argocd", created=at("2026-02-05T10:12:03Z"), generation=1),
        "spec": {"clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                 "destinations": [{"namespace": "*", "server": "*"}], "sourceRepos": ["*"]},
        "status": {}})
    appset = next(o for o in ctx.items("argoproj.io/v1alpha1", "applicationsets")
                  if o["metadata"]["name"] == "namespace-baseline")
    template = appset["spec"]["template"]
    for element in appset["spec"]["generators"][0]["list"]["elements"]:
        ns = element["namespace"]
        spec = json.loads(json.dumps(template["spec"]).replace("{{.namespace}}", ns))
        meta = ctx.meta(f"baseline-{ns}", "argocd", created=at("2026-06-03T11:02:00Z"),
                        labels={"livspace.io/env": ns}, generation=23)
        meta["ownerReferences"] = [{"apiVersion": "argoproj.io/v1alpha1", "blockOwnerDeletion": True,
                                    "controller": True, "kind": "ApplicationSet", "name": "namespace-baseline",
                                    "uid": appset["metadata"]["uid"]}]
        resources = [{"kind": kind, "name": name, "namespace": ns, "status": "Synced", "version": "v1"}
                     for kind, name in (("LimitRange", "defaults"), ("ResourceQuota", "compute"))]
        finished = at("2026-11-19T17:44:12Z")
        ctx.add("argoproj.io/v1alpha1", "applications", {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta, "spec": spec,
            "status": {"controllerNamespace": "argocd", "health": {"status": "Healthy"},
                       "history": [{"id": 23, "revision": GIT_HEAD, "source": spec["source"],
                                    "deployStartedAt": ts(finished - timedelta(seconds=2)),
                                    "deployedAt": ts(finished)}],
                       "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                          "startedAt": ts(finished - timedelta(seconds=2)), "finishedAt": ts(finished),
                                          "operation": {"initiatedBy": {"automated": True},
                                                        "sync": {"revision": GIT_HEAD}},
                                          "syncResult": {"revision": GIT_HEAD, "source": spec["source"]}},
                       "reconciledAt": ts(RECORDED_AT - timedelta(minutes=1, seconds=7)), "resources": resources,
                       "sourceType": "Kustomize", "summary": {},
                       "sync": {"status": "Synced", "revision": GIT_HEAD,
                                "comparedTo": {"source": spec["source"], "destination": spec["destination"]}}}})


def gke_nodes(ctx: ClusterCtx, pools: list[tuple[str, str, int, bool, float, str]]) -> list[Node]:
    nodes = []
    for pool, itype, count, spot, target, created in pools:
        pool_hash = hashlib.sha1(f"{ctx.name}/{pool}".encode()).hexdigest()[:8]
        for i in range(count):
            node = gke_node(ctx, pool=pool, itype=itype, zone=ctx.zones[i % 3], created=created, spot=spot,
                            target=target, pool_hash=pool_hash)
            ctx.nodes.append(node)
            nodes.append(node)
    return nodes


def build_gke_staging(git: GitTree) -> ClusterCtx:
    """GKE Dataplane V2 staging cluster: storefront namespaces beta and alpha deployed by Argo CD on keystone."""
    ctx = new_cluster("gke-staging-apps")
    gke_nodes(ctx, [("default-pool", "e2-standard-4", 3, False, 0.8, "2026-10-15T02:31:10Z"),
                    ("spot-pool", "e2-standard-8", 2, True, 0.7, "2026-11-17T22:04:51Z")])
    workloads = [*gke_addon_workloads(), *flux_workloads(None), vmagent_workload(ctx.name), *gke_app_workloads()]
    record_base_namespaces(ctx, "2026-02-11T03:00:00Z")
    for ns in ("gmp-public", "gmp-system"):
        namespace_object(ctx, ns, labels={"addonmanager.kubernetes.io/mode": "Reconcile"},
                         created="2026-02-11T03:02:00Z")
    namespace_object(ctx, "monitoring", labels=flux_labels("vmagent"), created="2026-03-12T08:29:40Z")
    for ns in ("beta", "alpha"):
        namespace_object(ctx, ns, labels={"livspace.io/env": ns, "livspace.io/team": "storefront",
                                          **flux_labels("apps")}, created="2026-06-03T10:58:00Z")
    record_flux_crds(ctx)
    record_workloads(ctx, workloads)
    record_pdb(ctx, pdb_manifest("kube-system", "kube-dns", {"k8s-app": "kube-dns"}, min_available=1,
                                 labels={"addonmanager.kubernetes.io/mode": "Reconcile"}))
    for pdb in gke_pdbs():
        record_pdb(ctx, pdb)
    record_from_git(ctx, git, gitops_statuses(git))
    record_nodes(ctx)
    return ctx


def build_monitor(git: GitTree) -> ClusterCtx:
    """GKE monitoring cluster: victoria-metrics-k8s-stack from a Flux HelmRelease, dashboards and VMRules."""
    ctx = new_cluster("monitor")
    gke_nodes(ctx, [("default-pool", "e2-standard-4", 2, False, 0.8, "2026-10-09T03:12:40Z"),
                    ("monitoring-pool", "n2-standard-8", 3, False, 0.85, "2026-10-09T03:15:02Z")])
    vm = vm_workloads({})
    workloads = [*gke_addon_workloads(), *flux_workloads(None), *vm]
    record_base_namespaces(ctx, "2026-02-11T03:00:00Z")
    for ns in ("gmp-public", "gmp-system"):
        namespace_object(ctx, ns, labels={"addonmanager.kubernetes.io/mode": "Reconcile"},
                         created="2026-02-11T03:02:00Z")
    namespace_object(ctx, "monitoring", labels=flux_labels("victoria-metrics"), created="2026-03-10T05:59:00Z")
    record_flux_crds(ctx)
    owners = record_victoriametrics(ctx)
    for w in vm:
        kind = {"vmsingle": "VMSingle", "vmagent": "VMAgent", "vmalert": "VMAlert",
                "vmalertmanager": "VMAlertmanager"}.get(w.name.split("-")[0])
        if kind:
            w.owner = owners[kind]
    record_workloads(ctx, workloads)
    record_pdb(ctx, pdb_manifest("kube-system", "kube-dns", {"k8s-app": "kube-dns"}, min_available=1,
                                 labels={"addonmanager.kubernetes.io/mode": "Reconcile"}))
    record_from_git(ctx, git, gitops_statuses(git))
    record_nodes(ctx)
    return ctx


def build_cluster(name: str, git: GitTree) -> ClusterCtx:
    if name in EKS_WORKLOAD_CLUSTERS:
        return build_eks_workload_cluster(name, git)
    return {"keystone": build_keystone, "gke-staging-apps": build_gke_staging, "monitor": build_monitor}[name](git)


# ------------------------------------------------------------------------------------ Karpenter metrics

WINDOW_POINTS = 121  # 2 hours at a 60 s step, both ends included
WINDOW_START = RECORDED_AT - timedelta(hours=2)
DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
                    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60]
# Counter values at the start of the window (since the controller pods started) and what happens in it.
METRIC_STORIES: dict[str, Obj] = {
    "ravan": {
        "created": {"default": 1184, "on-demand-critical": 61, "batch": 402},
        "terminated": {"default": 1176, "on-demand-critical": 60, "batch": 399},
        "deprovisioning": {("delete", "consolidation"): 212, ("replace", "consolidation"): 37,
                           ("delete", "emptiness"): 318, ("replace", "expiration"): 18, ("replace", "drift"): 6},
        "interruption": {("SpotInterruptionKind", "true"): 9, ("RebalanceRecommendationKind", "false"): 31,
                         ("ScheduledChangeKind", "true"): 1, ("StateChangeKind", "true"): 44},
        "errors": {("machine.lifecycle", "Create", "InsufficientCapacityError"): 14,
                   ("machine.garbagecollection", "Get", "MachineNotFoundError"): 3},
        "events": [
            ("07:12", "interruption", ("RebalanceRecommendationKind", "false")),
            ("07:38", "interruption", ("RebalanceRecommendationKind", "false")),
            ("07:41", "created", "default"),  # consolidation replaces an m5.2xlarge with the m6i.xlarge
            ("07:41", "deprovisioning", ("replace", "consolidation")),
            ("07:44", "terminated", "default"),
            ("07:45", "interruption", ("StateChangeKind", "true")),
            ("08:21", "error", ("machine.lifecycle", "Create", "InsufficientCapacityError")),
            ("08:22", "created", "default"),  # pending search-api replicas after a deploy: the c5.xlarge
            ("08:35", "terminated", "batch"),  # an empty batch node (ttlSecondsAfterEmpty)
            ("08:35", "deprovisioning", ("delete", "emptiness")),
            ("08:36", "interruption", ("StateChangeKind", "true")),
        ],
        "startup": (38.0, 71.0, 128.0),
    },
    "eks-staging-apps": {
        "created": {"default": 412, "batch": 133},
        "terminated": {"default": 410, "batch": 132},
        "deprovisioning": {("delete", "consolidation"): 96, ("replace", "consolidation"): 11,
                           ("delete", "emptiness"): 121},
        "interruption": {("SpotInterruptionKind", "true"): 4, ("RebalanceRecommendationKind", "false"): 12,
                         ("StateChangeKind", "true"): 17},
        "errors": {("machine.lifecycle", "Create", "InsufficientCapacityError"): 2},
        "events": [
            ("07:55", "terminated", "default"),
            ("07:55", "deprovisioning", ("delete", "consolidation")),
            ("07:56", "interruption", ("StateChangeKind", "true")),
            ("08:40", "interruption", ("RebalanceRecommendationKind", "false")),
        ],
        "startup": (41.0, 77.0, 139.0),
    },
    "dev-apps": {
        "created": {"default": 96, "batch": 58},
        "terminated": {"default": 95, "batch": 57},
        "deprovisioning": {("delete", "consolidation"): 22, ("delete", "emptiness"): 51},
        "interruption": None,  # no interruption queue on dev
        "errors": {("machine.lifecycle", "Create", "InsufficientCapacityError"): 1},
        "events": [
            ("08:10", "terminated", "batch"),
            ("08:10", "deprovisioning", ("delete", "emptiness")),
        ],
        "startup": (35.0, 66.0, 117.0),
    },
}


def _minute(hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    moment = RECORDED_AT.replace(hour=h, minute=m)
    return int((moment - WINDOW_START).total_seconds() // 60)


def _counter(base: int, increments: list[int]) -> list[int]:
    """Monotonic counter samples: `base` plus the increments that happened at or before each point."""
    values, total = [], base
    per_point = defaultdict(int)
    for i in increments:
        per_point[i] += 1
    for i in range(WINDOW_POINTS):
        total += per_point[i]
        values.append(total)
    return values


def karpenter_metrics(ctx: ClusterCtx) -> list[Obj]:
    story = METRIC_STORIES[ctx.name]
    rng = Ids("metrics", ctx.name).rng
    stamps = [int((WINDOW_START + timedelta(minutes=i)).timestamp() * 1000) for i in range(WINDOW_POINTS)]
    pods = ctx.items("v1", "pods")
    controllers = sorted((p for p in pods if p["metadata"]["namespace"] == "karpenter"),
                         key=lambda p: p["metadata"]["name"])
    leader = controllers[0]
    base = {"cluster": ctx.name, "job": "karpenter", "instance": f"{leader['status']['podIP']}:8000",
            "pod": leader["metadata"]["name"]}
    series: list[Obj] = []

    def add(name: str, labels: dict[str, str], values: list[float], start: int = 0, common: bool = True) -> None:
        metric = {"__name__": name, **(base if common else {}), **labels}
        series.append({"metric": metric, "values": values[start:], "timestamps": stamps[start:]})

    events = [(_minute(t), kind, arg) for t, kind, arg in story["events"]]

    def at_minutes(kind: str, arg: Any) -> list[int]:
        return [m for m, k, a in events if k == kind and a == arg]

    for provisioner, value in story["created"].items():
        add("karpenter_nodes_created", {"provisioner": provisioner},
            _counter(value, at_minutes("created", provisioner)))
    for provisioner, value in story["terminated"].items():
        add("karpenter_nodes_terminated", {"provisioner": provisioner},
            _counter(value, at_minutes("terminated", provisioner)))
    for (action, deprovisioner), value in story["deprovisioning"].items():
        add("karpenter_deprovisioning_actions_performed", {"action": action, "deprovisioner": deprovisioner},
            _counter(value, at_minutes("deprovisioning", (action, deprovisioner))))
    if story["interruption"] is not None:
        for (message_type, actionable), value in story["interruption"].items():
            add("karpenter_interruption_received_messages", {"message_type": message_type, "actionable": actionable},
                _counter(value, at_minutes("interruption", (message_type, actionable))))
    for (controller, method, error), value in story["errors"].items():
        add("karpenter_cloudprovider_errors_total",
            {"controller": controller, "method": method, "provider": "aws", "error": error},
            _counter(value, at_minutes("error", (controller, method, error))))

    # karpenter_pods_startup_time_seconds is a summary in 0.31 (quantiles + _sum/_count).
    busy = {m for m, k, _ in events if k == "created"}
    p50, p90, p99 = story["startup"]
    quantiles: dict[str, list[float]] = {"0.5": [], "0.9": [], "0.99": []}
    count, total, counts, sums = 3150 + rng.randrange(400), 0.0, [], []
    for i in range(WINDOW_POINTS):
        spike = 1.0 + (0.6 if any(0 <= i - m <= 8 for m in busy) else 0.0)
        quantiles["0.5"].append(round(p50 * (1 + rng.uniform(-0.06, 0.06)), 3))
        quantiles["0.9"].append(round(p90 * spike * (1 + rng.uniform(-0.08, 0.08)), 3))
        quantiles["0.99"].append(round(p99 * spike * (1 + rng.uniform(-0.1, 0.1)), 3))
        started = rng.choice([0, 0, 1, 1, 2]) + (4 if spike > 1 and rng.random() < 0.5 else 0)
        count += started
        total += sum(rng.uniform(p50 * 0.6, p90) for _ in range(started))
        counts.append(count)
        sums.append(round(count * p50 * 1.18 + total, 3))
    for q, values in quantiles.items():
        add("karpenter_pods_startup_time_seconds", {"quantile": q}, values)
    add("karpenter_pods_startup_time_seconds_sum", {}, sums)
    add("karpenter_pods_startup_time_seconds_count", {}, counts)

    # karpenter_provisioner_scheduling_duration_seconds histogram (DurationBuckets of karpenter-core).
    bucket_counts = [0] * (len(DURATION_BUCKETS) + 1)
    observed = 8000 + rng.randrange(2000)
    start_share = [max(0, int(observed * _lognormal_cdf(b))) for b in DURATION_BUCKETS] + [observed]
    bucket_counts = list(start_share)
    bucket_series: list[list[int]] = [[] for _ in bucket_counts]
    sum_series, count_series, dur_sum = [], [], observed * 0.21
    for i in range(WINDOW_POINTS):
        n = rng.choice([2, 3, 4, 6]) + (12 if any(0 <= i - m <= 2 for m in busy) else 0)
        for _ in range(n):
            duration = math.exp(rng.gauss(math.log(0.12), 0.9))
            dur_sum += duration
            for j, bound in enumerate(DURATION_BUCKETS):
                if duration <= bound:
                    bucket_counts[j] += 1
            bucket_counts[-1] += 1
        for j, value in enumerate(bucket_counts):
            bucket_series[j].append(value)
        sum_series.append(round(dur_sum, 4))
        count_series.append(bucket_counts[-1])
    for j, bound in enumerate([*DURATION_BUCKETS, "+Inf"]):
        add("karpenter_provisioner_scheduling_duration_seconds_bucket", {"le": str(bound)}, bucket_series[j])
    add("karpenter_provisioner_scheduling_duration_seconds_sum", {}, sum_series)
    add("karpenter_provisioner_scheduling_duration_seconds_count", {}, count_series)

    # Per-node gauges from cluster state: allocatable, pod and daemon requests.
    first = {n.name: max(0, math.ceil((n.created + timedelta(seconds=70) - WINDOW_START).total_seconds() / 60))
             for n in ctx.nodes}
    requests = _node_requests(pods)
    for node in ctx.nodes:
        labels = _node_metric_labels(node)
        disk_bytes = int((node.disk_gib * 1048576 - 1_120_000) * 1024 * 0.9)
        for resource, value in (("cpu", node.alloc_cpu / 1000), ("memory", node.alloc_mem * 1024),
                                ("pods", node.itype.max_pods), ("ephemeral_storage", disk_bytes)):
            add("karpenter_nodes_allocatable", {**labels, "resource_type": resource},
                [value] * WINDOW_POINTS, first[node.name])
        for metric, key in (("karpenter_nodes_total_pod_requests", "pods"),
                            ("karpenter_nodes_total_daemon_requests", "daemons")):
            cpu, mem = requests[node.name][key]
            add(metric, {**labels, "resource_type": "cpu"}, [round(cpu / 1000, 3)] * WINDOW_POINTS, first[node.name])
            add(metric, {**labels, "resource_type": "memory"}, [mem] * WINDOW_POINTS, first[node.name])

    nodes = ctx.node_names
    for pod in pods:
        node = nodes[pod["spec"]["nodeName"]]
        owner = pod["metadata"]["ownerReferences"][0]
        start = at(pod["status"]["startTime"])
        first_point = max(0, math.ceil((start - WINDOW_START).total_seconds() / 60))
        add("karpenter_pods_state", {
            "name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"],
            "owner": f"/apis/{owner['apiVersion']}/namespaces/{pod['metadata']['namespace']}/"
                     f"{owner['kind'].lower()}s/{owner['name']}",
            "node": node.name, "provisioner": node.labels.get("karpenter.sh/provisioner-name", ""),
            "zone": node.zone, "arch": "amd64", "capacity_type": node.labels.get("karpenter.sh/capacity-type", ""),
            "instance_type": node.itype.name, "phase": "Running"}, [1] * WINDOW_POINTS, first_point)

    for pod in controllers:
        add("up", {**base, "instance": f"{pod['status']['podIP']}:8000", "pod": pod["metadata"]["name"]},
            [1] * WINDOW_POINTS, common=False)
    return series


def _lognormal_cdf(x: float, median: float = 0.12, sigma: float = 0.9) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


def _node_requests(pods: list[Obj]) -> dict[str, dict[str, tuple[int, int]]]:
    """node -> {"pods": (cpu m, memory bytes), "daemons": (...)} from recorded pod requests."""
    out: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"pods": [0, 0], "daemons": [0, 0]})
    for pod in pods:
        key = "daemons" if pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet" else "pods"
        for c in pod["spec"]["containers"]:
            req = c["resources"].get("requests", {})
            out[pod["spec"]["nodeName"]][key][0] += _cpu_m(req.get("cpu", "0"))
            out[pod["spec"]["nodeName"]][key][1] += _mem_bytes(req.get("memory", "0"))
    return {n: {k: (v[0], v[1]) for k, v in d.items()} for n, d in out.items()}


def _cpu_m(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def _mem_bytes(q: str) -> int:
    for suffix, factor in (("Ki", 1024), ("Mi", 1024**2), ("Gi", 1024**3)):
        if q.endswith(suffix):
            return int(q[: -len(suffix)]) * factor
    return int(q)


def _node_metric_labels(node: Node) -> dict[str, str]:
    """Node labels as Karpenter 0.31 exports them: every well-known label (N/A when absent)."""
    known = {"arch": "kubernetes.io/arch", "capacity_type": "karpenter.sh/capacity-type",
             "instance_type": "node.kubernetes.io/instance-type", "os": "kubernetes.io/os",
             "region": "topology.kubernetes.io/region", "zone": "topology.kubernetes.io/zone"}
    for suffix in ("category", "cpu", "encryption_in_transit_supported", "family", "generation", "hypervisor",
                   "memory", "network_bandwidth", "pods", "size", "local_nvme", "gpu_count", "gpu_manufacturer",
                   "gpu_memory", "gpu_name", "accelerator_count", "accelerator_manufacturer", "accelerator_name"):
        known[f"instance_{suffix}"] = "karpenter.k8s.aws/instance-" + suffix.replace("_", "-")
    labels = {k: node.labels.get(v, "N/A") for k, v in known.items()}
    labels.update({"node_name": node.name, "provisioner": node.labels.get("karpenter.sh/provisioner-name", ""),
                   "phase": ""})
    return labels


# ------------------------------------------------------------------------------------ Terraform

PROVIDER_LOCKS = [("hashicorp/aws", "5.46.0", ">= 4.57.0, ~> 5.40"), ("hashicorp/helm", "2.13.1", "~> 2.12"),
                  ("hashicorp/kubernetes", "2.29.0", "~> 2.27")]


def terraform_lock_file() -> str:
    lines = ['# This file is maintained automatically by "terraform init".',
             "# Manual edits may be lost in future updates.", ""]
    for source, version, constraints in PROVIDER_LOCKS:
        seed = f"{source}@{version}"
        h1 = base64.b64encode(hashlib.sha256(f"h1:{seed}".encode()).digest()).decode()
        zh = [hashlib.sha256(f"zh:{seed}:{platform}".encode()).hexdigest()
              for platform in ("darwin_amd64", "darwin_arm64", "freebsd_386", "freebsd_amd64", "freebsd_arm",
                               "linux_386", "linux_amd64", "linux_arm", "linux_arm64", "openbsd_386",
                               "openbsd_amd64", "solaris_amd64", "windows_386", "windows_amd64")]
        lines += [f'provider "registry.terraform.io/{source}" {{', f'  version     = "{version}"',
                  f'  constraints = "{constraints}"', "  hashes = [", f'    "h1:{h1}",']
        lines += [f'    "zh:{h}",' for h in sorted(zh)]
        lines += ["  ]", "}", ""]
    return "\n".join(lines)


def write_terraform(root: Path) -> None:
    for f in sorted((SRC_DIR / "terraform" / "eks").glob("*.tf")):
        write(root / f.name, f.read_text())
    write(root / ".terraform.lock.hcl", terraform_lock_file())
    for cluster in EKS_WORKLOAD_CLUSTERS:
        facts = KARPENTER[cluster]
        write(root / "envs" / f"{cluster}.tfvars", "\n".join([
            'region                       = "ap-south-1"',
            f'cluster_name                 = "{cluster}"',
            f'environment                  = "{ENVIRONMENT[cluster]}"',
            f'karpenter_version            = "{karpenter_version(cluster)}"',
            f"enable_interruption_handling = {'true' if facts['interruption'] else 'false'}",
            "",
            "tags = {",
            f'  "cost-center" = "{"platform-prod" if cluster == "ravan" else "platform-nonprod"}"',
            '  "owner"       = "platform-team"',
            "}",
            ""]))
        header = (f"# Karpenter {karpenter_version(cluster)} Helm values for {cluster}.\n"
                  "# Passed by helm_release.karpenter (karpenter.tf); keys follow the 0.31 chart.\n")
        write(root / "values" / f"karpenter-{cluster}.yaml", header + to_yaml(karpenter_values(cluster)))
    write(root / "README.md", TERRAFORM_README)


TERRAFORM_README = """\
# terraform/eks

Installs Karpenter on the EKS workload clusters: node IAM role and instance profile, SQS interruption
queue (module `terraform-aws-modules/eks/aws//modules/karpenter` 19.21.0), the controller IRSA role and
policy (`iam.tf`) and the Helm release (`helm_release.karpenter`).

    terraform init -backend-config="key=eks/ravan/karpenter.tfstate"
    terraform apply -var-file=envs/ravan.tfvars

Helm values live in `values/karpenter-<cluster>.yaml`; Provisioners and AWSNodeTemplates are in the
GitOps repository (infra-flux/infrastructure/karpenter/<cluster>/).
"""


# ------------------------------------------------------------------------------------ writing


def crashlooping(ctx: ClusterCtx) -> list[tuple[Obj, Obj]]:
    """(pod, container status) of every recorded container waiting in CrashLoopBackOff."""
    return [(pod, status) for pod in ctx.resources[("core", "v1", "pods")]
            for status in pod["status"].get("containerStatuses", [])
            if status.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"]


def record_warning_events(ctx: ClusterCtx) -> None:
    """The kubelet's BackOff Warning events for crash-looping containers (what `upgradectl snapshot` records:
    Warning events only), one per pod with its count and the last time it was seen."""
    ids = Ids("events", ctx.name)
    for pod, status in crashlooping(ctx):
        meta = pod["metadata"]
        last = RECORDED_AT - timedelta(seconds=30 + ids.rng.randrange(240))
        name = f"{meta['name']}.{ids.hex(16)}"
        ctx.add("v1", "events", {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"], "uid": ids.uid(),
                         "resourceVersion": ids.rv(), "creationTimestamp": meta["creationTimestamp"]},
            "type": "Warning", "reason": "BackOff",
            "message": f"Back-off restarting failed container {status['name']} in pod {meta['name']}_"
                       f"{meta['namespace']}({meta['uid']})",
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                               "namespace": meta["namespace"], "uid": meta["uid"],
                               "fieldPath": f"spec.containers{{{status['name']}}}"},
            "source": {"component": "kubelet", "host": pod["spec"]["nodeName"]},
            "count": status["restartCount"] * 12, "firstTimestamp": meta["creationTimestamp"],
            "lastTimestamp": ts(last), "reportingComponent": "kubelet",
            "reportingInstance": pod["spec"]["nodeName"],
        })
    ctx.resources.setdefault(("core", "v1", "events"), [])


def alerts_document(ctx: ClusterCtx) -> Obj:
    """/api/v1/alerts of monitor's vmalert for this cluster (`upgradectl snapshot --metrics-url` keeps the
    alerts labelled with the cluster): the demo's KubePodCrashLooping and KubeDeploymentReplicasMismatch rules
    (VM_DEFAULT_RULES) fire for crash-looping containers that have waited for longer than their `for`."""
    alerts = []
    for pod, status in crashlooping(ctx):
        meta = pod["metadata"]
        since = ts(RECORDED_AT - timedelta(hours=6))
        labels = {"alertname": "KubePodCrashLooping", "cluster": ctx.name, "container": status["name"],
                  "job": "kube-state-metrics", "namespace": meta["namespace"], "pod": meta["name"],
                  "reason": "CrashLoopBackOff", "severity": "warning"}
        alerts.append({"labels": labels, "state": "firing", "activeAt": since, "value": "1e+00",
                       "annotations": {"summary": "Pod is crash looping.",
                                       "description": f"Pod {meta['namespace']}/{meta['name']} ({status['name']}) is "
                                                      'in waiting state (reason: "CrashLoopBackOff").'}})
    broken = sorted({(p["metadata"]["namespace"], p["metadata"]["ownerReferences"][0]["name"].rsplit("-", 1)[0])
                     for p, _ in crashlooping(ctx)})
    for namespace, deployment in broken:
        labels = {"alertname": "KubeDeploymentReplicasMismatch", "cluster": ctx.name, "deployment": deployment,
                  "job": "kube-state-metrics", "namespace": namespace, "severity": "warning"}
        alerts.append({"labels": labels, "state": "firing", "activeAt": ts(RECORDED_AT - timedelta(hours=6)),
                       "value": "2e+00",
                       "annotations": {"summary": "Deployment has not matched the expected number of replicas."}})
    return {"status": "success", "data": {"alerts": alerts}}


def write_snapshot(root: Path, ctx: ClusterCtx) -> None:
    meta = {"name": ctx.name, "provider": ctx.provider, "region": ctx.region,
            "recorded_at": ts(RECORDED_AT), "recorded_from": RECORDED_FROM, "server_version": ctx.server_version}
    write(root / "cluster.yaml", to_yaml(meta))
    record_warning_events(ctx)
    write(root / "alerts.json", json.dumps(alerts_document(ctx), indent=2) + "\n")
    for (group, version, plural), items in sorted(ctx.resources.items()):
        items = sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        write(root / "resources" / group / version / f"{plural}.yaml", k8s_list(items))
    if ctx.name in METRIC_STORIES:
        lines = [json.dumps(s, separators=(",", ":")) for s in karpenter_metrics(ctx)]
        write(root / "metrics" / "karpenter.jsonl", "\n".join(lines) + "\n")


def fleet_document() -> Obj:
    return {
        "name": "demo",
        "gitops": {"path": "infra-flux", "url": GIT_HTTPS, "branch": GIT_BRANCH},
        "terraform": [{"path": "terraform/eks", "backend_config": {"key": "eks/{cluster}/karpenter.tfstate"}}],
        "clusters": [{"name": name, "environment": env, "provider": provider, "region": region, "role": role,
                      "snapshot": f"clusters/{name}", "gitops_path": f"clusters/{name}", "metrics_url": "",
                      **({"prerelease_namespaces": list(PRERELEASE[name])} if name in PRERELEASE else {})}
                     for name, env, provider, region, role, _ in FLEET],
    }


# Namespaces running pre-release builds (Argo CD apps from apps/gke-staging-apps/<ns>/): checked and gated
# on their own, and their failures (alpha's crash-looping recommendation-engine) never block the cluster.
PRERELEASE = {"gke-staging-apps": ("beta", "alpha")}


def summarize(ctx: ClusterCtx) -> str:
    counts = {plural: len(items) for (_, _, plural), items in ctx.resources.items()}
    karpenter = [n for n in ctx.nodes if n.kind == "karpenter"]
    line = (f"{ctx.name:18} nodes={counts.get('nodes', 0):3} pods={counts.get('pods', 0):4} "
            f"deployments={counts.get('deployments', 0):3} crds={counts.get('customresourcedefinitions', 0):3}")
    if karpenter:
        fill = ", ".join(f"{n.itype.name}/{n.pool}:{n.used_cpu * 100 // n.alloc_cpu}%" for n in karpenter)
        line += f"\n{'':18} karpenter node CPU requested: {fill}"
    return line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (deleted and recreated)")
    args = parser.parse_args(argv)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    git = build_gitops()
    for name, *_ in FLEET:
        ctx = build_cluster(name, git)
        write_snapshot(out / "clusters" / name, ctx)
        print(summarize(ctx))
    git.write(out / "infra-flux")
    write_terraform(out / "terraform" / "eks")
    write(out / "fleet.yaml", "# The bundled demo fleet (`upgradectl --fleet demo`), "
                              "built by scripts/build_demo_fleet.py.\n" + to_yaml(fleet_document()))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
