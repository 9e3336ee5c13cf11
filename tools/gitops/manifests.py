"""GitOps repo reading: every Kubernetes manifest with its file and line, plus dashboards and rules.

Only real YAML documents count: comments are not parsed, and Helm chart templates (files under a
chart's `templates/`) are skipped because their text is not a manifest until rendered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from upgradectl.tools import yamlio
from upgradectl.tools.metrics.labels import PromQLSyntaxError, metric_names
from upgradectl.tools.textfiles import yaml_problem

YAML_SUFFIXES = (".yaml", ".yml")
MANIFEST_SUFFIXES = YAML_SUFFIXES + (".json",)  # kubectl, kustomize and Flux read JSON manifests too

SKIP_DIRS = {".git", "node_modules", ".terraform"}


@dataclass(frozen=True)
class Manifest:
    """One YAML document of a GitOps repo that looks like a Kubernetes object."""

    file: str  # relative to the repo root
    line: int  # 1-based line of the document's first key
    doc: dict[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.doc.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        """The document's metadata mapping; {} when it is missing, null, a list or a string (a broken
        manifest is still reported by its apiVersion and kind)."""
        meta = self.doc.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")


@dataclass(frozen=True)
class ParseProblem:
    file: str
    error: str


def is_chart_template(path: Path, root: Path) -> bool:
    """True for files inside a Helm chart's templates/ folder (a sibling Chart.yaml exists)."""
    rel = path.relative_to(root)
    for i, part in enumerate(rel.parts[:-1]):
        if part == "templates":
            chart_dir = root.joinpath(*rel.parts[:i])
            if (chart_dir / "Chart.yaml").is_file():
                return True
    return False


