"""`upgradectl health`: is a cluster in an incident right now (the pre-flight of every rollout stage), and what
is new since the pre-flight (the health gate after each hop)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.app.health import HealthRequest, check_health
from upgradectl.cli.options import ClusterOpt, ClustersAliasOpt, cluster_names, format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import fail

HEALTH_HELP = (
    "Read each cluster's health, read-only, like `flux check --pre` before an upgrade: firing alerts (the snapshot's "
    "alerts.json, else /api/v1/alerts at the cluster's metrics_url: Prometheus, vmalert, or VictoriaMetrics with "
    "-vmalert.proxyURL), NotReady nodes, crash-looping or unready pods, Flux objects not Ready, Argo CD applications "
    "Degraded or Missing, and Warning events of the last hour. A critical alert, a NotReady node, a crash-looping "
    "pod, a failing Flux object or a degraded application (outside the fleet's prerelease_namespaces) is an "
    "incident. With --baseline (a file an earlier run wrote with --out), judge only what is new since then: the "
    "health gate after a hop. Exit codes: 0 clear; 1 an incident, or new problems since the baseline; 3 part of "
    "the health could not be read (alerts source unreachable, cluster unreachable) and nothing was found wrong "
    "in the rest; 2 usage error."
)


def health(
    fleet: Annotated[
        str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo'.")
    ] = "demo",
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="A file written by an earlier `upgradectl health --out`: "
                                  "report and fail only on what is new since then.")  # fmt: skip
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write this read as JSON, to pass as --baseline after the hop.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))] = "text",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per alerts request (3 attempts).")] = 10.0,
) -> None:
    output_format = choose_format(output_format, ("text", "json"))
    names = cluster_names(cluster, clusters_alias)
    try:
        result = check_health(HealthRequest(fleet=fleet, clusters=names, baseline=baseline, alerts_timeout=timeout))
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    if out is not None:
        try:
            out.write_text(json.dumps(result.baseline_document(), indent=2) + "\n")
        except OSError as exc:
            raise fail(f"--out {out}: cannot write ({exc.strerror})") from None
    if output_format == "json":
        print(json.dumps(result.to_dict(), indent=2))
        raise typer.Exit(result.exit_code)
    for verdict in result.clusters:
        h = verdict.health
        why = f" ({h.summary()})" if verdict.verdict == "incident" else ""
        print(f"{h.cluster}: {verdict.verdict.upper()}{why}")
        shown = verdict.new if baseline is not None else [s for s in h.signals if s.blocking or s.gating]
        for signal in shown:
            tag = "BLOCKING" if signal.blocking else "pre-release" if signal.prerelease else "noted"
            print(f"  [{tag}] {signal.ref}: {signal.excerpt}")
        for line in h.problems:
            print(f"  [not checked] {line}")
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command(help=HEALTH_HELP)(health)
