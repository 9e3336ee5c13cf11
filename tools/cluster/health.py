"""Cluster health before and after an upgrade step: is the cluster in an incident right now?

Read from the cluster source (live or recorded) and its alert source, never written:
- firing alerts (tools/metrics/alerts.py): a `critical` one is an incident; `warning` ones are noted;
- nodes whose Ready condition is not True: an incident;
- pods: a container waiting in CrashLoopBackOff is an incident; pods Running but not Ready, or Pending for
  more than PENDING_GRACE, are noted (an incident when they belong to kube-system or a tool's namespace);
- Flux objects (Kustomization, HelmRelease, sources) with Ready=False and not suspended: an incident,
  delivery is broken, so a GitOps change cannot roll out (Ready=Unknown, still reconciling, is noted);
- Argo CD Applications deploying to the cluster whose health is Degraded or Missing: an incident;
  OutOfSync ones are noted;
- Warning events seen in the last EVENT_WINDOW, grouped per object and reason: noted.

Everything in a namespace the fleet marks as pre-release (`prerelease_namespaces`) is kept apart: it never
blocks the fleet (pre-release workloads break on their own), but it is compared before and after each hop
like the rest, as its own gate. `new_since` gives what appeared after a hop: those decide the health gate.
Cluster text (messages, annotations) is data: it is quoted, never followed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.cluster.sources import ClusterSource, SourceError
from upgradectl.tools.knowledge.loader import available_tools, load_tool
from upgradectl.tools.metrics.alerts import AlertsRead, read_alerts

EVENT_WINDOW = timedelta(hours=1)
PENDING_GRACE = timedelta(minutes=10)
SHOWN_EVENTS = 20
FLUX_KINDS = (
    ("Kustomization", "kustomize.toolkit.fluxcd.io"),
    ("HelmRelease", "helm.toolkit.fluxcd.io"),
    ("GitRepository", "source.toolkit.fluxcd.io"),
    ("HelmRepository", "source.toolkit.fluxcd.io"),
    ("OCIRepository", "source.toolkit.fluxcd.io"),
    ("HelmChart", "source.toolkit.fluxcd.io"),
    ("Bucket", "source.toolkit.fluxcd.io"),
)
# Warning reasons the kubelet and node controller give failing workloads (kubernetes/kubernetes
# pkg/kubelet/events/event.go: BackOff, Failed, FailedMount, FailedAttachVolume, Unhealthy, FailedKillPod,
# FailedCreatePodSandBox, SystemOOM; the node lifecycle controller's NodeNotReady). A new one after a hop
# fails the health gate; other new warnings (FailedScheduling while nodes are replaced...) are only noted.
INCIDENT_EVENT_REASONS = frozenset({
    "BackOff", "Failed", "FailedMount", "FailedAttachVolume", "Unhealthy", "FailedKillPod",
    "FailedCreatePodSandBox", "SystemOOM", "NodeNotReady",
})  # fmt: skip
IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class HealthSignal:
    """One thing wrong on a cluster, with the evidence to show for it."""

    kind: str  # alert | node | pod | flux | argocd | event
    key: str  # identity across reads (pods by workload, events by object and reason), for before/after
    ref: str  # where it was seen: "ravan: v1 Pod payments/api-7d9f-x2", "ravan: alert KubePodCrashLooping"
    excerpt: str  # what was seen
    namespace: str = ""
    blocking: bool = False  # part of an incident: no upgrade step starts on this cluster
    prerelease: bool = False  # in a namespace the fleet marks as pre-release
    gating: bool = True  # a new one after a hop fails the health gate (False: noted only)


@dataclass
class ClusterHealth:
    """What one read of a cluster's health found, what was read, and what could not be read."""

    cluster: str
    observed_at: str
    signals: list[HealthSignal] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # parts that could not be read: incomplete, not clean

    @property
    def incident(self) -> list[HealthSignal]:
        return [s for s in self.signals if s.blocking]

    @property
    def noted(self) -> list[HealthSignal]:
        """Problems outside pre-release namespaces that do not block (the baseline a hop is compared with)."""
        return [s for s in self.signals if not s.blocking and not s.prerelease]

    @property
    def prerelease(self) -> list[HealthSignal]:
        return [s for s in self.signals if s.prerelease]

    def summary(self) -> str:
        """'2 crash-looping pods, 1 critical alert firing' for the blocking signals (or 'healthy')."""
        counts: dict[str, int] = {}
        for s in self.incident:
            counts[_NOUNS[s.kind]] = counts.get(_NOUNS[s.kind], 0) + 1
        return ", ".join(f"{n} {what}" for what, n in counts.items()) or "no incident"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterHealth:
        signals = [HealthSignal(**s) for s in data.get("signals", [])]
        return cls(data["cluster"], data.get("observed_at", ""), signals, list(data.get("read", [])),
                   list(data.get("problems", [])))  # fmt: skip


