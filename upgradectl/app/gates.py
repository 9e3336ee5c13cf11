"""The baseline and validate use cases: an upgrade's gates measured on each cluster's metrics source.

Both read the fleet, find the clusters running the tool (and its version there, from Helm releases or
workloads), and query each cluster's Prometheus-compatible `metrics_url` (or one URL for all) with every
gate scoped to `cluster="<name>"`. `baseline` writes the pre-upgrade values to a JSON file; `validate`
judges every gate pass / fail / inconclusive against it. Inconclusive blocks promotion exactly like fail:
only exit 0 means go. `upgradectl baseline|validate` and the MCP `validate` tool call these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upgradectl import __version__
from upgradectl.agents.base import FleetView
from upgradectl.agents.inventory import git_only_version
from upgradectl.agents.monitoring_analyst import baseline_cluster, gates_for, validate_cluster
from upgradectl.agents.request import RequestError, resolve_tool_name
from upgradectl.app.errors import UseCaseError
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK
from upgradectl.models import Gate
from upgradectl.tools.analysis.inventory import detect_installation
from upgradectl.tools.analysis.paths import PathError, resolve_target
from upgradectl.tools.cluster.fleet import FleetError, load_fleet, unknown_clusters_message
from upgradectl.tools.knowledge.loader import KnowledgeError, ToolKnowledge, load_tool
from upgradectl.tools.metrics.baselines import (
    BaselineError,
    BaselineFile,
    ClusterBaseline,
    load_baseline,
    write_baseline,
)
from upgradectl.tools.metrics.gates import inconclusive
from upgradectl.tools.metrics.promql import PromClient
from upgradectl.tools.versions import Version, VersionError


@dataclass
class Target:
    """One cluster to measure: its version there and where its metrics are (or why they cannot be read)."""

    cluster: str
    environment: str
    version: str
    metrics_url: str
    problem: str = ""


@dataclass(frozen=True)
class GateRequest:
    """Which tool's gates, on which clusters of which fleet, read where and when."""

    tool: str
    fleet: str = "demo"
    clusters: list[str] = field(default_factory=list)  # default: every cluster running the tool
    metrics_url: str | None = None  # one Prometheus-compatible API root for every cluster in scope
    at: str | None = None  # RFC 3339 or Unix seconds; default now
    timeout: float = 10.0  # seconds per HTTP request
    to: str | None = None  # baseline: the version you will upgrade to (its renamed relative gates too)
    out: Path | None = None  # baseline: the file to write (default baseline-<tool>.json)
    baseline: Path | None = None  # validate: the baseline file relative gates compare with
    version: str | None = None  # validate: the version now running (default: detected per cluster)


@dataclass
class GateOutcome:
    """Every cluster's gates (measured, recorded or judged) and the exit code they mean."""

    knowledge: ToolKnowledge
    at: float
    clusters: list[tuple[Target, list[Gate]]]
    exit_code: int
    document: BaselineFile | None = None  # baseline: what was written
    written: Path | None = None

    @property
    def gates(self) -> list[Gate]:
        return [gate for _, gates in self.clusters for gate in gates]


def baseline(request: GateRequest) -> GateOutcome:
    """Record the pre-upgrade value of every gate for the version each cluster runs now (and, with `to`, the
    target's relative gates under today's metric names). Exit 1 when an absolute gate already fails, 3 when
    some value could not be recorded."""
    when = parse_at(request.at)
    k, targets = resolve_scope(request, None)
    try:
        target = resolve_target(k, request.to) if request.to else ""
    except PathError as exc:
        raise UseCaseError(str(exc)) from None
    moment = datetime.fromtimestamp(when, UTC)
    records, shown = [], []
    for t in targets:
        if t.problem:
            gates = _problem_gates(k, t)
            records.append(ClusterBaseline(cluster=t.cluster, version=t.version, metrics_url=t.metrics_url,
                                           at=moment, problem=t.problem))  # fmt: skip
        else:
            with PromClient(t.metrics_url, timeout=request.timeout) as client:
                entries, integrity = baseline_cluster(k, t.cluster, t.version, target, client, when)
            records.append(ClusterBaseline(cluster=t.cluster, version=t.version, metrics_url=t.metrics_url,
                                           at=moment, entries=entries, integrity=integrity))  # fmt: skip
            gates = [e.gate for e in entries]
        shown.append((t, gates))
    document = BaselineFile(
        tool=k.tool, fleet=request.fleet, target_version=target, at=moment,
        created_at=datetime.now(UTC), upgradectl_version=__version__, clusters=records,
    )  # fmt: skip
    path = request.out or Path(f"baseline-{k.tool}.json")
    write_baseline(document, path)
    outcome = GateOutcome(k, when, shown, EXIT_OK, document, path)
    outcome.exit_code = exit_for(outcome.gates)
    return outcome


