"""monitoring-analyst: cost and bin-packing KPIs, whether the metrics the gates need exist,
dashboards and alert rules the path breaks, the gates each stage must pass, and (for `upgradectl
baseline` / `validate`) those gates measured on a real Prometheus-compatible metrics source."""

from __future__ import annotations

from dataclasses import dataclass

from upgradectl.agents.base import TaskInput, TaskResult, make_finding
from upgradectl.agents.detection import detect_changes
from upgradectl.agents.snapshot_facts import METRIC_NAMES, NODE_LOADS, cluster_fact, cost_fact
from upgradectl.cost_models import CostReport
from upgradectl.models import Evidence, Finding, Gate, Subject
from upgradectl.tools.cluster.fleet import FleetCluster
from upgradectl.tools.cluster.resources import NodeLoad, capacity_type
from upgradectl.tools.knowledge.loader import GateSpec, ToolKnowledge
from upgradectl.tools.metrics.baselines import BaselineEntry, ClusterBaseline, backport_gate, lookup
from upgradectl.tools.metrics.gates import (
    fresh_series,
    inconclusive,
    judge,
    measure,
    present_metrics,
    record,
    scoped_query,
    utc,
    window_seconds,
    with_presence_note,
)
from upgradectl.tools.metrics.promql import PromClient, PromQLError, to_unix
from upgradectl.tools.metrics.storage_integrity import IntegrityBaseline, integrity_gates, record_integrity

AGENT = "monitoring-analyst"
HIGH_UTILIZATION = 0.80
LOW_UTILIZATION = 0.50
LIVENESS_SECONDS = 300  # some gate metric of the cluster must have a sample this close to the evaluation time
CAPACITY_TYPE_LABELS = ("karpenter.sh/capacity-type", "eks.amazonaws.com/capacityType", "cloud.google.com/gke-spot")


def gate_from_spec(spec: GateSpec) -> Gate:
    return Gate(
        name=spec.name,
        description=spec.description,
        promql=spec.promql,
        comparison=spec.comparison,
        threshold=spec.threshold,
        relative_to_baseline=spec.relative_to_baseline,
        window=spec.window,
        metric_names=list(spec.metric_names),
        source=spec.source,
    )


def gates_for(knowledge: ToolKnowledge, version: str) -> list[Gate]:
    """The validation gates for a version, with that version's metric names."""
    return [gate_from_spec(g) for g in knowledge.gates_for(version)]


