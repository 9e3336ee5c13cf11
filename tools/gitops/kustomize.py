"""kustomize's own files: `kustomization.yaml` generators (configMapGenerator, secretGenerator) and
`helmCharts`, read as kustomize reads them, each entry with its file and line.

A generator turns files into a ConfigMap or Secret at build time, so the values a HelmRelease takes
`valuesFrom` such a ConfigMap live in the generator's source file, not in any manifest: this module says
which file, under which data key (`files: [values.yaml=./helm-values.yaml]`; the file name when no key is
given; `literals: [k=v]`; `envs:` files of k=v lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from upgradectl.tools import yamlio
from upgradectl.tools.gitops.manifests import SKIP_DIRS, repo_relpath

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class GeneratedKey:
    """One data key of a generated ConfigMap/Secret: from a file (its path under the GitOps root) or a literal."""

    key: str
    file: str = ""
    literal: str | None = None
    line: int = 0  # line of the entry in the kustomization file


@dataclass(frozen=True)
class Generator:
    """A configMapGenerator / secretGenerator entry."""

    kind: Literal["ConfigMap", "Secret"]
    name: str
    namespace: str
    kustomization: str  # the kustomization file, relative to the GitOps root
    line: int
    keys: tuple[GeneratedKey, ...]

    def key(self, name: str) -> GeneratedKey | None:
        return next((k for k in self.keys if k.key == name), None)


@dataclass(frozen=True)
class HelmChartEntry:
    """A `helmCharts` entry: kustomize inflates a chart at build time (`kustomize build --enable-helm`)."""

    kustomization: str
    index: int
    line: int  # of the entry
    version_line: int  # of its `version:` (0 when unpinned)
    name: str
    repo: str
    version: str
    release_name: str
    namespace: str
    values_file: str  # relative to the GitOps root ('' when none)
    additional_values_files: tuple[str, ...]
    values_inline: dict[str, Any]


@dataclass(frozen=True)
class Kustomization:
    file: str
    doc: dict[str, Any]
    lines: dict[tuple, int]
    generators: tuple[Generator, ...]
    helm_charts: tuple[HelmChartEntry, ...]

    @property
    def directory(self) -> str:
        parent = str(PurePosixPath(self.file).parent)
        return "" if parent == "." else parent


def _join(base: str, rel: str) -> str:
    """A path relative to a kustomization's directory, as a normalised path under the GitOps root."""
    return repo_relpath(f"{base}/{rel}" if base else rel)


def _generator(
    kind: Literal["ConfigMap", "Secret"], entry: dict, file: str, line: int, lines: dict, at: tuple, namespace: str
) -> Generator:
    base = str(PurePosixPath(file).parent)
    base = "" if base == "." else base
    keys: list[GeneratedKey] = []
    for index, item in enumerate(yamlio.as_list(entry.get("files"))):
        text = str(item)
        key, _, path = text.partition("=") if "=" in text else (PurePosixPath(text).name, "", text)
        keys.append(
            GeneratedKey(key.strip(), file=_join(base, path.strip()), line=lines.get((*at, "files", index), line))
        )
    for index, item in enumerate(yamlio.as_list(entry.get("literals"))):
        key, _, value = str(item).partition("=")
        keys.append(GeneratedKey(key.strip(), literal=value, line=lines.get((*at, "literals", index), line)))
    for index, item in enumerate(entry.get("envs") or ([entry["env"]] if entry.get("env") else [])):
        keys.append(GeneratedKey("", file=_join(base, str(item)), line=lines.get((*at, "envs", index), line)))
    return Generator(
        kind, str(entry.get("name", "")), str(entry.get("namespace") or namespace), file, line, tuple(keys)
    )


def _helm_chart(entry: dict, file: str, index: int, lines: dict) -> HelmChartEntry:
    base = str(PurePosixPath(file).parent)
    base = "" if base == "." else base
    at = ("helmCharts", index)
    values_file = str(entry.get("valuesFile") or "")
    return HelmChartEntry(
        kustomization=file,
        index=index,
        line=lines.get(at, 0),
        version_line=lines.get((*at, "version"), 0),
        name=str(entry.get("name", "")),
        repo=str(entry.get("repo", "")),
        version=str(entry.get("version", "") or ""),
        release_name=str(entry.get("releaseName", "") or entry.get("name", "")),
        namespace=str(entry.get("namespace", "") or ""),
        values_file=_join(base, values_file) if values_file and "://" not in values_file else "",
        additional_values_files=tuple(_join(base, str(f)) for f in yamlio.as_list(entry.get("additionalValuesFiles"))),
        values_inline=entry.get("valuesInline") if isinstance(entry.get("valuesInline"), dict) else {},
    )


def read_kustomization(path: Path, root: Path) -> Kustomization | None:
    """One kustomization file (None when it does not parse as a mapping: the manifest reader reports those)."""
    rel = path.relative_to(root).as_posix()
    try:
        found = yamlio.documents_with_nodes(path.read_text(errors="replace"))
    except yamlio.YAMLError:
        return None
    if not found or not isinstance(found[0][1], dict):
        return None
    node, doc = found[0]
    lines = yamlio.value_lines(node)
    namespace = str(doc.get("namespace") or "")
    generators = []
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for index, entry in enumerate(yamlio.as_list(doc.get(field))):
            if isinstance(entry, dict) and entry.get("name"):
                at = (field, index)
                generators.append(_generator(kind, entry, rel, lines.get(at, 0), lines, at, namespace))  # type: ignore[arg-type]
    charts = [
        _helm_chart(e, rel, i, lines)
        for i, e in enumerate(yamlio.as_list(doc.get("helmCharts")))
        if isinstance(e, dict)
    ]
    return Kustomization(rel, doc, lines, tuple(generators), tuple(charts))


def read_kustomizations(root: Path) -> list[Kustomization]:
    """Every kustomization file under root (sorted by path)."""
    found = []
    for name in KUSTOMIZATION_NAMES:
        for path in root.rglob(name):
            if path.is_file() and not (SKIP_DIRS & set(path.relative_to(root).parts)):
                kustomization = read_kustomization(path, root)
                if kustomization is not None:
                    found.append(kustomization)
    return sorted(found, key=lambda k: k.file)
