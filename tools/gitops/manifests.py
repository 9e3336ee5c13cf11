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
from yaml.composer import ComposerError

from upgradectl.tools import yamlio
from upgradectl.tools.metrics.labels import PromQLSyntaxError, metric_names
from upgradectl.tools.textfiles import find_line, yaml_problem

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
        yield from _node_documents(node, doc)


_MANIFEST_SHAPE = re.compile(r"^(?:-\s+|\s*)apiVersion:\s*\S.*$(?:.|\n)*?^(?:-\s+|\s*)kind:\s*\S|"
                             r"^(?:-\s+|\s*)kind:\s*\S.*$(?:.|\n)*?^(?:-\s+|\s*)apiVersion:\s*\S", re.MULTILINE)


def looks_like_manifest(text: str) -> bool:
    """True when a file's text has the apiVersion and kind keys of a Kubernetes object: a file that does not
    (an application's own config file, whatever its tags) is no GitOps input unless something references it."""
    return bool(_MANIFEST_SHAPE.search(text))


def _node_documents(node: yaml.Node, doc: Any) -> Iterator[tuple[int, Any]]:
    """(line, document) for one composed document node, or for each item when it is a `kind: List`."""
    if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        item_nodes = next((v.value for k, v in node.value if getattr(k, "value", None) == "items"), [])
        for item, item_node in zip(doc["items"], item_nodes, strict=False):
            yield item_node.start_mark.line + 1, item
        return
    yield node.start_mark.line + 1, doc


def load_manifests(root: Path, only: Path | None = None) -> tuple[list[Manifest], list[ParseProblem]]:
    """Every Kubernetes-shaped YAML or JSON document under root (or in the one file `only`), and the
    files that did not parse, each with the line and the problem (never the file's text)."""
    manifests: list[Manifest] = []
    problems: list[ParseProblem] = []
    for path in _manifest_paths(root, only)[0]:
        rel = str(path.relative_to(root))
        found, problem = _file_manifests(path, rel)
        manifests.extend(found)
        if problem:
            problems.append(ParseProblem(rel, problem))
    return manifests, problems


def _manifest_text(path: Path) -> tuple[str, str]:
    """(the file's text, '') or ('', what stopped it from being read), never quoting the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return "", f"cannot be read ({exc.strerror or type(exc).__name__})"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return "", f"not UTF-8 text (invalid byte at line {line})"


def _json_documents(text: str) -> list[dict] | None:
    """The objects of a JSON manifest file YAML could not read (tabs, escapes); None when it is not JSON."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    items = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc]
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


def _manifest_paths(root: Path, only: Path | None) -> tuple[list[Path], list[Path]]:
    """(files to read as manifests, Helm chart template files skipped): the one file `only`, or every YAML
    and JSON file under root, in path order."""
    files: list[Path] = []
    templates: list[Path] = []
    for path in [only] if only is not None else iter_files(root, MANIFEST_SUFFIXES):
        (templates if is_chart_template(path, root) else files).append(path)
    return files, templates


def _file_manifests(path: Path, rel: str) -> tuple[list[Manifest], str]:
    """One file's manifests, and what stopped it from being read ('' when nothing did)."""
    text, problem = _manifest_text(path)
    if problem:
        return [], problem
    found: list[Manifest] = []
    try:
        for line, doc in _documents_with_lines(text):
            if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                found.append(Manifest(rel, line, doc))
    except yaml.YAMLError as exc:
        docs = _json_documents(text) if path.suffix == ".json" else None  # read as JSON, at line 1
        if docs is not None:
            return [Manifest(rel, 1, d) for d in docs if "apiVersion" in d and "kind" in d], ""
        if not looks_like_manifest(text):
            return found, ""  # an application's own config file: no GitOps input, whatever its tags
        return found, yaml_problem(exc)
    except RecursionError:
        return found, "nests too deeply to be a manifest"
    return found, ""


@dataclass(frozen=True)
class ManifestHead:
    """A manifest's identity (apiVersion, kind, name, namespace) with its file and line, read from the parsed
    YAML nodes without building the rest of the document: all the API scanner needs, at a fraction of a load."""

    file: str
    line: int
    api_version: str
    kind: str
    name: str
    namespace: str


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# What can make a document unbuildable by the safe loader where the head reader does not look: explicit tags
# (!), complex keys (? and [..]: / {..}:), aliases used as keys (*), and PyYAML's lone `=` (the value tag it
# resolves but cannot build). A file without any of them needs no check; one with them is checked node by node.
_FLOW_KEY = re.compile(r"[\]}]\s*:")


def _unusual(text: str) -> bool:
    return any(c in text for c in "!?*=") or (("]" in text or "}" in text) and bool(_FLOW_KEY.search(text)))


def _values(node: yaml.Node) -> dict[str, yaml.Node] | None:
    """A plain mapping node's scalar keys -> value nodes (a later duplicate wins, as in a load); None for any
    other node and for a mapping that merges others in (`<<`), which only a full construction resolves."""
    if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
        return None
    values: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            return None
        if isinstance(key, yaml.ScalarNode):
            values[key.value] = value
    return values


def _buildable(loader: Any, node: yaml.Node) -> bool:
    """True when a full load could build every node under this one: known tags and scalar keys only."""
    known = loader.yaml_constructors
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.tag is None or current.tag not in known:
            return False
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if not isinstance(key, yaml.ScalarNode):
                    return False
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return True


def _build(loader: Any, node: yaml.Node) -> Any:
    """A node's value exactly as a full load builds it (scalars directly, collections as documents)."""
    if isinstance(node, yaml.ScalarNode):
        return loader.yaml_constructors[node.tag](loader, node)
    return loader.construct_document(node)