def iter_files(root: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in suffixes and path.is_file() and not (SKIP_DIRS & set(path.relative_to(root).parts)):
            yield path


def _documents_with_lines(text: str) -> Iterator[tuple[int, Any]]:
    """(line, document) for every YAML document, with the line of its first node. The items of a
    `kind: List` document come out one by one, each with its own line."""
    for node, doc in yamlio.documents_with_nodes(text):
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            item_nodes = next((v.value for k, v in node.value if getattr(k, "value", None) == "items"), [])
            for item, item_node in zip(doc["items"], item_nodes, strict=False):
                yield item_node.start_mark.line + 1, item
            continue
        yield node.start_mark.line + 1, doc


_MANIFEST_SHAPE = re.compile(r"^(?:-\s+|\s*)apiVersion:\s*\S.*$(?:.|\n)*?^(?:-\s+|\s*)kind:\s*\S|"
                             r"^(?:-\s+|\s*)kind:\s*\S.*$(?:.|\n)*?^(?:-\s+|\s*)apiVersion:\s*\S", re.MULTILINE)


def looks_like_manifest(text: str) -> bool:
    """True when a file's text has the apiVersion and kind keys of a Kubernetes object: a file that does not
    (an application's own config file, whatever its tags) is no GitOps input unless something references it."""
    return bool(_MANIFEST_SHAPE.search(text))


def load_manifests(root: Path, only: Path | None = None) -> tuple[list[Manifest], list[ParseProblem]]:
    """Every Kubernetes-shaped YAML or JSON document under root (or in the one file `only`), and the
    files that did not parse, each with the line and the problem (never the file's text)."""
    manifests: list[Manifest] = []
    problems: list[ParseProblem] = []
    paths = [only] if only is not None else iter_files(root, MANIFEST_SUFFIXES)
    for path in paths:
        if is_chart_template(path, root):
            continue
        rel = str(path.relative_to(root))
        found, problem = _file_manifests(path, rel)
        manifests.extend(found)
        if problem:
            problems.append(ParseProblem(rel, problem))
    return manifests, problems


def _file_manifests(path: Path, rel: str) -> tuple[list[Manifest], str]:
    """One file's manifests, and what stopped it from being read ('' when nothing did)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], f"cannot be read ({exc.strerror or type(exc).__name__})"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return [], f"not UTF-8 text (invalid byte at line {line})"
    found: list[Manifest] = []
    try:
        for line, doc in _documents_with_lines(text):
            if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                found.append(Manifest(rel, line, doc))
    except yaml.YAMLError as exc:
        if path.suffix == ".json":  # JSON that YAML cannot read (tabs, escapes): read it as JSON, at line 1
            try:
                doc = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                return found, yaml_problem(exc)
            items = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc]
            docs = items if isinstance(items, list) else []
            return [Manifest(rel, 1, d) for d in docs if isinstance(d, dict) and "apiVersion" in d and "kind" in d], ""
        if not looks_like_manifest(text):
            return found, ""  # an application's own config file: no GitOps input, whatever its tags
        return found, yaml_problem(exc)
    except RecursionError:
        return found, "nests too deeply to be a manifest"
    return found, ""


def find_line(path: Path, needle: str, start: int = 1) -> int:
    """First line (1-based, from `start`) whose text contains needle; 0 when absent."""
    for number, text in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if number >= start and needle in text:
            return number
    return 0


def line_text(path: Path, line: int) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


@dataclass(frozen=True)
class MetricUse:
    """A metric name used in a dashboard panel or an alert/recording rule."""

    file: str
    line: int
    where: str  # "panel 'Nodes created'" or "rule KarpenterNodesChurn"
    metric: str
    expr: str


HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _metric_tokens(expr: str) -> set[str]:
    """Metric names the expression selects (not its functions or label names); every identifier when it
    does not tokenize as PromQL (Grafana macros and the like), so no renamed metric slips through.
    A histogram or summary series (`x_bucket`, `x_sum`, `x_count`) also counts as a use of its family `x`,
    the name release notes rename or drop."""
    try:
        names = set(metric_names(expr))
    except PromQLSyntaxError:
        names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    families = {n[: -len(s)] for n in names for s in HISTOGRAM_SUFFIXES if n.endswith(s) and len(n) > len(s)}
    return names | families


def _expr_line(path: Path, expr: str, metric: str) -> int:
    """Line of an expression in its file: as written, as JSON escapes it, else where the metric first appears."""
    for needle in (expr[:60], json.dumps(expr)[1:61]):
        if needle and (line := find_line(path, needle)):
            return line
    return find_line(path, metric)


def _dashboard_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expr) for every panel target (rows and nested panels included) and templating variable."""
    for panel in _panels(dashboard.get("panels", []) or []):
        for target in panel.get("targets", []) or []:
            if isinstance(target, dict) and target.get("expr"):
                yield f"panel '{panel.get('title', '')}'", str(target["expr"])
    templating = dashboard.get("templating") or {}
    for variable in templating.get("list", []) if isinstance(templating, dict) else []:
        if not isinstance(variable, dict) or variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query
        expr = _variable_expr(str(query or ""))
        if expr:
            yield f"variable '{variable.get('name', '')}'", expr


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<expr>.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)


def _variable_expr(query: str) -> str:
    """The PromQL inside a Grafana variable query: `label_values(expr, label)` and `query_result(expr)` give
    their expression; `label_values(label)`, `label_names()` and `metrics(regex)` select no metric."""
    for pattern in (_LABEL_VALUES, _QUERY_RESULT):
        if match := pattern.match(query):
            return match.group("expr").strip()
    if re.match(r"^\s*(label_values|label_names|metrics)\s*\(", query):
        return ""
    return query.strip()


def _is_dashboard(doc: Any) -> bool:
    return isinstance(doc, dict) and ("panels" in doc or "rows" in doc)


