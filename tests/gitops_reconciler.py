"""A test stand-in for the clusters' Flux controllers, plus the metrics they would produce.

`Reconciler` watches the test's git repo: when an `upgradectl/*` branch moves, it reads each cluster's
Cilium HelmRelease at the new tip and, after a short delay (the controllers' reconcile time), rewrites
the cluster's recorded snapshot the way Flux would update the live objects: the HelmRelease Ready at the
new chart version, every Kustomization Ready at `<branch>@sha1:<tip>`. upgradectl reads those snapshot
files afresh on every poll (SnapshotCluster), so the whole execute path runs against it for real.
`cilium_series` writes healthy Cilium metrics for a real VictoriaMetrics; `on_version` lets a test
break a gate when a version lands (and heal it when the revert lands).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

HELMRELEASES = "resources/helm.toolkit.fluxcd.io/v2beta2/helmreleases.yaml"
KUSTOMIZATIONS = "resources/kustomize.toolkit.fluxcd.io/v1/kustomizations.yaml"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30).stdout


def init_repo(root: Path) -> None:
    """`git init` a copied fleet and commit everything (the GitOps repo with Terraform beside it)."""
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "platform-team")
    git(root, "config", "user.email", "platform@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fleet as it runs today")


def _write_list(path: Path, items: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False))
    os.replace(tmp, path)  # readers never see half a file


class Reconciler(threading.Thread):
    """Flips the served snapshots' Flux status objects when the repo's upgradectl branches move."""

    def __init__(self, repo: Path, charts: dict[str, str], delay: float = 0.2,
                 on_version: Callable[[str, str, str], None] | None = None):  # fmt: skip
        super().__init__(daemon=True)
        self.repo, self.charts, self.delay = repo, charts, delay
        self.on_version = on_version or (lambda cluster, old, new: None)
        self.seen: dict[str, str] = {}
        self.applied: list[tuple[str, str, str]] = []  # (cluster, version, tip) in the order applied
        self.errors: list[str] = []
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                refs = git(self.repo, "for-each-ref", "--format=%(refname:short) %(objectname)",
                           "refs/heads/upgradectl")
                for line in refs.splitlines():
                    branch, tip = line.split()
                    if self.seen.get(branch) != tip:
                        self._reconcile(branch, tip)
                        self.seen[branch] = tip
            except Exception as exc:  # keep watching; the test reads errors
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)

    def _reconcile(self, branch: str, tip: str) -> None:
        time.sleep(self.delay)
        for cluster, chart_file in self.charts.items():
            text = git(self.repo, "show", f"{tip}:{chart_file}")
            doc = next(d for d in yaml.safe_load_all(text) if d and d.get("kind") == "HelmRelease")
            version = str(doc["spec"]["chart"]["spec"]["version"])
            snapshot = self.repo / "clusters" / cluster
            releases = yaml.safe_load((snapshot / HELMRELEASES).read_text())["items"]
            release = next(r for r in releases if r["metadata"]["name"] == doc["metadata"]["name"])
            old = str(release["status"]["lastAttemptedRevision"])
            if old != version:
                self.on_version(cluster, old, version)
                _flip_helmrelease(release, version)
                _write_list(snapshot / HELMRELEASES, releases)
                self.applied.append((cluster, version, tip))
            kustomizations = yaml.safe_load((snapshot / KUSTOMIZATIONS).read_text())["items"]
            for k in kustomizations:
                _flip_kustomization(k, f"{branch}@sha1:{tip}")
            _write_list(snapshot / KUSTOMIZATIONS, kustomizations)


def _flip_helmrelease(release: dict, version: str) -> None:
    status = release["status"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    history = status.get("history") or [{}]
    revision = int(history[0].get("version", 0)) + 1
    entry = {**history[0], "chartVersion": version, "lastDeployed": now, "version": revision}
    status["history"] = [entry, *history][:5]
    status["lastAttemptedRevision"] = status["lastAppliedRevision"] = version
    for condition in status.get("conditions", []):
        condition.update({"status": "True", "lastTransitionTime": now,
                          "message": f"Helm upgrade succeeded with chart cilium@{version}"})  # fmt: skip


def _flip_kustomization(kustomization: dict, revision: str) -> None:
    status = kustomization.setdefault("status", {})
    status["lastAppliedRevision"] = status["lastAttemptedRevision"] = revision
    for condition in status.get("conditions", []):
        if condition.get("type") == "Ready":
            condition.update({"status": "True", "message": f"Applied revision: {revision}"})


def cilium_series(cluster: str, start: float, end: float, step: float = 15.0, extra: dict | None = None,
                  **values: float) -> str:  # fmt: skip
    """JSON lines of healthy Cilium metrics for one cluster between start and end (VictoriaMetrics import)."""
    stamps = [int((start + i * step) * 1000) for i in range(int((end - start) / step) + 1)]
    n = len(stamps)
    labels = {"cluster": cluster, "job": "cilium-agent", **(extra or {})}
    gauges = {
        ("cilium_unreachable_nodes", ()): values.get("unreachable", 0.0),
        ("cilium_unreachable_health_endpoints", ()): 0.0,
        ("cilium_endpoint_state", (("state", "ready"),)): 40.0,
        ("cilium_controllers_failing", ()): values.get("controllers_failing", 0.0),
    }
    counters = {
        ("cilium_drop_count_total", (("reason", "Policy denied"),)): 3.0,
        ("cilium_drop_count_total", (("reason", "Stale or unroutable IP"),)): 2.0,
        ("cilium_endpoint_regenerations_total", (("outcome", "success"),)): 1.0,
        ("hubble_drop_total", (("reason", "POLICY_DENIED"),)): 3.0,
    }
    lines = []
    for (name, extra_labels), value in gauges.items():
        lines.append({"metric": {"__name__": name, **labels, **dict(extra_labels)}, "values": [value] * n,
                      "timestamps": stamps})  # fmt: skip
    for (name, extra_labels), per_step in counters.items():
        lines.append({"metric": {"__name__": name, **labels, **dict(extra_labels)},
                      "values": [1000 + per_step * i for i in range(n)], "timestamps": stamps})  # fmt: skip
    if extra:  # an injected series carries only the broken gauge
        lines = [ln for ln in lines if ln["metric"]["__name__"] == "cilium_controllers_failing"]
    return "\n".join(json.dumps(ln) for ln in lines) + "\n"
