"""argo-troubleshooter: what the upgrade does to running applications: node cycling victims
(long-running jobs, drain-blocking PDBs), spot-heavy clusters without interruption handling, selectors and
annotations the path renames, the GitOps repo's own charts rendered for their destinations (app-compat),
external-secrets objects the upgraded tool depends on, the fleet's pre-release namespaces on their own,
unhealthy Argo CD applications, and whether the tool itself can be upgraded without downtime."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from upgradectl.agents.base import TaskInput, TaskResult, knowledge_evidence, make_finding
from upgradectl.agents.detection import change_finding, detect_changes
from upgradectl.agents.incident_responder import health_fleet_arg
from upgradectl.agents.snapshot_facts import cluster_fact, spot_share_fact
from upgradectl.models import Evidence, Finding, Subject
from upgradectl.tools.analysis.detectors import ScanInput, object_ref, object_subject, run_detector
from upgradectl.tools.cluster.health import fleet_cluster_health
from upgradectl.tools.cluster.resources import is_active, selector_matches
from upgradectl.tools.cluster.sources import ClusterSource
from upgradectl.tools.gitops.charts import chart_apps, render
from upgradectl.tools.gitops.manifests import Manifest
from upgradectl.tools.knowledge.loader import load_kubernetes

AGENT = "argo-troubleshooter"
RENDERED_DETECTORS = ("api_in_use", "annotation_in_use", "label_selector_in_use")
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


def long_running_jobs(task: TaskInput, cluster: str, source: ClusterSource, checked: list[str]) -> list[Finding]:
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


def unhealthy_applications(task: TaskInput, checked: list[str]) -> list[Finding]:
    """Argo CD Applications deploying to clusters in scope that are not Synced and Healthy."""
    findings = []
    apps_seen = 0
    for name, cluster in task.fleet.clusters.items():
        if cluster.source is None:
            continue
        for app in cluster.source.objects("argoproj.io/v1alpha1", "Application"):
            dest = (app.get("spec", {}).get("destination") or {}).get("name", "")
            if dest not in task.scope_names:
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


def _value_at(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _tfvars_evidence(task: TaskInput, cluster: str) -> list[Evidence]:
    """The Terraform variable that switches the module's spot termination handling off for this cluster, if any."""
    found = []
    for root in task.view.terraform:
        for call in root.modules:
            switch = str(call.inputs.get("enable_spot_termination", ""))
            var = switch.removeprefix("${var.").removesuffix("}") if switch.startswith("${var.") else ""
            for setting in root.settings_of(var) if var else []:
                named = [s for s in root.var_settings if s.tfvars == setting.tfvars and s.name == "cluster_name"]
                if named and str(named[0].value) == cluster and setting.value is False:
                    found.append(Evidence(source="terraform", ref=f"{setting.where.file}:{setting.where.line}",
                                          excerpt=f"{setting.where.text} (module {call.name}: enable_spot_termination "
                                          f"= var.{var})"))  # fmt: skip
    return found


