"""Clusters of a GitOps repository, read from its layout (for `upgradectl plan --repo PATH`).

- Flux: every Flux Kustomization that no other one applies is where a cluster's sync starts
  (`clusters/<name>/flux-system/gotk-sync.yaml`, or `kubernetes/<name>/flux/config/cluster.yaml`, or the
  `apps.yaml`/`infrastructure.yaml` beside a bootstrap placeholder). Such entry points are grouped by their
  folder, with the generic folder names (`flux`, `flux-system`, `config`, `clusters`, `kubernetes` ...)
  dropped: `clusters/production` is the cluster `production`, `kubernetes/main/flux/config` is `main`.
- Argo CD, when there is no Flux sync: the destination clusters of Applications and ApplicationSets
  (`in-cluster` for the cluster Argo CD runs in).
- Otherwise one cluster named after the repository's directory.
The environment comes from the cluster's name (prod, production, staging, stage, dev, ...) when it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from upgradectl.tools import yamlio
from upgradectl.tools.gitops.manifests import Manifest, cluster_files, load_manifests, repo_relpath

GENERIC_FOLDERS = {
    "flux", "flux-system", "config", "cluster", "clusters", "kubernetes", "k8s", "kube", "gitops", "bootstrap",
    "deploy", "deployments", "manifests", "infrastructure", "infra", "base", "overlays", "argocd", "argo-cd",
}  # fmt: skip

ENVIRONMENT_WORDS = {
    "prod": "prod", "production": "prod", "prd": "prod", "live": "prod",
    "staging": "staging", "stage": "staging", "stg": "staging", "preprod": "staging", "uat": "staging",
    "dev": "dev", "development": "dev", "test": "dev", "testing": "dev", "sandbox": "dev", "sbx": "dev", "qa": "dev",
}  # fmt: skip

IN_CLUSTER = "in-cluster"


@dataclass(frozen=True)
class DiscoveredCluster:
    """A cluster the repository's layout shows: its name, its folder, its environment if the name says it."""

    name: str
    gitops_path: str  # '.' for the whole repository
    environment: str  # '' when the name does not say
    why: str  # what in the layout shows it, with file:line


def environment_of(name: str) -> str:
    """dev, staging or prod when a word of the name says so ('eks-prod-1' -> prod), else ''."""
    for word in re.split(r"[^a-z0-9]+", name.lower()):
        if word in ENVIRONMENT_WORDS:
            return ENVIRONMENT_WORDS[word]
    return ""


def cluster_name(text: str) -> str:
    """A valid fleet cluster name (DNS label) from a folder or destination name."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return name or "cluster"


def _flux_kustomizations(manifests: list[Manifest]) -> list[Manifest]:
    return [
        m for m in manifests if m.kind == "Kustomization" and m.api_version.startswith("kustomize.toolkit.fluxcd.io/")
    ]


def _repo_path(m: Manifest) -> str | None:
    """The folder of this repository a Flux Kustomization builds ('.' for the root); None when its source is
    another artifact (an OCIRepository, a Bucket, an ExternalArtifact), whose paths are not this repository's."""
    spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
    source = spec.get("sourceRef") if isinstance(spec.get("sourceRef"), dict) else {}
    if source.get("kind", "GitRepository") != "GitRepository":
        return None
    return repo_relpath(str(spec.get("path") or "")) or "."


def _cluster_folder(file: str) -> tuple[str, str]:
    """(folder, name) of the cluster whose sync starts in `file`: the file's folder above any `apps` folder,
    without generic trailing folders; the name is that folder's last part ('' when only generic ones are left)."""
    parts = list(PurePosixPath(file).parts[:-1])
    if "apps" in parts:  # an application's own Kustomization (kubernetes/main/apps/kube-system/cilium/ks.yaml)
        parts = parts[: parts.index("apps")]
    while parts and parts[-1].lower() in GENERIC_FOLDERS:
        parts.pop()
    return "/".join(parts), (parts[-1] if parts else "")


