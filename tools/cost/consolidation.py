"""Consolidation simulation: repack a cluster's Karpenter-managed pods onto the cheapest allowed nodes.

What moves and what stays (the rules a real consolidation obeys):
- Nodes not managed by Karpenter (EKS managed node groups, GKE node pools, anything else) stay exactly
  as they are, with their pods; nothing new lands on them.
- On Karpenter nodes, a pod stays on its node when it is annotated karpenter.sh/do-not-evict or
  karpenter.sh/do-not-disrupt, when a PodDisruptionBudget over it allows no disruption (maxUnavailable 0,
  or minAvailable equal to the pods it selects), when it has no controller (a bare or static pod),
  when it selects its node by name, or when no allowed offering can hold it. A node with such a pod
  stays; its free room may take moved pods.
- Every other pod ("movable") is placed on a node the pod allows: nodeSelector, required node affinity,
  tolerations for the pool's taints, the pool with the highest weight it is compatible with (as
  Karpenter chooses), zones (a pod with a PersistentVolumeClaim keeps its zone: volumes are zonal),
  required pod anti-affinity on the hostname against its own labels (one per node), CPU, memory and
  pod slots after the DaemonSet pods every new node runs.
- Capacity type: a pod is spot-tolerant when its node selection admits karpenter.sh/capacity-type=spot;
  only spot-tolerant pods are placed on spot nodes, and only pools that allow spot launch spot nodes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from upgradectl.tools.cluster.resources import (
    Requests,
    capacity_type,
    is_active,
    pod_requests,
    quantity,
    selector_matches,
)
from upgradectl.tools.cluster.sources import ClusterSource
from upgradectl.tools.cost.binpack import Guide, PackingInput, PackingResult, pack
from upgradectl.tools.cost.nodepools import (
    NODEPOOL_LABEL,
    PROVISIONER_LABEL,
    ZONE_LABELS,
    KarpenterPool,
    Offering,
    cluster_zones,
    node_zone,
    offerings_for,
    pod_admits_node,
    read_pools,
)
from upgradectl.tools.cost.prices import GIB, PriceTable, estimated_allocatable

if TYPE_CHECKING:
    from upgradectl.tools.cost.lowerbound import LowerBound

DO_NOT_EVICT = ("karpenter.sh/do-not-evict", "karpenter.sh/do-not-disrupt")
HOSTNAME = "kubernetes.io/hostname"


@dataclass
class ActivePod:
    """A pod bound to a node and running or pending there, with its effective requests."""

    index: int
    obj: dict[str, Any]
    node: str
    requests: Requests
    daemonset: bool

    @property
    def key(self) -> str:
        meta = self.obj.get("metadata", {})
        return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


@dataclass
class ProjectedNode:
    """A node after consolidation: an existing node that stays, or a new one from an offering."""

    name: str
    existing: bool
    manager: str
    pool: str
    instance_type: str
    capacity_type: str
    zone: str
    labels: dict[str, str]
    taints: list[dict[str, Any]]
    allocatable: Requests
    max_pods: int
    hourly: float | None
    price_uncertain: bool
    reason: str = ""


@dataclass
class Simulation:
    pods: list[ActivePod]
    placement: dict[int, str]  # pod index -> projected node name (every active pod)
    nodes: list[ProjectedNode]
    daemonsets: list[tuple[str, dict[str, Any], Requests]]
    movable: int
    pinned: dict[str, list[str]]
    offerings: list[Offering]
    bound: LowerBound
    fixed_hourly: float
    new_hourly: float
    seconds: float
    assumptions: list[str] = field(default_factory=list)
    pool_limit_warnings: list[str] = field(default_factory=list)


def node_manager(labels: dict[str, str]) -> tuple[str, str]:
    """('karpenter' | 'node-group' | 'other', pool name) from a node's labels."""
    for key in (PROVISIONER_LABEL, NODEPOOL_LABEL):
        if key in labels:
            return "karpenter", labels[key]
    for key in ("eks.amazonaws.com/nodegroup", "cloud.google.com/gke-nodepool"):
        if key in labels:
            return "node-group", labels[key]
    return "other", ""


