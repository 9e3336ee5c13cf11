"""Helm charts kept in the GitOps repo and the Argo CD Applications that deploy them (the demo's apps under
apps/gke-staging-apps/<ns>/<app>, each a small chart depending on charts/app-compat).

- `chart_apps`: Applications whose source is a chart directory of this repo: destination, release name, value
  files, and the subcharts it pulls from the repo (`file://` dependencies).
- `null_overrides`: values that set a subchart's table to null. Helm before 3.17.1 warned ("cannot overwrite
  table with non table") and kept the subchart default; 3.17.1 and later render the null, so the object loses
  the whole table (Argo CD 3.0 ships Helm 3.17.1: argo-cd docs/operator-manual/upgrading/2.14-3.0.md).
- `render`: the objects an app deploys, with `helm template` when helm is installed (subcharts placed in
  charts/, the destination's Kubernetes version and served API versions passed), else read from the templates
  as manifests: literal objects with `.Capabilities.APIVersions.Has` branches resolved for the destination,
  value-driven fields left out (and said so).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from upgradectl.tools import yamlio
from upgradectl.tools.gitops.manifests import Manifest
from upgradectl.tools.textfiles import find_line

HELM_TIMEOUT = 60.0


@dataclass
class ChartApp:
    """One Argo CD Application that deploys a chart directory of the GitOps repo."""

    name: str
    cluster: str  # destination cluster name
    namespace: str
    release: str
    chart: Path  # the chart directory (absolute)
    chart_rel: str  # relative to the GitOps root
    value_files: list[Path]
    subcharts: dict[str, Path] = field(default_factory=dict)  # values key (alias or name) -> subchart directory
    manifest: Manifest | None = None


@dataclass
class Rendered:
    """What an app deploys, and how it was read (`helm template` or the templates read as manifests)."""

    app: ChartApp
    how: str
    manifests: list[Manifest] = field(default_factory=list)
    error: str = ""  # helm template failed: the stderr, which is itself a finding
    notes: list[str] = field(default_factory=list)


def _load(path: Path) -> Any:
    try:
        return yamlio.load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _same_repo(url: str, repo_urls: set[str]) -> bool:
    bare = url.removesuffix("/").removesuffix(".git")
    return not repo_urls or bare in {u.removesuffix("/").removesuffix(".git") for u in repo_urls}


def chart_apps(root: Path, manifests: list[Manifest], repo_urls: set[str]) -> list[ChartApp]:
    """Applications (in these manifests) whose source is a chart directory of the repo at `root`."""
    apps = []
    for m in manifests:
        if m.kind != "Application" or not m.api_version.startswith("argoproj.io/"):
            continue
        spec = m.doc.get("spec") or {}
        source = spec.get("source") or {}
        path = str(source.get("path", "")).strip("/")
        chart = (root / path).resolve()
        repo = str(source.get("repoURL", ""))
        if not path or not (chart / "Chart.yaml").is_file() or not _same_repo(repo, repo_urls):
            continue
        helm = source.get("helm") or {}
        dest = spec.get("destination") or {}
        files = [chart / f for f in helm.get("valueFiles") or []]
        if chart / "values.yaml" not in files and (chart / "values.yaml").is_file():
            files.insert(0, chart / "values.yaml")
        apps.append(ChartApp(
            name=m.name, cluster=str(dest.get("name", "")), namespace=str(dest.get("namespace", "")),
            release=str(helm.get("releaseName") or m.name), chart=chart, chart_rel=path,
            value_files=[f for f in files if f.is_file()], subcharts=_subcharts(chart), manifest=m))  # fmt: skip
    return apps


def _subcharts(chart: Path) -> dict[str, Path]:
    meta = _load(chart / "Chart.yaml") or {}
    found = {}
    for dep in meta.get("dependencies") or []:
        repo = str(dep.get("repository", ""))
        key = str(dep.get("alias") or dep.get("name", ""))
        if repo.startswith("file://"):
            found[key] = (chart / repo.removeprefix("file://")).resolve()
        elif (chart / "charts" / str(dep.get("name", ""))).is_dir():
            found[key] = chart / "charts" / str(dep.get("name", ""))
    return found


@dataclass(frozen=True)
class NullOverride:
    """A value file that sets a subchart table to null."""

    file: Path
    line: int
    path: str  # dotted, from the parent chart's values: app-compat.probes
    default: str  # the subchart default it wipes out, shortened


def null_overrides(app: ChartApp) -> list[NullOverride]:
    """Keys set to null in the app's value files where the subchart's default is a table."""
    found = []
    for key, subchart in app.subcharts.items():
        defaults = _load(subchart / "values.yaml") or {}
        for file in app.value_files:
            values = (_load(file) or {}).get(key)
            for dotted, default in _nulls_over_tables(values, defaults, key):
                name = dotted.rsplit(".", 1)[-1]
                line = find_line(file, f"{name}:") or 1
                shown = yaml.safe_dump(default, default_flow_style=True).strip()[:120]
                found.append(NullOverride(file, line, dotted, shown))
    return found


def _nulls_over_tables(values: Any, defaults: Any, prefix: str) -> list[tuple[str, Any]]:
    if not isinstance(values, dict) or not isinstance(defaults, dict):
        return []
    found = []
    for key, value in values.items():
        default = defaults.get(key)
        if value is None and isinstance(default, dict) and default:
            found.append((f"{prefix}.{key}", default))
        elif isinstance(value, dict):
            found.extend(_nulls_over_tables(value, default, f"{prefix}.{key}"))
    return found


def helm_binary() -> str:
    return shutil.which("helm") or ""


def helm_version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=HELM_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().split("+", 1)[0]


def render(app: ChartApp, kube_version: str, api_versions: list[str]) -> Rendered:
    """The objects the app deploys on its destination (see the module docstring for how)."""
    binary = helm_binary()
    if binary:
        return _helm_template(app, binary, kube_version, api_versions)
    rendered = Rendered(app, "templates read as manifests (helm not installed)")
    root = _gitops_root(app)
    for chart in [app.chart, *app.subcharts.values()]:
        for template in sorted((chart / "templates").glob("*.yaml")):
            rel = str(template.relative_to(root)) if template.is_relative_to(root) else str(template)
            rendered.manifests.extend(_read_template(template, rel, app, api_versions))
    rendered.notes.append("fields filled from values (pod annotations, node selectors) are not checked without helm")
    return rendered


def _helm_template(app: ChartApp, binary: str, kube_version: str, api_versions: list[str]) -> Rendered:
    version = helm_version(binary)
    how = f"helm template ({version or 'helm'})"
    with tempfile.TemporaryDirectory(prefix="upgradectl-chart-") as tmp:
        chart = Path(tmp) / app.chart.name
        shutil.copytree(app.chart, chart, ignore=shutil.ignore_patterns("charts"))
        for key, subchart in app.subcharts.items():
            name = (_load(subchart / "Chart.yaml") or {}).get("name", key)
            shutil.copytree(subchart, chart / "charts" / str(name))
        argv = [binary, "template", app.release, str(chart), "--namespace", app.namespace or "default"]
        if kube_version:
            argv += ["--kube-version", kube_version]
        for api in api_versions:
            argv += ["--api-versions", api]
        for file in app.value_files:
            argv += ["-f", str(chart / file.relative_to(app.chart)) if file.is_relative_to(app.chart) else str(file)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=HELM_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Rendered(app, how, error=f"helm template did not run: {exc}")
    if done.returncode != 0:
        return Rendered(app, how, error=done.stderr.strip()[:500] or f"exit {done.returncode}")
    rendered = Rendered(app, how, notes=[w for w in done.stderr.splitlines() if w.strip()][:5])
    for text in re.split(r"^---\s*$", done.stdout, flags=re.MULTILINE):
        source = re.search(r"^# Source: (\S+)", text, flags=re.MULTILINE)
        doc = yaml.safe_load(text) if text.strip() else None
        if isinstance(doc, dict) and "kind" in doc:
            template = source.group(1).split("/", 1)[1] if source else "rendered"
            rel = _template_rel(app, template)
            doc.setdefault("metadata", {}).setdefault("namespace", app.namespace)
            rendered.manifests.append(Manifest(rel, 1, doc))
    return rendered


def _gitops_root(app: ChartApp) -> Path:
    return app.chart.parents[len(Path(app.chart_rel).parts) - 1]


def _template_rel(app: ChartApp, template: str) -> str:
    """'charts/app-compat/templates/deployment.yaml' (as helm names it) -> the file in the GitOps repo."""
    parts = template.split("/")
    if len(parts) >= 3 and parts[0] == "charts":
        for key, subchart in app.subcharts.items():
            if (subchart / "/".join(parts[2:])).is_file() and (parts[1] in (key, subchart.name)):
                return str(subchart.relative_to(_gitops_root(app)) / "/".join(parts[2:]))
    return f"{app.chart_rel}/{template}"


_IF = re.compile(r"\{\{-?\s*(?:if|with|range)\s+(.*?)\s*-?\}\}")
_HAS = re.compile(r'\.Capabilities\.APIVersions\.Has\s+"([^"]+)"')


def _read_template(template: Path, rel: str, app: ChartApp, api_versions: list[str]) -> list[Manifest]:
    """Literal objects of one template: Capabilities branches resolved, other branches kept, actions blanked."""
    served = set(api_versions)
    kept: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (this branch is taken, condition was decidable)
    for line in template.read_text(errors="replace").splitlines():
        opened = _IF.search(line)
        if opened:
            has = _HAS.search(opened.group(1))
            stack.append(((has.group(1) in served) if has else True, bool(has)))
            continue
        if re.search(r"\{\{-?\s*else\s*-?\}\}", line) and stack:
            taken, decidable = stack[-1]
            stack[-1] = ((not taken) if decidable else True, decidable)
            continue
        if re.search(r"\{\{-?\s*end\s*-?\}\}", line) and stack:
            stack.pop()
            continue
        if re.fullmatch(r"\s*\{\{.*\}\}\s*", line):  # an include, toYaml or comment on its own line
            continue
        if all(taken for taken, _ in stack):
            kept.append(re.sub(r"\{\{.*?\}\}", "value-from-template", line))
    found = []
    for text in re.split(r"^---\s*$", "\n".join(kept), flags=re.MULTILINE):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
            doc.setdefault("metadata", {})
            if isinstance(doc["metadata"], dict):
                doc["metadata"]["name"] = app.release
                doc["metadata"]["namespace"] = app.namespace
            found.append(Manifest(rel, 1, doc))
    return found