def cost_opportunities(task: TaskInput) -> TaskResult:
    """Stage 1: bin-packing efficiency and spot share from the nodes and pod requests, priced, with the
    consolidation projection (one CostReport per cluster, rendered in the plan)."""
    findings: list[Finding] = []
    checked = []
    reports: list[CostReport] = []
    if not task.knowledge.cycles_nodes:
        return TaskResult([], [f"{task.knowledge.display_name} does not place nodes: no bin-packing KPIs apply"])
    for c in task.scope:
        if c.source is None:
            continue
        loads: list[NodeLoad] = cluster_fact(c, NODE_LOADS)  # type: ignore[assignment]
        managed = [
            n for n in loads if "karpenter.sh/provisioner-name" in n.labels or "karpenter.sh/nodepool" in n.labels
        ]
        if not managed:
            checked.append(f"{c.info.name}: no Karpenter-managed nodes")
            continue
        report, cost_note = cluster_cost(c)
        checked.append(cost_note)
        cost_evidence = [] if report is None else [cost_kpi_evidence(report)]
        if report is not None:
            # the plan keeps KPIs, pools, consolidation and the projected nodes; the current per-node table
            # (most of a big fleet's plan.json) stays with `upgradectl cost`
            reports.append(report.model_copy(update={"nodes": []}))
            findings.extend(consolidation_findings(report))
        high = [n for n in managed if n.utilization >= HIGH_UTILIZATION]
        low = [n for n in managed if n.utilization < LOW_UTILIZATION]
        spot = [n for n in managed if capacity_type(n.labels) == "spot"]
        share_high = len(high) / len(managed)
        checked.append(
            f"{c.info.name}: {len(managed)} Karpenter nodes, {len(high)} above 80% requested, {len(low)} below "
            f"50%, {len(spot)} spot"
        )
        listing = "; ".join(
            f"{n.name} {n.labels.get('node.kubernetes.io/instance-type', '?')} "
            f"cpu {n.cpu_utilization:.0%} mem {n.memory_utilization:.0%}"
            for n in low
        )
        if low:
            findings.append(
                make_finding(
                    code="KARP-BINPACKING-LOW",
                    severity="medium",
                    category="cost",
                    title=f"{c.info.name}: bin-packing efficiency {share_high:.0%} ({len(high)}/{len(managed)} "
                    f"Karpenter nodes above 80% requested); {len(low)} nodes below 50%",
                    agent=AGENT,
                    subject=Subject(cluster=c.info.name, tool="karpenter"),
                    evidence=[
                        Evidence(
                            source="cluster", ref=f"{c.info.name}: v1 Node + v1 Pod requests", excerpt=listing[:590]
                        ),
                        *cost_evidence,
                    ],
                    detail="Requested CPU or memory (the higher of the two) against allocatable per node. Nodes this "
                    "empty are what consolidation (WhenEmptyOrUnderutilized in v1) removes.",
                    remediation="Measure again after the upgrade with consolidation enabled; see `upgradectl cost` for "
                    "projected savings.",
                )
            )
        findings.append(
            make_finding(
                code="KARP-SPOT-SHARE",
                severity="info",
                category="cost",
                title=f"{c.info.name}: {len(spot)}/{len(managed)} Karpenter nodes "
                f"({len(spot) / len(managed):.0%}) are spot",
                agent=AGENT,
                subject=Subject(cluster=c.info.name, tool="karpenter", metric="spot_share"),
                evidence=[
                    Evidence(
                        source="cluster",
                        ref=f"{c.info.name}: v1 Node labels karpenter.sh/capacity-type",
                        excerpt=", ".join(f"{n.name}={capacity_type(n.labels) or '?'}" for n in managed)[:590],
                    ),
                    *cost_evidence,
                ],
                detail="Baseline for the seed's spot-utilization KPI; compare it after the upgrade.",
            )
        )
    return TaskResult(findings, checked, cost=reports)


def cluster_cost(c: FleetCluster) -> tuple[CostReport | None, str]:
    """The cluster's cost report with the bundled price table, and a line for the task log."""
    try:
        report: CostReport = cluster_fact(c, cost_fact(c))  # type: ignore[assignment]
    except Exception as exc:  # the KPI findings above must survive a failed cost analysis
        return None, f"{c.info.name}: cost analysis failed: {type(exc).__name__}: {exc}"
    k = report.current
    return report, (
        f"{c.info.name}: priced {k.nodes} nodes at ${k.hourly_cost:.2f}/h (prices as of {report.prices.as_of}), "
        f"cost per pod-hour ${k.cost_per_pod_hour or 0:.4f}"
    )


def cost_kpi_evidence(report: CostReport) -> Evidence:
    k = report.current
    return Evidence(
        source="cluster",
        ref=f"{report.cluster}: upgradectl cost KPIs (price table as of {report.prices.as_of})",
        excerpt=f"{k.nodes} nodes, {k.nodes_high} >= 80% requested; ${k.hourly_cost:.2f}/h = ${k.monthly_cost:,.0f}"
        f"/month; cost per pod-hour ${k.cost_per_pod_hour or 0:.4f} ({k.workload_pods} workload pods); spot "
        f"{k.spot_nodes}/{k.nodes} nodes, {k.spot_cpu_request_share:.0%} of workload CPU requests",
    )


