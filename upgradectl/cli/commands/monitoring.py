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
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.options import ClusterOpt, ClustersAliasOpt, cluster_names, format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail

GATE_EXIT_HELP = (
    "Exit codes: 0 every gate passed (promotion may proceed); 1 at least one gate failed; 3 no gate failed but "
    "at least one is inconclusive (no data, NaN, stale data, no baseline, or the metrics source unreachable) -- "
    "inconclusive blocks promotion exactly like a failure; 2 usage error (bad flags, fleet, tool, version, "
    "baseline file)."
)

FleetOpt = Annotated[
    str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo' (the bundled demo).")
]
ToolOpt = Annotated[
    str, typer.Option("--tool", help="A product of the knowledge base, by name or alias (karpenter, vm, flux...).")
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
GATE_FORMATS = ("text", "json")
FormatOpt = Annotated[str, typer.Option("--format", help=format_help(GATE_FORMATS, "text"))]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds each metrics request may take in all, connect to last byte (3 attempts with backoff; a source "
        "that times out every attempt is not asked again in this run).",
    ),
]


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def baseline(
    tool: ToolOpt,
    fleet: FleetOpt = "demo",
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
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
        Path | None, typer.Option("--out", "-o", help="Baseline JSON file to write (default baseline-<tool>.json).")
    ] = None,
    output_format: FormatOpt = "text",
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Record the pre-upgrade value of every gate for the version each cluster runs now.

    Each value is the worst point of the gate's window ending at --at, per cluster. For VictoriaMetrics it
    also records the series count of /api/v1/status/tsdb and fixed past-window reference queries, so
    `validate` can tell lost history. Exit 1 when an absolute gate already fails before the upgrade, 3 when
    some value could not be recorded (those gates will be inconclusive after the upgrade).
    """
    # the gates load the agents and the metrics client: imported when a command runs, so --help stays fast
    from upgradectl.app.gates import GateRequest
    from upgradectl.app.gates import baseline as record_baseline
    from upgradectl.cli.commands.gate_table import render_table

    output_format = choose_format(output_format, GATE_FORMATS)
    wanted = GateRequest(tool=tool, fleet=fleet, clusters=cluster_names(cluster, clusters_alias),
                         metrics_url=metrics_url, at=at, timeout=timeout, to=to, out=out)  # fmt: skip
    try:
        outcome = record_baseline(wanted)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    err.print(f"wrote {outcome.written}", highlight=False)
    if output_format == "json" and outcome.document is not None:
        _emit(outcome.document.model_dump_json(indent=2))
    else:
        _emit(render_table(outcome.knowledge.display_name, "baseline", outcome.at, outcome.clusters))
    raise typer.Exit(outcome.exit_code)


def validate(
    tool: ToolOpt,
    fleet: FleetOpt = "demo",
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
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
    output_format: FormatOpt = "text",
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Judge every gate for the running version: pass, fail or inconclusive, with the numbers.

    Gates are read per cluster over each gate's window ending at --at; relative gates compare with
    --baseline. No data, NaN, stale data, a missing baseline or an unreachable source is inconclusive,
    never pass. For VictoriaMetrics the series counts and reference queries recorded in the baseline are
    re-run and must not drop (data loss).
    """
    # the gates load the agents and the metrics client: imported when a command runs, so --help stays fast
    from upgradectl.app.gates import GateRequest, validation_report
    from upgradectl.app.gates import validate as judge_gates
    from upgradectl.cli.commands.gate_table import render_table

    output_format = choose_format(output_format, GATE_FORMATS)
    wanted = GateRequest(tool=tool, fleet=fleet, clusters=cluster_names(cluster, clusters_alias),
                         metrics_url=metrics_url, at=at, timeout=timeout, baseline=baseline_file,
                         version=version)  # fmt: skip
    try:
        outcome = judge_gates(wanted)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    if output_format == "json":
        _emit(json.dumps(validation_report(wanted, outcome), indent=2))
    else:
        _emit(render_table(outcome.knowledge.display_name, "validate", outcome.at, outcome.clusters))
    raise typer.Exit(outcome.exit_code)


def register(app: typer.Typer) -> None:
    app.command(epilog=GATE_EXIT_HELP)(baseline)
    app.command(epilog=GATE_EXIT_HELP)(validate)
