"""argo-troubleshooter: what the upgrade does to running applications: node cycling victims
(long-running jobs, drain-blocking PDBs), selectors and annotations the path renames, unhealthy
Argo CD applications, and whether the tool itself can be upgraded without downtime."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from upgradectl.agents.base import TaskInput, TaskResult, make_finding
from upgradectl.agents.detection import detect_changes
from upgradectl.models import Evidence, Finding, Subject
from upgradectl.tools.analysis.detectors import object_ref, object_subject
from upgradectl.tools.cluster.resources import is_active, selector_matches
from upgradectl.tools.cluster.sources import ClusterSource

AGENT = "argo-troubleshooter"
LONG_RUNNING_HOURS = 6
NODE_MANAGER_LABELS = ("karpenter.sh/provisioner-name", "karpenter.sh/nodepool")
NO_DISRUPT_ANNOTATIONS = ("karpenter.sh/do-not-evict", "karpenter.sh/do-not-disrupt")


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _managed_nodes(source: ClusterSource) -> dict[str, dict[str, Any]]:
    """Nodes the tool can replace (labelled by the node manager)."""
    return {
        n["metadata"]["name"]: n
        for n in source.objects("v1", "Node")
        if any(label in n["metadata"].get("labels", {}) for label in NODE_MANAGER_LABELS)
    }


def _owner(pod: dict[str, Any]) -> tuple[str, str]:
    refs = pod.get("metadata", {}).get("ownerReferences") or [{}]
    return refs[0].get("kind", ""), refs[0].get("name", "")


def long_running_jobs(t: TaskInput, cluster: str, source: ClusterSource, checked: list[str]) -> list[Finding]:
    """Job pods running for hours on replaceable nodes without a do-not-disrupt annotation."""
    managed = _managed_nodes(source)
    now = source.observed_at()
    findings = []
    job_pods = [p for p in source.objects("v1", "Pod") if _owner(p)[0] == "Job" and is_active(p)]
    for pod in job_pods:
        started = _parse_time(pod.get("status", {}).get("startTime", ""))
        node = pod["spec"]["nodeName"]
        if started is None or node not in managed:
            continue
        hours = (now - started).total_seconds() / 3600
        annotations = pod["metadata"].get("annotations") or {}
        protected = [a for a in NO_DISRUPT_ANNOTATIONS if annotations.get(a) == "true"]
        if hours < LONG_RUNNING_HOURS or protected:
            continue
        job = _owner(pod)[1]
        findings.append(
            make_finding(
                code="WORKLOAD-LONG-RUNNING-JOB",
                severity="medium",
                category="workload-impact",
                title=f"Job {pod['metadata'].get('namespace')}/{job} has run {hours:.0f}h on replaceable node {node} "
                "with no do-not-disrupt protection",
                agent=AGENT,
                subject=Subject(
                    cluster=cluster,
                    api_version="batch/v1",
                    kind="Job",
                    namespace=pod["metadata"].get("namespace", ""),
                    name=job,
                ),
                evidence=[
                    Evidence(
                        source="cluster",
                        ref=object_ref(cluster, pod),
                        excerpt=f"startTime: {pod['status']['startTime']}, nodeName: {node}, annotations: "
                        f"{sorted(annotations) or 'none'}",
                    ),
                    Evidence(
                        source="cluster",
                        ref=f"{cluster}: v1 Node {node}",
                        excerpt=", ".join(
                            f"{k}={v}"
                            for k, v in managed[node]["metadata"]["labels"].items()
                            if k in NODE_MANAGER_LABELS or k.endswith("capacity-type")
                        ),
                    ),
                ],
                detail="Upgrades that change node templates cause drift; replacing this node kills the job and "
                "loses its progress.",
                remediation='Annotate the job\'s pod template with karpenter.sh/do-not-disrupt: "true" (and '
                "karpenter.sh/do-not-evict on versions before 1.0), or schedule the rollout after it finishes.",
            )
        )
    checked.append(f"{cluster}: {len(job_pods)} running job pods, {len(managed)} replaceable nodes")
    return findings


def _pdb_allows_no_disruption(pdb: dict[str, Any], matching: int) -> str:
    spec = pdb.get("spec", {})
    if "maxUnavailable" in spec and str(spec["maxUnavailable"]) in ("0", "0%"):
        return f"maxUnavailable: {spec['maxUnavailable']}"
    if "minAvailable" in spec:
        value = str(spec["minAvailable"])
        if value == "100%" or (value.isdigit() and matching and int(value) >= matching):
            return f"minAvailable: {value} with {matching} matching pod(s)"
    return ""


def blocking_pdbs(cluster: str, source: ClusterSource, checked: list[str]) -> list[Finding]:
    """PodDisruptionBudgets that allow no voluntary eviction, so node drains hang."""
    pods = [p for p in source.objects("v1", "Pod") if is_active(p)]
    findings = []
    pdbs = source.objects("policy/v1", "PodDisruptionBudget")
    for pdb in pdbs:
        ns = pdb["metadata"].get("namespace", "")
        selector = pdb.get("spec", {}).get("selector") or {}
        matching = [
            p
            for p in pods
            if p["metadata"].get("namespace") == ns and selector_matches(selector, p["metadata"].get("labels") or {})
        ]
        why = _pdb_allows_no_disruption(pdb, len(matching))
        if not why:
            continue
        findings.append(
            make_finding(
                code="WORKLOAD-PDB-BLOCKS-DRAIN",
                severity="medium",
                category="workload-impact",
                title=f"PodDisruptionBudget {ns}/{pdb['metadata']['name']} allows no voluntary disruption "
                f"({why}): node drains will stall",
                agent=AGENT,
                subject=object_subject(cluster, pdb),
                evidence=[
                    Evidence(source="cluster", ref=object_ref(cluster, pdb), excerpt=why),
                    Evidence(
                        source="cluster",
                        ref=f"{cluster}: pods in {ns} matching the selector",
                        excerpt=", ".join(sorted(p["metadata"]["name"] for p in matching))[:300] or "none",
                    ),
                ],
                detail="Node replacement during and after the upgrade evicts pods through the eviction API; a "
                "budget with no allowed disruptions blocks it and the old nodes never drain.",
                remediation="Allow at least one disruption (maxUnavailable: 1 or minAvailable below the replica "
                "count) for the rollout window, or scale the workload up first.",
            )
        )
    checked.append(f"{cluster}: {len(pdbs)} PodDisruptionBudgets checked")
    return findings


def unhealthy_applications(t: TaskInput, checked: list[str]) -> list[Finding]:
    """Argo CD Applications deploying to clusters in scope that are not Synced and Healthy."""
    findings = []
    apps_seen = 0
    for name, cluster in t.fleet.clusters.items():
        if cluster.source is None:
            continue
        for app in cluster.source.objects("argoproj.io/v1alpha1", "Application"):
            dest = (app.get("spec", {}).get("destination") or {}).get("name", "")
            if dest not in t.scope_names:
                continue
            apps_seen += 1
            status = app.get("status", {})
            sync = (status.get("sync") or {}).get("status", "Unknown")
            health = (status.get("health") or {}).get("status", "Unknown")
            if sync == "Synced" and health == "Healthy":
                continue
            findings.append(
                make_finding(
                    code="ARGO-APP-UNHEALTHY-BASELINE",
                    severity="medium",
                    category="workload-impact",
                    title=f"Argo CD application {app['metadata']['name']} on {dest} is {sync}/{health} before the "
                    "upgrade",
                    agent=AGENT,
                    subject=object_subject(name, app),
                    evidence=[
                        Evidence(
                            source="cluster",
                            ref=object_ref(name, app),
                            excerpt=f"destination: {dest}, sync: {sync}, health: {health}",
                        )
                    ],
                    detail="An application that is already unhealthy makes post-upgrade health checks ambiguous: a "
                    "failure cannot be told apart from the existing problem.",
                    remediation="Fix or knowingly exclude this application before the rollout, and record its state "
                    "in the baseline.",
                )
            )
    checked.append(f"{apps_seen} Argo CD applications target clusters in scope")
    return findings


def application_impact(t: TaskInput) -> TaskResult:
    """Stage 2: impact on running applications and deployments."""
    result = detect_changes(t, ("annotation_in_use", "label_selector_in_use"), AGENT)
    if t.knowledge.cycles_nodes:
        for c in t.scope:
            if c.source is None:
                continue
            result.findings.extend(long_running_jobs(t, c.info.name, c.source, result.checked))
            result.findings.extend(blocking_pdbs(c.info.name, c.source, result.checked))
    else:
        result.checked.append(f"{t.knowledge.display_name} upgrades do not replace nodes: node-cycling checks skipped")
    result.findings.extend(unhealthy_applications(t, result.checked))
    return result


def zero_downtime(t: TaskInput) -> TaskResult:
    """Stage 3: can the tool's own controllers roll without a gap (replicas per Deployment)?"""
    k = t.knowledge
    findings, checked = [], []
    for c in t.scope:
        if c.source is None:
            continue
        controllers = [
            d
            for d in c.source.objects("apps/v1", "Deployment")
            if any(
                m in str(ct.get("image", ""))
                for m in k.image_markers
                for ct in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            )
        ]
        single = [d for d in controllers if int(d.get("spec", {}).get("replicas", 1)) < 2]
        checked.append(
            f"{c.info.name}: {len(controllers)} {k.display_name} Deployments, {len(single)} with one replica"
        )
        if not single:
            continue
        names = ", ".join(f"{d['metadata'].get('namespace')}/{d['metadata']['name']}" for d in single)
        findings.append(make_finding(
            code=f"{k.prefix}-CONTROLLER-SINGLE-REPLICA", severity="low", category="workload-impact",
            title=f"{c.info.name}: {len(single)} {k.display_name} Deployment(s) run one replica; each pauses while "
            "its pod is replaced",
            agent=AGENT, subject=Subject(cluster=c.info.name, tool=k.tool),
            evidence=[Evidence(source="cluster", ref=f"{c.info.name}: apps/v1 Deployments with replicas: 1",
                               excerpt=names)],
            detail="A rolling update of a single replica leaves a short window with no running controller; "
            "reconciliation (or, for data-path components, service) waits for the new pod.",
            remediation="Accept the short pause inside the soak window, or run two replicas with leader election "
            "(and a PodDisruptionBudget) where the component supports it."))
    if not checked:
        checked.append(f"no {k.display_name} controller Deployments matched {k.image_markers}")
    return TaskResult(findings, checked)