def consolidation_findings(report: CostReport) -> list[Finding]:
    """KARP-CONSOLIDATION-SAVINGS: what repacking onto the cheapest allowed nodes saves, and the gap to the
    lower bound."""
    s = report.consolidation
    if s is None or s.savings_hourly <= 0:
        return []
    severity = "medium" if s.savings_share >= 0.2 else "low" if s.savings_share >= 0.05 else "info"
    pinned = "; ".join(f"{p.pods} pod(s): {p.reason}" for p in s.pinned) or "none"
    return [
        make_finding(
            code="KARP-CONSOLIDATION-SAVINGS",
            severity=severity,
            category="cost",
            title=f"{report.cluster}: consolidating the Karpenter nodes would save ${s.savings_monthly:,.0f}/month "
            f"({s.savings_share:.0%}); the projection is {s.ratio_to_bound:.2f}x the lower bound",
            agent=AGENT,
            subject=Subject(cluster=report.cluster, tool="karpenter", metric="monthly_savings"),
            evidence=[
                Evidence(
                    source="cluster",
                    ref=f"{report.cluster}: consolidation simulation over v1 Node/Pod, PDBs, DaemonSets and pools",
                    excerpt=f"now ${s.hourly_before:.2f}/h; after ${s.hourly_after:.2f}/h ({s.removed_nodes} "
                    f"Karpenter nodes removed, {s.new_nodes} new, {s.kept_nodes} kept); lower bound "
                    f"${s.lower_bound_hourly:.2f}/h ({s.bound_method}); checker: {s.placements_checked} placements, "
                    f"{len(s.violations)} violations",
                ),
                Evidence(
                    source="knowledge",
                    ref=f"tools/knowledge/data/cost/prices.yaml as_of {report.prices.as_of}",
                    excerpt="; ".join(report.prices.sources)[:590],
                ),
            ],
            detail=f"Monthly = hourly x 730. Pods that stay where they are: {pinned}. The gap to the bound is "
            f"{(s.ratio_to_bound - 1):.1%} of the cluster ({(s.movable_ratio_to_bound - 1):.1%} on the new nodes): "
            "the bound is fractional, so part of the gap is unavoidable.",
            remediation="Upgrade with consolidation enabled (consolidationPolicy WhenEmptyOrUnderutilized in v1) and "
            "measure again after the rollout (`upgradectl cost --before OLD --after NEW`).",
            uncertain=report.prices.uncertain,
        )
    ]


def validation_criteria(task: TaskInput) -> TaskResult:
    """Stage 1: the gates for current and target versions, and whether their metrics exist to baseline."""
    k = task.knowledge
    findings: list[Finding] = []
    checked = []
    for c in task.scope:
        if c.source is None:
            continue
        current = next(v.current_version for v in task.versions if v.cluster == c.info.name)
        baseline_gates = k.gates_for(current)
        needed = sorted({m for g in baseline_gates for m in g.metric_names})
        names: set[str] | None = cluster_fact(c, METRIC_NAMES)  # type: ignore[assignment]
        metrics_url = c.entry.metrics_url
        if names is None and not metrics_url:
            findings.append(
                make_finding(
                    code="MON-NO-METRICS-SOURCE",
                    severity="low",
                    category="setup",  # the gates are defined; measuring them is set up before execute
                    title=f"{c.info.name}: no metrics source yet: its gates cannot be measured until one is set",
                    agent=AGENT,
                    subject=Subject(cluster=c.info.name),
                    evidence=[
                        Evidence(
                            source="metrics",
                            ref=f"{c.info.name}: fleet metrics_url and snapshot metrics/",
                            excerpt="metrics_url: '' and no recorded samples",
                        )
                    ],
                    remediation="Set metrics_url for the cluster in fleet.yaml before `upgradectl baseline` and "
                    "`execute`: until then every gate there is inconclusive and blocks promotion (try it on the "
                    "demo with `upgradectl demo metrics`).",
                )
            )
            checked.append(f"{c.info.name}: no metrics source")
            continue
        if names is None:
            checked.append(f"{c.info.name}: metrics at {metrics_url} (checked live by `upgradectl validate`)")
            continue
        # a histogram's name appears with _bucket/_sum/_count suffixes
        missing = [m for m in needed if m not in names and not any(n.startswith(m + "_") for n in names)]
        checked.append(
            f"{c.info.name}: {len(baseline_gates)} baseline gates for {current} need {len(needed)} "
            f"metrics; {len(needed) - len(missing)} recorded"
        )
        if missing:
            findings.append(
                make_finding(
                    code="MON-BASELINE-METRIC-MISSING",
                    severity="medium",
                    category="monitoring",
                    title=f"{c.info.name}: no samples for {', '.join(missing)}: "
                    "those baseline gates will be inconclusive",
                    agent=AGENT,
                    subject=Subject(cluster=c.info.name, metric=",".join(missing)),
                    evidence=[
                        Evidence(
                            source="metrics",
                            ref=f"{c.info.name}: recorded metric names",
                            excerpt=", ".join(sorted(names))[:590],
                        )
                    ],
                    remediation="Scrape the tool's metrics endpoint (ServiceMonitor/VMServiceScrape) before the "
                    "upgrade so a baseline exists.",
                )
            )
    return TaskResult(findings, checked)