def spot_without_interruption_handling(task: TaskInput, checked: list[str]) -> list[Finding]:
    """Spot-heavy clusters whose node manager does not handle spot interruptions: every node the upgrade
    cycles comes back on spot, and a reclaimed instance is not drained ahead of its termination."""
    handling = task.knowledge.interruption_handling
    if handling is None:
        return []
    findings = []
    for c in task.scope:
        release = task.releases.get(c.info.name)
        if c.source is None or release is None:
            continue
        configured = {v: _value_at(release.values, v) for v in handling.values}
        enabled = [v for v, value in configured.items() if value]
        share: float = cluster_fact(c, spot_share_fact(c))  # type: ignore[assignment]
        checked.append(f"{c.info.name}: {share:.0%} of workload CPU requests on spot; interruption handling "
                       + (f"on ({', '.join(enabled)})" if enabled else "off"))  # fmt: skip
        if enabled or share < handling.spot_heavy_share:
            continue
        findings.append(make_finding(
            code=f"{task.knowledge.prefix}-SPOT-NO-INTERRUPTION-HANDLING", severity="high", category="workload-impact",
            title=f"{c.info.name} runs {share:.0%} of its workload CPU on spot with interruption handling disabled: "
            "nodes cycled by the upgrade come back on spot and reclaimed ones are not drained first",
            agent=AGENT, subject=Subject(cluster=c.info.name, tool=task.knowledge.tool, helm_release=release.ref),
            evidence=[
                Evidence(source="cluster", ref=f"{c.info.name}: pods' CPU requests on nodes by capacity type",
                         excerpt=f"{share:.0%} of workload (non-DaemonSet) CPU requests run on spot nodes"),
                Evidence(source="helm", ref=f"{c.info.name}: Helm release {release.ref} values",
                         excerpt=", ".join(f"{v}: {configured[v]!r}" for v in handling.values)),
                *_tfvars_evidence(task, c.info.name),
                knowledge_evidence(task.knowledge, "interruption_handling", handling.summary[:300], handling.source),
            ],
            detail=f"{handling.summary} The upgrade replaces nodes on every hop that drifts them (and consolidation "
            "moves pods), so for the length of the rollout this cluster depends on spot capacity without the "
            "two-minute warning being acted on; the seed's spot-interruption test (graceful spot termination) cannot "
            "pass here.",
            remediation="Create the interruption queue (terraform module enable_spot_termination = true) and set "
            f"{' (0.32+) / '.join(handling.values)} (up to 0.31) before the rollout, or move the critical workloads "
            "to on-demand capacity for its duration.",
            sources=[handling.source]))  # fmt: skip
    return findings


def _served_apis(task: TaskInput, cluster: str) -> tuple[str, list[str]]:
    """(Kubernetes version, API versions it serves: recorded resource types plus built-ins by version)."""
    info = task.cluster(cluster).info
    source = task.cluster(cluster).source
    recorded = {f"{r.api_version}/{r.kind}" for r in source.resource_types()} if source else set()
    recorded |= {r.split("/" + r.rsplit("/", 1)[-1])[0] for r in recorded}
    return info.kubernetes_version, sorted(recorded | load_kubernetes().served(info.kubernetes_version))


def chart_impact(task: TaskInput, checked: list[str]) -> list[Finding]:
    """Charts of the GitOps repo deployed to affected clusters, rendered (helm template, or read as manifests)
    and checked with the path's object detectors; a chart that no longer renders is a finding."""
    root = task.fleet.gitops_root
    if root is None or not root.is_dir():
        return []
    urls = {task.fleet.spec.gitops.url} if task.fleet.spec.gitops and task.fleet.spec.gitops.url else set()
    clusters = task.affected_clusters()
    apps = [a for a in chart_apps(root, task.view.manifests, urls) if a.cluster in clusters]
    if not apps:
        return []
    changes = [(c, f"{h.from_version} -> {h.to_version}") for p in task.paths for h in p.hops
               for c in task.knowledge.changes_crossed(h.from_version, h.to_version, p.from_version)
               if c.detector and c.detector.kind in RENDERED_DETECTORS]  # fmt: skip
    findings: list[Finding] = []
    for app in apps:
        kube, apis = _served_apis(task, app.cluster)
        rendered = render(app, kube, apis)
        pre = app.namespace in task.cluster(app.cluster).entry.prerelease_namespaces
        checked.append(f"chart app {app.name} ({app.chart_rel} -> {app.cluster}/{app.namespace}"
                       f"{', pre-release' if pre else ''}): {rendered.how}: "
                       + (f"FAILED: {rendered.error[:160]}" if rendered.error else
                          f"{len(rendered.manifests)} objects" + (f"; {'; '.join(rendered.notes)}" if rendered.notes
                                                                  else "")))  # fmt: skip
        if rendered.error:
            findings.append(make_finding(
                code="APP-CHART-RENDER-FAILS", severity="high", category="workload-impact",
                title=f"{app.name} ({app.chart_rel}) does not render with {rendered.how}"
                + (f" in pre-release namespace {app.namespace}" if pre else ""),
                agent=AGENT, subject=Subject(cluster=app.cluster, kind="Application", namespace=app.namespace,
                                             name=app.name, file=app.chart_rel),
                evidence=[Evidence(source="gitops", ref=f"{app.chart_rel} rendered as release {app.release}",
                                   excerpt=rendered.error[:590])],
                detail="The chart as the repository holds it cannot be rendered; the Application would report a "
                "ComparisonError and stop syncing.",
                remediation="Render it locally (`helm template`) and fix the values or templates before the rollout."))
            continue
        scan = ScanInput(clusters={}, releases={}, manifests=rendered.manifests,
                         manifest_clusters={m.file: {app.cluster} for m in rendered.manifests}, gitops_root=root)
        for change, hop in changes:
            for hit in run_detector(change.detector, scan):  # type: ignore[arg-type]
                findings.append(change_finding(task, change, hop, hit, AGENT))
    return findings