def validate(request: GateRequest) -> GateOutcome:
    """Judge every gate for the running version against the baseline: pass, fail or inconclusive (no data,
    NaN, stale data, no baseline, an unreachable source). Exit 0 all pass, 1 a gate failed, 3 inconclusive."""
    when = parse_at(request.at)
    k, targets = resolve_scope(request, request.version)
    recorded = None
    if request.baseline is not None:
        try:
            recorded = load_baseline(request.baseline)
        except BaselineError as exc:
            raise UseCaseError(str(exc)) from None
        if recorded.tool != k.tool:
            raise UseCaseError(
                f"{request.baseline} is a baseline for {recorded.tool}, not {k.tool}; pass the {k.tool} one"
            )
    shown = []
    for t in targets:
        if t.problem:
            gates = _problem_gates(k, t)
        else:
            with PromClient(t.metrics_url, timeout=request.timeout) as client:
                cluster_baseline = recorded.cluster(t.cluster) if recorded else None
                gates = validate_cluster(k, t.cluster, t.version, client, when, cluster_baseline)
        shown.append((t, gates))
    outcome = GateOutcome(k, when, shown, EXIT_OK)
    outcome.exit_code = exit_for(outcome.gates)
    return outcome


def validation_report(request: GateRequest, outcome: GateOutcome) -> dict[str, Any]:
    """The validate result as data: what `validate --format json` prints and the MCP tool returns."""
    return {
        "tool": outcome.knowledge.tool, "fleet": request.fleet,
        "at": datetime.fromtimestamp(outcome.at, UTC).isoformat(),
        "baseline": str(request.baseline) if request.baseline else "",
        "clusters": [{"cluster": t.cluster, "environment": t.environment, "version": t.version,
                      "metrics_url": t.metrics_url, "gates": [g.model_dump() for g in gates]}
                     for t, gates in outcome.clusters],
        "summary": summary_counts(outcome.gates),
        "promotion": "allowed" if outcome.exit_code == EXIT_OK else "blocked",
        "exit_code": outcome.exit_code,
    }  # fmt: skip


def summary_counts(gates: list[Gate]) -> dict[str, int]:
    """How many gates passed, failed, were inconclusive or only recorded (none omitted when zero)."""
    counts = Counter(g.result or "recorded" for g in gates)
    return {key: counts.get(key, 0) for key in ("pass", "fail", "inconclusive", "recorded") if counts.get(key)}


def parse_at(text: str | None) -> float:
    """--at as Unix seconds; RFC 3339 needs a zone (Z or +hh:mm)."""
    if text is None:
        return datetime.now(UTC).timestamp()
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UseCaseError(
            f"--at {text!r} is not a time: use RFC 3339 like 2026-11-20T09:00:00Z or Unix seconds"
        ) from None
    if moment.tzinfo is None:
        raise UseCaseError(f"--at {text!r} has no time zone: add Z (UTC) or an offset like +05:30")
    return moment.timestamp()