def active_pods(pods: list[dict[str, Any]]) -> list[ActivePod]:
    """The pods bound to a node and running or pending, with their requests."""
    out = []
    for pod in pods:
        if not is_active(pod):
            continue
        owners = pod.get("metadata", {}).get("ownerReferences") or []
        ds = any(o.get("kind") == "DaemonSet" for o in owners)
        out.append(ActivePod(len(out), pod, pod["spec"]["nodeName"], pod_requests(pod), ds))
    return out


def daemonset_templates(source: ClusterSource, pods: list[ActivePod]) -> list[tuple[str, dict[str, Any], Requests]]:
    """(namespace/name, pod spec, requests) of every DaemonSet, from the DaemonSet objects or their pods."""
    found = []
    for ds in source.objects_of_kind("DaemonSet", "apps"):
        meta = ds.get("metadata", {})
        template = (ds.get("spec") or {}).get("template") or {}
        spec = template.get("spec") or {}
        found.append((f"{meta.get('namespace')}/{meta.get('name')}", spec, pod_requests({"spec": spec})))
    if found:
        return found
    by_owner: dict[str, ActivePod] = {}
    for p in pods:
        if p.daemonset:
            owner = next(o for o in p.obj["metadata"]["ownerReferences"] if o.get("kind") == "DaemonSet")
            by_owner.setdefault(f"{p.obj['metadata'].get('namespace')}/{owner.get('name')}", p)
    return [(name, p.obj["spec"], p.requests) for name, p in sorted(by_owner.items())]


def daemonset_overhead(
    daemonsets: list[tuple[str, dict[str, Any], Requests]], labels: dict[str, str], taints
) -> tuple[Requests, int]:
    """Requests and pod count of the DaemonSets that would run on a node with these labels and taints."""
    total, count = Requests(), 0
    for _name, spec, req in daemonsets:
        if pod_admits_node(spec, labels, taints):
            total, count = total + req, count + 1
    return total, count