def _flux_clusters(root: Path, manifests: list[Manifest]) -> list[DiscoveredCluster]:
    syncs = _flux_kustomizations(manifests)
    if not syncs:
        return []
    ids = {f"{m.file}:{m.line}": m for m in syncs}
    targets = {key: path for key, m in ids.items() if (path := _repo_path(m)) is not None}
    reached = cluster_files(root, targets, manifests)  # file -> the syncs whose build includes it
    roots = []
    for key, m in ids.items():
        by = reached.get(m.file, set()) - {key}
        if all(m_file_reached(ids[other].file, key, reached) for other in by):  # only its own cycle applies it
            roots.append(m)
    groups: dict[str, list[Manifest]] = {}
    for m in roots:
        groups.setdefault(_cluster_folder(m.file)[0], []).append(m)
    clusters = []
    for folder, members in sorted(groups.items()):
        name = _cluster_folder(members[0].file)[1] or root.name
        refs = ", ".join(f"Kustomization {m.name} ({m.file}:{m.line})" for m in members[:3])
        clusters.append(
            DiscoveredCluster(cluster_name(name), folder or ".", environment_of(name), f"Flux sync: {refs}")
        )
    return clusters


def m_file_reached(file: str, by: str, reached: dict[str, set[str]]) -> bool:
    """True when the sync `by` applies `file` (the two are one cycle when each applies the other)."""
    return by in reached.get(file, set())


def _destination(spec: dict) -> str:
    destination = spec.get("destination") if isinstance(spec.get("destination"), dict) else {}
    name = str(destination.get("name") or "")
    server = str(destination.get("server") or "")
    if name:
        return name
    if server in ("https://kubernetes.default.svc", "https://kubernetes.default.svc/"):
        return IN_CLUSTER
    return re.sub(r"^https?://", "", server).split(":")[0].split("/")[0] if server else ""


def _argocd_clusters(manifests: list[Manifest]) -> list[DiscoveredCluster]:
    found: dict[str, str] = {}
    for m in manifests:
        if not m.api_version.startswith("argoproj.io/"):
            continue
        spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
        names: list[str] = []
        if m.kind == "Application":
            names = [_destination(spec)]
        elif m.kind == "ApplicationSet":
            template = (spec.get("template") or {}).get("spec") if isinstance(spec.get("template"), dict) else {}
            dest = _destination(template or {})
            if "{{" in dest:  # templated: the list generator's elements name the clusters
                names = [
                    str(e.get("cluster") or e.get("name") or "")
                    for g in yamlio.as_list(spec.get("generators"))
                    if isinstance(g, dict)
                    for e in yamlio.as_list((g.get("list") or {}).get("elements"))
                    if isinstance(e, dict)
                ]
            else:
                names = [dest]
        for name in names:
            if name and "{{" not in name:
                found.setdefault(name, f"Argo CD {m.kind} {m.name} ({m.file}:{m.line}) deploys to {name}")
    return [DiscoveredCluster(cluster_name(n), ".", environment_of(n), why) for n, why in sorted(found.items())]


def discover_clusters(root: Path, manifests: list[Manifest] | None = None) -> list[DiscoveredCluster]:
    """The clusters a repository's layout shows (Flux syncs, else Argo CD destinations, else the repository)."""
    if manifests is None:
        manifests = load_manifests(root)[0]
    clusters = _flux_clusters(root, manifests) or _argocd_clusters(manifests)
    if clusters:
        return _unique_names(clusters)
    name = cluster_name(root.resolve().name)
    return [DiscoveredCluster(name, ".", environment_of(name), f"no Flux sync or Argo CD destination in {root}: "
                              "the whole repository is one cluster named after its directory")]  # fmt: skip


def _unique_names(clusters: list[DiscoveredCluster]) -> list[DiscoveredCluster]:
    seen: dict[str, int] = {}
    unique = []
    for cluster in clusters:
        count = seen.get(cluster.name, 0)
        seen[cluster.name] = count + 1
        if count:
            cluster = DiscoveredCluster(f"{cluster.name}-{count + 1}", cluster.gitops_path, cluster.environment,
                                        cluster.why)  # fmt: skip
        unique.append(cluster)
    return unique
