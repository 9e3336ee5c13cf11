"""Desired state: the version of a tool the GitOps repository (and Terraform) declares, with file:line.

What a controller would install is read from where it is written:
- a Flux HelmRelease's `spec.chart.spec.version` (with the HelmRepository/OCIRepository it names), or for
  `spec.chartRef` the OCIRepository's `ref.tag`;
- an Argo CD Application's (or ApplicationSet template's) Helm source `targetRevision`, multi-source too;
- a kustomize `helmCharts` entry's `version`;
- Flux itself: the `# Flux Version:` header of gotk-components.yaml, the `flux-manifests` OCIRepository tag,
  a `flux2/manifests/install?ref=` kustomize resource, a FluxInstance `distribution.version` (or the
  flux-instance chart's `instance.distribution.version` value);
- image tags of the tool's workloads in plain manifests;
- Terraform `helm_release` versions (literal, or per cluster in tfvars).
Each declaration keeps the values the release gets (tools/gitops/values.py), so detectors read them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from upgradectl.models import Evidence
from upgradectl.tools import yamlio
from upgradectl.tools.gitops.kustomize import Kustomization
from upgradectl.tools.gitops.manifests import Manifest
from upgradectl.tools.gitops.values import (
    ComposedValues,
    KeyPath,
    RepoFiles,
    compose_argocd,
    compose_flux,
    compose_helm_chart,
)
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.terraform import TerraformRoot
from upgradectl.tools.textfiles import line_text
from upgradectl.tools.versions import Version, VersionError

Via = Literal[
    "flux-helmrelease",
    "flux-chartref",
    "argocd-application",
    "argocd-applicationset",
    "kustomize-helmchart",
    "flux-distribution",
    "image",
    "terraform",
]
PinKind = Literal["chart", "app", "generated", "bootstrap", "none"]
"""How the version at file:line changes: a chart version, the tool's own version (a tag, an image, a
distribution), a generated file to regenerate, a file applied by hand at bootstrap, or not at all (a label)."""
CHART_VIAS = (
    "flux-helmrelease",
    "flux-chartref",
    "argocd-application",
    "argocd-applicationset",
    "kustomize-helmchart",
    "terraform",
)
WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet")


@dataclass(frozen=True)
class Declaration:
    """One place that declares which version of the tool a cluster should run."""

    via: Via
    owner: str  # the object that installs: "HelmRelease cilium", "helmCharts cilium (kustomization.yaml)"
    applied_file: str  # the file whose clusters get it (relative to the GitOps root; Terraform: fleet root)
    file: str  # where the version is written
    line: int
    text: str  # that line as written
    declared: str  # the version as written (chart version, tag, range)
    version: str  # the tool version it means ('' when Git alone cannot tell; `note` says why)
    chart: str = ""
    repository: str = ""  # where the chart or manifests come from, with the source object's file:line
    note: str = ""
    values: ComposedValues | None = None
    clusters: tuple[str, ...] = ()  # Terraform: the clusters a tfvars file pins; () -> by applied_file
    pin: PinKind = "chart"
    value: str = ""  # the whole scalar at file:line when the version is part of it (an image, a URL)

    @property
    def ref(self) -> str:
        return f"{self.file}:{self.line}"

    def evidence(self, prefix: str = "") -> Evidence:
        """Evidence citing the declaration (file relative to the fleet root when `prefix` is the repo dir)."""
        excerpt = self.text + (f" (chart {self.chart} from {self.repository})" if self.repository else "")
        source = "terraform" if self.via == "terraform" else "gitops"
        path = self.file if self.via == "terraform" else f"{prefix}{self.file}"
        return Evidence(
            source=source, ref=f"{path}:{self.line}", excerpt=excerpt + (f"; {self.note}" if self.note else "")
        )


@dataclass
class DesiredState:
    """Every declaration of one tool in the repository and Terraform."""

    tool: str
    declarations: list[Declaration] = field(default_factory=list)

    def for_cluster(self, cluster: str, applied: dict[str, set[str]]) -> list[Declaration]:
        """Declarations a cluster applies (`applied`: file -> clusters), strongest first: chart pins, then
        Flux's distribution, then image tags."""
        mine = [d for d in self.declarations if _applies(d, cluster, applied)]
        order = {via: i for i, via in enumerate((*CHART_VIAS, "flux-distribution", "image"))}
        return sorted(mine, key=lambda d: order[d.via])


