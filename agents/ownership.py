"""Who changes a tool's release on a cluster: a Flux HelmRelease, an Argo CD Application, Terraform, Flux's own
bootstrap manifests, or a person with the Helm CLI. Read from evidence, strongest first; the procedure follows it.

A release that a controller reconciles must change through Git (a hand-run `helm upgrade` is undone or fought by
the controller); a Terraform `helm_release` through plan/apply of its pin; only a release nobody else owns gets
helm commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from upgradectl.agents.base import TaskInput, relpath
from upgradectl.agents.pins import VersionPin, gitops_pins
from upgradectl.agents.terraform_auditor import terraform_pins
from upgradectl.models import Evidence, Owner
from upgradectl.tools.cluster.sources import ClusterSource
from upgradectl.tools.helm import HelmRelease

FLUX_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
FLUX_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
ARGO_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"


@dataclass(frozen=True)
class Ownership:
    """The owner of one cluster's release of the tool, the object that owns it and the evidence."""

    owner: Owner
    evidence: list[Evidence] = field(default_factory=list)
    namespace: str = ""  # of the owning object (HelmRelease / Application), or the Helm release's
    name: str = ""
    pin: VersionPin | None = None  # where the version is pinned (GitOps file or tfvars), when found
    terraform_root: str = ""  # Terraform: the root directory (relative to the fleet root)
    var_file: str = ""  # Terraform: the tfvars file, relative to the root

    def describe(self) -> str:
        what = {"helm-cli": "the Helm CLI", "terraform": "Terraform (helm_release)",
                "flux-helmrelease": "a Flux HelmRelease", "argocd-application": "an Argo CD Application",
                "flux-bootstrap": "Flux's bootstrap manifests in Git", "manifests": "applied manifests"}[self.owner]
        where = f" {self.namespace}/{self.name}" if self.name and self.owner != "helm-cli" else ""
        return f"{what}{where}"


def _flux_helmrelease_in_cluster(source: ClusterSource, release: HelmRelease) -> dict | None:
    """The in-cluster HelmRelease whose Helm release this is (releaseName or name, target namespace)."""
    for hr in source.objects_of_kind("HelmRelease", "helm.toolkit.fluxcd.io"):
        spec = hr.get("spec") or {}
        meta = hr.get("metadata") or {}
        name = spec.get("releaseName") or meta.get("name")
        namespace = spec.get("targetNamespace") or spec.get("storageNamespace") or meta.get("namespace")
        if name == release.name and namespace == release.namespace:
            return hr
    return None


def _labelled_by_flux(source: ClusterSource, release: HelmRelease) -> tuple[str, str, str] | None:
    """(namespace, name, object ref) of the HelmRelease named by the labels Flux puts on the objects it installs."""
    for api, kind in (("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet")):
        for obj in source.objects(api, kind, release.namespace):
            meta = obj.get("metadata") or {}
            labels = meta.get("labels") or {}
            annotations = meta.get("annotations") or {}
            if annotations.get("meta.helm.sh/release-name") != release.name or FLUX_NAME_LABEL not in labels:
                continue
            ref = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
            return labels.get(FLUX_NAMESPACE_LABEL, ""), labels[FLUX_NAME_LABEL], ref
    return None


def _argo_application_in_cluster(task: TaskInput, source: ClusterSource, cluster: str) -> dict | None:
    """An in-cluster Argo CD Application that installs one of the tool's charts."""
    for app in source.objects_of_kind("Application", "argoproj.io"):
        spec = app.get("spec") or {}
        sources = [spec.get("source") or {}, *(spec.get("sources") or [])]
        if any(isinstance(s, dict) and s.get("chart") in task.knowledge.install_markers for s in sources):
            return app
    return None


def _flux_bootstrap_file(task: TaskInput, cluster: str) -> str:
    """The gotk-components.yaml this cluster applies (relative to the fleet root), for Flux itself."""
    root = task.fleet.gitops_root
    if root is None:
        return ""
    for file, clusters in task.view.manifest_clusters.items():
        if cluster in clusters and file.endswith("gotk-components.yaml"):
            return relpath(root / file, task.fleet.root)
    entry = task.fleet.clusters[cluster].entry.gitops_path if cluster in task.fleet.clusters else ""
    candidate = root / entry / "flux-system" / "gotk-components.yaml" if entry else None
    return relpath(candidate, task.fleet.root) if candidate and candidate.is_file() else ""


