"""`upgradectl baseline` and `upgradectl validate`: the upgrade's gates measured on a real metrics source.

Both read the fleet, find the clusters running the tool (and its version there, from Helm releases or
workloads), and query each cluster's Prometheus-compatible `metrics_url` (or `--metrics-url`) with
every gate scoped to `cluster="<name>"`. `baseline` writes the pre-upgrade values to a JSON file;
`validate` judges every gate pass / fail / inconclusive against it. Inconclusive blocks promotion
exactly like fail: only exit 0 means go.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from upgradectl import __version__
from upgradectl.cli.commands.gate_table import render_table, summary_counts
from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK
from upgradectl.models import Gate

if TYPE_CHECKING:
    from upgradectl.tools.knowledge.loader import ToolKnowledge
    from upgradectl.tools.metrics.promql import PromClient

GATE_EXIT_HELP = (
    "Exit codes: 0 every gate passed (promotion may proceed); 1 at least one gate failed; 3 no gate failed but "
    "at least one is inconclusive (no data, NaN, stale data, no baseline, or the metrics source unreachable) -- "
    "inconclusive blocks promotion exactly like a failure; 2 usage error (bad flags, fleet, tool, version, "
    "baseline file)."
)

FleetOpt = Annotated[
    str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo' (the bundled demo).")
]
ToolOpt = Annotated[str, typer.Option("--tool", help="karpenter, victoriametrics, flux, argocd or cilium (or alias).")]
ClustersOpt = Annotated[
    str | None, typer.Option("--clusters", help="Comma-separated cluster names (default: every cluster running it).")
]
MetricsUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics-url",
        help="Prometheus-compatible API root for every cluster in scope (VictoriaMetrics: http://host:8428, "
        "Prometheus: http://host:9090), overriding each cluster's metrics_url in the fleet file.",
    ),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Evaluation time: RFC 3339 (2026-11-20T09:00:00Z) or Unix seconds. Default: now. Each gate reads "
        "its window ending here; pin it to judge recorded data.",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds each metrics request may take in all, connect to last byte (3 attempts with backoff; a source "
        "that times out every attempt is not asked again in this run).",
    ),
]


@dataclass
class Target:
    """One cluster to measure: its version there and where its metrics are (or why they cannot be read)."""

    cluster: str
    environment: str
    version: str
    metrics_url: str
    problem: str = ""


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
        raise fail(f"--at {text!r} is not a time: use RFC 3339 like 2026-11-20T09:00:00Z or Unix seconds") from None
    if moment.tzinfo is None:
        raise fail(f"--at {text!r} has no time zone: add Z (UTC) or an offset like +05:30")
    return moment.timestamp()


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _no_url(cluster: str, url: str) -> str:
    return "" if url else f"no metrics URL for {cluster}: set metrics_url in the fleet file or pass --metrics-url"


def running_version(k: ToolKnowledge, version: str) -> str:
    """--version as the version that runs: a line ('1.0') means its latest known patch; a patch of a known
    line is taken as given, even one newer than the knowledge base or one it advises against."""
    from upgradectl.tools.analysis.paths import PathError
    from upgradectl.tools.versions import Version

    release = k.release(version)
    if release is None:
        raise PathError(
            f"{k.display_name} {version} is not a known release line (known: {k.releases[0].line} to "
            f"{k.releases[-1].line}); gates are defined per line"
        )
    parsed = Version.parse(version)
    return release.latest_patch if parsed.is_line else str(parsed)


def resolve_scope(
    fleet: str, tool: str, clusters: str | None, version: str | None, metrics_url: str | None
) -> tuple[ToolKnowledge, list[Target]]:
    """(knowledge, targets) or a usage error: the clusters in scope with their version and metrics URL."""
    from upgradectl.agents.request import RequestError, resolve_tool_name
    from upgradectl.tools.analysis.inventory import detect_installation
    from upgradectl.tools.analysis.paths import PathError
    from upgradectl.tools.cluster.fleet import FleetError, load_fleet, unknown_clusters_message
    from upgradectl.tools.knowledge.loader import KnowledgeError, load_tool
    from upgradectl.tools.versions import VersionError

    try:
        k = load_tool(resolve_tool_name(tool))
        loaded = load_fleet(fleet)
        pinned = running_version(k, version) if version else ""
    except (RequestError, FleetError, KnowledgeError, PathError, VersionError) as exc:
        raise fail(str(exc)) from None
    if metrics_url is not None and not metrics_url.startswith(("http://", "https://")):
        raise fail(f"--metrics-url {metrics_url!r} must start with http:// or https://")
    wanted = _split(clusters)
    unknown = [c for c in wanted if c not in loaded.clusters]
    if unknown:
        raise fail(unknown_clusters_message(unknown, loaded.clusters))
    targets: list[Target] = []
    for name, cluster in loaded.clusters.items():
        if wanted and name not in wanted:
            continue
        url = metrics_url if metrics_url is not None else cluster.entry.metrics_url
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
            raise fail(f"{k.display_name} is not installed on {name}; pass --version if it runs there")
        targets.append(Target(name, cluster.info.environment, running, url, _no_url(name, url)))
    if not targets:
        raise fail(f"no cluster in scope runs {k.display_name}; name clusters with --clusters and --version")
    return k, targets


def _client(url: str, timeout: float) -> PromClient:
    from upgradectl.tools.metrics.promql import PromClient

    return PromClient(url, timeout=timeout)


def _problem_gates(k: ToolKnowledge, t: Target) -> list[Gate]:
    """Every gate of the cluster inconclusive for the target's problem (one placeholder when the version
    is unknown, so an unreachable cluster still blocks promotion)."""
    from upgradectl.agents.monitoring_analyst import gates_for
    from upgradectl.tools.metrics.gates import inconclusive

    gates = gates_for(k, t.version) if t.version else []
    if not gates:
        gates = [Gate(name=f"{k.tool}-gates", description=f"Every {k.display_name} gate on {t.cluster}",
                      promql="-", comparison="==", threshold=0)]  # fmt: skip
    return inconclusive(gates, t.problem)


def _exit_for(gates: list[Gate]) -> int:
    results = {g.result for g in gates}
    if "fail" in results:
        return EXIT_BLOCKERS
    if "inconclusive" in results:
        return EXIT_INCOMPLETE
    return EXIT_OK


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def baseline(
    tool: ToolOpt,
    fleet: FleetOpt = "demo",
    clusters: ClustersOpt = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The version you will upgrade to: also record its relative gates, rewritten to today's metric "
            "names where the upgrade renames them, so `validate` has a baseline for every one of them.",
        ),
    ] = None,
    metrics_url: MetricsUrlOpt = None,
    at: AtOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Baseline JSON file to write (default baseline-<tool>.json).")
    ] = None,
    output_format: FormatOpt = "table",
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Record the pre-upgrade value of every gate for the version each cluster runs now.

    Each value is the worst point of the gate's window ending at --at, per cluster. For VictoriaMetrics it
    also records the series count of /api/v1/status/tsdb and fixed past-window reference queries, so
    `validate` can tell lost history. Exit 1 when an absolute gate already fails before the upgrade, 3 when
    some value could not be recorded (those gates will be inconclusive after the upgrade).
    """
    from upgradectl.agents.monitoring_analyst import baseline_cluster
    from upgradectl.tools.analysis.paths import PathError, resolve_target
    from upgradectl.tools.metrics.baselines import BaselineFile, ClusterBaseline, write_baseline

    if output_format not in ("table", "json"):
        raise fail(f"--format {output_format!r} is not one of table, json")
    when = parse_at(at)
    k, targets = resolve_scope(fleet, tool, clusters, None, metrics_url)
    try:
        target = resolve_target(k, to) if to else ""
    except PathError as exc:
        raise fail(str(exc)) from None
    records, shown = [], []
    for t in targets:
        moment = datetime.fromtimestamp(when, UTC)
        if t.problem:
            gates = _problem_gates(k, t)
            records.append(ClusterBaseline(cluster=t.cluster, version=t.version, metrics_url=t.metrics_url,
                                           at=moment, problem=t.problem))  # fmt: skip
        else:
            with _client(t.metrics_url, timeout) as client:
                entries, integrity = baseline_cluster(k, t.cluster, t.version, target, client, when)
            records.append(ClusterBaseline(cluster=t.cluster, version=t.version, metrics_url=t.metrics_url,
                                           at=moment, entries=entries, integrity=integrity))  # fmt: skip
            gates = [e.gate for e in entries]
        shown.append((t, gates))
    document = BaselineFile(
        tool=k.tool, fleet=fleet, target_version=target, at=datetime.fromtimestamp(when, UTC),
        created_at=datetime.now(UTC), upgradectl_version=__version__, clusters=records,
    )  # fmt: skip
    path = out or Path(f"baseline-{k.tool}.json")
    write_baseline(document, path)
    err.print(f"wrote {path}", highlight=False)
    all_gates = [g for _, gates in shown for g in gates]
    if output_format == "json":
        _emit(document.model_dump_json(indent=2))
    else:
        _emit(render_table(k.display_name, "baseline", when, shown))
    raise typer.Exit(_exit_for(all_gates))


