"""The read-only tools a Claude agent may call: typed functions whose docstrings are the tool descriptions.

Each tool takes a `ToolContext` (the fleet, its GitOps and Terraform views, the request: given by the
run, never by the model) and typed arguments the model chooses; the JSON schema the model sees is
generated from the signature and the docstring's `Args:` section (tests/test_llm_tools.py checks that
every parameter is described). Nothing here can write: the cluster sources have no mutating method,
files are only read, and paths cannot leave the GitOps repo or the Terraform roots. Results are raw
data; agents/llm/results.py redacts, wraps and cuts them to the token budget.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from upgradectl.agents.base import FleetView
from upgradectl.agents.llm.results import ToolOutput, redact_lines
from upgradectl.models import EvidenceSource, UpgradeRequest
from upgradectl.tools.cluster.fleet import Fleet, unknown_clusters_message
from upgradectl.tools.cluster.sources import ClusterSource, SourceError, recorded_series
from upgradectl.tools.knowledge.loader import KnowledgeError, available_tools, load_tool

TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".md", ".txt", ".tf", ".tfvars", ".hcl", ".j2", ".tpl", ".cfg", ".ini")
SKIP_DIRS = {".git", ".terraform", "node_modules"}
MAX_FILE_BYTES = 2_000_000
MAX_LINE_CHARS = 300
MAX_MATCHES = 400
MAX_FILE_LINES = 300
DROPPED_KEYS = {"managedFields", "resourceVersion", "uid", "selfLink"}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_KEYS = {
    "dnsPolicy", "enableServiceLinks", "preemptionPolicy", "schedulerName", "imagePullPolicy",
    "terminationMessagePath", "terminationMessagePolicy", "revisionHistoryLimit", "progressDeadlineSeconds",
}
DEFAULT_TOLERATIONS = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
KnowledgeTopic = Literal[
    "releases",
    "breaking_changes",
    "path_rules",
    "rollback_limits",
    "metric_renames",
    "gates",
    "iam_requirements",
    "procedure",
    "chart",
]


class ToolFailure(Exception):
    """A tool call the model can fix: the message says what was wrong and how to ask instead."""


@dataclass
class ToolContext:
    """What tools read from; built by the run, never from model arguments."""

    fleet: Fleet
    view: FleetView
    request: UpgradeRequest
    scope: set[str] = field(default_factory=set)
    _file_lines: dict[Path, list[str]] = field(default_factory=dict, repr=False)

    def source(self, cluster: str) -> ClusterSource:
        entry = self.fleet.clusters.get(cluster)
        if entry is None:
            raise ToolFailure(unknown_clusters_message([cluster], sorted(self.fleet.clusters)))
        if entry.source is None:
            raise ToolFailure(f"cluster {cluster} could not be read in this run: {entry.error}")
        return entry.source

    def lines(self, path: Path) -> list[str]:
        """A file's lines, redacted as a whole document, cached for the run."""
        if path not in self._file_lines:
            self._file_lines[path] = redact_lines(path.read_text(errors="replace"))
        return self._file_lines[path]


@dataclass(frozen=True)
class ToolSpec:
    """One model-visible tool: name, description, evidence source, the function and its argument model."""

    name: str
    description: str
    source: EvidenceSource
    function: Callable[..., ToolOutput]
    arguments: type[BaseModel]
    parameter_docs: dict[str, str]

    def definition(self) -> dict[str, Any]:
        """The Messages API tool definition (name, description, input_schema)."""
        return {"name": self.name, "description": self.description, "input_schema": clean_schema(self.arguments)}

    def call(self, ctx: ToolContext, raw: dict[str, Any]) -> ToolOutput:
        """Validate the model's input against the signature, then run. Raises ToolFailure on bad input."""
        try:
            args = self.arguments.model_validate(raw)
        except ValidationError as exc:
            raise ToolFailure(validation_message(exc)) from None
        return self.function(ctx, **args.model_dump())


REGISTRY: dict[str, ToolSpec] = {}


def clean_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A pydantic model's JSON schema without the titles pydantic adds (noise for the model)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(model.model_json_schema())


def validation_message(exc: ValidationError) -> str:
    """'cluster: Field required; start_line: Input should be a valid integer' for the model to act on."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "invalid arguments: " + "; ".join(parts)


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Google-style docstring -> (description before `Args:`, one line per paragraph; {parameter: text})."""
    text = inspect.cleandoc(doc or "")
    head, _, tail = text.partition("\nArgs:\n")
    params: dict[str, str] = {}
    indent: int | None = None
    current = ""
    for line in tail.splitlines():
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        indent = width if indent is None else indent
        m = re.match(r"(\w+):\s*(.*)$", line.strip())
        if width == indent and m:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif width > indent and current:
            params[current] += " " + line.strip()
        else:  # a following section (Returns:, Raises:) ends the arguments
            break
    paragraphs = [" ".join(p.split()) for p in head.split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p), params