def _head_doc(loader: Any, values: dict[str, yaml.Node]) -> dict[str, Any]:
    """apiVersion, kind and metadata's name and namespace, built; nothing else of the document."""
    doc = {key: _build(loader, values[key]) for key in ("apiVersion", "kind") if key in values}
    if "metadata" in values:
        meta_values = _values(values["metadata"])
        doc["metadata"] = (
            _build(loader, values["metadata"])
            if meta_values is None
            else {key: _build(loader, meta_values[key]) for key in ("name", "namespace") if key in meta_values}
        )
    return doc


def _head(doc: Any, line: int, file: str) -> ManifestHead | None:
    """The head of a built (or partly built) document with apiVersion and kind; None for anything else."""
    if not (isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc):
        return None
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return ManifestHead(
        file, line, str(doc["apiVersion"]), str(doc["kind"]), str(meta.get("name", "")), str(meta.get("namespace", ""))
    )


def _node_heads(loader: Any, node: yaml.Node, file: str, check: bool) -> Iterator[ManifestHead]:
    """The heads one document node holds, as `_documents_with_lines` reads it (List items one by one).
    A document that is not a plain mapping, or that `check` finds unbuildable, is built in full, so it fails
    to parse exactly where a full load fails."""
    values = _values(node)
    if values is None or (check and not _buildable(loader, node)):
        for line, doc in _node_documents(node, loader.construct_document(node)):
            if (head := _head(doc, line, file)) is not None:
                yield head
        return
    doc = _head_doc(loader, values)
    items = values.get("items")
    if str(doc.get("kind", "")).endswith("List") and isinstance(items, yaml.SequenceNode) and items.tag == _SEQ_TAG:
        for item in items.value:  # taken as they are: a List inside a List is not opened
            item_values = _values(item)
            if item_values is not None:
                item_doc = _head_doc(loader, item_values)
            elif isinstance(item, yaml.MappingNode):  # merge keys or a tag: built in full
                item_doc = loader.construct_document(item)
            else:
                continue
            if (head := _head(item_doc, item.start_mark.line + 1, file)) is not None:
                yield head
        return
    if (head := _head(doc, node.start_mark.line + 1, file)) is not None:
        yield head


def _heads_with_lines(text: str, file: str) -> list[ManifestHead]:
    """The head of every Kubernetes-shaped document in a YAML stream (List items one by one); a stream that
    defines an anchor again is read as load_manifests reads it (the later definition wins)."""
    try:
        return list(_stream_heads(text, file, yamlio.Loader))
    except ComposerError as exc:
        if not yamlio.redefined_anchor(exc):
            raise
        return list(_stream_heads(text, file, yamlio.RedefiningLoader))


def _stream_heads(text: str, file: str, loader_class: type) -> Iterator[ManifestHead]:
    check = _unusual(text)
    loader = loader_class(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield from _node_heads(loader, node, file, check)
    finally:
        loader.dispose()


def load_manifest_heads(
    root: Path, only: Path | None = None
) -> tuple[list[ManifestHead], list[ParseProblem], list[Path]]:
    """The head of every Kubernetes-shaped YAML or JSON document under root (or in the one file `only`), the
    files that did not parse (as load_manifests reports them), and the Helm chart template files skipped."""
    files, templates = _manifest_paths(root, only)
    heads: list[ManifestHead] = []
    problems: list[ParseProblem] = []
    for path in files:
        rel = str(path.relative_to(root))
        text, problem = _manifest_text(path)
        found: list[ManifestHead] = []
        try:
            if not problem:
                found.extend(_heads_with_lines(text, rel))
        except yaml.YAMLError as exc:
            docs = _json_documents(text) if path.suffix == ".json" else None
            found = [h for d in docs or [] if (h := _head(d, 1, rel)) is not None]
            problem = yaml_problem(exc) if docs is None and looks_like_manifest(text) else ""
        except RecursionError:
            problem = "nests too deeply to be a manifest"
        heads.extend(found)
        if problem:
            problems.append(ParseProblem(rel, problem))
    return heads, problems, templates


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
        rel = repo_relpath(rel)
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
                    repo_dir = repo_relpath(source.split("/", 1)[1].split("*", 1)[0]) if "/" in source else ""
                    artifact_dir = repo_relpath(target.split("/", 1)[1]) if "/" in target else ""
                    found.setdefault(str(artifact.get("name", "")), []).append((artifact_dir, repo_dir))
    return found


def _artifact_path(path: str, rules: list[tuple[str, str]]) -> list[str]:
    """A folder inside a generated artifact as the folders of this repository it is copied from."""
    path = repo_relpath(path)
    found = []
    for artifact_dir, repo_dir in rules:
        if not artifact_dir or path == artifact_dir or path.startswith(artifact_dir + "/"):
            rest = path[len(artifact_dir):].lstrip("/") if artifact_dir else path
            found.append(repo_relpath(f"{repo_dir}/{rest}") or ".")
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
        return [repo_relpath(path) or "."] if path else []
    if m.kind == "Kustomization" and m.api_version.startswith("kustomize.config.k8s.io/"):
        base = Path(file).parent
        refs = []
        for res in m.doc.get("resources", []) or []:
            if "://" in str(res) or str(res).startswith("github.com"):
                continue
            refs.append(str((base / str(res)).as_posix()))
        return [repo_relpath(r) for r in refs]
    return []


def repo_relpath(rel: str) -> str:
    """A repository-relative path as GitOps controllers resolve it: no '.', '..' folded in, never above the root."""
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