def release_owner(task: TaskInput, cluster: str) -> Ownership:
    """Who owns the tool's release on a cluster, from the strongest evidence: GitOps objects (in Git and in the
    cluster, or Flux's labels on the installed objects), then Terraform's helm_release, then Flux's bootstrap
    manifests (Flux itself), then the Helm release secret alone (the Helm CLI)."""
    release = task.releases.get(cluster)
    fleet_cluster = task.fleet.clusters.get(cluster)
    source = fleet_cluster.source if fleet_cluster else None
    pins = [p for p in gitops_pins(task.view, task.knowledge, {cluster}) if p.cluster == cluster]
    flux_pins = [p for p in pins if p.kind == "flux-helmrelease"]
    argo_pins = [p for p in pins if p.kind.startswith("argocd")]
    evidence: list[Evidence] = []
    if flux_pins or (source and release and _flux_helmrelease_in_cluster(source, release)):
        namespace, name = "", ""
        if source and release and (hr := _flux_helmrelease_in_cluster(source, release)):
            meta = hr.get("metadata") or {}
            namespace, name = meta.get("namespace", ""), meta.get("name", "")
            evidence.append(Evidence(source="cluster", ref=f"{cluster}: HelmRelease {namespace}/{name}",
                                     excerpt=f"spec.releaseName: {release.name}, targetNamespace: {release.namespace}"))
        for pin in flux_pins[:1]:
            evidence.append(Evidence(source="gitops", ref=f"{pin.file}:{pin.line}", excerpt=pin.text.strip()))
        return Ownership("flux-helmrelease", evidence, namespace, name, flux_pins[0] if flux_pins else None)
    if source and release and (labelled := _labelled_by_flux(source, release)):
        namespace, name, ref = labelled
        evidence.append(Evidence(source="cluster", ref=f"{cluster}: {ref}",
                                 excerpt=f"{FLUX_NAME_LABEL}: {name}, {FLUX_NAMESPACE_LABEL}: {namespace}"))
        return Ownership("flux-helmrelease", evidence, namespace, name)
    app = _argo_application_in_cluster(task, source, cluster) if source else None
    if argo_pins or app:
        namespace, name = "", ""
        if app:
            meta = app.get("metadata") or {}
            namespace, name = meta.get("namespace", ""), meta.get("name", "")
            evidence.append(Evidence(source="cluster", ref=f"{cluster}: Application {namespace}/{name}",
                                     excerpt=f"spec.source.chart: {', '.join(task.knowledge.install_markers)}"))
        for pin in argo_pins[:1]:
            evidence.append(Evidence(source="gitops", ref=f"{pin.file}:{pin.line}", excerpt=pin.text.strip()))
        return Ownership("argocd-application", evidence, namespace, name, argo_pins[0] if argo_pins else None)
    tf = [p for p in terraform_pins(task) if p.cluster == cluster]
    if tf:
        pin = tf[0]
        root = next(
            (r for r in task.view.terraform if (task.fleet.root / pin.file).resolve().is_relative_to(r.path)), None
        )
        root_rel = relpath(root.path, task.fleet.root) if root else ""
        var_file = relpath((task.fleet.root / pin.file).resolve(), root.path) if root else pin.file
        evidence.append(Evidence(source="terraform", ref=f"{pin.file}:{pin.line}", excerpt=pin.text.strip()))
        return Ownership("terraform", evidence, release.namespace if release else task.knowledge.namespace,
                         release.name if release else task.knowledge.release_name, pin, root_rel,
                         var_file if pin.kind == "terraform-tfvars" else "")
    if task.knowledge.tool == "flux" and (gotk := _flux_bootstrap_file(task, cluster)):
        evidence.append(Evidence(source="gitops", ref=gotk, excerpt="Flux components applied from Git (bootstrap)"))
        return Ownership("flux-bootstrap", evidence, "flux-system", "flux-system")
    if release is not None:
        evidence.append(Evidence(source="helm", ref=f"{cluster}: release {release.ref}",
                                 excerpt=f"Helm release {release.name} revision {release.revision}; no GitOps object "
                                 "or Terraform helm_release manages it"))
        return Ownership("helm-cli", evidence, release.namespace, release.name)
    return Ownership("manifests", [], task.knowledge.namespace, task.knowledge.release_name)