_NOUNS = {"alert": "critical alert(s) firing", "node": "node(s) NotReady", "pod": "failing pod(s)",
          "flux": "Flux object(s) failing", "argocd": "Argo CD application(s) degraded",
          "event": "warning event(s)"}  # fmt: skip


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def _workload(pod: dict[str, Any]) -> str:
    """The pod's controller as 'Kind/name' (a ReplicaSet's template hash dropped, so replaced pods match)."""
    refs = _meta(pod).get("ownerReferences") or []
    if not refs:
        return f"Pod/{_meta(pod).get('name', '')}"
    kind, name = refs[0].get("kind", ""), refs[0].get("name", "")
    if kind == "ReplicaSet":
        kind, name = "Deployment", re.sub(r"-[a-z0-9]{5,10}$", "", name)
    return f"{kind}/{name}"


def _pods(
    cluster: str, source: ClusterSource, now: datetime, prerelease: set[str], system: set[str]
) -> list[HealthSignal]:
    found = []
    for pod in source.objects("v1", "Pod"):
        meta, status = _meta(pod), pod.get("status") or {}
        if meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        waiting = {s.get("name", ""): ((s.get("state") or {}).get("waiting") or {}) for s in statuses}
        crashing = [c for c, w in waiting.items() if w.get("reason") == "CrashLoopBackOff"]
        pre = ns in prerelease
        ref = f"{cluster}: v1 Pod {ns}/{name}"
        if crashing:
            restarts = sum(int(s.get("restartCount") or 0) for s in statuses if s.get("name") in crashing)
            found.append(HealthSignal(
                "pod", f"pod:CrashLoopBackOff:{ns}/{_workload(pod)}", ref,
                f"container(s) {', '.join(crashing)} waiting in CrashLoopBackOff, {restarts} restarts"
                + (f" on node {pod['spec'].get('nodeName')}" if (pod.get("spec") or {}).get("nodeName") else ""),
                ns, blocking=not pre, prerelease=pre))  # fmt: skip
            continue
        ready = _condition(pod, "Ready")
        started = _time(status.get("startTime") or meta.get("creationTimestamp"))
        old_enough = started is None or now - started >= PENDING_GRACE
        reasons = sorted({w.get("reason", "") for w in waiting.values() if w.get("reason")})
        if status.get("phase") == "Running" and ready.get("status") == "False" and old_enough:
            why = f"Running but not Ready ({ready.get('reason') or 'readiness probe failing'})"
        elif status.get("phase") == "Pending" and old_enough:
            why = f"Pending since {status.get('startTime') or meta.get('creationTimestamp') or '?'}"
        else:
            continue
        if reasons:
            why += f"; waiting: {', '.join(reasons)}"
        found.append(HealthSignal("pod", f"pod:NotReady:{ns}/{_workload(pod)}", ref, why, ns,
                                  blocking=ns in system and not pre, prerelease=pre))  # fmt: skip
    return found


def _nodes(cluster: str, source: ClusterSource) -> list[HealthSignal]:
    found = []
    for node in source.objects("v1", "Node"):
        ready = _condition(node, "Ready")
        if ready.get("status") == "True":
            continue
        name = _meta(node).get("name", "")
        shown = f"Ready={ready.get('status', 'missing')}"
        if ready:
            since = ready.get("lastTransitionTime", "?")
            shown += f" since {since}: {ready.get('reason', '')} {ready.get('message', '')}"
        found.append(HealthSignal("node", f"node:{name}", f"{cluster}: v1 Node {name}", shown.strip()[:300],
                                  blocking=True))  # fmt: skip
    return found


