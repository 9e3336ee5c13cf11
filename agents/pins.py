"""Where GitOps pins a tool's chart for a cluster (Flux HelmRelease, Argo CD Application/ApplicationSet),
with file and line: read by the rollout, Terraform and rollback code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from upgradectl.agents.base import FleetView
from upgradectl.tools.gitops.desired import PinKind
from upgradectl.tools.gitops.manifests import Manifest
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.textfiles import find_line, line_text


def chart_name(m: Manifest) -> str:
    """The chart a Flux HelmRelease installs (spec.chart.spec.chart, or spec.chartRef.name)."""
    spec = m.doc.get("spec", {}) if isinstance(m.doc.get("spec"), dict) else {}
    chart = spec.get("chart", {})
    if isinstance(chart, dict):
        return str(chart.get("spec", {}).get("chart", ""))
    return str(spec.get("chartRef", {}).get("name", "")) if isinstance(spec.get("chartRef"), dict) else ""


@dataclass(frozen=True)
class VersionPin:
    """Where a cluster's tool version is declared: a file, a line, and the text there."""

    cluster: str
    file: str
    line: int
    text: str
    kind: str  # "flux-helmrelease", "terraform-tfvars", "argocd-application", or a Declaration's via
    pin: PinKind = "chart"  # a chart version, or the tool's own version (tag, image, distribution), ...
    declared: str = ""  # the version as Git writes it today
    value: str = ""  # the whole scalar when the version is part of it (an image, a URL)


def gitops_pins(
    view: FleetView, knowledge: ToolKnowledge, clusters: set[str], charts: set[str] | None = None
) -> list[VersionPin]:
    """Where GitOps pins the tool's chart for these clusters: Flux HelmRelease chart versions in files the
    clusters apply, then Argo CD Application / ApplicationSet `targetRevision`s whose destination is one of
    them. `charts` defaults to the tool's chart names (pass the CRD chart's name to find its pins)."""
    charts = set(knowledge.install_markers) if charts is None else charts
    pins = []
    for m in view.manifests_for(clusters):
        if m.kind == "HelmRelease" and chart_name(m) in charts:
            version = str(m.doc["spec"]["chart"]["spec"].get("version", ""))
            if not version or view.fleet.gitops_root is None:
                continue
            line = _line_of(view, m, f"version: {version}") or _line_of(view, m, version)
            for cluster in sorted(view.manifest_clusters.get(m.file, set()) & clusters):
                pins.append(
                    VersionPin(
                        cluster,
                        f"{_repo_prefix(view)}{m.file}",
                        line,
                        line_text(view.fleet.gitops_root / m.file, line),
                        "flux-helmrelease",
                    )
                )
    if view.fleet.gitops_root is not None:
        pins.extend(_argocd_pins(view, charts, clusters))
    if charts == set(knowledge.install_markers):
        pins.extend(_declared_pins(view, knowledge, clusters))
    return pins


DECLARED_PIN_VIAS = ("flux-chartref", "kustomize-helmchart", "flux-distribution", "image")


def _declared_pins(view: FleetView, knowledge: ToolKnowledge, clusters: set[str]) -> list[VersionPin]:
    """The other places Git declares the version (tools/gitops/desired.py): an OCIRepository tag a
    HelmRelease's chartRef follows, a kustomize helmCharts entry, Flux's own distribution, image tags."""
    pins = []
    for cluster in sorted(clusters):
        for d in view.declarations_for(knowledge, cluster):
            if d.via in DECLARED_PIN_VIAS and d.pin != "none" and d.declared:
                pins.append(VersionPin(cluster, f"{view.fleet.gitops_prefix}{d.file}", d.line, d.text, d.via, d.pin,
                                       d.declared, d.value))  # fmt: skip
    return pins


def _argo_source(spec: dict) -> dict:
    """The Helm chart source of an Application spec (`source`, or the first of `sources` with a chart)."""
    source = spec.get("source") if isinstance(spec.get("source"), dict) else None
    if source and source.get("chart"):
        return source
    return next((s for s in spec.get("sources") or [] if isinstance(s, dict) and s.get("chart")), {})


def _argocd_pins(view: FleetView, charts: set[str], clusters: set[str]) -> list[VersionPin]:
    """Argo CD pins: an Application's targetRevision (destination by name), an ApplicationSet's template
    targetRevision, or the list-generator element field it templates (`{{chartVersion}}`)."""
    pins = []
    prefix = _repo_prefix(view)
    for m in view.manifests:
        if not m.api_version.startswith("argoproj.io/") or m.kind not in ("Application", "ApplicationSet"):
            continue
        spec = m.doc.get("spec") or {}
        template = (spec.get("template") or {}).get("spec") or {} if m.kind == "ApplicationSet" else spec
        source = _argo_source(template)
        revision = str(source.get("targetRevision", ""))
        if source.get("chart") not in charts or not revision:
            continue
        assert view.fleet.gitops_root is not None
        path = view.fleet.gitops_root / m.file
        kind = "argocd-application" if m.kind == "Application" else "argocd-applicationset"
        templated = re.fullmatch(r"\{\{\s*\.?([A-Za-z0-9_]+)\s*\}\}", revision)
        if m.kind == "Application" or not templated:
            line = _line_of(view, m, "targetRevision:")
            targets = [str((template.get("destination") or {}).get("name", ""))]
            if m.kind == "ApplicationSet":
                targets = [_element_cluster(e) for e in _list_elements(spec)]
            for cluster in sorted(set(targets) & clusters):
                pins.append(VersionPin(cluster, f"{prefix}{m.file}", line, line_text(path, line), kind))
            continue
        key, line = templated.group(1), m.line
        for element in _list_elements(spec):
            line = find_line(path, f"{key}:", start=line + 1) if line else 0
            cluster = _element_cluster(element)
            if cluster in clusters and key in element and line:
                pins.append(VersionPin(cluster, f"{prefix}{m.file}", line, line_text(path, line), kind))
    return pins


def _list_elements(spec: dict) -> list[dict]:
    return [
        e
        for g in spec.get("generators") or []
        if isinstance(g, dict)
        for e in ((g.get("list") or {}).get("elements") or [])
        if isinstance(e, dict)
    ]


def _element_cluster(element: dict) -> str:
    return str(element.get("cluster") or element.get("clusterName") or element.get("name") or "")


def _repo_prefix(view: FleetView) -> str:
    return view.fleet.gitops_prefix


def _line_of(view: FleetView, m: Manifest, needle: str) -> int:
    assert view.fleet.gitops_root is not None
    return find_line(view.fleet.gitops_root / m.file, needle, start=m.line)
