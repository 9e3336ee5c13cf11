"""Reconciliation: has the cluster applied a commit? Read from the cluster source, never written.

After `upgradectl execute` commits a change set it waits until every cluster of the step shows it:

- a Flux HelmRelease holding a chart pin: `Ready=True` and the last attempted revision (v2: history[0]
  chartVersion) at the new chart version;
- an Argo CD Application holding a `targetRevision`: `Synced` and `Healthy` at the new revision;
- a Helm release installed by Terraform: the newest release record `deployed` at the new chart version;
- any other edited GitOps file: the Flux Kustomization that applies it `Ready=True` with a
  lastAppliedRevision that contains the commit.

Each poll opens the cluster source afresh (a new SnapshotCluster reads the files again; a new LiveCluster
has an empty cache), so what it reports is what the cluster says now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from upgradectl.models import FileEdit
from upgradectl.tools.cluster.fleet import Fleet, default_live_opener
from upgradectl.tools.cluster.sources import ClusterSource, SnapshotCluster, SourceError

Applied = Callable[[str], bool]  # does this revision (sha) contain the commit?


@dataclass(frozen=True)
class Expectation:
    """One thing a cluster must show before the step counts as reconciled."""

    cluster: str
    via: str  # flux-helmrelease | argocd-application | helm-release | flux-kustomization
    namespace: str
    name: str
    version: str = ""  # chart version / target revision; '' for a Kustomization (the commit decides)
    file: str = ""  # gitops-relative file a Kustomization must have applied

    def describe(self) -> str:
        what = {"flux-helmrelease": "HelmRelease", "argocd-application": "Application",
                "helm-release": "Helm release", "flux-kustomization": "Kustomization"}[self.via]  # fmt: skip
        target = f"{self.namespace}/{self.name}" if self.namespace else self.name
        at = f" at {self.version}" if self.version else f" with the commit applied ({self.file})"
        return f"{self.cluster}: {what} {target}{at}"


def expectations(edits: list[FileEdit], gitops_prefix: str, reverse: bool = False) -> list[Expectation]:
    """What the clusters must show once these edits are applied (or undone, with reverse)."""
    found: dict[tuple, Expectation] = {}
    for edit in edits:
        if edit.action == "manual":
            continue
        if edit.reconcile is not None:
            version = edit.old if reverse else edit.new
            target = edit.reconcile
            exp = Expectation(edit.cluster, target.via, target.namespace, target.name, version)
            found[(exp.cluster, exp.via, exp.namespace, exp.name)] = exp
        if edit.file.startswith(gitops_prefix):
            rel = edit.file[len(gitops_prefix):]
            for cluster in edit.applies_to or [edit.cluster]:
                found.setdefault((cluster, "kustomization", rel), Expectation(cluster, "flux-kustomization", "", "",
                                                                             file=rel))  # fmt: skip
    return list(found.values())


def fresh_source(fleet: Fleet, cluster: str) -> ClusterSource:
    """The cluster read anew: a snapshot's files again, or a live context with an empty cache."""
    entry = fleet.clusters[cluster].entry
    if entry.snapshot:
        return SnapshotCluster(fleet.root / entry.snapshot, name=entry.name)
    return default_live_opener(entry)


def _ready(obj: dict[str, Any]) -> tuple[bool, str]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True", str(condition.get("message", ""))
    return False, "no Ready condition yet"


def _same_version(a: str, b: str) -> bool:
    return str(a).lstrip("v") == str(b).lstrip("v")


def _find(objs: list[dict[str, Any]], namespace: str, name: str) -> dict[str, Any] | None:
    for obj in objs:
        meta = obj.get("metadata") or {}
        if meta.get("name") == name and (not namespace or meta.get("namespace", "") == namespace):
            return obj
    return None