def _flux(cluster: str, source: ClusterSource, prerelease: set[str]) -> tuple[list[HealthSignal], int]:
    found, seen = [], 0
    for kind, group in FLUX_KINDS:
        for obj in source.objects_of_kind(kind, group):
            seen += 1
            if (obj.get("spec") or {}).get("suspend") is True:
                continue
            ready = _condition(obj, "Ready")
            if ready.get("status") not in ("False", "Unknown"):
                continue
            meta = _meta(obj)
            ns, name = meta.get("namespace", ""), meta.get("name", "")
            target = (obj.get("spec") or {}).get("targetNamespace") or ns
            pre = target in prerelease
            failing = ready.get("status") == "False"
            found.append(HealthSignal(
                "flux", f"flux:{kind}:{ns}/{name}:{ready.get('status')}",
                f"{cluster}: {obj.get('apiVersion', group)} {kind} {ns}/{name}",
                f"Ready={ready.get('status')} ({ready.get('reason', '')}): {str(ready.get('message', ''))[:240]}",
                target, blocking=failing and not pre, prerelease=pre, gating=failing))  # fmt: skip
    return found, seen


def applications_for(cluster: str, sources: dict[str, ClusterSource]) -> list[tuple[str, dict[str, Any]]]:
    """Argo CD Applications (recorded on any cluster) that deploy to this one: (where recorded, app)."""
    found = []
    for where, source in sources.items():
        try:
            apps = source.objects_of_kind("Application", "argoproj.io")
        except SourceError:
            continue
        for app in apps:
            dest = (app.get("spec") or {}).get("destination") or {}
            if dest.get("name") == cluster or (where == cluster and dest.get("server") == IN_CLUSTER):
                found.append((where, app))
    return found


def _argocd(cluster: str, apps: list[tuple[str, dict[str, Any]]], prerelease: set[str]) -> list[HealthSignal]:
    found = []
    for where, app in apps:
        meta, status = _meta(app), app.get("status") or {}
        health = (status.get("health") or {}).get("status", "Unknown")
        sync = (status.get("sync") or {}).get("status", "Unknown")
        ns = ((app.get("spec") or {}).get("destination") or {}).get("namespace", "")
        pre = ns in prerelease
        ref = f"{where}: argoproj.io/v1alpha1 Application {meta.get('namespace', '')}/{meta.get('name', '')}"
        shown = f"destination {cluster}/{ns or '-'}: sync {sync}, health {health}"
        if health in ("Degraded", "Missing"):
            found.append(HealthSignal("argocd", f"argocd:{meta.get('name')}:{health}", ref, shown, ns,
                                      blocking=not pre, prerelease=pre))  # fmt: skip
        elif sync == "OutOfSync":
            found.append(HealthSignal("argocd", f"argocd:{meta.get('name')}:OutOfSync", ref, shown, ns,
                                      prerelease=pre, gating=False))  # fmt: skip
    return found


def _events(cluster: str, source: ClusterSource, now: datetime, prerelease: set[str]) -> tuple[list[HealthSignal], int]:
    """Recent Warning events, one signal per (object, reason) with the summed count and the newest message."""
    grouped: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for event in source.objects("v1", "Event"):
        if event.get("type") != "Warning":
            continue
        series = event.get("series") or {}
        last = _time(series.get("lastObservedTime") or event.get("lastTimestamp") or event.get("eventTime")
                     or _meta(event).get("creationTimestamp"))  # fmt: skip
        if last is None or now - last > EVENT_WINDOW or last - now > EVENT_WINDOW:
            continue
        obj = event.get("involvedObject") or event.get("regarding") or {}
        key = (obj.get("kind", ""), obj.get("namespace", "") or _meta(event).get("namespace", ""), obj.get("name", ""),
               str(event.get("reason", "")))  # fmt: skip
        entry = grouped.setdefault(key, {"count": 0, "last": last, "message": ""})
        entry["count"] += int(series.get("count") or event.get("count") or 1)
        if last >= entry["last"]:
            entry["last"], entry["message"] = last, str(event.get("message") or event.get("note") or "")
    found = []
    for (kind, ns, name, reason), entry in sorted(grouped.items(), key=lambda kv: -kv[1]["count"]):
        pre = ns in prerelease
        found.append(HealthSignal(
            "event", f"event:{kind}:{ns}/{_strip_pod_suffix(kind, name)}:{reason}",
            f"{cluster}: v1 Event {reason} on {kind} {ns + '/' if ns else ''}{name}",
            f"{entry['count']}x Warning {reason} (last {entry['last'].strftime('%Y-%m-%dT%H:%M:%SZ')}): "
            f"{entry['message'][:200]}",
            ns, prerelease=pre, gating=reason in INCIDENT_EVENT_REASONS))  # fmt: skip
    return found, len(grouped)


