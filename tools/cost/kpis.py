"""Cost and bin-packing analysis of one cluster: the seed's Karpenter KPIs, now and after consolidation.

KPI definitions (the same for the current and the projected cluster):
- utilization of a node = max(CPU, memory) requested / allocatable, requests of its active pods
  (Running or Pending and bound), DaemonSet pods included; bin-packing efficiency = share of nodes
  at or above 80%.
- spot share of nodes; spot share of requests = workload (non-DaemonSet) pod CPU/memory requests on
  spot nodes over all workload requests.
- hourly cost = sum of node prices from the dated price table (tools/knowledge/data/cost/prices.yaml or
  --prices); cost per pod-hour = hourly cost / active workload pods (DaemonSet pods excluded: they
  grow with the node count and would flatter a wasteful cluster).
- DaemonSet overhead = DaemonSet pod requests over allocatable.
- scale-up time = Karpenter's pod startup time quantiles from recorded metrics, when present.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from upgradectl.cost_models import (
    HOURS_PER_MONTH,
    ClusterKPIs,
    Consolidation,
    CostComparison,
    CostReport,
    KPIDelta,
    NodeCost,
    PinnedPods,
    PoolCost,
    PriceTableRef,
    ScaleUpTime,
)
from upgradectl.tools.cluster.resources import capacity_type
from upgradectl.tools.cluster.sources import ClusterSource, SourceError, recorded_series
from upgradectl.tools.cost.consolidation import (
    ActivePod,
    ProjectedNode,
    Simulation,
    _node_allocatable,
    active_pods,
    daemonset_overhead,
    node_manager,
    node_price,
    simulate,
)
from upgradectl.tools.cost.nodepools import node_zone
from upgradectl.tools.cost.placement_check import check_simulation
from upgradectl.tools.cost.prices import GIB, PriceTable, load_prices

HIGH_UTILIZATION = 0.80
HISTOGRAM_BINS = 10
STARTUP_METRICS = ("karpenter_pods_startup_duration_seconds", "karpenter_pods_startup_time_seconds")


def utilization_bin(utilization: float) -> int:
    """Histogram bin of a utilization: 0 for [0, 10%), ..., 9 for >= 90%."""
    return min(HISTOGRAM_BINS - 1, max(0, int(math.floor(utilization * HISTOGRAM_BINS + 1e-9))))


def kpis(rows: list[NodeCost]) -> ClusterKPIs:
    """The KPIs of a set of nodes (see the module docstring for each definition)."""
    n = len(rows)
    histogram = [0] * HISTOGRAM_BINS
    for r in rows:
        histogram[utilization_bin(r.utilization)] += 1
    high = sum(r.utilization >= HIGH_UTILIZATION - 1e-12 for r in rows)
    spot = [r for r in rows if r.capacity_type == "spot"]
    on_demand = [r for r in rows if r.capacity_type == "on-demand"]
    work_cpu = sum(r.cpu_requested - r.daemonset_cpu for r in rows)
    work_mem = sum(r.memory_requested_gib - r.daemonset_memory_gib for r in rows)
    spot_cpu = sum(r.cpu_requested - r.daemonset_cpu for r in spot)
    spot_mem = sum(r.memory_requested_gib - r.daemonset_memory_gib for r in spot)
    cpu_alloc = sum(r.cpu_allocatable for r in rows)
    mem_alloc = sum(r.memory_allocatable_gib for r in rows)
    ds_pods = sum(r.daemonset_pods for r in rows)
    workload = sum(r.pods - r.daemonset_pods for r in rows)
    hourly = sum(r.hourly_price or 0.0 for r in rows)
    return ClusterKPIs(
        nodes=n,
        karpenter_nodes=sum(r.manager == "karpenter" for r in rows),
        nodes_high=high,
        bin_packing_efficiency=high / n if n else 0.0,
        utilization_histogram=histogram,
        cpu_allocatable=cpu_alloc,
        cpu_requested=sum(r.cpu_requested for r in rows),
        memory_allocatable_gib=mem_alloc,
        memory_requested_gib=sum(r.memory_requested_gib for r in rows),
        cpu_utilization=sum(r.cpu_requested for r in rows) / cpu_alloc if cpu_alloc else 0.0,
        memory_utilization=sum(r.memory_requested_gib for r in rows) / mem_alloc if mem_alloc else 0.0,
        spot_nodes=len(spot),
        on_demand_nodes=len(on_demand),
        unknown_capacity_nodes=n - len(spot) - len(on_demand),
        spot_node_share=len(spot) / n if n else 0.0,
        spot_cpu_request_share=spot_cpu / work_cpu if work_cpu else 0.0,
        spot_memory_request_share=spot_mem / work_mem if work_mem else 0.0,
        workload_pods=workload,
        daemonset_pods=ds_pods,
        daemonset_cpu=sum(r.daemonset_cpu for r in rows),
        daemonset_memory_gib=sum(r.daemonset_memory_gib for r in rows),
        daemonset_cpu_share=sum(r.daemonset_cpu for r in rows) / cpu_alloc if cpu_alloc else 0.0,
        hourly_cost=hourly,
        monthly_cost=hourly * HOURS_PER_MONTH,
        cost_per_pod_hour=hourly / workload if workload else None,
        unpriced_nodes=sorted(r.name for r in rows if r.hourly_price is None),
    )


def _row(node: ProjectedNode, pods: list[ActivePod], extra_ds: tuple[float, float, int] = (0.0, 0.0, 0)) -> NodeCost:
    """A NodeCost from a node and the pods on it; extra_ds is DaemonSet overhead not present as pod objects."""
    cpu = sum(p.requests.cpu for p in pods) + extra_ds[0]
    mem = sum(p.requests.memory for p in pods) / GIB + extra_ds[1]
    ds = [p for p in pods if p.daemonset]
    ds_cpu = sum(p.requests.cpu for p in ds) + extra_ds[0]
    ds_mem = sum(p.requests.memory for p in ds) / GIB + extra_ds[1]
    alloc_cpu, alloc_mem = node.allocatable.cpu, node.allocatable.memory / GIB
    util = max(cpu / alloc_cpu if alloc_cpu else 0.0, mem / alloc_mem if alloc_mem else 0.0)
    return NodeCost(
        name=node.name,
        manager=node.manager,  # type: ignore[arg-type]
        pool=node.pool,
        instance_type=node.instance_type,
        capacity_type=node.capacity_type,  # type: ignore[arg-type]
        zone=node.zone,
        cpu_allocatable=alloc_cpu,
        cpu_requested=cpu,
        memory_allocatable_gib=alloc_mem,
        memory_requested_gib=mem,
        daemonset_cpu=ds_cpu,
        daemonset_memory_gib=ds_mem,
        daemonset_pods=len(ds) + extra_ds[2],
        pods=len(pods) + extra_ds[2],
        utilization=util,
        hourly_price=node.hourly,
        price_uncertain=node.price_uncertain,
        kept=node.existing,
        reason=node.reason,
    )


def current_nodes(source: ClusterSource, prices: PriceTable, region: str, pods: list[ActivePod]) -> list[NodeCost]:
    """Every node as recorded, with its pods' requests and its price."""
    by_node: dict[str, list[ActivePod]] = defaultdict(list)
    for p in pods:
        by_node[p.node].append(p)
    rows = []
    for node in sorted(source.objects("v1", "Node"), key=lambda n: n["metadata"]["name"]):
        labels = node["metadata"].get("labels") or {}
        manager, pool = node_manager(labels)
        alloc, max_pods = _node_allocatable(node)
        hourly, uncertain = node_price(prices, region, labels)
        projected = ProjectedNode(
            node["metadata"]["name"], True, manager, pool,
            labels.get("node.kubernetes.io/instance-type") or labels.get("beta.kubernetes.io/instance-type", ""),
            capacity_type(labels), node_zone(labels), labels, [], alloc, max_pods, hourly, uncertain,
        )
        rows.append(_row(projected, by_node.get(projected.name, [])))
    return rows


