"""Record a live cluster into a snapshot directory (docs/snapshot-format.md): what the agents read.

Recorded, each kind at the version LiveCluster reads it (CRD storage version, else preferred):
- the built-in kinds in RECORDED_BUILTINS, plus any built-in kind a knowledge-base detector names;
- every CRD (with status.storedVersions) and every custom resource of every CRD;
- Secrets: only Helm release records (LiveCluster never reads another Secret), credentials redacted;
- Events: only Warning events (requested with fieldSelector=type=Warning): what `upgradectl health` reads;
- alerts.json (with a metrics URL): the /api/v1/alerts answer, the alerts labelled with this cluster;
- ConfigMaps: those in tool namespaces (each tool's namespace from the knowledge base, kube-system, and
  namespaces running a tool's Helm release or image) plus every ConfigMap a detector names; application
  ConfigMaps are left out (the agents do not read them, and they are where credentials hide).

Everything arrives redacted from LiveCluster. Lists are streamed page by page to disk, so memory stays
flat however many pods a cluster runs. The recording goes to a temporary directory next to DIR and moves
into place when complete: a failed recording leaves DIR as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from upgradectl.tools.cluster.fleet import provider_for_version
from upgradectl.tools.cluster.kubeapi import ServedResource
from upgradectl.tools.cluster.live import LiveCluster
from upgradectl.tools.cluster.sources import SourceError, split_api_version
from upgradectl.tools.cluster.yamlwrite import dump
from upgradectl.tools.helm import HelmDecodeError, release_from_secret
from upgradectl.tools.knowledge.loader import available_tools, load_tool
from upgradectl.tools.metrics.alerts import ALERTS_FILE
from upgradectl.tools.metrics.promql import PromClient, PromQLError
from upgradectl.tools.redact import redact

RECORDED_BUILTINS: tuple[tuple[str, str], ...] = (
    ("", "nodes"),
    ("", "namespaces"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "secrets"),  # Helm release records only
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("", "pods"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "services"),
    ("", "configmaps"),  # tool namespaces and detector-named only
    ("policy", "poddisruptionbudgets"),
    ("", "events"),  # Warning events only (the health check's recent warnings)
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
)
WORKLOAD_PLURALS = {("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets")}
BATCH = 200  # objects per YAML dump call


class SnapshotExists(ValueError):
    """The output directory already holds something and --force was not given."""


class RecordingProgress(Protocol):
    """What a progress display needs to know (the CLI draws it with rich on a terminal)."""

    def begin(self, total_types: int) -> None: ...

    def start(self, label: str) -> None: ...

    def advance(self, label: str, count: int, total: int | None) -> None: ...

    def finish(self, label: str, count: int) -> None: ...


@dataclass
class Recording:
    """What was written: one entry per resource list, and anything left out on purpose."""

    path: Path
    lists: list[tuple[str, str, int]] = field(default_factory=list)  # (apiVersion, plural, objects)
    warnings: list[str] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(n for _, _, n in self.lists)


def record_snapshot(
    cluster: LiveCluster,
    out: Path,
    *,
    force: bool = False,
    progress: RecordingProgress | None = None,
    metrics_url: str = "",
) -> Recording:
    """Record `cluster` into `out` (a new or empty directory; with force, an old snapshot is replaced), and
    the alerts firing at `metrics_url` for it when one is given."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SnapshotExists(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise SnapshotExists(f"{out} is not empty; pass --force to replace the snapshot in it, or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.recording-", dir=out.parent))
    try:
        recording = _record_into(cluster, work, progress)
        if metrics_url:
            _record_alerts(cluster.name, metrics_url, work, recording)
        _move_into_place(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    recording.path = out
    return recording


def _move_into_place(work: Path, out: Path) -> None:
    """Replace out's snapshot (cluster.yaml, resources/, and stale metrics/) with the new recording."""
    out.mkdir(parents=True, exist_ok=True)
    for old in ("cluster.yaml", "resources", "metrics", ALERTS_FILE):
        target = out / old
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for entry in work.iterdir():
        shutil.move(str(entry), str(out / entry.name))


def _record_alerts(cluster: str, metrics_url: str, root: Path, recording: Recording) -> None:
    """alerts.json: the active alerts of this cluster (its `cluster` label, or none), redacted, as
    /api/v1/alerts answers; a source that cannot answer stops the recording (SourceError)."""
    try:
        with PromClient(metrics_url) as client:
            items = client.alerts()
    except PromQLError as exc:
        raise SourceError(f"alerts could not be read from {metrics_url}: {exc}") from None
    mine = [a for a in items if (a.get("labels") or {}).get("cluster", cluster) == cluster]
    document = redact({"status": "success", "data": {"alerts": mine}})
    (root / ALERTS_FILE).write_text(json.dumps(document, indent=2) + "\n")
    recording.lists.append(("alerts", ALERTS_FILE, len(mine)))


def _record_into(cluster: LiveCluster, root: Path, progress: RecordingProgress | None) -> Recording:
    recording = Recording(path=root)
    version = cluster.server_version()
    observed = cluster.observed_at()
    plan = _recording_plan(cluster)
    if progress:
        progress.begin(len(plan))
    namespaces = _knowledge_namespaces()
    nodes: list[dict[str, Any]] = []
    for resource in plan:
        label = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
        key = (resource.group, resource.plural)
        items: Iterable[dict[str, Any]] = _stream(cluster, resource, label, progress)
        if key == ("", "secrets"):
            items = _noting_release_namespaces(items, namespaces)
        elif key in WORKLOAD_PLURALS:
            items = _noting_tool_namespaces(items, namespaces)
        elif key == ("", "configmaps"):
            items = (cm for cm in items if _wanted_configmap(cm, namespaces))
        elif key == ("", "nodes"):
            items = _collecting(items, nodes)
        count = _write_list(root / "resources" / (resource.group or "core") / resource.version, resource.plural, items)
        recording.lists.append((resource.api_version, resource.plural, count))
        if progress:
            progress.finish(label, count)
    meta = {
        "name": cluster.name,
        "provider": _provider(version, nodes),
        "region": _region(nodes),
        "recorded_at": observed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recorded_from": f"context {cluster.context} ({cluster.reader.server}) by upgradectl snapshot",
        "server_version": version,
    }
    (root / "cluster.yaml").write_text(dump(meta))
    recording.warnings.extend(cluster.warnings)
    return recording


def _recording_plan(cluster: LiveCluster) -> list[ServedResource]:
    """Which resources to record, in order (secrets and workloads before ConfigMaps: they name tool namespaces)."""
    canonical = {(r.group, r.plural): r for r in cluster.resource_types() if isinstance(r, ServedResource)}
    wanted = [canonical[key] for key in RECORDED_BUILTINS if key in canonical]
    named = _detector_kinds()
    for resource in sorted(canonical.values(), key=lambda r: (r.group, r.plural)):
        if ((resource.group, resource.kind) in named or (None, resource.kind) in named) and resource not in wanted:
            wanted.append(resource)
    for group, plural in sorted(cluster.storage_versions()):
        resource = canonical.get((group, plural))
        if resource is None:
            cluster.warnings.append(f"{cluster.name}: CRD {plural}.{group} is not served (not established?); skipped")
        elif resource not in wanted:
            wanted.append(resource)
    return wanted


def _stream(
    cluster: LiveCluster, resource: ServedResource, label: str, progress: RecordingProgress | None
) -> Iterator[dict[str, Any]]:
    if progress:
        progress.start(label)
    seen = 0

    def on_page(count: int, remaining: int | None) -> None:
        nonlocal seen
        seen += count
        if progress:
            progress.advance(label, seen, seen + remaining if remaining is not None else None)

    yield from cluster.iter_objects(resource, on_page=on_page)


def _write_list(directory: Path, plural: str, items: Iterable[dict[str, Any]]) -> int:
    """Stream one List document (`kubectl get -A -o yaml` layout, keys sorted) to <plural>.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / f"{plural}.yaml"
    count = 0
    with file.open("w") as handle:
        handle.write("apiVersion: v1\nitems:\n")
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append(item)
            count += 1
            if len(batch) >= BATCH:
                handle.write(dump(batch))
                batch = []
        if batch:
            handle.write(dump(batch))
        handle.write("kind: List\nmetadata:\n  resourceVersion: ''\n")
    if count == 0:
        file.write_text("apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ''\n")
    return count


# ------------------------------------------------------------------------- what the knowledge base names


def _tools():
    return [load_tool(t) for t in available_tools()]


def _detector_kinds() -> set[tuple[str | None, str]]:
    """(group or None, kind) of every object a knowledge-base detector looks for."""
    kinds = set()
    for k in _tools():
        for change in k.breaking_changes:
            d = change.detector
            if d and d.resource_kind:
                kinds.add((split_api_version(d.api_version)[0] if d.api_version else None, d.resource_kind))
    return kinds


def _detector_configmaps() -> set[tuple[str, str]]:
    """(namespace or '', name) of every ConfigMap a detector looks for ('' namespace: any)."""
    return {
        (change.detector.namespace, change.detector.name)
        for k in _tools()
        for change in k.breaking_changes
        if change.detector and change.detector.resource_kind == "ConfigMap" and change.detector.name
    }


@dataclass
class _ToolNamespaces:
    known: set[str]
    charts: set[str]
    images: list[str]
    configmaps: set[tuple[str, str]]


def _knowledge_namespaces() -> _ToolNamespaces:
    tools = _tools()
    return _ToolNamespaces(
        known={"kube-system", *(k.namespace for k in tools)},
        charts={marker for k in tools for marker in k.install_markers},
        images=[marker for k in tools for marker in k.image_markers],
        configmaps=_detector_configmaps(),
    )


def _noting_release_namespaces(items: Iterable[dict[str, Any]], ns: _ToolNamespaces) -> Iterator[dict[str, Any]]:
    for secret in items:
        try:
            release = release_from_secret(secret)
        except HelmDecodeError:
            release = None
        if release and release.chart in ns.charts:
            ns.known.add(release.namespace)
        yield secret


def _noting_tool_namespaces(items: Iterable[dict[str, Any]], ns: _ToolNamespaces) -> Iterator[dict[str, Any]]:
    for obj in items:
        containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        if any(marker in str(c.get("image", "")) for c in containers for marker in ns.images):
            ns.known.add((obj.get("metadata") or {}).get("namespace", ""))
        yield obj


def _wanted_configmap(cm: dict[str, Any], ns: _ToolNamespaces) -> bool:
    meta = cm.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    return namespace in ns.known or (namespace, name) in ns.configmaps or ("", name) in ns.configmaps


def _collecting(items: Iterable[dict[str, Any]], into: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for obj in items:
        into.append({"metadata": {"labels": (obj.get("metadata") or {}).get("labels") or {}},
                     "spec": {"providerID": (obj.get("spec") or {}).get("providerID", "")}})
        yield obj


def _provider(version: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    """eks | gke | aks | kind | other, from the server's gitVersion and the nodes' providerID."""
    if (provider := provider_for_version(version)) != "other":
        return provider
    schemes = Counter(str(n["spec"]["providerID"]).split("://", 1)[0] for n in nodes if n["spec"]["providerID"])
    scheme = schemes.most_common(1)[0][0] if schemes else ""
    return {"aws": "eks", "gce": "gke", "azure": "aks", "kind": "kind"}.get(scheme, "other")


def _region(nodes: list[dict[str, Any]]) -> str:
    regions = Counter(n["metadata"]["labels"].get("topology.kubernetes.io/region", "") for n in nodes)
    regions.pop("", None)
    return regions.most_common(1)[0][0] if regions else ""