def validate(
    tool: ToolOpt,
    fleet: FleetOpt = "demo",
    clusters: ClustersOpt = None,
    baseline_file: Annotated[
        Path | None,
        typer.Option("--baseline", help="Baseline JSON from `upgradectl baseline`; needed by relative gates."),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Version now running (after the upgrade), selecting that version's gates and metric names. "
            "Default: the version detected on each cluster.",
        ),
    ] = None,
    metrics_url: MetricsUrlOpt = None,
    at: AtOpt = None,
    output_format: FormatOpt = "table",
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Judge every gate for the running version: pass, fail or inconclusive, with the numbers.

    Gates are read per cluster over each gate's window ending at --at; relative gates compare with
    --baseline. No data, NaN, stale data, a missing baseline or an unreachable source is inconclusive,
    never pass. For VictoriaMetrics the series counts and reference queries recorded in the baseline are
    re-run and must not drop (data loss).
    """
    from upgradectl.agents.monitoring_analyst import validate_cluster
    from upgradectl.tools.metrics.baselines import BaselineError, load_baseline

    if output_format not in ("table", "json"):
        raise fail(f"--format {output_format!r} is not one of table, json")
    when = parse_at(at)
    k, targets = resolve_scope(fleet, tool, clusters, version, metrics_url)
    recorded = None
    if baseline_file is not None:
        try:
            recorded = load_baseline(baseline_file)
        except BaselineError as exc:
            raise fail(str(exc)) from None
        if recorded.tool != k.tool:
            raise fail(f"{baseline_file} is a baseline for {recorded.tool}, not {k.tool}; pass the {k.tool} one")
    shown = []
    for t in targets:
        if t.problem:
            gates = _problem_gates(k, t)
        else:
            with _client(t.metrics_url, timeout) as client:
                cluster_baseline = recorded.cluster(t.cluster) if recorded else None
                gates = validate_cluster(k, t.cluster, t.version, client, when, cluster_baseline)
        shown.append((t, gates))
    all_gates = [g for _, gates in shown for g in gates]
    code = _exit_for(all_gates)
    if output_format == "json":
        _emit(json.dumps({
            "tool": k.tool, "fleet": fleet, "at": datetime.fromtimestamp(when, UTC).isoformat(),
            "baseline": str(baseline_file) if baseline_file else "",
            "clusters": [{"cluster": t.cluster, "environment": t.environment, "version": t.version,
                          "metrics_url": t.metrics_url, "gates": [g.model_dump() for g in gates]}
                         for t, gates in shown],
            "summary": summary_counts(all_gates),
            "promotion": "allowed" if code == EXIT_OK else "blocked",
            "exit_code": code,
        }, indent=2))  # fmt: skip
    else:
        _emit(render_table(k.display_name, "validate", when, shown))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(epilog=GATE_EXIT_HELP)(baseline)
    app.command(epilog=GATE_EXIT_HELP)(validate)