def projected_nodes(sim: Simulation) -> list[NodeCost]:
    """The projected nodes with the pods the simulation put there (new nodes: plus their DaemonSets)."""
    by_node: dict[str, list[ActivePod]] = defaultdict(list)
    for index, name in sim.placement.items():
        by_node[name].append(sim.pods[index])
    rows = []
    for node in sim.nodes:
        extra = (0.0, 0.0, 0)
        if not node.existing:
            ds, count = daemonset_overhead(sim.daemonsets, node.labels, node.taints)
            extra = (ds.cpu, ds.memory / GIB, count)
        rows.append(_row(node, by_node.get(node.name, []), extra))
    return rows


def scale_up_time(source: ClusterSource) -> ScaleUpTime | None:
    """Pod startup time from recorded metrics: the 1.0+ histogram or the pre-1.0 summary quantiles."""
    files = getattr(source, "metrics_files", lambda: [])()
    quantiles: dict[str, list[float]] = defaultdict(list)
    buckets: dict[str, list[float]] = {}
    summary_name = ""
    for file in files:
        for series in recorded_series(Path(file)):
            metric, name = series.metric, series.name
            values = [v for v in series.values if not math.isnan(v)]
            if not values:
                continue
            if name in STARTUP_METRICS and "quantile" in metric:
                quantiles[metric["quantile"]].extend(values)
                summary_name = name
            elif name == f"{STARTUP_METRICS[0]}_bucket" and "le" in metric:
                buckets[metric["le"]] = [values[0], values[-1]]
    if buckets:
        return _from_histogram(buckets, files)
    if quantiles:
        means = {q: sum(v) / len(v) for q, v in sorted(quantiles.items(), key=lambda kv: float(kv[0]))}
        samples = max(len(v) for v in quantiles.values())
        return ScaleUpTime(metric=summary_name, quantiles=means, samples=samples,
                           source=f"recorded summary quantiles, mean over the window ({', '.join(map(str, files))})")
    return None