def _scaled(value: Any, total: int) -> int:
    """An IntOrString PDB value against the number of pods (percentages round up, as Kubernetes does)."""
    if isinstance(value, str) and value.endswith("%"):
        return -(-int(value[:-1]) * total // 100)
    return int(value)


def pdb_pinned(source: ClusterSource, pods: list[ActivePod]) -> dict[int, str]:
    """Pod index -> PDB name, for pods whose PodDisruptionBudget allows no disruption at all."""
    by_ns: dict[str, list[ActivePod]] = {}
    by_label: dict[tuple[str, str, str], list[ActivePod]] = {}  # (namespace, key, value) -> pods
    for p in pods:
        ns = p.obj["metadata"].get("namespace", "")
        by_ns.setdefault(ns, []).append(p)
        for k, v in (p.obj["metadata"].get("labels") or {}).items():
            by_label.setdefault((ns, k, v), []).append(p)
    pinned: dict[int, str] = {}
    for pdb in source.objects_of_kind("PodDisruptionBudget", "policy"):
        meta, spec = pdb.get("metadata", {}), pdb.get("spec") or {}
        selector = spec.get("selector")
        if selector is None:
            continue
        ns = meta.get("namespace", "")
        first = next(iter((selector.get("matchLabels") or {}).items()), None)
        candidates = by_label.get((ns, *first), []) if first else by_ns.get(ns, [])
        matched = [p for p in candidates if selector_matches(selector, p.obj["metadata"].get("labels") or {})]
        expected = len(matched)
        if "maxUnavailable" in spec:
            allowed = _scaled(spec["maxUnavailable"], expected)
        elif "minAvailable" in spec:
            allowed = expected - _scaled(spec["minAvailable"], expected)
        else:
            continue
        if allowed <= 0:
            for p in matched:
                pinned[p.index] = f"PodDisruptionBudget {meta.get('namespace')}/{meta.get('name')} allows no disruption"
    return pinned


def _selects_node_by_name(spec: dict[str, Any]) -> bool:
    if HOSTNAME in (spec.get("nodeSelector") or {}):
        return True
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        if term.get("matchFields"):
            return True
        if any(e.get("key") == HOSTNAME for e in term.get("matchExpressions") or []):
            return True
    return False


def pin_reason(pod: ActivePod, pdb: dict[int, str]) -> str:
    """Why this pod must stay on its node ('' when it may move)."""
    meta = pod.obj.get("metadata", {})
    annotations = meta.get("annotations") or {}
    for key in DO_NOT_EVICT:
        if str(annotations.get(key, "")).lower() == "true":
            return f"annotated {key}"
    if "kubernetes.io/config.mirror" in annotations:
        return "static (mirror) pod"
    if not meta.get("ownerReferences"):
        return "no controller (a bare pod is not recreated elsewhere)"
    if pod.index in pdb:
        return pdb[pod.index]
    if _selects_node_by_name(pod.obj.get("spec") or {}):
        return "selects its node by name"
    return ""


def self_anti_affinity(pod: dict[str, Any]) -> str:
    """A key shared by pods that must not share a node (required anti-affinity on hostname vs own labels)."""
    spec = pod.get("spec") or {}
    labels = pod.get("metadata", {}).get("labels") or {}
    terms = ((spec.get("affinity") or {}).get("podAntiAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or []
    for term in terms:
        if term.get("topologyKey") == HOSTNAME and selector_matches(term.get("labelSelector") or {}, labels):
            return f"{pod['metadata'].get('namespace')}/{term.get('labelSelector')!r}"
    return ""


def _unmodelled(spec: dict[str, Any]) -> bool:
    """Scheduling rules the simulation does not model (they are reported as assumptions)."""
    affinity = spec.get("affinity") or {}
    if (affinity.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"):
        return True
    anti = (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
    if any(t.get("topologyKey") != HOSTNAME for t in anti):
        return True
    return any(c.get("whenUnsatisfiable") == "DoNotSchedule" for c in spec.get("topologySpreadConstraints") or [])


def _has_pvc(spec: dict[str, Any]) -> bool:
    return any("persistentVolumeClaim" in v for v in spec.get("volumes") or [])


def _mentions_zone(spec: dict[str, Any]) -> bool:
    text = repr(spec.get("nodeSelector")) + repr((spec.get("affinity") or {}).get("nodeAffinity"))
    return any(z in text for z in ZONE_LABELS)


def node_price(prices: PriceTable, region: str, labels: dict[str, str]) -> tuple[float | None, bool]:
    itype = labels.get("node.kubernetes.io/instance-type") or labels.get("beta.kubernetes.io/instance-type", "")
    quote = prices.quote(itype, region, capacity_type(labels) or "on-demand")
    if quote is None:
        return None, False
    return quote.hourly, quote.uncertain or not capacity_type(labels)


def _node_allocatable(node: dict[str, Any]) -> tuple[Requests, int]:
    alloc = node.get("status", {}).get("allocatable") or {}
    return Requests(quantity(alloc.get("cpu", 0)), quantity(alloc.get("memory", 0))), int(
        quantity(alloc.get("pods", 110))
    )


def simulate(source: ClusterSource, prices: PriceTable, region: str) -> Simulation:
    """Repack the movable pods; return every pod's projected node, the projected nodes and the bound."""
    started = time.perf_counter()
    nodes = source.objects("v1", "Node")
    pods = active_pods(source.objects("v1", "Pod"))
    node_by_name = {n["metadata"]["name"]: n for n in nodes}
    pods = [p for p in pods if p.node in node_by_name]
    for i, p in enumerate(pods):
        p.index = i
    pools = read_pools(source)
    pool_by_name = {p.name: p for p in pools}
    zones = sorted(set(cluster_zones(nodes)) | {
        v for pool in pools for r in pool.requirements if r.get("key") in ZONE_LABELS and r.get("operator") == "In"
        for v in r.get("values") or []
    })
    zone_bit = {z: 1 << i for i, z in enumerate(zones)}
    observed: dict[str, Requests] = {}
    for n in nodes:
        labels = n["metadata"].get("labels") or {}
        itype = labels.get("node.kubernetes.io/instance-type", "")
        alloc, _ = _node_allocatable(n)
        if itype and node_manager(labels)[0] == "karpenter":
            seen = observed.get(itype) or alloc
            observed[itype] = Requests(min(seen.cpu, alloc.cpu), min(seen.memory, alloc.memory))
    offerings = offerings_for(pools, prices, region, zones, observed, estimated_allocatable)
    daemonsets = daemonset_templates(source, pods)

    # offering room after DaemonSets
    offer_cap = np.zeros((len(offerings), 3))
    offer_ds: list[tuple[Requests, int]] = []
    for i, o in enumerate(offerings):
        ds, count = daemonset_overhead(daemonsets, o.labels_in(o.zones[0]), o.pool.taints)
        offer_ds.append((ds, count))
        offer_cap[i] = (o.allocatable.cpu - ds.cpu, (o.allocatable.memory - ds.memory) / GIB, o.shape.max_pods - count)
    usable = (offer_cap > 0).all(axis=1)
    offer_price = np.array([o.hourly for o in offerings])
    offer_zmask = np.array([sum(zone_bit.get(z, 0) for z in o.zones) or -1 for o in offerings], dtype=np.int64)

    # which pods move
    pdb = pdb_pinned(source, pods)
    karpenter_nodes = {name for name, n in node_by_name.items()
                       if node_manager(n["metadata"].get("labels") or {})[0] == "karpenter"}
    pinned: dict[str, list[str]] = {}
    staying: set[int] = set()
    movable: list[ActivePod] = []
    for p in pods:
        if p.node not in karpenter_nodes or p.daemonset:
            staying.add(p.index)
            continue
        reason = pin_reason(p, pdb)
        if reason:
            pinned.setdefault(reason, []).append(p.key)
            staying.add(p.index)
        else:
            movable.append(p)

    # signatures: what a pod needs from a node
    sig_of: dict[tuple, int] = {}
    sig_spec: list[tuple[dict[str, Any], str]] = []
    pod_sig: dict[int, int] = {}
    unmodelled = 0
    for p in movable:
        spec = p.obj.get("spec") or {}
        pvc_zone = node_zone(node_by_name[p.node]["metadata"].get("labels") or {}) if _has_pvc(spec) else ""
        key = (repr(spec.get("nodeSelector")), repr((spec.get("affinity") or {}).get("nodeAffinity")),
               repr(spec.get("tolerations")), pvc_zone)
        if key not in sig_of:
            sig_of[key] = len(sig_spec)
            sig_spec.append((spec, pvc_zone))
        pod_sig[p.index] = sig_of[key]
        unmodelled += _unmodelled(spec)

    n_sig = len(sig_spec)
    sig_offer = np.zeros((n_sig, len(offerings)), dtype=np.int64)
    for s, (spec, pvc_zone) in enumerate(sig_spec):
        for i, o in enumerate(offerings):
            if not usable[i]:
                continue
            if _mentions_zone(spec) or pvc_zone:
                mask = 0
                for z in o.zones:
                    if (not pvc_zone or z == pvc_zone) and pod_admits_node(spec, o.labels_in(z), o.pool.taints):
                        mask |= zone_bit.get(z, 0) or -1
            else:
                mask = int(offer_zmask[i]) if pod_admits_node(spec, o.labels_in(o.zones[0]), o.pool.taints) else 0
            sig_offer[s, i] = mask
        # Karpenter uses the highest-weight pool the pod is compatible with
        weights = [offerings[i].pool.weight for i in np.flatnonzero(sig_offer[s])]
        if weights:
            top = max(weights)
            for i in np.flatnonzero(sig_offer[s]):
                if offerings[i].pool.weight < top:
                    sig_offer[s, i] = 0

    # group movable pods; pods no allowed offering holds stay where they are
    groups: dict[tuple, list[int]] = {}
    anti_ids: dict[str, int] = {}
    for p in movable:
        anti_key = self_anti_affinity(p.obj)
        anti = anti_ids.setdefault(anti_key, len(anti_ids)) if anti_key else -1
        groups.setdefault((pod_sig[p.index], anti, p.requests.cpu, p.requests.memory), []).append(p.index)
    group_keys = list(groups)
    demand = np.array([(c, m / GIB, 1.0) for _s, _a, c, m in group_keys]).reshape(-1, 3)
    gsig = np.array([k[0] for k in group_keys], dtype=np.int64)
    fits = (offer_cap[None, :, :] >= demand[:, None, :] - 1e-9).all(axis=2) & (sig_offer[gsig] != 0)
    no_home = np.flatnonzero(~fits.any(axis=1)) if len(group_keys) else np.array([], dtype=np.int64)
    by_index = {p.index: p for p in pods}
    for g in no_home:
        for i in groups[group_keys[g]]:
            pinned.setdefault("no allowed instance type in the price table holds it", []).append(by_index[i].key)
            staying.add(i)
    keep_groups = [g for g in range(len(group_keys)) if g not in set(no_home.tolist())]
    group_keys = [group_keys[g] for g in keep_groups]
    demand, gsig = demand[keep_groups].reshape(-1, 3), gsig[keep_groups]
    # per-group fit filter folded into a group-level signature
    gfit = fits[keep_groups] if len(keep_groups) else np.zeros((0, len(offerings)), bool)
    combo: dict[tuple[int, bytes], int] = {}
    gsig2 = np.zeros(len(group_keys), dtype=np.int64)
    sig2_rows: list[np.ndarray] = []
    sig2_base: list[int] = []
    for g in range(len(group_keys)):
        key = (int(gsig[g]), gfit[g].tobytes())
        if key not in combo:
            combo[key] = len(sig2_rows)
            sig2_rows.append(np.where(gfit[g], sig_offer[gsig[g]], 0))
            sig2_base.append(int(gsig[g]))
        gsig2[g] = combo[key]
    sig2_offer = np.array(sig2_rows, dtype=np.int64).reshape(len(sig2_rows), len(offerings))  # 0 x 0 too

    # nodes that stay: non-Karpenter nodes (untouched) and Karpenter nodes holding a pinned pod
    kept_names = sorted({by_index[i].node for i in staying if by_index[i].node in karpenter_nodes
                         and not by_index[i].daemonset})
    kept_rem = np.zeros((len(kept_names), 3))
    kept_ok = np.zeros((len(sig2_rows), len(kept_names)), bool)
    stay_load: dict[str, list[float]] = {}
    for i in staying:
        p = by_index[i]
        load = stay_load.setdefault(p.node, [0.0, 0.0, 0.0])
        load[0] += p.requests.cpu
        load[1] += p.requests.memory / GIB
        load[2] += 1
    for k, name in enumerate(kept_names):
        node = node_by_name[name]
        alloc, max_pods = _node_allocatable(node)
        load = stay_load.get(name, [0.0, 0.0, 0.0])
        kept_rem[k] = (alloc.cpu - load[0], alloc.memory / GIB - load[1], max_pods - load[2])
        labels = node["metadata"].get("labels") or {}
        taints = (node.get("spec") or {}).get("taints") or []
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        for s2, base in enumerate(sig2_base):
            spec, pvc_zone = sig_spec[base]
            kept_ok[s2, k] = (not pvc_zone or node_zone(labels) == pvc_zone) and pod_admits_node(spec, labels, taints)

    problem = PackingInput(
        group_demand=demand,
        group_pods=[np.array(groups[k], dtype=np.int64) for k in group_keys],
        group_sig=gsig2,
        group_anti=np.array([k[1] for k in group_keys], dtype=np.int64),
        sig_offer_zmask=sig2_offer,
        sig_kept_ok=kept_ok,
        offer_price=offer_price,
        offer_cap=np.where(usable[:, None], offer_cap, 0.0),
        offer_zmask=offer_zmask,
        kept_rem=kept_rem,
        kept_zmask=np.full(len(kept_names), -1, dtype=np.int64),
    )
    from upgradectl.tools.cost.lowerbound import lower_bound, relax  # scipy, ~0.3 s: only when pods are repacked

    bound = lower_bound(problem)
    result = pack(problem, Guide(bound.share, bound.duals), relax, bound.plans)

    sim = _assemble(prices, region, nodes, pods, kept_names, staying, pinned, offerings, zones, result, bound,
                    daemonsets)
    sim.movable = problem.pods
    sim.seconds = time.perf_counter() - started
    sim.assumptions = _assumptions(unmodelled, prices, region, pools)
    sim.pool_limit_warnings = _limit_warnings(sim, pool_by_name, prices)
    return sim


def _assemble(prices: PriceTable, region: str, nodes: list[dict[str, Any]], pods: list[ActivePod],
              kept_names: list[str], staying: set[int], pinned: dict[str, list[str]], offerings: list[Offering],
              zones: list[str], result: PackingResult, bound: LowerBound, daemonsets) -> Simulation:
    """Projected nodes (kept, untouched, new) and every pod's projected node."""
    kept_set = set(kept_names)
    projected: list[ProjectedNode] = []
    fixed = 0.0
    pinned_nodes: dict[str, str] = {}
    by_index = {p.index: p for p in pods}
    for reason, keys in pinned.items():
        for key in keys:
            pinned_nodes.setdefault(key, reason)
    node_reason: dict[str, str] = {}
    for p in pods:
        if p.key in pinned_nodes:
            node_reason.setdefault(p.node, pinned_nodes[p.key])
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        labels = node["metadata"].get("labels") or {}
        manager, pool = node_manager(labels)
        if manager == "karpenter" and name not in kept_set:
            continue
        alloc, max_pods = _node_allocatable(node)
        hourly, uncertain = node_price(prices, region, labels)
        fixed += hourly or 0.0
        reason = "not managed by Karpenter" if manager != "karpenter" else (
            "holds a pod that must stay: " + node_reason.get(name, "pinned pod")
        )
        projected.append(ProjectedNode(
            name, True, manager, pool, labels.get("node.kubernetes.io/instance-type", ""), capacity_type(labels),
            node_zone(labels), labels, list((node.get("spec") or {}).get("taints") or []), alloc, max_pods, hourly,
            uncertain, reason,
        ))
    existing = _fixed_names(projected)
    # DaemonSet pods of removed nodes go with them: each new node runs its own (counted as overhead)
    placement: dict[int, str] = {i: by_index[i].node for i in staying if by_index[i].node in existing}
    counters: dict[str, int] = {}
    bin_name: dict[int, str] = {}
    for k, name in enumerate(kept_names):
        bin_name[k] = name
    new_hourly = 0.0
    for b in range(result.kept, len(result.bin_offer)):
        o = offerings[int(result.bin_offer[b])]
        zmask = int(result.bin_zmask[b])
        zone = next((z for i, z in enumerate(zones) if zmask & (1 << i)), o.zones[0] if o.zones else "")
        if zone not in o.zones:
            zone = o.zones[0]
        counters[o.pool.name] = counters.get(o.pool.name, 0) + 1
        name = f"new-{o.pool.name}-{counters[o.pool.name]}"
        bin_name[b] = name
        new_hourly += o.hourly
        labels = {**o.labels_in(zone), HOSTNAME: name}
        projected.append(ProjectedNode(
            name, False, "karpenter", o.pool.name, o.instance_type, o.capacity_type, zone, labels,
            list(o.pool.taints), o.allocatable, o.shape.max_pods, o.hourly, o.price_uncertain,
        ))
    for pod, b in result.pod_bin.items():
        placement[pod] = bin_name[b]
    return Simulation(pods, placement, projected, daemonsets, 0, pinned, offerings, bound, fixed, new_hourly, 0.0)


def _fixed_names(projected: list[ProjectedNode]) -> set[str]:
    return {n.name for n in projected if n.existing}


def _assumptions(unmodelled: int, prices: PriceTable, region: str, pools: list[KarpenterPool]) -> list[str]:
    notes = [
        f"candidate instance types: the {len(prices.priced_types(region))} types priced for {region} in the price "
        f"table (as of {prices.as_of}) that the pools' requirements allow; Karpenter may know more",
        "spot-tolerant = the pod's nodeSelector/required node affinity admits karpenter.sh/capacity-type=spot; "
        "only those pods are placed on spot",
        "pool limits are not enforced by the packer (see the limit warnings)",
        "new nodes get the allocatable this cluster's nodes of the same type report, else Karpenter's estimate",
    ]
    if unmodelled:
        notes.append(f"{unmodelled} movable pods carry pod affinity, zone anti-affinity or DoNotSchedule topology "
                     "spread constraints, which the simulation does not model")
    if not pools:
        notes.append("no Provisioner or NodePool recorded: no pod can move")
    return notes


def _limit_warnings(sim: Simulation, pools: dict[str, KarpenterPool], prices: PriceTable) -> list[str]:
    """Pools whose projected nodes exceed the pool's CPU limit (capacity, as Karpenter counts it)."""
    warnings = []
    for name, pool in pools.items():
        if pool.limits is None:
            continue
        nodes = [n for n in sim.nodes if n.manager == "karpenter" and n.pool == name]
        shapes = prices.instance_types
        cpu = sum(shapes[n.instance_type].vcpu if n.instance_type in shapes else n.allocatable.cpu for n in nodes)
        if cpu > pool.limits.cpu + 1e-9:
            warnings.append(f"{pool.kind} {name}: projected nodes have {cpu:g} vCPU, above its cpu limit "
                            f"{pool.limits.cpu:g}")
    return warnings