def running_version(knowledge: ToolKnowledge, version: str) -> str:
    """--version as the version that runs: a line ('1.0') means its latest known patch; a patch of a known
    line is taken as given, even one newer than the knowledge base or one it advises against."""
    release = knowledge.release(version)
    if release is None:
        raise PathError(
            f"{knowledge.display_name} {version} is not a known release line (known: {knowledge.releases[0].line} "
            f"to {knowledge.releases[-1].line}); gates are defined per line"
        )
    parsed = Version.parse(version)
    return release.latest_patch if parsed.is_line else str(parsed)


def resolve_scope(request: GateRequest, version: str | None) -> tuple[ToolKnowledge, list[Target]]:
    """(knowledge, targets) or a usage error: the clusters in scope with their version and metrics URL."""
    try:
        k = load_tool(resolve_tool_name(request.tool))
        loaded = load_fleet(request.fleet)
        pinned = running_version(k, version) if version else ""
    except (RequestError, FleetError, KnowledgeError, PathError, VersionError) as exc:
        raise UseCaseError(str(exc)) from None
    metrics_url = request.metrics_url
    if metrics_url is not None and not metrics_url.startswith(("http://", "https://")):
        raise UseCaseError(f"--metrics-url {metrics_url!r} must start with http:// or https://")
    wanted = request.clusters
    unknown = [c for c in wanted if c not in loaded.clusters]
    if unknown:
        raise UseCaseError(unknown_clusters_message(unknown, loaded.clusters))
    targets: list[Target] = []
    view = FleetView(loaded)
    for name, cluster in loaded.clusters.items():
        if wanted and name not in wanted:
            continue
        url = metrics_url if metrics_url is not None else cluster.entry.metrics_url
        if cluster.entry.git_only:  # no cluster to read: it runs what Git declares; its metrics are read as any
            running = pinned or git_only_version(k, view, name)
            if not running and not wanted:
                continue
            if not running:
                raise UseCaseError(f"{name} is planned from Git alone and Git does not say which {k.display_name} "
                                   "version it runs; pass --version")  # fmt: skip
            targets.append(Target(name, cluster.info.environment, running, url, _no_url(name, url)))
            continue
        if cluster.source is None:  # cannot tell what runs there: never silently out of scope
            why = f"cluster unreachable, nothing measured: {cluster.error}"
            targets.append(Target(name, cluster.info.environment, pinned, url, why))
            continue
        if pinned and wanted:  # named clusters with a stated version: nothing to detect
            targets.append(Target(name, cluster.info.environment, pinned, url, _no_url(name, url)))
            continue
        found = detect_installation(k, cluster.source, name)
        if not found and not wanted:
            continue
        running = pinned or (found.version if found else "")
        if not running:
            raise UseCaseError(f"{k.display_name} is not installed on {name}; pass --version if it runs there")
        targets.append(Target(name, cluster.info.environment, running, url, _no_url(name, url)))
    if not targets:
        raise UseCaseError(f"no cluster in scope runs {k.display_name}; name clusters with --cluster and --version")
    return k, targets


def _no_url(cluster: str, url: str) -> str:
    return "" if url else f"no metrics URL for {cluster}: set metrics_url in the fleet file or pass --metrics-url"


def _problem_gates(knowledge: ToolKnowledge, target: Target) -> list[Gate]:
    """Every gate of the cluster inconclusive for the target's problem (one placeholder when the version
    is unknown, so an unreachable cluster still blocks promotion)."""
    gates = gates_for(knowledge, target.version) if target.version else []
    if not gates:
        gates = [Gate(name=f"{knowledge.tool}-gates", description=f"Every {knowledge.display_name} gate on "
                      f"{target.cluster}", promql="-", comparison="==", threshold=0)]  # fmt: skip
    return inconclusive(gates, target.problem)


def exit_for(gates: list[Gate]) -> int:
    """1 when a gate failed, else 3 when one is inconclusive, else 0."""
    results = {g.result for g in gates}
    if "fail" in results:
        return EXIT_BLOCKERS
    if "inconclusive" in results:
        return EXIT_INCOMPLETE
    return EXIT_OK