def _from_histogram(buckets: dict[str, list[float]], files) -> ScaleUpTime | None:
    """histogram_quantile over the increase of each bucket across the recorded window."""
    bounds = sorted(((math.inf if le == "+Inf" else float(le)), end - start) for le, (start, end) in buckets.items())
    total = bounds[-1][1] if bounds else 0.0
    if total <= 0:
        return None
    out = {}
    for q in (0.5, 0.9, 0.99):
        rank, prev_le, prev_count = q * total, 0.0, 0.0
        for le, count in bounds:
            if count >= rank:
                if math.isinf(le):
                    out[str(q)] = prev_le
                else:
                    span = count - prev_count
                    out[str(q)] = prev_le + (le - prev_le) * ((rank - prev_count) / span if span else 1.0)
                break
            prev_le, prev_count = le, count
    return ScaleUpTime(metric=STARTUP_METRICS[0], quantiles=out, samples=int(total),
                       source=f"recorded histogram buckets, increase over the window ({', '.join(map(str, files))})")


def _pool_costs(before: list[NodeCost], after: list[NodeCost]) -> list[PoolCost]:
    keys = sorted({(r.pool or "(none)", r.manager) for r in [*before, *after]})
    out = []
    for pool, manager in keys:
        b = [r for r in before if (r.pool or "(none)", r.manager) == (pool, manager)]
        a = [r for r in after if (r.pool or "(none)", r.manager) == (pool, manager)]
        out.append(PoolCost(pool=pool, manager=manager, nodes_before=len(b),  # type: ignore[arg-type]
                            hourly_before=sum(r.hourly_price or 0 for r in b), nodes_after=len(a),
                            hourly_after=sum(r.hourly_price or 0 for r in a)))
    return out


def price_ref(prices: PriceTable, rows: list[NodeCost]) -> PriceTableRef:
    return PriceTableRef(as_of=prices.as_of, sources=sorted(set(prices.sources.values())), override=prices.override,
                         uncertain=any(r.price_uncertain for r in rows))