ESO_GROUP = "external-secrets.io"


def _secrets_read_by_tool(task: TaskInput, cluster: str) -> dict[tuple[str, str], str]:
    """(namespace, Secret name) -> why the upgraded tool reads it: Secrets its Flux sources and HelmReleases name
    (secretRef, valuesFrom) in the manifests this cluster applies, and any Secret of the tool's namespace."""
    k = task.knowledge
    reads: dict[tuple[str, str], str] = {}
    for m in task.view.manifests_for({cluster}):
        spec = m.doc.get("spec") or {}
        names = [((spec.get("secretRef") or {}).get("name"), "secretRef")]
        names += [(v.get("name"), "valuesFrom") for v in spec.get("valuesFrom") or [] if v.get("kind") == "Secret"]
        for name, how in names:
            if name and (k.namespace == m.namespace or m.kind == "HelmRelease" and _is_tool_release(task, m)):
                reads[(m.namespace, str(name))] = f"{m.kind} {m.namespace}/{m.name} {how} ({m.file}:{m.line})"
    return reads


def _is_tool_release(task: TaskInput, m: Manifest) -> bool:
    chart = ((((m.doc.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("chart", ""))
    return chart in task.knowledge.install_markers


def external_secrets_touched(task: TaskInput, checked: list[str]) -> list[Finding]:
    """ExternalSecrets that write a Secret the upgraded tool reads (its namespace, its Argo CD repository
    credentials, or a Secret its Flux objects name): their API version against the CRD the cluster serves,
    and whether they are Ready (the tool's credentials are kept current)."""
    k = task.knowledge
    findings = []
    for cluster in sorted(task.scope_names):
        source = task.cluster(cluster).source
        if source is None:
            continue
        objects = source.objects_of_kind("ExternalSecret", ESO_GROUP)
        if not objects:
            continue
        crd = next((c for c in source.objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")
                    if c["metadata"]["name"] == f"externalsecrets.{ESO_GROUP}"), None)  # fmt: skip
        served = [v["name"] for v in (crd or {}).get("spec", {}).get("versions", []) if v.get("served")]
        stored = (crd or {}).get("status", {}).get("storedVersions", [])
        reads = _secrets_read_by_tool(task, cluster)
        touched = []
        for es in objects:
            meta, spec = es.get("metadata") or {}, es.get("spec") or {}
            target = (spec.get("target") or {}).get("name") or meta.get("name", "")
            labels = (((spec.get("target") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
            why = reads.get((meta.get("namespace", ""), target), "")
            if not why and meta.get("namespace") == k.namespace:
                why = f"a Secret in {k.display_name}'s namespace {k.namespace}"
            if not why and "argocd.argoproj.io/secret-type" in labels and k.tool == "argocd":
                why = f"an Argo CD {labels['argocd.argoproj.io/secret-type']} Secret"
            if why:
                touched.append((es, target, why))
        checked.append(f"{cluster}: {len(objects)} ExternalSecret(s), {len(touched)} feeding {k.display_name}; "
                       f"CRD externalsecrets.{ESO_GROUP} serves {served or '?'}, stores {stored or '?'}")
        for es, target, why in touched:
            meta = es.get("metadata") or {}
            version = str(es.get("apiVersion", "")).split("/")[-1]
            ready = next((c for c in (es.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
            problems = []
            if served and version not in served:
                problems.append(f"its API version {version} is not served by the installed CRD ({', '.join(served)})")
            if ready.get("status") != "True":
                problems.append(f"it is not Ready ({ready.get('reason', 'no Ready condition')}: "
                                f"{str(ready.get('message', ''))[:120]})")
            findings.append(make_finding(
                code="ESO-SECRET-FEEDS-UPGRADED-TOOL", severity="medium" if problems else "info",
                category="workload-impact",
                title=f"ExternalSecret {meta.get('namespace')}/{meta.get('name')} ({es.get('apiVersion')}) writes "
                f"Secret {target}, {why}" + (f": {'; '.join(problems)}" if problems else ""),
                agent=AGENT, subject=object_subject(cluster, es),
                evidence=[Evidence(source="cluster", ref=object_ref(cluster, es),
                                   excerpt=f"target: {target}, Ready: {ready.get('status', 'unknown')}"),
                          Evidence(source="cluster",
                                   ref=f"{cluster}: CustomResourceDefinition externalsecrets.{ESO_GROUP}",
                                   excerpt=f"served: {served}, storedVersions: {stored}")],
                detail=f"{k.display_name} reads this Secret; during the upgrade its pods restart and read it again, so "
                "the External Secrets Operator must keep it current and its API version must stay served.",
                remediation="Check the ExternalSecret syncs (kubectl get externalsecret -n "
                f"{meta.get('namespace')} {meta.get('name')}) before the rollout; migrate manifests to a served "
                "API version first."))  # fmt: skip
    return findings


def prerelease_impact(task: TaskInput, findings: list[Finding], checked: list[str]) -> list[Finding]:
    """Pre-release namespaces of the affected clusters: their health now (the baseline their own gate compares
    with), and which findings of this plan land in them."""
    out = []
    for cluster in sorted(task.affected_clusters()):
        fc = task.cluster(cluster)
        namespaces = set(fc.entry.prerelease_namespaces)
        if not namespaces or fc.source is None:
            continue
        health = fleet_cluster_health(task.fleet, cluster)
        landing = sorted({f.code for f in findings if f.subject.namespace in namespaces
                          and cluster in f.subject.cluster.split(",")})  # fmt: skip
        checked.append(f"{cluster}: pre-release namespaces {', '.join(sorted(namespaces))}: "
                       f"{len(health.prerelease)} existing problem(s); findings landing there: "
                       f"{', '.join(landing) or 'none'}")  # fmt: skip
        if not health.prerelease:
            continue
        out.append(make_finding(
            code="PRERELEASE-WORKLOADS-UNHEALTHY", severity="low", category="workload-impact",
            title=f"{cluster}: pre-release namespaces {', '.join(sorted(namespaces))} already have "
            f"{len(health.prerelease)} problem(s) before the upgrade; their own health gate compares with them",
            agent=AGENT, subject=Subject(cluster=cluster, namespace=",".join(sorted(namespaces))),
            evidence=[Evidence(source="metrics" if s.kind == "alert" else "cluster", ref=s.ref, excerpt=s.excerpt)
                      for s in health.prerelease[:10]],
            detail="The fleet marks these namespaces as pre-release (fleet.yaml prerelease_namespaces): their "
            "failures never block the rollout, but each hop's pre-release health gate fails on anything new there.",
            remediation="Note the failing workloads with their owners; after each hop compare with "
            f"`upgradectl health {health_fleet_arg(task)[0]} --clusters {cluster} --baseline FILE`."))  # fmt: skip
    return out


def application_impact(task: TaskInput) -> TaskResult:
    """Stage 2: impact on running applications and deployments."""
    result = detect_changes(task, ("annotation_in_use", "label_selector_in_use", "chart_values_null"), AGENT)
    result.findings.extend(chart_impact(task, result.checked))
    result.findings.extend(external_secrets_touched(task, result.checked))
    result.findings.extend(prerelease_impact(task, result.findings, result.checked))
    if task.knowledge.cycles_nodes:
        for c in task.scope:
            if c.source is None:
                continue
            result.findings.extend(long_running_jobs(task, c.info.name, c.source, result.checked))
            result.findings.extend(blocking_pdbs(c.info.name, c.source, result.checked))
        result.findings.extend(spot_without_interruption_handling(task, result.checked))
    else:
        result.checked.append(
            f"{task.knowledge.display_name} upgrades do not replace nodes: node-cycling checks skipped"
        )
    result.findings.extend(unhealthy_applications(task, result.checked))
    return result


def zero_downtime(task: TaskInput) -> TaskResult:
    """Stage 3: can the tool's own controllers roll without a gap (replicas per Deployment)?"""
    k = task.knowledge
    findings, checked = [], []
    for c in task.scope:
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
