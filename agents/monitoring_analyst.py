"""monitoring-analyst: cost and bin-packing KPIs, whether the metrics the gates need exist,
dashboards and alert rules the path breaks, and the gates each stage must pass."""

from __future__ import annotations

import json

from upgradectl.agents.base import TaskInput, TaskResult, make_finding
from upgradectl.agents.flux_navigator import detect_changes
from upgradectl.models import Evidence, Finding, Gate, Subject
from upgradectl.tools.cluster import ClusterSource
from upgradectl.tools.knowledge import GateSpec, ToolKnowledge
from upgradectl.tools.resources import node_loads

AGENT = "monitoring-analyst"
HIGH_UTILIZATION = 0.80
LOW_UTILIZATION = 0.50
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


def gates_for(k: ToolKnowledge, version: str) -> list[Gate]:
    """The validation gates for a version, with that version's metric names."""
    return [gate_from_spec(g) for g in k.gates_for(version)]


def capacity_type(labels: dict[str, str]) -> str:
    """'spot' or 'on-demand' from the node labels the providers set; '' when unknown."""
    value = labels.get("karpenter.sh/capacity-type") or labels.get("eks.amazonaws.com/capacityType", "")
    if labels.get("cloud.google.com/gke-spot") == "true":
        return "spot"
    value = value.lower().replace("_", "-")
    return {"spot": "spot", "on-demand": "on-demand"}.get(value, "")


def cost_opportunities(t: TaskInput) -> TaskResult:
    """Stage 1: bin-packing efficiency and spot share from the nodes and pod requests."""
    findings: list[Finding] = []
    checked = []
    if not t.knowledge.cycles_nodes:
        return TaskResult([], [f"{t.knowledge.display_name} does not place nodes: no bin-packing KPIs apply"])
    for c in t.scope:
        if c.source is None:
            continue
        loads = node_loads(c.source.objects("v1", "Node"), c.source.objects("v1", "Pod"))
        managed = [
            n for n in loads if "karpenter.sh/provisioner-name" in n.labels or "karpenter.sh/nodepool" in n.labels
        ]
        if not managed:
            checked.append(f"{c.info.name}: no Karpenter-managed nodes")
            continue
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
                        )
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
                    )
                ],
                detail="Baseline for the seed's spot-utilization KPI; compare it after the upgrade.",
            )
        )
    return TaskResult(findings, checked)


def recorded_metric_names(source: ClusterSource) -> set[str] | None:
    """Metric names in the snapshot's recorded samples; None when the source records none."""
    files = getattr(source, "metrics_files", lambda: [])()
    if not files:
        return None
    names = set()
    for file in files:
        with file.open() as handle:
            for line in handle:
                if line.strip():
                    names.add(json.loads(line).get("metric", {}).get("__name__", ""))
    return names


def validation_criteria(t: TaskInput) -> TaskResult:
    """Stage 1: the gates for current and target versions, and whether their metrics exist to baseline."""
    k = t.knowledge
    findings: list[Finding] = []
    checked = []
    for c in t.scope:
        if c.source is None:
            continue
        current = next(v.current_version for v in t.versions if v.cluster == c.info.name)
        baseline_gates = k.gates_for(current)
        needed = sorted({m for g in baseline_gates for m in g.metric_names})
        names = recorded_metric_names(c.source)
        metrics_url = c.entry.metrics_url
        if names is None and not metrics_url:
            findings.append(
                make_finding(
                    code="MON-NO-METRICS-SOURCE",
                    severity="medium",
                    category="incomplete",
                    title=f"{c.info.name}: no metrics source: every gate there will be inconclusive",
                    agent=AGENT,
                    subject=Subject(cluster=c.info.name),
                    evidence=[
                        Evidence(
                            source="metrics",
                            ref=f"{c.info.name}: fleet metrics_url and snapshot metrics/",
                            excerpt="metrics_url: '' and no recorded samples",
                        )
                    ],
                    remediation="Set metrics_url for the cluster in fleet.yaml so baselines and gates can run.",
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


def monitoring_integration(t: TaskInput) -> TaskResult:
    """Stage 2: dashboards and alert rules that use metrics the path renames or removes."""
    result = detect_changes(t, ("metric_used",), AGENT)
    result.checked.append(f"{len(t.view.metric_uses)} metric references in dashboards and rules of the GitOps repo")
    return result


def monitoring_preparation(t: TaskInput) -> TaskResult:
    """Stage 4: the gates each hop is judged by, with that hop's metric names."""
    gates = {}
    checked = []
    for path in t.paths:
        for hop in path.hops:
            hop_gates = gates_for(t.knowledge, hop.to_version)
            gates[f"{hop.from_version}->{hop.to_version}"] = hop_gates
            checked.append(
                f"{hop.from_version} -> {hop.to_version}: {len(hop_gates)} gates "
                f"({', '.join(g.name for g in hop_gates)})"
            )
    return TaskResult([], checked, {"hop_gates": gates})


def post_upgrade_validation(t: TaskInput) -> TaskResult:
    """Stage 6: the target's gates and the KPIs to compare with the baseline after the rollout."""
    gates = gates_for(t.knowledge, t.target)
    kpis = ["error rates and controller restarts (system stability)"]
    if t.knowledge.cycles_nodes:
        kpis = [
            "cost per pod-hour",
            "spot share of nodes and pod requests",
            "bin-packing efficiency (nodes >80%)",
            "scale-up time (pod startup p99)",
            *kpis,
        ]
    checked = [f"{len(gates)} post-upgrade gates for {t.target}", f"KPIs to compare: {', '.join(kpis)}"]
    return TaskResult([], checked, {"final_gates": gates, "kpis": kpis})