def analyze_cluster(source: ClusterSource, prices: PriceTable, region: str, provider: str = "") -> CostReport:
    """KPIs now, the consolidation projection with its lower bound and checker verdict, and scale-up time."""
    observed = source.observed_at().isoformat()
    incomplete: list[str] = []
    notes: list[str] = []
    if region not in prices.regions:
        incomplete.append(
            f"no prices for region {region or '(none)'} in the price table: pass --prices FILE with a "
            f"regions.{region or 'REGION'} block"
        )
    has_karpenter = any(
        node_manager((n.get("metadata") or {}).get("labels") or {})[0] == "karpenter"
        for n in source.objects("v1", "Node")
    )
    sim = simulate(source, prices, region) if has_karpenter else None
    pods = sim.pods if sim else active_pods(source.objects("v1", "Pod"))
    rows = current_nodes(source, prices, region, pods)
    current = kpis(rows)
    if current.unpriced_nodes:
        incomplete.append(f"{len(current.unpriced_nodes)} node(s) have no price (instance type or region missing "
                          f"from the price table): {', '.join(current.unpriced_nodes[:5])}")
    try:
        scale_up = scale_up_time(source)
    except SourceError as exc:  # a broken metrics file: that KPI could not be measured
        scale_up = None
        incomplete.append(f"scale-up time not measured: {exc}")
    report = CostReport(
        cluster=source.name, provider=provider, region=region, observed_at=observed, prices=price_ref(prices, rows),
        current=current, nodes=rows, scale_up=scale_up, incomplete=incomplete, notes=notes,
    )
    if sim is None:
        notes.append("no Karpenter-managed nodes: nothing to consolidate (node groups stay as they are)")
        return report.model_copy(update={"notes": notes})
    after_rows = projected_nodes(sim)
    projected = kpis(after_rows)
    violations = check_simulation(source, sim)
    before_hourly = current.hourly_cost
    after_hourly = projected.hourly_cost
    bound_total = sim.fixed_hourly + sim.bound.value
    savings = before_hourly - after_hourly
    consolidation = Consolidation(
        movable_pods=sim.movable,
        pinned=[PinnedPods(reason=r, pods=len(keys), examples=sorted(keys)[:5])
                for r, keys in sorted(sim.pinned.items())],
        kept_nodes=sum(1 for n in sim.nodes if n.existing and n.manager == "karpenter"),
        new_nodes=sum(1 for n in sim.nodes if not n.existing),
        removed_nodes=current.karpenter_nodes - sum(1 for n in sim.nodes if n.existing and n.manager == "karpenter"),
        candidate_offerings=len(sim.offerings),
        hourly_before=before_hourly,
        hourly_after=after_hourly,
        lower_bound_hourly=bound_total,
        movable_hourly_after=sim.new_hourly,
        movable_lower_bound_hourly=sim.bound.value,
        ratio_to_bound=after_hourly / bound_total if bound_total > 0 else 1.0,
        movable_ratio_to_bound=sim.new_hourly / sim.bound.value if sim.bound.value > 0 else 1.0,
        current_ratio_to_bound=before_hourly / bound_total if bound_total > 0 else 1.0,
        savings_hourly=savings,
        savings_monthly=savings * HOURS_PER_MONTH,
        savings_share=savings / before_hourly if before_hourly else 0.0,
        bound_method=sim.bound.method,
        placements_checked=len(sim.placement),
        violations=violations,
        pool_limit_warnings=sim.pool_limit_warnings,
        seconds=sim.seconds,
        assumptions=sim.assumptions,
    )
    if after_hourly < bound_total - 1e-6:
        violations.append(f"projected cost {after_hourly:.4f}/h is below the lower bound {bound_total:.4f}/h (a bug)")
    return report.model_copy(update={
        "projected": projected, "consolidation": consolidation, "projected_nodes": after_rows,
        "pools": _pool_costs(rows, after_rows), "prices": price_ref(prices, rows + after_rows),
    })


KPI_DIRECTIONS = {  # KPI -> +1 when higher is better, -1 when lower is better, 0 neutral
    "nodes": 0,
    "bin_packing_efficiency": 1,
    "cpu_utilization": 1,
    "memory_utilization": 1,
    "spot_node_share": 1,
    "spot_cpu_request_share": 1,
    "spot_memory_request_share": 1,
    "workload_pods": 0,
    "daemonset_cpu_share": -1,
    "hourly_cost": -1,
    "monthly_cost": -1,
    "cost_per_pod_hour": -1,
}


def compare(before: CostReport, after: CostReport) -> CostComparison:
    """Stage 6: the KPI deltas between two analyses of the same cluster (before and after an upgrade)."""
    deltas = []
    for kpi, direction in KPI_DIRECTIONS.items():
        b, a = getattr(before.current, kpi), getattr(after.current, kpi)
        delta = None if a is None or b is None else a - b
        share = delta / b if delta is not None and b else None
        better = None if delta is None or direction == 0 or abs(delta) < 1e-12 else (delta * direction > 0)
        deltas.append(KPIDelta(kpi=kpi, before=b, after=a, delta=delta, delta_share=share, better=better))
    for name in ("0.5", "0.9", "0.99"):
        b = before.scale_up.quantiles.get(name) if before.scale_up else None
        a = after.scale_up.quantiles.get(name) if after.scale_up else None
        delta = None if a is None or b is None else a - b
        deltas.append(KPIDelta(kpi=f"scale_up_p{round(float(name) * 100)}_seconds", before=b, after=a, delta=delta,
                               delta_share=delta / b if delta is not None and b else None,
                               better=None if delta is None or abs(delta) < 1e-12 else delta < 0))
    return CostComparison(
        cluster=after.cluster, before_observed_at=before.observed_at, after_observed_at=after.observed_at,
        before=before, after=after, deltas=deltas,
        monthly_savings=(before.current.hourly_cost - after.current.hourly_cost) * HOURS_PER_MONTH,
    )


def spot_cpu_share(source: ClusterSource, region: str = "") -> float:
    """Share of workload (non-DaemonSet) CPU requests running on spot nodes: the seed's spot-utilization KPI."""
    pods = active_pods(source.objects("v1", "Pod"))
    return kpis(current_nodes(source, load_prices(), region, pods)).spot_cpu_request_share
