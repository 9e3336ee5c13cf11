"""Cost and bin-packing payloads: KPIs per cluster, the consolidation projection and its lower bound.

Frozen pydantic models like the rest of upgradectl.models (which imports CostReport from here for the
Plan's optional cost section). Money is USD per hour unless a field says monthly (730 h); CPU is in
cores, memory in GiB, utilization and shares are fractions 0..1.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HOURS_PER_MONTH = 730
CapacityType = Literal["spot", "on-demand", ""]
NodeManager = Literal["karpenter", "node-group", "other"]
PlotKind = Literal["utilization-histogram", "cost-per-pool"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeCost(_Frozen):
    """One node: what it offers, what is requested on it, and what it costs per hour."""

    name: str
    manager: NodeManager
    pool: str = Field(description="Karpenter Provisioner/NodePool, EKS node group or GKE node pool; '' if unknown")
    instance_type: str
    capacity_type: CapacityType
    zone: str = ""
    cpu_allocatable: float
    cpu_requested: float
    memory_allocatable_gib: float
    memory_requested_gib: float
    daemonset_cpu: float = 0.0
    daemonset_memory_gib: float = 0.0
    daemonset_pods: int = 0
    pods: int = Field(description="Active pods bound to the node, DaemonSet pods included")
    utilization: float = Field(description="max(CPU, memory) requested / allocatable")
    hourly_price: float | None = Field(description="None when the price table has no entry for the node")
    price_uncertain: bool = False
    kept: bool = Field(default=True, description="Projected nodes: an existing node that stays (else a new node)")
    reason: str = Field(default="", description="Why an existing node stays in the projection")


class ClusterKPIs(_Frozen):
    """The seed's Karpenter KPIs for one set of nodes (current or projected)."""

    nodes: int
    karpenter_nodes: int
    nodes_high: int = Field(description="Nodes whose utilization is >= 80% (the seed's bin-packing efficiency)")
    bin_packing_efficiency: float = Field(description="nodes_high / nodes")
    utilization_histogram: list[int] = Field(description="Node counts per 10% utilization bin; the last is >= 90%")
    cpu_allocatable: float
    cpu_requested: float
    memory_allocatable_gib: float
    memory_requested_gib: float
    cpu_utilization: float
    memory_utilization: float
    spot_nodes: int
    on_demand_nodes: int
    unknown_capacity_nodes: int
    spot_node_share: float
    spot_cpu_request_share: float = Field(description="Share of workload pod CPU requests on spot nodes")
    spot_memory_request_share: float
    workload_pods: int = Field(description="Active pods not owned by a DaemonSet")
    daemonset_pods: int
    daemonset_cpu: float
    daemonset_memory_gib: float
    daemonset_cpu_share: float = Field(description="DaemonSet CPU requests / allocatable CPU")
    hourly_cost: float = Field(description="Sum of priced nodes' hourly prices")
    monthly_cost: float
    cost_per_pod_hour: float | None = Field(description="hourly_cost / workload_pods")
    unpriced_nodes: list[str] = Field(default_factory=list)


class PoolCost(_Frozen):
    """Before/after nodes and cost of one node pool (Karpenter pool, node group or GKE pool)."""

    pool: str
    manager: NodeManager
    nodes_before: int
    hourly_before: float
    nodes_after: int
    hourly_after: float


class ScaleUpTime(_Frozen):
    """Pod startup time quantiles from recorded Karpenter metrics (time from pod creation to running)."""

    metric: str
    quantiles: dict[str, float] = Field(description="quantile -> seconds, mean of the recorded window")
    samples: int
    source: str


class PinnedPods(_Frozen):
    reason: str
    pods: int
    examples: list[str] = Field(default_factory=list)


class Consolidation(_Frozen):
    """What repacking the Karpenter nodes' pods onto the cheapest allowed nodes would give."""

    movable_pods: int
    pinned: list[PinnedPods] = Field(default_factory=list)
    kept_nodes: int = Field(description="Karpenter nodes that stay because they hold pinned pods")
    new_nodes: int
    removed_nodes: int
    candidate_offerings: int = Field(description="(pool, instance type, capacity type) choices the packer had")
    hourly_before: float = Field(description="Whole cluster, current")
    hourly_after: float = Field(description="Whole cluster, projected")
    lower_bound_hourly: float = Field(description="Whole cluster: fixed nodes + LP relaxation for movable pods")
    movable_hourly_after: float = Field(description="New nodes only")
    movable_lower_bound_hourly: float = Field(description="LP relaxation value for the movable pods")
    ratio_to_bound: float = Field(description="hourly_after / lower_bound_hourly (>= 1)")
    movable_ratio_to_bound: float = Field(description="movable_hourly_after / movable_lower_bound_hourly")
    current_ratio_to_bound: float = Field(description="hourly_before / lower_bound_hourly")
    savings_hourly: float
    savings_monthly: float
    savings_share: float = Field(description="savings_hourly / hourly_before")
    bound_method: str
    placements_checked: int
    violations: list[str] = Field(default_factory=list)
    pool_limit_warnings: list[str] = Field(default_factory=list)
    seconds: float
    assumptions: list[str] = Field(default_factory=list)


class PlotRef(_Frozen):
    kind: PlotKind
    title: str
    path: str = Field(description="File name relative to the report's directory")
    counts: dict[str, list[float]] = Field(default_factory=dict, description="The numbers drawn, for checking")


class PriceTableRef(_Frozen):
    as_of: str
    sources: list[str]
    override: str = Field(default="", description="The --prices file merged over the bundled table, if any")
    uncertain: bool = Field(description="Some prices used are typical/averaged (spot) or unverified")


class CostReport(_Frozen):
    """Cost and bin-packing analysis of one cluster."""

    cluster: str
    provider: str = ""
    region: str = ""
    observed_at: str = ""
    prices: PriceTableRef
    current: ClusterKPIs
    projected: ClusterKPIs | None = None
    consolidation: Consolidation | None = None
    nodes: list[NodeCost] = Field(
        default_factory=list,
        description="Every current node with its requests and price (`upgradectl cost`; empty in a plan, whose "
        "current figures are the KPIs)",
    )
    projected_nodes: list[NodeCost] = Field(default_factory=list)
    pools: list[PoolCost] = Field(default_factory=list)
    scale_up: ScaleUpTime | None = None
    plots: list[PlotRef] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    incomplete: list[str] = Field(default_factory=list, description="What could not be priced or measured")


class KPIDelta(_Frozen):
    kpi: str
    before: float | None
    after: float | None
    delta: float | None
    delta_share: float | None = Field(description="delta / before")
    better: bool | None = Field(description="Whether the change is an improvement; None when neutral or unknown")


class CostComparison(_Frozen):
    """Stage 6 'Performance and cost analysis': the KPIs of two snapshots, before and after an upgrade."""

    cluster: str
    before_observed_at: str
    after_observed_at: str
    before: CostReport
    after: CostReport
    deltas: list[KPIDelta]
    monthly_savings: float