def monitoring_integration(task: TaskInput) -> TaskResult:
    """Stage 2: dashboards and alert rules that use metrics the path renames or removes."""
    result = detect_changes(task, ("metric_used",), AGENT)
    result.checked.append(f"{len(task.view.metric_uses)} metric references in dashboards and rules of the GitOps repo")
    return result


def monitoring_preparation(task: TaskInput) -> TaskResult:
    """Stage 4: the gates each hop is judged by, with that hop's metric names."""
    gates = {}
    checked = []
    for path in task.paths:
        for hop in path.hops:
            hop_gates = gates_for(task.knowledge, hop.to_version)
            gates[f"{hop.from_version}->{hop.to_version}"] = hop_gates
            checked.append(
                f"{hop.from_version} -> {hop.to_version}: {len(hop_gates)} gates "
                f"({', '.join(g.name for g in hop_gates)}); before it: upgradectl baseline --tool "
                f"{task.knowledge.tool} --to {hop.to_version} --out baseline.json, after it: upgradectl validate "
                f"--tool {task.knowledge.tool} --baseline baseline.json (exit 0 = promote)"
            )
    return TaskResult([], checked, hop_gates=gates)


def post_upgrade_validation(task: TaskInput) -> TaskResult:
    """Stage 6: the target's gates and the KPIs to compare with the baseline after the rollout."""
    gates = gates_for(task.knowledge, task.target)
    kpis = ["error rates and controller restarts (system stability)"]
    if task.knowledge.cycles_nodes:
        kpis = [
            "cost per pod-hour",
            "spot share of nodes and pod requests",
            "bin-packing efficiency (nodes >80%)",
            "scale-up time (pod startup p99)",
            *kpis,
        ]
    checked = [f"{len(gates)} post-upgrade gates for {task.target}", f"KPIs to compare: {', '.join(kpis)}"]
    return TaskResult([], checked)


# ------------------------------------------------------------------ gates on a live metrics source


@dataclass(frozen=True)
class Presence:
    """Which gate metrics have samples for a cluster; `problem` says why no gate can be judged there."""

    names: set[str]
    problem: str = ""
    reachable: bool = True


def _unreachable(exc: PromQLError) -> str:
    return f"metrics source unreachable at {exc.url}: {exc.reason}; {exc.hint}"


def presence(knowledge: ToolKnowledge, gates: list[Gate], client: PromClient, cluster: str, at: float) -> Presence:
    """One `label values` call per cluster: an unreachable source or a cluster with none of the gates'
    metrics makes every gate inconclusive without a query each (fast, and one clear reason)."""
    names = sorted({m for g in gates for m in g.metric_names})
    span = max((window_seconds(g.window) for g in gates), default=600.0)
    try:
        found = present_metrics(client, cluster, names, at, span)
    except PromQLError as exc:
        if exc.kind in ("rejected", "bad_response"):
            return Presence(set(names))  # the source cannot list names by match[]: judge each gate's own answer
        return Presence(set(), _unreachable(exc), reachable=False)
    if names and not found:
        return Presence(
            set(),
            f"none of the {len(names)} metrics the {knowledge.display_name} gates read has samples for cluster="
            f"{cluster!r} between {utc(at - span)} and {utc(at)} at {client.base_url}: is {knowledge.display_name} "
            "scraped there, with a `cluster` label on its series?",
        )
    if names:
        try:
            live = fresh_series(client, cluster, names, at, LIVENESS_SECONDS)
        except PromQLError as exc:
            return Presence(set(), _unreachable(exc), reachable=False)
        if not live:
            return Presence(
                set(),
                f"stale: no {knowledge.display_name} gate metric has a sample for cluster={cluster!r} in the "
                f"{LIVENESS_SECONDS // 60} minutes before {utc(at)} (scraping stopped? wrong --at?); a gate "
                "defaulting to 0 would pass on nothing",
            )
    return Presence(found)


