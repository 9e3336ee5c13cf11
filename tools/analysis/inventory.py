"""Which version of a tool runs on a cluster, and the evidence for it.

Helm release first (chart name among the tool's install markers, app version from the chart
metadata or the chart<->app table); otherwise the tool's workloads (the `app.kubernetes.io/version`
label, else the image tag of a container whose image matches the tool's image markers).
"""

from __future__ import annotations

from dataclasses import dataclass

from upgradectl.models import Evidence
from upgradectl.tools.cluster.sources import ClusterSource
from upgradectl.tools.gitops.manifests import Manifest
from upgradectl.tools.helm import HelmRelease
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.versions import Version, VersionError

# Registries cloud providers ship their managed add-ons from (GKE Dataplane V2's anetd is Cilium, AKS's
# Azure CNI powered by Cilium too): those installations are upgraded with the cluster, not by the team.
PROVIDER_MANAGED_REGISTRIES = ("gke.gcr.io/", "gcr.io/gke-release/", "mcr.microsoft.com/oss/")


@dataclass(frozen=True)
class Installation:
    cluster: str
    version: str
    chart_version: str
    release: HelmRelease | None
    evidence: tuple[Evidence, ...]
    provider_managed: bool = False
    chart: str = ""  # the chart Git declares it from (a cluster's Helm release names its own: release.chart)

    @property
    def chart_name(self) -> str:
        """The chart the tool is installed from ('' when not from a chart)."""
        return self.release.chart if self.release is not None else self.chart if self.chart_version else ""


def _clean(version: str) -> str:
    try:
        return str(Version.parse(version))
    except VersionError:
        return ""


def tool_release(knowledge: ToolKnowledge, source: ClusterSource) -> HelmRelease | None:
    """The tool's deployed Helm release on this cluster, if Helm installed it."""
    candidates = [r for r in source.helm_releases() if r.chart in knowledge.install_markers]
    return candidates[0] if candidates else None


def _workload_images(source: ClusterSource, markers: list[str]) -> list[tuple[str, str, dict, str]]:
    """(apiVersion, kind, object, image) of every controller container whose image matches a marker."""
    found = []
    for api, kind in (("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet")):
        for obj in source.objects(api, kind):
            containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []) or []
            for container in containers:
                image = str(container.get("image", ""))
                if any(marker in image for marker in markers):
                    found.append((api, kind, obj, image))
    return found


def running_images(knowledge: ToolKnowledge, source: ClusterSource) -> set[str]:
    """The image references the tool's controllers run on a cluster (for image-specific advisory packages)."""
    return {image for _, _, _, image in _workload_images(source, knowledge.image_markers)}


def _image_tag(image: str) -> str:
    untagged = image.split("@", 1)[0]
    return untagged.rsplit(":", 1)[-1] if ":" in untagged.rsplit("/", 1)[-1] else ""


def _running(knowledge: ToolKnowledge, source: ClusterSource, cluster: str) -> Installation | None:
    """The version the tool's workloads actually run (version label, else image tag)."""
    for api, kind, obj, image in _workload_images(source, knowledge.image_markers):
        meta = obj.get("metadata", {})
        label = meta.get("labels", {}).get("app.kubernetes.io/version", "")
        tag = _image_tag(image)
        # a chart's version label describes the chart's default, an image tag what really runs; a product whose
        # images carry their own versions (Flux's controllers) says so: version_from: label
        version = _clean(tag) if knowledge.version_from == "image" and _clean(tag) else _clean(label) or _clean(tag)
        if not version:
            continue
        how = f"image {image}" if version == _clean(tag) else f"label app.kubernetes.io/version={label}"
        ref = f"{cluster}: {api} {kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
        managed = image.startswith(PROVIDER_MANAGED_REGISTRIES)
        evidence = (Evidence(source="cluster", ref=ref, excerpt=how),)
        return Installation(cluster, version, "", None, evidence, provider_managed=managed)
    return None


@dataclass(frozen=True)
class Companion:
    """A component released with the tool but installed on its own (vmagent on a workload cluster)."""

    cluster: str
    name: str  # namespace/name of the workload
    image: str
    version: str
    evidence: Evidence


