"""Independent checker of a consolidation projection: every placement against every constraint.

Deliberately shares no scheduling code with the packer (tools/cost/consolidation.py, tools/cost/binpack.py,
tools/cost/nodepools.py): it re-reads the raw pod, node, PodDisruptionBudget, DaemonSet and pool objects and
re-implements requests, selectors, affinity, tolerations and pool requirements in the plainest way, so
a bug in the packer's encoding shows up here as a violation instead of being repeated.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from upgradectl.tools.cluster.sources import ClusterSource

_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "m": 0.001, "": 1.0, "k": 1e3, "M": 1e6,
          "G": 1e9, "T": 1e12}
_NUM = re.compile(r"^([0-9.]+(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)$")
TOLERANCE = 1e-6


def _q(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    m = _NUM.match(str(value).strip())
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"bad quantity {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


_seen_requests: dict[tuple, tuple[float, float]] = {}


def _requests(spec: dict[str, Any]) -> tuple[float, float]:
    """Requests of a pod spec; worked out once per distinct set of raw container requests (replicas share one)."""
    try:
        key = tuple(
            (str((c.get("resources") or {}).get("requests")), c.get("restartPolicy"))
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
        ) + (len(spec.get("containers") or []), str(spec.get("overhead")))
    except AttributeError:  # not the shape of a pod spec: computed (and failing) as it is
        return _compute_requests(spec)
    if key not in _seen_requests:
        _seen_requests[key] = _compute_requests(spec)
    return _seen_requests[key]


def _compute_requests(spec: dict[str, Any]) -> tuple[float, float]:
    def one(c: dict[str, Any]) -> tuple[float, float]:
        r = (c.get("resources") or {}).get("requests") or {}
        return _q(r.get("cpu", 0)), _q(r.get("memory", 0))

    inits = spec.get("initContainers") or []
    sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]  # keep running beside the app
    cpu = sum(one(c)[0] for c in (spec.get("containers") or []) + sidecars)
    mem = sum(one(c)[1] for c in (spec.get("containers") or []) + sidecars)
    for i, c in enumerate(inits):
        if c.get("restartPolicy") == "Always":
            continue
        before = [s for s in inits[:i] if s.get("restartPolicy") == "Always"]  # a regular init container
        cpu = max(cpu, one(c)[0] + sum(one(s)[0] for s in before))  # runs beside the sidecars before it
        mem = max(mem, one(c)[1] + sum(one(s)[1] for s in before))
    over = spec.get("overhead") or {}
    return cpu + _q(over.get("cpu", 0)), mem + _q(over.get("memory", 0))


def _expr(e: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, vals = e.get("key"), e.get("operator"), [str(v) for v in e.get("values") or []]
    has = key in labels
    if op == "In":
        return has and labels[key] in vals
    if op == "NotIn":
        return not has or labels[key] not in vals
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt", "Gte", "Lte") and has:
        try:
            a, b = int(labels[key]), int(vals[0])
        except (ValueError, IndexError):
            return False
        return (a > b) if op == "Gt" else (a < b) if op == "Lt" else (a >= b) if op == "Gte" else (a <= b)
    return False


def _label_selector(sel: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    return all(_expr(e, labels) for e in sel.get("matchExpressions") or [])


def _node_selection_ok(spec: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != str(v) for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    req = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not req or not req.get("nodeSelectorTerms"):
        return True
    return any(all(_expr(e, labels) for e in t.get("matchExpressions") or []) for t in req["nodeSelectorTerms"])


def _tolerated(spec: dict[str, Any], taints: list[dict[str, Any]]) -> list[str]:
    """Blocking taints the pod does not tolerate."""
    missing = []
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        ok = False
        for t in spec.get("tolerations") or []:
            if t.get("effect") and t["effect"] != taint.get("effect"):
                continue
            wildcard = t.get("operator") == "Exists" and not t.get("key")
            same_key = t.get("key") == taint.get("key")
            if wildcard or (same_key and (t.get("operator") == "Exists"
                                          or str(t.get("value", "")) == str(taint.get("value", "")))):
                ok = True
        if not ok:
            missing.append(f"{taint.get('key')}={taint.get('value', '')}:{taint.get('effect')}")
    return missing


def _must_stay(pod: dict[str, Any], pdb_zero: set[str]) -> str:
    meta = pod["metadata"]
    ann = meta.get("annotations") or {}
    for key in ("karpenter.sh/do-not-evict", "karpenter.sh/do-not-disrupt"):
        if str(ann.get(key, "")).lower() == "true":
            return key
    if not meta.get("ownerReferences"):
        return "no controller"
    if f"{meta.get('namespace')}/{meta.get('name')}" in pdb_zero:
        return "PDB allows no disruption"
    return ""


def _pdb_zero(pdbs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> set[str]:
    out = set()
    by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pods:
        by_ns[p["metadata"].get("namespace")].append(p)
    for pdb in pdbs:
        spec, ns = pdb.get("spec") or {}, pdb["metadata"].get("namespace")
        if spec.get("selector") is None:
            continue
        wanted = spec["selector"].get("matchLabels") or {}
        match = [p for p in by_ns[ns]
                 if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
                 and _label_selector(spec["selector"], p["metadata"].get("labels") or {})]
        total = len(match)

        def scaled(v: Any, total: int = total) -> int:
            if isinstance(v, str) and v.endswith("%"):
                return -(-int(v[:-1]) * total // 100)
            return int(v)

        if "maxUnavailable" in spec:
            allowed = scaled(spec["maxUnavailable"])
        elif "minAvailable" in spec:
            allowed = total - scaled(spec["minAvailable"])
        else:
            continue
        if allowed <= 0:
            out.update(f"{ns}/{p['metadata']['name']}" for p in match)
    return out


def _pool_objects(source: ClusterSource) -> dict[str, dict[str, Any]]:
    """name -> {'requirements': [...], 'taints': [...]} for Provisioners and NodePools."""
    out = {}
    for obj in source.objects_of_kind("Provisioner", "karpenter.sh"):
        spec = obj.get("spec") or {}
        out[obj["metadata"]["name"]] = {"requirements": spec.get("requirements") or [],
                                        "taints": spec.get("taints") or []}
    for obj in source.objects_of_kind("NodePool", "karpenter.sh"):
        inner = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        out[obj["metadata"]["name"]] = {"requirements": inner.get("requirements") or [],
                                        "taints": inner.get("taints") or []}
    return out


def check_simulation(source: ClusterSource, sim: Any) -> list[str]:
    """Every violated constraint of the projection, as readable lines (empty when all hold)."""
    raw_pods = [
        p for p in source.objects("v1", "Pod")
        if p.get("status", {}).get("phase") in ("Running", "Pending") and (p.get("spec") or {}).get("nodeName")
    ]
    raw_nodes = {n["metadata"]["name"]: n for n in source.objects("v1", "Node")}
    daemonsets = [((d.get("spec") or {}).get("template") or {}).get("spec") or {}
                  for d in source.objects_of_kind("DaemonSet", "apps")]
    pdb_zero = _pdb_zero(source.objects_of_kind("PodDisruptionBudget", "policy"), raw_pods)
    pools = _pool_objects(source)
    projected = {n.name: n for n in sim.nodes}
    problems: list[str] = []

    def key(pod: dict[str, Any]) -> str:
        return f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"

    placed = {key(sim.pods[i].obj): name for i, name in sim.placement.items()}
    if len(placed) != len(sim.placement):
        problems.append("a pod is placed more than once")
    load: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    anti_seen: dict[tuple[str, str], str] = {}
    for pod in raw_pods:
        k, spec = key(pod), pod.get("spec") or {}
        origin = spec["nodeName"]
        origin_labels = (raw_nodes.get(origin, {}).get("metadata") or {}).get("labels") or {}
        is_ds = any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences") or [])
        karpenter = "karpenter.sh/provisioner-name" in origin_labels or "karpenter.sh/nodepool" in origin_labels
        target = placed.get(k)
        if target is None:
            if not (is_ds and karpenter and origin not in projected):
                problems.append(f"{k}: not placed anywhere")
            continue
        if target not in projected:
            problems.append(f"{k}: placed on unknown node {target}")
            continue
        node = projected[target]
        cpu, mem = _requests(spec)
        slot = load[target]
        slot[0] += cpu
        slot[1] += mem
        slot[2] += 1
        if not karpenter and target != origin:
            problems.append(f"{k}: moved off {origin}, which Karpenter does not manage")
        if target == origin:
            continue
        if is_ds:
            problems.append(f"{k}: a DaemonSet pod was moved to {target}")
        if node.existing and node.manager != "karpenter":
            problems.append(f"{k}: moved onto {target}, which Karpenter does not manage")
        why = _must_stay(pod, pdb_zero)
        if why:
            problems.append(f"{k}: must stay on {origin} ({why}) but moved to {target}")
        if not _node_selection_ok(spec, node.labels):
            problems.append(f"{k}: nodeSelector/required affinity does not admit {target} ({node.instance_type} "
                            f"{node.capacity_type})")
        missing = _tolerated(spec, node.taints)
        if missing:
            problems.append(f"{k}: does not tolerate {', '.join(missing)} on {target}")
        if node.labels.get("karpenter.sh/capacity-type") == "spot":
            probe = {**node.labels, "karpenter.sh/capacity-type": "spot"}
            if not _node_selection_ok(spec, probe):
                problems.append(f"{k}: not spot-tolerant but placed on spot node {target}")
        if any("persistentVolumeClaim" in v for v in spec.get("volumes") or []):
            zone = origin_labels.get("topology.kubernetes.io/zone", "")
            if zone and node.labels.get("topology.kubernetes.io/zone") != zone:
                problems.append(f"{k}: has a volume in {zone} but moved to {target} in {node.zone}")
        for term in ((spec.get("affinity") or {}).get("podAntiAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or []:
            if term.get("topologyKey") == "kubernetes.io/hostname" and _label_selector(
                term.get("labelSelector") or {}, pod["metadata"].get("labels") or {}
            ):
                ident = (f"{pod['metadata'].get('namespace')}/{term.get('labelSelector')!r}", target)
                if ident in anti_seen:
                    problems.append(f"{k}: shares {target} with {anti_seen[ident]} despite required anti-affinity")
                anti_seen[ident] = k
    for name, node in projected.items():
        cpu, mem, count = load[name]
        if not node.existing:
            for ds in daemonsets:
                if _node_selection_ok(ds, node.labels) and not _tolerated(ds, node.taints):
                    c, m = _requests(ds)
                    cpu, mem, count = cpu + c, mem + m, count + 1
            pool = pools.get(node.pool)
            if pool is None:
                problems.append(f"{name}: pool {node.pool} is not recorded")
            else:
                for req in pool["requirements"]:
                    applies = req.get("key") in node.labels or req.get("operator") in ("NotIn", "DoesNotExist")
                    if applies and not _expr(req, node.labels):
                        problems.append(f"{name}: {node.instance_type} {node.capacity_type} in {node.zone} breaks "
                                        f"pool {node.pool} requirement {req}")
                for taint in pool["taints"]:
                    if not any(t.get("key") == taint.get("key") and t.get("effect") == taint.get("effect")
                               for t in node.taints):
                        problems.append(f"{name}: lacks pool {node.pool} taint {taint.get('key')}")
        if cpu > node.allocatable.cpu + TOLERANCE:
            problems.append(f"{name}: CPU requests {cpu:.3f} exceed allocatable {node.allocatable.cpu:.3f}")
        if mem > node.allocatable.memory * (1 + 1e-9) + 1:
            problems.append(f"{name}: memory requests {mem / 2**30:.3f}Gi exceed allocatable "
                            f"{node.allocatable.memory / 2**30:.3f}Gi")
        if count > node.max_pods:
            problems.append(f"{name}: {count} pods exceed max pods {node.max_pods}")
    return problems
