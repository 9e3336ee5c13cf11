"""Which version of a tool runs on a cluster, and the evidence for it.

Helm release first (chart name among the tool's install markers, app version from the chart
metadata or the chart<->app table); otherwise the tool's workloads (the `app.kubernetes.io/version`
label, else the image tag of a container whose image matches the tool's image markers).
"""

from __future__ import annotations

from dataclasses import dataclass

from upgradectl.models import Evidence
from upgradectl.tools.cluster import ClusterSource
from upgradectl.tools.helm import HelmRelease
from upgradectl.tools.knowledge import ToolKnowledge
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


def _clean(version: str) -> str:
    try:
        return str(Version.parse(version))
    except VersionError:
        return ""


def tool_release(k: ToolKnowledge, source: ClusterSource) -> HelmRelease | None:
    """The tool's deployed Helm release on this cluster, if Helm installed it."""
    candidates = [r for r in source.helm_releases() if r.chart in k.install_markers]
    return candidates[0] if candidates else None


def detect_installation(k: ToolKnowledge, source: ClusterSource, cluster: str) -> Installation | None:
    release = tool_release(k, source)
    if release:
        version = _clean(release.app_version) or _clean(k.app_version_for_chart(release.chart_version))
        if version:
            excerpt = (
                f"chart {release.chart}-{release.chart_version}, appVersion {release.app_version or '?'}, "
                f"revision {release.revision}, status {release.status}"
            )
            return Installation(
                cluster,
                version,
                release.chart_version,
                release,
                (Evidence(source="helm", ref=f"{cluster}: release {release.ref}", excerpt=excerpt),),
            )
    for api, kind in (("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet")):
        for obj in source.objects(api, kind):
            containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []) or []
            for container in containers:
                image = str(container.get("image", ""))
                if not any(marker in image for marker in k.image_markers):
                    continue
                meta = obj.get("metadata", {})
                label = meta.get("labels", {}).get("app.kubernetes.io/version", "")
                tag = image.split("@", 1)[0].rsplit(":", 1)[-1] if ":" in image.split("@", 1)[0] else ""
                version = _clean(label) or _clean(tag)
                if not version:
                    continue
                how = f"label app.kubernetes.io/version={label}" if _clean(label) else f"image {image}"
                ref = f"{cluster}: {api} {kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
                managed = image.startswith(PROVIDER_MANAGED_REGISTRIES)
                evidence = (Evidence(source="cluster", ref=ref, excerpt=how),)
                return Installation(cluster, version, "", release, evidence, provider_managed=managed)
    return None