def _embedded_dashboards(path: Path) -> Iterator[dict[str, Any]]:
    """Dashboards inside YAML manifests: ConfigMap data `*.json` (Grafana sidecar) and GrafanaDashboard
    `spec.json` (grafana-operator)."""
    text = path.read_text(errors="replace")
    if "GrafanaDashboard" not in text and not ("ConfigMap" in text and ".json" in text):
        return  # cheap filter: most manifests hold no dashboard, skip parsing them twice
    try:
        docs = list(yamlio.load_all(text))
    except yaml.YAMLError:
        return
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        texts: list[Any] = []
        if doc.get("kind") == "ConfigMap":
            texts = [v for k, v in (doc.get("data") or {}).items() if str(k).endswith(".json")]
        elif doc.get("kind") == "GrafanaDashboard":
            texts = [(doc.get("spec") or {}).get("json")]
        for embedded in texts:
            try:
                dashboard = json.loads(embedded) if isinstance(embedded, str) else None
            except json.JSONDecodeError:
                continue
            if _is_dashboard(dashboard):
                yield dashboard


def dashboard_metric_uses(root: Path) -> list[MetricUse]:
    """Metric names in Grafana dashboards: JSON files, and dashboards embedded in ConfigMaps or
    GrafanaDashboard objects; panels (rows and nested panels included) and templating variables."""
    uses: list[MetricUse] = []
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in iter_files(root, (".json",)):
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if _is_dashboard(dashboard):
            found.append((path, dashboard))
    for path in iter_files(root, YAML_SUFFIXES):
        if not is_chart_template(path, root):
            found.extend((path, d) for d in _embedded_dashboards(path))
    for path, dashboard in found:
        rel = str(path.relative_to(root))
        for where, expr in _dashboard_queries(dashboard):
            for token in sorted(_metric_tokens(expr)):
                uses.append(MetricUse(rel, _expr_line(path, expr, token), where, token, expr))
    return uses


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        yield panel
        yield from _panels(panel.get("panels", []) or [])


def rule_metric_uses(manifests: list[Manifest], root: Path) -> list[MetricUse]:
    """Metric names in PrometheusRule / VMRule objects, plain Prometheus rule files, and rule files
    embedded in ConfigMaps (`data: {alerts.yaml: "groups: ..."}`)."""
    uses: list[MetricUse] = []
    for m in manifests:
        if m.kind in ("PrometheusRule", "VMRule"):
            uses.extend(_rule_group_uses(m.doc.get("spec", {}).get("groups", []), m.file, root))
        elif m.kind == "ConfigMap":
            for key, text in (m.doc.get("data") or {}).items():
                if not str(key).endswith(YAML_SUFFIXES) or not isinstance(text, str):
                    continue
                try:
                    embedded = yamlio.load(text)
                except yaml.YAMLError:
                    continue
                if isinstance(embedded, dict) and isinstance(embedded.get("groups"), list):
                    uses.extend(_rule_group_uses(embedded["groups"], m.file, root))
    for path in iter_files(root, YAML_SUFFIXES):
        if is_chart_template(path, root):
            continue
        try:
            doc = yamlio.load(path.read_text(errors="replace"))
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and "groups" in doc and "apiVersion" not in doc:
            uses.extend(_rule_group_uses(doc.get("groups", []), str(path.relative_to(root)), root))
    return uses


def _rule_group_uses(groups: list[dict[str, Any]], rel: str, root: Path) -> list[MetricUse]:
    uses = []
    for group in groups or []:
        if not isinstance(group, dict):
            continue
        for rule in group.get("rules", []) or []:
            if not isinstance(rule, dict):
                continue
            expr = str(rule.get("expr", ""))
            name = rule.get("alert") or rule.get("record") or ""
            line = find_line(root / rel, f"{'alert' if rule.get('alert') else 'record'}: {name}") if name else 0
            for token in sorted(_metric_tokens(expr)):
                uses.append(MetricUse(rel, line, f"rule {name}", token, expr))
    return uses


