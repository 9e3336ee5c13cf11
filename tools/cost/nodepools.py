"""Karpenter pools (v1alpha5 Provisioners, v1beta1/v1 NodePools) and the offerings they allow.

An offering is one (pool, instance type, capacity type) a pool may launch, with the zones it may use
and the labels and taints a node of it would carry. The consolidation simulation packs pods onto
offerings; it reads pool requirements on instance type, category, family, generation, size, CPU,
memory, architecture, OS, capacity type and zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from upgradectl.tools.cluster.resources import Requests, quantity
from upgradectl.tools.cluster.sources import ClusterSource, split_api_version
from upgradectl.tools.cost.prices import InstanceShape, PriceTable, type_labels

PROVISIONER_LABEL = "karpenter.sh/provisioner-name"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
ZONE_LABELS = (ZONE_LABEL, "failure-domain.beta.kubernetes.io/zone", "topology.gke.io/zone")
CAPACITY_TYPES = ("spot", "on-demand")


@dataclass(frozen=True)
class KarpenterPool:
    """A Provisioner or NodePool: what it may launch and what its nodes look like."""

    name: str
    kind: str  # Provisioner | NodePool
    api_version: str
    requirements: tuple[dict[str, Any], ...]
    labels: dict[str, str]
    taints: tuple[dict[str, Any], ...]
    weight: int = 0
    limits: Requests | None = None

    @property
    def node_label(self) -> str:
        """The label Karpenter puts on the pool's nodes (provisioner-name before v1beta1, nodepool after)."""
        return PROVISIONER_LABEL if self.kind == "Provisioner" else NODEPOOL_LABEL


def read_pools(source: ClusterSource) -> list[KarpenterPool]:
    """Every Provisioner and NodePool recorded in the cluster."""
    pools = []
    for kind in ("Provisioner", "NodePool"):
        for obj in source.objects_of_kind(kind, "karpenter.sh"):
            pools.append(_pool(obj))
    return sorted(pools, key=lambda p: (-p.weight, p.name))


def _pool(obj: dict[str, Any]) -> KarpenterPool:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Provisioner":
        requirements = spec.get("requirements") or []
        labels = spec.get("labels") or {}
        taints = spec.get("taints") or []
        raw_limits = (spec.get("limits") or {}).get("resources") or {}
    else:
        template = spec.get("template") or {}
        inner = template.get("spec") or {}
        requirements = inner.get("requirements") or []
        labels = (template.get("metadata") or {}).get("labels") or {}
        taints = inner.get("taints") or []
        raw_limits = spec.get("limits") or {}
        raw_limits = raw_limits.get("resources", raw_limits)
    limits = None
    if raw_limits:
        limits = Requests(
            quantity(raw_limits.get("cpu", "1e12")), quantity(raw_limits.get("memory", "1e30"))
        )
    return KarpenterPool(
        name=obj["metadata"]["name"],
        kind=obj["kind"],
        api_version=obj.get("apiVersion", ""),
        requirements=tuple(dict(r) for r in requirements),
        labels=dict(labels),
        taints=tuple(dict(t) for t in taints),
        weight=int(spec.get("weight") or 0),
        limits=limits,
    )