def _strip_pod_suffix(kind: str, name: str) -> str:
    """Pods of one workload share an event key: 'api-7d9f8c6b5-x2x9z' -> 'api' (replaced pods match)."""
    return re.sub(r"(-[a-z0-9]{5,10})?-[a-z0-9]{5}$", "", name) if kind == "Pod" else name


def _alerts(cluster: str, alerts: AlertsRead, prerelease: set[str]) -> list[HealthSignal]:
    found = []
    for alert in alerts.alerts:
        if not alert.firing or alert.quiet:
            continue
        ns = alert.labels.get("namespace", "")
        pre = ns in prerelease
        identity = ",".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("severity",))
        found.append(HealthSignal(
            "alert", f"alert:{identity}", f"{cluster}: alert {alert.name} from {alerts.source}", alert.describe()[:400],
            ns, blocking=alert.severity == "critical" and not pre, prerelease=pre))  # fmt: skip
    return found


def read_health(
    cluster: str,
    source: ClusterSource,
    alerts: AlertsRead,
    *,
    prerelease: set[str] | None = None,
    system_namespaces: set[str] | None = None,
    applications: list[tuple[str, dict[str, Any]]] | None = None,
) -> ClusterHealth:
    """Read one cluster's health now (see the module docstring for what counts as an incident)."""
    prerelease = set(prerelease or ())
    system = set(system_namespaces or ()) | {"kube-system"}
    now = source.observed_at()
    health = ClusterHealth(cluster, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        nodes = _nodes(cluster, source)
        pods = _pods(cluster, source, now, prerelease, system)
        flux, flux_seen = _flux(cluster, source, prerelease)
        events, event_groups = _events(cluster, source, now, prerelease)
    except (SourceError, OSError, ValueError) as exc:
        health.problems.append(f"{cluster}: cluster objects could not be read: {exc}")
        return health
    argo = _argocd(cluster, applications or [], prerelease)
    health.signals = [*_alerts(cluster, alerts, prerelease), *nodes, *pods, *flux, *argo, *events]
    health.read.append(
        f"{cluster}: {len(source.objects('v1', 'Node'))} nodes, {len(source.objects('v1', 'Pod'))} pods, "
        f"{flux_seen} Flux objects, {len(applications or [])} Argo CD applications deploying here, "
        f"{event_groups} recent Warning event groups ({int(EVENT_WINDOW.total_seconds() // 60)} min)"
    )
    if alerts.read:
        health.read.append(f"{cluster}: {len(alerts.alerts)} active alerts from {alerts.source}")
    else:
        health.problems.append(alerts.problem)
    if prerelease:
        health.read.append(f"{cluster}: pre-release namespaces {', '.join(sorted(prerelease))} kept apart")
    return health


def new_since(before: ClusterHealth, after: ClusterHealth) -> list[HealthSignal]:
    """Signals in `after` that `before` did not have (by key), that count for the gate."""
    known = {s.key for s in before.signals}
    return [s for s in after.signals if s.key not in known and s.gating]


def tool_namespaces() -> set[str]:
    """kube-system and each known tool's namespace: a pod not Ready there is an incident, not a detail."""
    return {"kube-system", *(load_tool(tool).namespace for tool in available_tools())}


def fleet_cluster_health(
    fleet: Fleet,
    cluster: str,
    system_namespaces: set[str] | None = None,
    sources: dict[str, ClusterSource] | None = None,
    alerts_timeout: float = 10.0,
) -> ClusterHealth:
    """One fleet cluster's health: its source (or `sources[cluster]`, e.g. read afresh), the alerts of its
    snapshot or metrics_url, and the Argo CD Applications any fleet cluster records for it."""
    opened = sources if sources is not None else {n: c.source for n, c in fleet.clusters.items() if c.source}
    entry = fleet.clusters[cluster].entry
    source = opened.get(cluster)
    if source is None:
        why = fleet.clusters[cluster].error or "no source"
        return ClusterHealth(cluster, "", problems=[f"{cluster}: could not be read: {why}"])
    url = entry.metrics_url
    shared = bool(url) and sum(1 for c in fleet.clusters.values() if c.entry.metrics_url == url) > 1
    snapshot = fleet.root / entry.snapshot if entry.snapshot else None
    alerts = read_alerts(cluster, snapshot, entry.metrics_url, shared, alerts_timeout)
    return read_health(cluster, source, alerts, prerelease=set(entry.prerelease_namespaces),
                       system_namespaces=tool_namespaces() if system_namespaces is None else system_namespaces,
                       applications=applications_for(cluster, opened))  # fmt: skip