def cluster_files(root: Path, entries: dict[str, str], manifests: list[Manifest]) -> dict[str, set[str]]:
    """file -> clusters that apply it, following each cluster's entry dir through Flux Kustomization
    paths, kustomize `resources`, and Argo CD Application source paths (by destination name)."""
    by_file: dict[str, list[Manifest]] = {}
    for m in manifests:
        by_file.setdefault(m.file, []).append(m)
    all_files = [str(p.relative_to(root)) for p in iter_files(root, YAML_SUFFIXES + (".json",))]
    owners: dict[str, set[str]] = {}
    artifacts = _generated_artifacts(manifests)

    def files_under(rel: str) -> list[str]:
        rel = _normpath(rel)
        if (root / rel).is_file():
            return [rel]
        prefix = f"{rel}/" if rel else ""
        return [f for f in all_files if f.startswith(prefix)]

    for cluster, entry in entries.items():
        if not entry:
            continue
        queue, seen = [entry], set()
        while queue:
            rel = queue.pop()
            if rel in seen:
                continue
            seen.add(rel)
            for file in files_under(rel):
                owners.setdefault(file, set()).add(cluster)
                for m in by_file.get(file, []):
                    queue.extend(_referenced_paths(m, file, artifacts))
    for m in manifests:  # Argo CD Applications deploy to their destination cluster
        if m.kind == "Application" and m.api_version.startswith("argoproj.io/"):
            spec = m.doc.get("spec", {})
            dest = (spec.get("destination") or {}).get("name", "")
            path = (spec.get("source") or {}).get("path", "")
            if dest in entries and path:
                for file in files_under(path):
                    owners.setdefault(file, set()).add(dest)
    return owners


def _generated_artifacts(manifests: list[Manifest]) -> dict[str, list[tuple[str, str]]]:
    """ExternalArtifact name -> (folder in the artifact, folder of this repository) from Flux ArtifactGenerator
    `copy` rules (`from: "@monorepo/apps/production/**"`, `to: "@artifact/production/"`)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for m in manifests:
        if m.kind != "ArtifactGenerator" or not isinstance(m.doc.get("spec"), dict):
            continue
        for artifact in m.doc["spec"].get("artifacts") or []:
            if not isinstance(artifact, dict):
                continue
            for rule in artifact.get("copy") or []:
                source = str(rule.get("from", "")) if isinstance(rule, dict) else ""
                target = str(rule.get("to", "")) if isinstance(rule, dict) else ""
                if source.startswith("@") and target.startswith("@artifact"):
                    repo_dir = _normpath(source.split("/", 1)[1].split("*", 1)[0]) if "/" in source else ""
                    artifact_dir = _normpath(target.split("/", 1)[1]) if "/" in target else ""
                    found.setdefault(str(artifact.get("name", "")), []).append((artifact_dir, repo_dir))
    return found


def _artifact_path(path: str, rules: list[tuple[str, str]]) -> list[str]:
    """A folder inside a generated artifact as the folders of this repository it is copied from."""
    path = _normpath(path)
    found = []
    for artifact_dir, repo_dir in rules:
        if not artifact_dir or path == artifact_dir or path.startswith(artifact_dir + "/"):
            rest = path[len(artifact_dir):].lstrip("/") if artifact_dir else path
            found.append(_normpath(f"{repo_dir}/{rest}") or ".")
    return found


def _referenced_paths(m: Manifest, file: str, artifacts: dict[str, list[tuple[str, str]]] | None = None) -> list[str]:
    if m.kind == "Kustomization" and m.api_version.startswith("kustomize.toolkit.fluxcd.io/"):
        spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
        source = spec.get("sourceRef") if isinstance(spec.get("sourceRef"), dict) else {}
        path = str(spec.get("path", ""))
        kind = source.get("kind", "GitRepository")
        if kind == "ExternalArtifact" and path:  # built by an ArtifactGenerator from folders of this repository
            return _artifact_path(path, (artifacts or {}).get(str(source.get("name", "")), []))
        if kind != "GitRepository":
            return []  # its path is inside another artifact (OCIRepository, Bucket), not this repository
        return [_normpath(path) or "."] if path else []
    if m.kind == "Kustomization" and m.api_version.startswith("kustomize.config.k8s.io/"):
        base = Path(file).parent
        refs = []
        for res in m.doc.get("resources", []) or []:
            if "://" in str(res) or str(res).startswith("github.com"):
                continue
            refs.append(str((base / str(res)).as_posix()))
        return [_normpath(r) for r in refs]
    return []


def _normpath(rel: str) -> str:
    parts: list[str] = []
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
