"""Facts the agents work out from one cluster's snapshot alone (its cost report, node loads, spot share, recorded
metric names), declared here so that the worker process reading a big fleet's snapshot works them out too
(tools/cluster/prefetch.py) and the agents pick them up instead of computing them in the plan's own process;
without a worker they are computed where they are asked for, the same way."""

from __future__ import annotations

from upgradectl.cost_models import CostReport
from upgradectl.tools.cluster.fleet import FleetCluster
from upgradectl.tools.cluster.prefetch import Derived, derived_fact
from upgradectl.tools.cluster.resources import NodeLoad, node_loads
from upgradectl.tools.cluster.sources import ClusterSource, recorded_series
from upgradectl.tools.cost.kpis import analyze_cluster, spot_cpu_share
from upgradectl.tools.cost.prices import load_prices
from upgradectl.tools.knowledge.loader import ToolKnowledge


def _priced(source: ClusterSource, region: str, provider: str) -> CostReport:
    return analyze_cluster(source, load_prices(), region, provider)


def recorded_metric_names(source: ClusterSource) -> set[str] | None:
    """Metric names in the snapshot's recorded samples; None when the source records none."""
    files = getattr(source, "metrics_files", lambda: [])()
    if not files:
        return None
    return {series.name for file in files for series in recorded_series(file)}


def _node_loads(source: ClusterSource) -> list[NodeLoad]:
    return node_loads(source.objects("v1", "Node"), source.objects("v1", "Pod"))


METRIC_NAMES = Derived(("recorded-metric-names",), recorded_metric_names)
NODE_LOADS = Derived(("node-loads",), _node_loads)


def cost_fact(c: FleetCluster) -> Derived:
    """The cluster's cost report with the bundled prices, in the fleet's region (else the snapshot's)."""
    region = c.entry.region or str((getattr(c.source, "meta", {}) or {}).get("region", ""))
    return Derived(("cost-report", region, c.entry.provider), _priced, (region, c.entry.provider), kept_as=CostReport)


def spot_share_fact(c: FleetCluster) -> Derived:
    """The share of the cluster's workload CPU requests on spot nodes."""
    return Derived(("spot-cpu-share", c.entry.region), spot_cpu_share, (c.entry.region,))


def snapshot_facts(knowledge: ToolKnowledge, c: FleetCluster) -> tuple[Derived, ...]:
    """What a plan of this tool will work out from each cluster's snapshot: the recorded metric names (validation
    criteria); for a tool that cycles nodes also the node loads and cost report (cost opportunities) and, with
    interruption handling to check, the spot share (application impact)."""
    if not knowledge.cycles_nodes:
        return (METRIC_NAMES,)
    return (METRIC_NAMES, NODE_LOADS, cost_fact(c), *((spot_share_fact(c),) if knowledge.interruption_handling else ()))


def cluster_fact(c: FleetCluster, derived: Derived) -> object:
    """The fact's value for this cluster: from the worker that read its snapshot, else computed now."""
    return derived_fact(c.source, derived.key, lambda: derived.value(c.source))