def read_only_tool(source: EvidenceSource) -> Callable[[Callable[..., ToolOutput]], Callable[..., ToolOutput]]:
    """Register a tool function: its signature (after ctx) becomes the input schema, its docstring the text."""

    def register(function: Callable[..., ToolOutput]) -> Callable[..., ToolOutput]:
        description, docs = parse_docstring(function.__doc__ or "")
        hints = typing.get_type_hints(function)
        fields: dict[str, Any] = {}
        for name, param in list(inspect.signature(function).parameters.items())[1:]:
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (hints[name], Field(default=default, description=docs.get(name)))
        model = create_model(  # type: ignore[call-overload]
            f"{function.__name__}_arguments", __config__=ConfigDict(extra="forbid", strict=False), **fields
        )
        REGISTRY[function.__name__] = ToolSpec(function.__name__, description, source, function, model, docs)
        return function

    return register


def tools_for(names: list[str]) -> list[ToolSpec]:
    """The registered tools an agent spec names, in its order (unknown names are a spec bug)."""
    missing = [n for n in names if n not in REGISTRY]
    if missing:
        raise KeyError(f"agent spec names unknown tools: {', '.join(missing)}")
    return [REGISTRY[n] for n in names]


# -- cluster ----------------------------------------------------------------------------------------


@read_only_tool("cluster")
def list_clusters(ctx: ToolContext) -> ToolOutput:
    """List the fleet's clusters: environment, provider, Kubernetes version, role, whether it is readable and
    whether it is in this plan's scope (runs the tool being upgraded)."""
    rows = [
        {
            "name": c.info.name,
            "environment": c.info.environment,
            "provider": c.info.provider,
            "kubernetes_version": c.info.kubernetes_version,
            "role": c.info.role,
            "readable": c.source is not None,
            "in_scope": c.info.name in ctx.scope,
            **({"error": c.error} if c.error else {}),
        }
        for c in ctx.fleet.clusters.values()
    ]
    return ToolOutput(rows, unit="clusters")


@read_only_tool("cluster")
def list_resource_types(ctx: ToolContext, cluster: str) -> ToolOutput:
    """List the API versions and kinds a cluster serves (or its snapshot recorded), with object counts.

    Args:
        cluster: Cluster name from list_clusters, e.g. ravan.
    """
    source = ctx.source(cluster)
    rows = []
    for t in sorted(source.resource_types(), key=lambda t: (t.api_version, t.kind)):
        count = len(source.objects(t.api_version, t.kind))
        rows.append({"api_version": t.api_version, "kind": t.kind, "namespaced": t.namespaced, "objects": count})
    return ToolOutput(rows, unit="resource types")


@read_only_tool("cluster")
def list_objects(
    ctx: ToolContext,
    cluster: str,
    api_version: str,
    kind: str,
    namespace: str | None = None,
    name_contains: str | None = None,
) -> ToolOutput:
    """List objects of one API version and kind in a cluster, compacted (no managedFields; Secret values are
    never shown, only their key names). Use list_resource_types first to see what exists.

    Args:
        cluster: Cluster name from list_clusters, e.g. ravan.
        api_version: apiVersion exactly as served, e.g. apps/v1, v1, karpenter.sh/v1alpha5.
        kind: Kind, e.g. Deployment, Pod, Provisioner, PodDisruptionBudget.
        namespace: Only this namespace (omit for all namespaces and cluster-scoped objects).
        name_contains: Only objects whose name contains this text (case-insensitive).
    """
    source = ctx.source(cluster)
    try:
        objects = source.objects(api_version, kind, namespace)
    except SourceError as exc:
        raise ToolFailure(str(exc)) from None
    if not objects and not any(t.api_version == api_version and t.kind == kind for t in source.resource_types()):
        served = sorted({t.api_version for t in source.resource_types() if t.kind == kind})
        hint = f"; {kind} is served as {', '.join(served)}" if served else f"; {cluster} serves no {kind}"
        raise ToolFailure(f"{cluster} has no {api_version} {kind}{hint} (see list_resource_types)")
    if name_contains:
        needle = name_contains.lower()
        objects = [o for o in objects if needle in str(o.get("metadata", {}).get("name", "")).lower()]
    objects = sorted(objects, key=lambda o: (o.get("metadata", {}).get("namespace", ""), o["metadata"]["name"]))
    return ToolOutput(
        [compact_object(o) for o in objects],
        unit="objects",
        narrow="namespace= or name_contains=",
    )