def _missing_note(gate: Gate, present: Presence) -> Gate:
    missing = [m for m in gate.metric_names if m not in present.names]
    if gate.result == "inconclusive" and missing and gate.message.startswith("no data"):
        message = (
            f"no data: no samples of {', '.join(missing)} for this cluster in the window (renamed in this "
            "version? not scraped?)"
        )
        return gate.model_copy(update={"message": message})
    return gate


def validate_cluster(
    knowledge: ToolKnowledge,
    cluster: str,
    version: str,
    client: PromClient,
    at: float,
    baseline: ClusterBaseline | None,
) -> list[Gate]:
    """Every gate for `version` judged on `cluster` at `at` (relative ones against `baseline`), plus the
    data-integrity gates when the tool stores metrics (VictoriaMetrics: `stores_metrics` in its knowledge)."""
    gates = gates_for(knowledge, version)
    present = presence(knowledge, gates, client, cluster, at)
    if present.problem:
        judged = inconclusive(gates, present.problem)
    else:
        judged = []
        for gate in gates:
            value, note = lookup(baseline, gate, version) if gate.relative_to_baseline else (None, "")
            result = judge(gate, measure(gate, client, cluster, at), value, note)
            judged.append(with_presence_note(_missing_note(result, present), present.names))
    if knowledge.stores_metrics:
        judged.extend(_integrity(client, baseline, present))
    return judged


def _integrity(client: PromClient, baseline: ClusterBaseline | None, present: Presence) -> list[Gate]:
    if present.reachable and baseline is not None and baseline.integrity is not None:
        return integrity_gates(client, baseline.integrity)
    placeholder = Gate(
        name="vm-integrity",
        description="Series counts and past-window reference queries unchanged by the upgrade",
        promql="GET /api/v1/status/tsdb; reference queries (tools/metrics/storage_integrity.py)",
        comparison=">=",
        threshold=0.0,
        relative_to_baseline=True,
        window="1h",
    )
    why = present.problem if not present.reachable else (
        "no data-integrity baseline (series counts, reference queries): record one with `upgradectl baseline`"
    )
    return inconclusive([placeholder], why)


def baseline_cluster(
    knowledge: ToolKnowledge, cluster: str, running: str, target: str, client: PromClient, at: float
) -> tuple[list[BaselineEntry], IntegrityBaseline | None]:
    """The running version's gates measured at `at`; with a target, also the target's relative gates rewritten
    to the running version's metric names. For VictoriaMetrics also the data-integrity record."""
    plan: list[tuple[str, Gate, dict[str, str]]] = [(running, g, {}) for g in gates_for(knowledge, running)]
    if target and target != running:
        names = {g.name for _, g, _ in plan}
        for gate in gates_for(knowledge, target):
            if not gate.relative_to_baseline:
                continue
            back = backport_gate(gate, knowledge, running, target)
            if back is None:
                plan.append((target, gate, {}))  # an ambiguous rename: record as written, likely no data
            elif gate.name not in names or back[1]:
                plan.append((target, back[0], back[1]))
    present = presence(knowledge, [g for _, g, _ in plan], client, cluster, at)
    entries = []
    for version, gate, renamed in plan:
        if present.problem:
            recorded = inconclusive([gate], present.problem)[0]
        else:
            recorded = _missing_note(record(gate, measure(gate, client, cluster, at)), present)
        query = scoped_query(gate.promql, cluster)
        entries.append(BaselineEntry(version=version, gate=recorded, query=query, renamed=renamed))
    integrity = record_integrity(client, to_unix(at)) if knowledge.stores_metrics and present.reachable else None
    return entries, integrity