def _applies(declaration: Declaration, cluster: str, applied: dict[str, set[str]]) -> bool:
    if declaration.clusters:
        return cluster in declaration.clusters
    return cluster in applied.get(declaration.applied_file, set())


def _exact(version: str) -> str:
    """A pinned version ('1.14.5', 'v1.14.5'), '' for ranges ('1.14.x', '>=1.0', '*') and templates."""
    text = version.strip()
    if not re.fullmatch(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?", text):
        return ""
    return text


def _clean(version: str) -> str:
    try:
        return str(Version.parse(version))
    except VersionError:
        return ""


def _meaning(knowledge: ToolKnowledge, chart_version: str) -> tuple[str, str]:
    """(tool version, note) a chart version declares."""
    if "${" in chart_version:
        return "", f"{chart_version} is substituted at apply time (Flux postBuild); the version is not in Git"
    exact = _exact(chart_version)
    if not exact:
        return "", f"{chart_version or 'no version'} is not one pinned version: the controller picks the chart"
    app = _clean(knowledge.app_version_for_chart(exact.lstrip("v")) or knowledge.app_version_for_chart(exact))
    if not app:
        return "", (
            f"chart {knowledge.chart.name} {exact}: which {knowledge.display_name} version it ships is not in the "
            f"knowledge base's chart table"
        )
    return app, ""


def _image_tags(values: Any, path: KeyPath = ()) -> list[tuple[KeyPath, str, str]]:
    """(path, tag, repository) of every `image: {tag: <version>}` in the values, at any depth."""
    found = []
    if isinstance(values, dict):
        image = values.get("image")
        if isinstance(image, dict) and isinstance(image.get("tag"), str) and _exact(image["tag"]):
            found.append(((*path, "image", "tag"), image["tag"], str(image.get("repository") or "")))
        for key, value in values.items():
            if isinstance(value, dict):
                found.extend(_image_tags(value, (*path, str(key))))
    return found


def _image_override(knowledge: ToolKnowledge, values: ComposedValues | None) -> tuple[str, str]:
    """(version, where) of the tool's image tag pinned in the values, which wins over the chart's appVersion:
    a tag whose repository is the tool's, else the chart's top-level `image.tag` / `global.image.tag`, else one
    version shared by every repository-less tag that is a known release of the tool ('' when none or unclear)."""
    if values is None:
        return "", ""
    tags = _image_tags(values.values)
    ours = [t for t in tags if t[2] and any(marker in t[2] for marker in knowledge.image_markers)]
    top = [t for t in tags if t[0] in (("image", "tag"), ("global", "image", "tag")) and not t[2]]
    bare = [t for t in tags if not t[2] and knowledge.release(_clean(t[1]) or "0.0.0") is not None]
    for group in (ours, top, bare):
        if len({_clean(t[1]) for t in group}) == 1:
            origin = values.origin(".".join(str(p) for p in group[0][0]))
            return _clean(group[0][1]), origin.ref if origin else values.file
    return "", ""


class _Reader:
    """Reads one tool's declarations from the parsed repository."""

    def __init__(self, knowledge: ToolKnowledge, files: RepoFiles):
        self.k = knowledge
        self.files = files
        self.by_kind: dict[str, list[Manifest]] = {}
        for m in files.manifests:
            self.by_kind.setdefault(m.kind, []).append(m)

    def line_of(self, m: Manifest, path: KeyPath) -> int:
        return self.files.manifest_lines(m).get(path, m.line)

    def text(self, file: str, line: int) -> str:
        return line_text(self.files.root / file, line)

    def source_object(self, kind: str, name: str, namespace: str, near: str) -> Manifest | None:
        found = [
            m for m in self.by_kind.get(kind, []) if m.name == name and m.api_version.startswith("source.toolkit.")
        ]
        if namespace:
            found = [m for m in found if m.namespace in (namespace, "")] or found
        return self.files.nearest(found, near)

    def chart(
        self,
        k_version: str,
        via: Via,
        owner: str,
        applied: str,
        file: str,
        line: int,
        chart: str,
        repository: str,
        values: ComposedValues | None,
    ) -> Declaration:
        version, note = _meaning(self.k, k_version)
        pinned, where = _image_override(self.k, values)
        if pinned and pinned != version:
            note = (f"{note}; " if note else "") + f"image tag {pinned} pinned in the values at {where}"
            version = pinned
        return Declaration(
            via, owner, applied, file, line, self.text(file, line), k_version, version, chart, repository, note, values
        )

    # -------------------------------------------------------- Flux HelmRelease

    def flux(self) -> list[Declaration]:
        found = []
        for m in self.by_kind.get("HelmRelease", []):
            if not m.api_version.startswith("helm.toolkit.fluxcd.io/"):
                continue
            spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
            chart_spec = (spec.get("chart") or {}).get("spec") if isinstance(spec.get("chart"), dict) else None
            owner = f"HelmRelease {m.name}"
            if isinstance(chart_spec, dict) and str(chart_spec.get("chart", "")) in self.k.install_markers:
                source = chart_spec.get("sourceRef") if isinstance(chart_spec.get("sourceRef"), dict) else {}
                repo = self.source_object(
                    str(source.get("kind", "HelmRepository")),
                    str(source.get("name", "")),
                    str(source.get("namespace", "")),
                    m.file,
                )
                where = self._repository(repo)
                line = self.line_of(m, ("spec", "chart", "spec", "version"))
                found.append(
                    self.chart(
                        str(chart_spec.get("version", "") or ""),
                        "flux-helmrelease",
                        owner,
                        m.file,
                        m.file,
                        line,
                        str(chart_spec["chart"]),
                        where,
                        self._values(m),
                    )
                )
            elif isinstance(spec.get("chartRef"), dict):
                ref = spec["chartRef"]
                repo = self.source_object(
                    str(ref.get("kind", "OCIRepository")),
                    str(ref.get("name", "")),
                    str(ref.get("namespace", "")),
                    m.file,
                )
                if repo is None or repo.kind != "OCIRepository":
                    continue
                repo_spec = repo.doc.get("spec") if isinstance(repo.doc.get("spec"), dict) else {}
                chart = str(repo_spec.get("url", "")).rstrip("/").rsplit("/", 1)[-1]
                if chart not in self.k.install_markers:
                    continue
                tag = str((repo_spec.get("ref") or {}).get("tag", "") or (repo_spec.get("ref") or {}).get("semver", ""))
                line = (
                    self.line_of(repo, ("spec", "ref", "tag"))
                    if (repo_spec.get("ref") or {}).get("tag")
                    else self.line_of(repo, ("spec", "ref"))
                )
                found.append(
                    self.chart(
                        tag,
                        "flux-chartref",
                        owner,
                        m.file,
                        repo.file,
                        line,
                        chart,
                        self._repository(repo),
                        self._values(m),
                    )
                )
        return found

    def release_chart(self, m: Manifest) -> str:
        """The chart a HelmRelease installs: spec.chart.spec.chart, or the last segment of its chartRef's URL."""
        spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
        chart = spec.get("chart") if isinstance(spec.get("chart"), dict) else {}
        if isinstance(chart.get("spec"), dict) and chart["spec"].get("chart"):
            return str(chart["spec"]["chart"])
        ref = spec.get("chartRef") if isinstance(spec.get("chartRef"), dict) else {}
        repo = (
            self.source_object(
                str(ref.get("kind", "OCIRepository")), str(ref.get("name", "")), str(ref.get("namespace", "")), m.file
            )
            if ref
            else None
        )
        url = (
            str((repo.doc.get("spec") or {}).get("url", "")) if repo and isinstance(repo.doc.get("spec"), dict) else ""
        )
        return url.rstrip("/").rsplit("/", 1)[-1]

    def _repository(self, repo: Manifest | None) -> str:
        if repo is None:
            return ""
        url = str((repo.doc.get("spec") or {}).get("url", "")) if isinstance(repo.doc.get("spec"), dict) else ""
        return f"{url} ({repo.kind} {repo.name}, {repo.file}:{repo.line})"

    def _values(self, m: Manifest) -> ComposedValues:
        return compose_flux(m, self.files)

    # -------------------------------------------------------- Argo CD

    def argocd(self) -> list[Declaration]:
        found = []
        for kind in ("Application", "ApplicationSet"):
            for m in self.by_kind.get(kind, []):
                if not m.api_version.startswith("argoproj.io/"):
                    continue
                base: KeyPath = ("spec", "template", "spec") if kind == "ApplicationSet" else ("spec",)
                spec = m.doc
                for key in base:
                    spec = spec.get(key) if isinstance(spec, dict) else None
                if not isinstance(spec, dict):
                    continue
                sources: list[KeyPath] = []
                if isinstance(spec.get("source"), dict):
                    sources.append((*base, "source"))
                sources.extend(
                    (*base, "sources", i)
                    for i, s in enumerate(yamlio.as_list(spec.get("sources")))
                    if isinstance(s, dict)
                )
                for at in sources:
                    source = m.doc
                    for key in at:
                        source = source[key]
                    chart = str(source.get("chart") or "")
                    if chart not in self.k.install_markers:
                        continue
                    revision = str(source.get("targetRevision") or "")
                    line = self.line_of(m, (*at, "targetRevision"))
                    via: Via = "argocd-application" if kind == "Application" else "argocd-applicationset"
                    values = compose_argocd(m, at, self.files)
                    repository = (
                        f"{source.get('repoURL', '')} ({kind} {m.name}, {m.file}:{self.line_of(m, (*at, 'repoURL'))})"
                    )
                    found.append(
                        self.chart(revision, via, f"{kind} {m.name}", m.file, m.file, line, chart, repository, values)
                    )
        return found

    # -------------------------------------------------------- kustomize helmCharts

    def helm_charts(self) -> list[Declaration]:
        found = []
        for kustomization in self.files.kustomizations:
            for entry in kustomization.helm_charts:
                if entry.name not in self.k.install_markers:
                    continue
                line = entry.version_line or entry.line
                found.append(
                    self.chart(
                        entry.version,
                        "kustomize-helmchart",
                        f"helmCharts {entry.name} ({kustomization.file})",
                        kustomization.file,
                        kustomization.file,
                        line,
                        entry.name,
                        f"{entry.repo} ({kustomization.file}:{entry.line})",
                        compose_helm_chart(entry, self.files),
                    )
                )
        return found

    # -------------------------------------------------------- images in plain manifests

    def images(self) -> list[Declaration]:
        found = []
        for m in self.files.manifests:
            if m.kind not in WORKLOAD_KINDS:
                continue
            template = ((m.doc.get("spec") or {}).get("template") or {}) if isinstance(m.doc.get("spec"), dict) else {}
            containers = (
                yamlio.as_list((template.get("spec") or {}).get("containers")) if isinstance(template, dict) else []
            )
            for index, container in enumerate(containers):
                image = str(container.get("image", "")) if isinstance(container, dict) else ""
                if not any(marker in image for marker in self.k.image_markers):
                    continue
                labels = (m.doc.get("metadata") or {}).get("labels") or {}
                label = str(labels.get("app.kubernetes.io/version", ""))
                tag = image.split("@", 1)[0].rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
                # Flux labels its controllers with the Flux version; their images carry their own versions
                use_label = self.k.tool == "flux" and _clean(label)
                version = _clean(label) if use_label else _clean(tag) if _exact(tag) else ""
                path: KeyPath = (
                    ("metadata", "labels", "app.kubernetes.io/version")
                    if use_label
                    else ("spec", "template", "spec", "containers", index, "image")
                )
                line = self.line_of(m, path)
                note = "" if version else f"image {image} carries no pinned version tag"
                found.append(
                    Declaration(
                        "image",
                        f"{m.kind} {m.name}",
                        m.file,
                        m.file,
                        line,
                        self.text(m.file, line),
                        label if use_label else tag,
                        version,
                        note=note,
                        pin="none" if use_label else "app",
                        value=image,
                    )
                )
                break
        return found


def _flux_distribution(reader: _Reader, kustomizations: list[Kustomization]) -> list[Declaration]:
    """Where Flux's own version is declared (Flux is installed from manifests, not a chart of its own)."""
    found: list[Declaration] = []
    root = reader.files.root
    for path in sorted(root.rglob("gotk-components.yaml")):
        rel = path.relative_to(root).as_posix()
        for number, text in enumerate(path.read_text(errors="replace").splitlines()[:20], start=1):
            match = re.match(r"#\s*Flux Version:\s*(\S+)", text)
            if match:
                found.append(
                    Declaration(
                        "flux-distribution",
                        "flux bootstrap (gotk-components.yaml)",
                        rel,
                        rel,
                        number,
                        text.strip(),
                        match.group(1),
                        _clean(match.group(1)),
                        pin="generated",
                    )
                )
    for m in reader.by_kind.get("OCIRepository", []):
        spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
        if str(spec.get("url", "")).rstrip("/").endswith("/flux-manifests"):
            tag = str((spec.get("ref") or {}).get("tag", ""))
            line = reader.line_of(m, ("spec", "ref", "tag"))
            found.append(
                Declaration(
                    "flux-distribution",
                    f"OCIRepository {m.name} (flux-manifests)",
                    m.file,
                    m.file,
                    line,
                    reader.text(m.file, line),
                    tag,
                    _clean(tag) if _exact(tag) else "",
                    repository=str(spec.get("url", "")),
                    pin="app",
                )
            )
    for m in reader.by_kind.get("FluxInstance", []):
        distribution = (
            ((m.doc.get("spec") or {}).get("distribution") or {}) if isinstance(m.doc.get("spec"), dict) else {}
        )
        version = str(distribution.get("version", ""))
        line = reader.line_of(m, ("spec", "distribution", "version"))
        found.append(
            Declaration(
                "flux-distribution",
                f"FluxInstance {m.name}",
                m.file,
                m.file,
                line,
                reader.text(m.file, line),
                version,
                _clean(version) if _exact(version) else "",
                note="" if _exact(version) else f"{version} is a range: the Flux Operator picks",
                pin="app" if _exact(version) else "none",
            )
        )
    for m in reader.by_kind.get("HelmRelease", []):
        if reader.release_chart(m) != "flux-instance":
            continue
        values = compose_flux(m, reader.files)
        origin = values.origin("instance.distribution.version")
        distribution = (values.values.get("instance") or {}).get("distribution") if origin else None
        version = distribution.get("version") if isinstance(distribution, dict) else None
        if origin is not None and isinstance(version, str):
            found.append(
                Declaration(
                    "flux-distribution",
                    f"HelmRelease {m.name} (flux-instance chart)",
                    m.file,
                    origin.site.file,
                    origin.line,
                    reader.text(origin.site.file, origin.line),
                    version,
                    _clean(version) if _exact(version) else "",
                    values=values,
                    pin="app" if origin.site.editable and _exact(version) else "none",
                )
            )
    for kustomization in kustomizations:
        for index, resource in enumerate(yamlio.as_list(kustomization.doc.get("resources"))):
            match = re.search(
                r"fluxcd/flux2/(?:manifests/install\?ref=|releases/download/)(v?\d+\.\d+\.\d+)", str(resource)
            )
            if match:
                line = kustomization.lines.get(("resources", index), 0)
                found.append(
                    Declaration(
                        "flux-distribution",
                        f"kustomize resource ({kustomization.file})",
                        kustomization.file,
                        kustomization.file,
                        line,
                        reader.text(kustomization.file, line),
                        match.group(1),
                        _clean(match.group(1)),
                        pin="bootstrap",
                        value=str(resource),
                    )
                )
    return found


def _terraform(knowledge: ToolKnowledge, roots: list[TerraformRoot], clusters: list[str]) -> list[Declaration]:
    """helm_release pins: per cluster from tfvars (cluster_name, else the file name), or one literal for all."""
    found = []
    for root in roots:
        for release in root.helm_releases:
            if release.chart not in knowledge.install_markers:
                continue
            if release.version_var:
                for setting in root.settings_of(release.version_var):
                    named = [s for s in root.var_settings if s.tfvars == setting.tfvars and s.name == "cluster_name"]
                    cluster = str(named[0].value) if named else setting.tfvars
                    version, note = _meaning(knowledge, str(setting.value))
                    found.append(
                        Declaration(
                            "terraform",
                            release.address,
                            setting.where.file,
                            setting.where.file,
                            setting.where.line,
                            setting.where.text,
                            str(setting.value),
                            version,
                            release.chart,
                            release.repository,
                            note,
                            clusters=(cluster,),
                        )
                    )
            elif release.version:
                version, note = _meaning(knowledge, release.version)
                found.append(
                    Declaration(
                        "terraform",
                        release.address,
                        release.where.file,
                        release.where.file,
                        release.where.line,
                        f'version = "{release.version}"',
                        release.version,
                        version,
                        release.chart,
                        release.repository,
                        note,
                        clusters=tuple(clusters),
                    )
                )
    return found


def desired_state(
    knowledge: ToolKnowledge, files: RepoFiles | None, terraform: list[TerraformRoot], clusters: list[str]
) -> DesiredState:
    """Every declaration of the tool in the GitOps repository (`files`, None without one) and Terraform."""
    state = DesiredState(knowledge.tool)
    if files is not None:
        reader = _Reader(knowledge, files)
        state.declarations.extend([*reader.flux(), *reader.argocd(), *reader.helm_charts(), *reader.images()])
        if knowledge.tool == "flux":  # Flux installs itself from manifests: its version hook
            state.declarations.extend(_flux_distribution(reader, files.kustomizations))
    state.declarations.extend(_terraform(knowledge, terraform, clusters))
    return state