def companions(knowledge: ToolKnowledge, source: ClusterSource, cluster: str) -> list[Companion]:
    """The tool's companion components running on a cluster, with the version their image tag says."""
    found = []
    for api, kind, obj, image in _workload_images(source, knowledge.companion_images):
        version = _clean(_image_tag(image))
        if not version:
            continue
        meta = obj.get("metadata", {})
        name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        ref = f"{cluster}: {api} {kind} {name}"
        evidence = Evidence(source="cluster", ref=ref, excerpt=f"image {image}")
        found.append(Companion(cluster, name, image, version, evidence))
    return found


def detect_installation(knowledge: ToolKnowledge, source: ClusterSource, cluster: str) -> Installation | None:
    """Helm release and running workloads; when they disagree (an image tag pinned in the values, a
    failed rollout) the running version wins and both are cited."""
    release = tool_release(knowledge, source)
    running = _running(knowledge, source, cluster)
    if release:
        version = _clean(release.app_version) or _clean(knowledge.app_version_for_chart(release.chart_version))
        excerpt = (
            f"chart {release.chart}-{release.chart_version}, appVersion {release.app_version or '?'}, "
            f"revision {release.revision}, status {release.status}"
        )
        helm_evidence = Evidence(source="helm", ref=f"{cluster}: release {release.ref}", excerpt=excerpt)
        if running and running.version != version:
            return Installation(
                cluster,
                running.version,
                release.chart_version,
                release,
                (*running.evidence, helm_evidence),
                running.provider_managed,
            )
        if version:
            return Installation(cluster, version, release.chart_version, release, (helm_evidence,))
    return running


@dataclass(frozen=True)
class ServedRange:
    """The versions of a tool that serve every API version of its objects a cluster's Git applies: what it can
    be running when Git does not pin the version. Each bound cites the manifest that sets it."""

    low: str
    high: str
    low_because: Evidence
    high_because: Evidence | None


def _tool_groups(knowledge: ToolKnowledge) -> set[str]:
    """The API groups of the tool's own objects (those its knowledge lists served versions for): not the
    groups of other APIs its breaking changes mention (Gateway API for Cilium)."""
    return {api.api_version.split("/", 1)[0] for api in knowledge.served_apis}


def served_range(knowledge: ToolKnowledge, manifests: list[Manifest], prefix: str = "") -> ServedRange | None:
    """From the tool's API versions a cluster's manifests use: the newest first-serving release (low) and the
    last release before the first removal (high); None when no such object is applied or no version serves
    them all."""
    groups = _tool_groups(knowledge)
    used: dict[tuple[str, str], Manifest] = {}
    for m in manifests:
        if m.api_version.split("/", 1)[0] in groups:
            used.setdefault((m.api_version, m.kind), m)
    if not used:
        return None

    def cite(m: Manifest, why: str) -> Evidence:
        return Evidence(source="gitops", ref=f"{prefix}{m.file}:{m.line}", excerpt=f"{m.kind} {m.name}: "
                        f"apiVersion {m.api_version} ({why})")  # fmt: skip

    oldest = f"{knowledge.releases[0].line}.0"
    low, low_because = Version.parse(oldest), cite(next(iter(used.values())), f"no newer API; {oldest} is the "
                                                   "oldest release the knowledge base covers")  # fmt: skip
    high, high_because = Version.parse(knowledge.newest()), None
    for (api, kind), m in used.items():
        for served in knowledge.served_apis:
            matches = served.api_version == api and (not served.kinds or kind in served.kinds)
            if matches and Version.parse(served.served_from) > low:
                low, low_because = Version.parse(served.served_from), cite(m, f"served from {served.served_from}")
        for change in knowledge.breaking_changes:
            d = change.detector
            if d and d.kind == "api_in_use" and d.api_version == api and d.resource_kind == kind:
                removed = Version.parse(change.version)
                before = [r for r in knowledge.releases if Version.parse(r.line) < Version.parse(removed.line)]
                if before and Version.parse(before[-1].latest_patch) < high:
                    high = Version.parse(before[-1].latest_patch)
                    high_because = cite(m, f"removed in {change.version}")
    if low > high:
        return None
    return ServedRange(str(low), str(high), low_because, high_because)