def requirement_holds(req: dict[str, Any], labels: dict[str, str]) -> bool:
    """One node-selector requirement (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte) against labels."""
    key, op = req.get("key"), req.get("operator")
    values = [str(v) for v in req.get("values") or []]
    value = labels.get(key)
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt", "Gte", "Lte"):
        try:
            have, want = int(value), int(values[0])  # type: ignore[arg-type]
        except (TypeError, ValueError, IndexError):
            return False
        return {"Gt": have > want, "Lt": have < want, "Gte": have >= want, "Lte": have <= want}[op]
    return False


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Whether any toleration matches a taint (key, value, effect; Exists with no key matches all)."""
    for t in tolerations or []:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator", "Equal")
        if not t.get("key"):
            if op == "Exists":
                return True
            continue
        if t.get("key") != taint.get("key"):
            continue
        if op == "Exists" or str(t.get("value", "")) == str(taint.get("value", "")):
            return True
    return False


def blocking_taints(taints: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Taints that keep non-tolerating pods off a node (PreferNoSchedule does not)."""
    return [t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")]


def pod_selects(spec: dict[str, Any], labels: dict[str, str]) -> bool:
    """nodeSelector and required node affinity (terms ORed, expressions ANDed) against node labels."""
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != str(value):
            return False
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = affinity.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(all(requirement_holds(e, labels) for e in term.get("matchExpressions") or []) for term in terms)


def pod_admits_node(spec: dict[str, Any], labels: dict[str, str], taints) -> bool:
    return pod_selects(spec, labels) and all(
        tolerates(spec.get("tolerations") or [], t) for t in blocking_taints(taints)
    )


@dataclass
class Offering:
    """One (pool, instance type, capacity type) a pool may launch, in the zones it allows."""

    pool: KarpenterPool
    instance_type: str
    shape: InstanceShape
    capacity_type: str
    zones: tuple[str, ...]
    hourly: float
    price_uncertain: bool
    allocatable: Requests
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.pool.name}/{self.instance_type}/{self.capacity_type}"

    def labels_in(self, zone: str) -> dict[str, str]:
        return {**self.labels, ZONE_LABEL: zone} if zone else dict(self.labels)


def cluster_zones(nodes: list[dict[str, Any]]) -> list[str]:
    zones = set()
    for node in nodes:
        labels = node.get("metadata", {}).get("labels") or {}
        zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")
        if zone:
            zones.add(zone)
    return sorted(zones)


def node_zone(labels: dict[str, str]) -> str:
    return next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")


def offerings_for(
    pools: list[KarpenterPool],
    prices: PriceTable,
    region: str,
    zones: list[str],
    observed_allocatable: dict[str, Requests],
    estimate,
) -> list[Offering]:
    """Every priced (pool, type, capacity type) the pools' requirements allow, cheapest first.

    `observed_allocatable` (instance type -> allocatable seen on this cluster's nodes) wins over the
    catalog estimate `estimate(shape)`, so new nodes get exactly what this cluster's AMI gives.
    """
    found = []
    for pool in pools:
        for name in prices.priced_types(region):
            shape = prices.instance_types[name]
            for capacity in CAPACITY_TYPES:
                quote = prices.quote(name, region, capacity)
                if quote is None:
                    continue
                labels = {**_requirement_labels(pool), **type_labels(name, shape), **pool.labels}
                labels[pool.node_label] = pool.name
                labels[CAPACITY_TYPE_LABEL] = capacity
                allowed_zones = [z for z in (zones or [""]) if _pool_allows(pool, labels, z)]
                if not allowed_zones:
                    continue
                allocatable = observed_allocatable.get(name) or estimate(shape)
                found.append(
                    Offering(pool, name, shape, capacity, tuple(allowed_zones), quote.hourly, quote.uncertain,
                             allocatable, labels)
                )
    return sorted(found, key=lambda o: (o.hourly, o.key))


def _requirement_labels(pool: KarpenterPool) -> dict[str, str]:
    """Labels Karpenter derives from single-valued In requirements on custom keys."""
    return {
        r["key"]: str(r["values"][0])
        for r in pool.requirements
        if r.get("operator") == "In" and len(r.get("values") or []) == 1 and r.get("key") != ZONE_LABEL
    }


def _pool_allows(pool: KarpenterPool, labels: dict[str, str], zone: str) -> bool:
    """The pool's requirements on well-known keys hold for a node of these labels in this zone.

    Requirements on keys a node of this type does not carry (custom labels) are labels Karpenter sets,
    not filters, so they do not exclude the type.
    """
    full = {**labels, ZONE_LABEL: zone} if zone else labels
    for req in pool.requirements:
        key = req.get("key")
        if key == ZONE_LABEL and not zone:
            continue
        if key not in full and req.get("operator") in ("In", "Gt", "Lt", "Gte", "Lte"):
            continue
        if not requirement_holds(req, full):
            return False
    return True


def api_group(api_version: str) -> str:
    return split_api_version(api_version)[0]