def check(source: ClusterSource, exp: Expectation, applied: Applied) -> tuple[bool, str]:
    """(satisfied, what the cluster shows) for one expectation."""
    if exp.via == "helm-release":
        release = next((r for r in source.helm_releases() if r.name == exp.name and r.namespace == exp.namespace), None)
        if release is None:
            return False, "no Helm release record"
        shown = f"revision {release.revision} {release.status} at chart {release.chart_version}"
        return release.status == "deployed" and _same_version(release.chart_version, exp.version), shown
    if exp.via == "flux-helmrelease":
        obj = _find(source.objects_of_kind("HelmRelease", "helm.toolkit.fluxcd.io"), exp.namespace, exp.name)
        if obj is None:
            return False, "HelmRelease not found"
        status = obj.get("status") or {}
        history = status.get("history") or []
        revision = str(status.get("lastAttemptedRevision") or (history[0].get("chartVersion") if history else "")
                       or status.get("lastAppliedRevision") or "")  # fmt: skip
        ready, message = _ready(obj)
        generation = (obj.get("metadata") or {}).get("generation")
        current = generation is None or status.get("observedGeneration") in (None, generation)
        return ready and current and _same_version(revision, exp.version), f"Ready={ready} at {revision}: {message}"
    if exp.via == "argocd-application":
        obj = _find(source.objects_of_kind("Application", "argoproj.io"), exp.namespace, exp.name)
        if obj is None:
            return False, "Application not found"
        status = obj.get("status") or {}
        sync = status.get("sync") or {}
        health = (status.get("health") or {}).get("status", "")
        revisions = [str(sync.get("revision", "")), *[str(r) for r in sync.get("revisions") or []]]
        at = any(_same_version(r, exp.version) or (len(r) == 40 and applied(r)) for r in revisions if r)
        shown = f"{sync.get('status', '')}/{health} at {', '.join(r for r in revisions if r) or 'no revision'}"
        return sync.get("status") == "Synced" and health == "Healthy" and at, shown
    if exp.via == "flux-kustomization":
        best, best_path = None, ""
        for obj in source.objects_of_kind("Kustomization", "kustomize.toolkit.fluxcd.io"):
            path = str((obj.get("spec") or {}).get("path", "")).strip("./")
            if (not path or exp.file == path or exp.file.startswith(path + "/")) and len(path) >= len(best_path):
                best, best_path = obj, path
        if best is None:
            return True, "no Kustomization applies this file: not observable, left to the gates"
        revision = str((best.get("status") or {}).get("lastAppliedRevision", ""))
        sha = revision.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        ready, message = _ready(best)
        name = (best.get("metadata") or {}).get("name", "")
        return ready and applied(sha), f"Kustomization {name} Ready={ready} at {revision or 'no revision'}"
    return False, f"unknown reconciliation target {exp.via}"


@dataclass
class WaitResult:
    reconciled: bool
    lines: list[str]  # per expectation: what the cluster showed last
    seconds: float


def wait_for(
    fleet: Fleet,
    wanted: list[Expectation],
    applied: Applied,
    timeout: float,
    interval: float = 2.0,
    say: Callable[[str], None] = lambda _: None,
) -> WaitResult:
    """Poll every `interval` seconds until every expectation holds or `timeout` passes."""
    started = time.monotonic()
    pending = list(wanted)
    shown: dict[Expectation, str] = {}
    while True:
        sources: dict[str, ClusterSource | None] = {}
        still = []
        for exp in pending:
            if exp.cluster not in sources:
                try:
                    sources[exp.cluster] = fresh_source(fleet, exp.cluster)
                except (SourceError, KeyError, OSError) as exc:
                    sources[exp.cluster] = None
                    shown[exp] = f"cluster source unreadable: {exc}"
            source = sources[exp.cluster]
            if source is None:
                still.append(exp)
                continue
            try:
                ok, text = check(source, exp, applied)
            except (SourceError, OSError, ValueError) as exc:
                ok, text = False, f"could not read: {exc}"
            shown[exp] = text
            if ok:
                say(f"reconciled: {exp.describe()} ({text})")
            else:
                still.append(exp)
        pending = still
        elapsed = time.monotonic() - started
        if not pending or elapsed >= timeout:
            lines = [f"{'ok' if e not in pending else 'NOT RECONCILED'}: {e.describe()}: {shown.get(e, '')}"
                     for e in wanted]  # fmt: skip
            return WaitResult(not pending, lines, elapsed)
        time.sleep(min(interval, max(0.0, timeout - elapsed)))