def compact_object(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without server bookkeeping, scheduler defaults, last-applied copies, CRD schemas or node
    image lists, metadata first; a Secret keeps its metadata, type and key names only."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in DROPPED_KEYS}
    annotations = dict(meta.get("annotations") or {})
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = "<omitted: a copy of this object>"
    if annotations:
        meta["annotations"] = annotations
    if meta.get("ownerReferences"):
        meta["ownerReferences"] = [{"kind": r.get("kind"), "name": r.get("name")} for r in meta["ownerReferences"]]
    head = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta}
    if obj.get("kind") == "Secret":
        keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})
        return {**head, "type": obj.get("type", ""), "data_keys": keys, "values": "<never shown>"}
    rest = {k: _without_defaults(v) for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    kind = obj.get("kind")
    if kind == "CustomResourceDefinition":
        spec = dict(rest.get("spec") or {})
        spec["versions"] = [{k: v for k, v in ver.items() if k != "schema"} for ver in spec.get("versions") or []]
        rest["spec"] = spec
    if kind == "Node":
        rest["status"] = {k: v for k, v in (rest.get("status") or {}).items() if k != "images"}
    if kind == "Pod":
        status = rest.get("status") or {}
        rest["status"] = {
            "phase": status.get("phase"),
            "startTime": status.get("startTime"),
            "containers": [
                {"name": c.get("name"), "ready": c.get("ready"), "restartCount": c.get("restartCount")}
                for c in status.get("containerStatuses") or []
            ],
        }
    return {**head, **rest}


def _without_defaults(value: Any) -> Any:
    """Drop scheduler/kubelet defaults and the tolerations every pod gets (noise in a token budget)."""
    if isinstance(value, dict):
        return {k: _without_defaults(v) for k, v in value.items() if k not in DEFAULT_KEYS and v not in ({}, None)}
    if isinstance(value, list):
        return [_without_defaults(v) for v in value if not _default_toleration(v)]
    return value


def _default_toleration(value: Any) -> bool:
    return isinstance(value, dict) and value.get("key") in DEFAULT_TOLERATIONS and value.get("operator") == "Exists"


@read_only_tool("cluster")
def get_crd_stored_versions(ctx: ToolContext, cluster: str, name_contains: str | None = None) -> ToolOutput:
    """List a cluster's CustomResourceDefinitions with their served versions, storage version and
    status.storedVersions (a version still stored must be migrated before a release drops it).

    Args:
        cluster: Cluster name from list_clusters, e.g. ravan.
        name_contains: Only CRDs whose name contains this text, e.g. karpenter.sh.
    """
    source = ctx.source(cluster)
    rows = []
    for crd in source.objects("apiextensions.k8s.io/v1", "CustomResourceDefinition"):
        name = crd.get("metadata", {}).get("name", "")
        if name_contains and name_contains.lower() not in name.lower():
            continue
        spec = crd.get("spec", {})
        versions = spec.get("versions") or []
        rows.append(
            {
                "name": name,
                "kind": spec.get("names", {}).get("kind", ""),
                "served": [v.get("name") for v in versions if v.get("served")],
                "storage": next((v.get("name") for v in versions if v.get("storage")), ""),
                "storedVersions": list(crd.get("status", {}).get("storedVersions") or []),
            }
        )
    return ToolOutput(sorted(rows, key=lambda r: r["name"]), unit="CRDs", narrow="name_contains=")


# -- helm -------------------------------------------------------------------------------------------


@read_only_tool("helm")
def helm_releases(ctx: ToolContext, cluster: str) -> ToolOutput:
    """List the deployed Helm releases of a cluster: name, namespace, chart, chart version, app version, status.

    Args:
        cluster: Cluster name from list_clusters, e.g. ravan.
    """
    rows = [
        {
            "name": r.name,
            "namespace": r.namespace,
            "chart": r.chart,
            "chart_version": r.chart_version,
            "app_version": r.app_version,
            "status": r.status,
            "revision": r.revision,
        }
        for r in ctx.source(cluster).helm_releases()
    ]
    return ToolOutput(rows, unit="releases")


@read_only_tool("helm")
def helm_values(ctx: ToolContext, cluster: str, release: str, namespace: str | None = None) -> ToolOutput:
    """Show the user-supplied values of one deployed Helm release (credential-like values are redacted).

    Args:
        cluster: Cluster name from list_clusters, e.g. ravan.
        release: Release name from helm_releases, e.g. karpenter.
        namespace: The release's namespace, when two releases share the name.
    """
    releases = [
        r
        for r in ctx.source(cluster).helm_releases()
        if r.name == release and (namespace is None or r.namespace == namespace)
    ]
    if not releases:
        names = ", ".join(sorted(f"{r.namespace}/{r.name}" for r in ctx.source(cluster).helm_releases()))
        raise ToolFailure(f"no release {release!r} on {cluster}; releases: {names or 'none'}")
    r = releases[0]
    return ToolOutput(
        {"release": r.name, "namespace": r.namespace, "chart": f"{r.chart}-{r.chart_version}", "values": r.values},
        unit="values",
        narrow="a different release",
    )


# -- files: GitOps repo and Terraform ---------------------------------------------------------------


def _inside(root: Path, rel: str) -> Path:
    """root/rel when it stays inside root; ToolFailure otherwise (no absolute paths, no '..')."""
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ToolFailure(f"path {rel!r} must be relative to the repository root, without '..'")
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ToolFailure(f"path {rel!r} leaves the repository")
    return path


def _text_files(root: Path, path_glob: str) -> list[Path]:
    if Path(path_glob).is_absolute() or ".." in Path(path_glob).parts:
        raise ToolFailure(f"path_glob {path_glob!r} must be relative, without '..'")
    files = []
    for path in sorted(root.glob(path_glob)):
        rel = path.relative_to(root)
        if not path.is_file() or SKIP_DIRS & set(rel.parts) or path.suffix not in TEXT_SUFFIXES:
            continue
        if path.stat().st_size <= MAX_FILE_BYTES:
            files.append(path)
    return files


def _grep(ctx: ToolContext, roots: list[Path], base: Path, pattern: str, path_glob: str) -> ToolOutput:
    if len(pattern) > 200:
        raise ToolFailure("pattern is longer than 200 characters; search for a shorter distinctive piece")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ToolFailure(f"pattern {pattern!r} is not a valid Python regular expression: {exc}") from None
    matches: list[str] = []
    total = 0
    for root in roots:
        for path in _text_files(root, path_glob):
            for number, line in enumerate(ctx.lines(path), start=1):
                if regex.search(line):
                    total += 1
                    if len(matches) < MAX_MATCHES:
                        matches.append(f"{path.relative_to(base)}:{number}: {line.strip()[:MAX_LINE_CHARS]}")
    return ToolOutput(matches, unit="matching lines", narrow="a more specific pattern or path_glob=", total=total)


def _file(ctx: ToolContext, path: Path, shown_as: str, start_line: int, end_line: int | None) -> ToolOutput:
    if not path.is_file():
        raise ToolFailure(f"no file {shown_as}; find files with the grep tool first")
    lines = ctx.lines(path)
    start = max(start_line, 1)
    end = min(end_line or start + MAX_FILE_LINES - 1, len(lines), start + MAX_FILE_LINES - 1)
    if start > len(lines):
        raise ToolFailure(f"{shown_as} has {len(lines)} lines; start_line {start_line} is past the end")
    numbered = [f"{n}: {lines[n - 1]}" for n in range(start, end + 1)]
    return ToolOutput(
        {"file": shown_as, "lines": f"{start}-{end} of {len(lines)}", "text": numbered},
        unit="lines",
        narrow="start_line= and end_line=",
    )


def _gitops_root(ctx: ToolContext) -> Path:
    root = ctx.fleet.gitops_root
    if root is None or not root.is_dir():
        raise ToolFailure("this fleet has no GitOps repository on disk")
    return root


@read_only_tool("gitops")
def gitops_grep(ctx: ToolContext, pattern: str, path_glob: str = "**/*") -> ToolOutput:
    """Search the fleet's GitOps repository for a regular expression; returns 'file:line: text' matches.

    Args:
        pattern: Python regular expression matched against each line, e.g. karpenter\\.sh/v1alpha5.
        path_glob: Files to search, relative to the repository root, e.g. infrastructure/**/*.yaml.
    """
    root = _gitops_root(ctx)
    return _grep(ctx, [root], root, pattern, path_glob)


@read_only_tool("gitops")
def gitops_file(ctx: ToolContext, path: str, start_line: int = 1, end_line: int | None = None) -> ToolOutput:
    """Read numbered lines of one file of the GitOps repository (at most 300 lines per call).

    Args:
        path: File path relative to the repository root, as gitops_grep prints it.
        start_line: First line to show (1-based).
        end_line: Last line to show; omit for up to 300 lines from start_line.
    """
    root = _gitops_root(ctx)
    return _file(ctx, _inside(root, path), path, start_line, end_line)


def _terraform_roots(ctx: ToolContext) -> list[Path]:
    roots = [r for r in ctx.fleet.terraform_roots if r.is_dir()]
    if not roots:
        raise ToolFailure("this fleet declares no Terraform directories")
    return roots


@read_only_tool("terraform")
def terraform_grep(ctx: ToolContext, pattern: str, path_glob: str = "**/*") -> ToolOutput:
    """Search the fleet's Terraform directories (.tf, .tfvars, lock files, values files) for a regular
    expression; returns 'file:line: text' with paths relative to the fleet directory.

    Args:
        pattern: Python regular expression matched against each line, e.g. helm_release|chart_version.
        path_glob: Files to search, relative to each Terraform directory, e.g. *.tf or **/*.tfvars.
    """
    return _grep(ctx, _terraform_roots(ctx), ctx.fleet.root, pattern, path_glob)


@read_only_tool("terraform")
def terraform_file(ctx: ToolContext, path: str, start_line: int = 1, end_line: int | None = None) -> ToolOutput:
    """Read numbered lines of one Terraform file (at most 300 lines per call).

    Args:
        path: File path relative to the fleet directory, as terraform_grep prints it, e.g. terraform/eks/main.tf.
        start_line: First line to show (1-based).
        end_line: Last line to show; omit for up to 300 lines from start_line.
    """
    file = _inside(ctx.fleet.root, path)
    if not any(file.is_relative_to(root) for root in _terraform_roots(ctx)):
        raise ToolFailure(f"{path} is not inside a Terraform directory of this fleet")
    return _file(ctx, file, path, start_line, end_line)


# -- metrics and knowledge --------------------------------------------------------------------------


@read_only_tool("metrics")
def recorded_metrics(ctx: ToolContext, cluster: str, name_prefix: str) -> ToolOutput:
    """Summarise the metric series recorded with a cluster's snapshot whose name starts with a prefix:
    labels, sample count, first/last/min/max value and time range.

    Args:
        cluster: Cluster name from list_clusters, e.g. ravan.
        name_prefix: Metric name prefix, e.g. karpenter_nodes or karpenter_pods_state.
    """
    source = ctx.source(cluster)
    files = getattr(source, "metrics_files", lambda: [])()
    if not files:
        raise ToolFailure(f"{cluster} has no recorded metrics (live clusters are read through their metrics URL)")
    rows = []
    for file in files:
        try:
            recorded = list(recorded_series(file))
        except SourceError as exc:
            raise ToolFailure(str(exc)) from None
        for series in recorded:
            labels = series.metric
            if not series.name.startswith(name_prefix):
                continue
            values, stamps = series.values, series.timestamps
            rows.append(
                {
                    "labels": labels,
                    "samples": len(values),
                    "first": values[0] if values else None,
                    "last": values[-1] if values else None,
                    "min": min(values) if values else None,
                    "max": max(values) if values else None,
                    "from": _iso(stamps[0]) if stamps else "",
                    "to": _iso(stamps[-1]) if stamps else "",
                }
            )
    return ToolOutput(rows, unit="series", narrow="a longer name_prefix")


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="minutes")


@read_only_tool("knowledge")
def knowledge_lookup(ctx: ToolContext, tool: str, topic: KnowledgeTopic, contains: str | None = None) -> ToolOutput:
    """Look up upgradectl's curated knowledge about a tool (each entry cites its upstream source).

    Args:
        tool: The product's name, as the plan's request names it (e.g. karpenter).
        topic: Which part: releases, breaking_changes, path_rules, rollback_limits, metric_renames, gates,
            iam_requirements, procedure or chart.
        contains: Only entries whose text contains this (case-insensitive), e.g. 0.32 or v1beta1.
    """
    if tool not in available_tools():
        raise ToolFailure(f"unknown tool {tool!r}; one of {', '.join(available_tools())}")
    try:
        k = load_tool(tool)
    except KnowledgeError as exc:
        raise ToolFailure(str(exc)) from None
    value = getattr(k, topic)
    entries = value if isinstance(value, list) else [value]
    rows = [e.model_dump(mode="json", exclude_defaults=True) for e in entries]
    if contains:
        needle = contains.lower()
        rows = [r for r in rows if needle in json.dumps(r).lower()]
    return ToolOutput(rows, unit="entries", narrow="contains=")
