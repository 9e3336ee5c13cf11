"""Kubernetes resource quantities and pod/node arithmetic shared by impact and cost analysis."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")


class QuantityError(ValueError):
    pass


def quantity(value: Any) -> float:
    """Parse a Kubernetes quantity ('250m', '1.5', '512Mi', '2Gi') into base units (cores, bytes)."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        raise QuantityError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


@dataclass(frozen=True)
class Requests:
    cpu: float = 0.0  # cores
    memory: float = 0.0  # bytes

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu + other.cpu, self.memory + other.memory)


def _request_key(spec: dict[str, Any]) -> tuple:
    """Everything pod_requests reads from a pod spec, as raw values: the replicas of a workload share it."""

    def raw(containers: list[dict[str, Any]] | None) -> tuple:
        reqs = [((c.get("resources") or {}).get("requests") or {}, c.get("restartPolicy")) for c in containers or []]
        return tuple((r.get("cpu", 0), r.get("memory", 0), policy) for r, policy in reqs)

    overhead = spec.get("overhead") or {}
    return raw(spec.get("containers", [])), raw(spec.get("initContainers")), overhead.get("cpu", 0), \
        overhead.get("memory", 0)


_parsed_requests: dict[tuple, Requests] = {}


def pod_requests(pod: dict[str, Any]) -> Requests:
    """Effective scheduling requests, as the scheduler computes them, plus overhead; parsed once per distinct
    set of raw requests (at 50,000 pods the quantity parsing showed in every analysis that reads them).

    Regular init containers run one at a time before the app; sidecars (init containers with
    restartPolicy: Always, Kubernetes 1.29+) keep running next to everything started after them. So the
    pod needs the larger of: app containers plus every sidecar, and for each regular init container, its
    own request plus the sidecars started before it.
    """
    spec = pod.get("spec", {})
    try:
        key = _request_key(spec)
        known = _parsed_requests.get(key)
    except (TypeError, AttributeError):  # malformed (unhashable or not a mapping): parse it as it is
        return _parse_requests(spec)
    if known is None:
        known = _parsed_requests[key] = _parse_requests(spec)
    return known


def _parse_requests(spec: dict[str, Any]) -> Requests:

    def request(c: dict[str, Any]) -> Requests:
        req = (c.get("resources") or {}).get("requests") or {}
        return Requests(quantity(req.get("cpu", 0)), quantity(req.get("memory", 0)))

    main = Requests()
    for c in spec.get("containers", []) or []:
        main = main + request(c)
    sidecars = Requests()
    cpu, mem = 0.0, 0.0
    for c in spec.get("initContainers", []) or []:
        if c.get("restartPolicy") == "Always":
            sidecars = sidecars + request(c)
            peak = sidecars
        else:
            peak = sidecars + request(c)
        cpu, mem = max(cpu, peak.cpu), max(mem, peak.memory)
    cpu, mem = max(cpu, main.cpu + sidecars.cpu), max(mem, main.memory + sidecars.memory)
    overhead = spec.get("overhead") or {}
    return Requests(cpu + quantity(overhead.get("cpu", 0)), mem + quantity(overhead.get("memory", 0)))


@dataclass
class NodeLoad:
    """A node with what is requested on it."""

    name: str
    labels: dict[str, str]
    allocatable: Requests
    requested: Requests = Requests()
    pods: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cpu_utilization(self) -> float:
        return self.requested.cpu / self.allocatable.cpu if self.allocatable.cpu else 0.0

    @property
    def memory_utilization(self) -> float:
        return self.requested.memory / self.allocatable.memory if self.allocatable.memory else 0.0

    @property
    def utilization(self) -> float:
        """The binding dimension: the higher of CPU and memory requested/allocatable."""
        return max(self.cpu_utilization, self.memory_utilization)


def is_active(pod: dict[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") in ("Running", "Pending") and bool(pod.get("spec", {}).get("nodeName"))


def node_loads(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[NodeLoad]:
    """Per node: allocatable and the sum of requests of the active pods bound to it."""
    loads = {}
    for node in nodes:
        alloc = node.get("status", {}).get("allocatable", {})
        loads[node["metadata"]["name"]] = NodeLoad(
            node["metadata"]["name"],
            dict(node["metadata"].get("labels", {})),
            Requests(quantity(alloc.get("cpu", 0)), quantity(alloc.get("memory", 0))),
        )
    for pod in pods:
        if not is_active(pod):
            continue
        load = loads.get(pod["spec"]["nodeName"])
        if load is not None:
            load.requested = load.requested + pod_requests(pod)
            load.pods.append(pod)
    return sorted(loads.values(), key=lambda n: n.name)


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def capacity_type(labels: dict[str, str]) -> str:
    """'spot' or 'on-demand' from the node labels the providers set; '' when unknown.

    Karpenter sets karpenter.sh/capacity-type; EKS managed node groups eks.amazonaws.com/capacityType
    (ON_DEMAND/SPOT); GKE cloud.google.com/gke-spot or gke-preemptible on spot nodes, and a GKE node pool
    node without them is on-demand.
    """
    if labels.get("cloud.google.com/gke-spot") == "true" or labels.get("cloud.google.com/gke-preemptible") == "true":
        return "spot"
    value = labels.get("karpenter.sh/capacity-type") or labels.get("eks.amazonaws.com/capacityType", "")
    value = value.lower().replace("_", "-")
    if not value and "cloud.google.com/gke-nodepool" in labels:
        return "on-demand"
    return {"spot": "spot", "on-demand": "on-demand"}.get(value, "")
