"""`upgradectl scan`: deprecated and removed APIs in manifests, clusters and Helm releases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.options import ClusterOpt, ClustersAliasOpt, cluster_names, format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import fail
from upgradectl.exit_codes import SCAN_BAD_INPUT
from upgradectl.plain_table import table_lines
from upgradectl.tools.analysis.scanner import EXIT_FOR_STATUS, ScanReport

SCAN_FORMATS = ("text", "md", "json")


def _usage(message: str) -> typer.Exit:
    return fail(message, SCAN_BAD_INPUT)


def scan(
    manifests: Annotated[
        list[Path] | None,
        typer.Option(
            "--manifests", "-m", help="A directory (or file) of manifests: GitOps repo, Kustomize overlays. Repeatable."
        ),
    ] = None,
    fleet: Annotated[
        str | None,
        typer.Option(
            "--fleet",
            "-f",
            help="Scan the fleet's clusters (objects and CRD stored versions): fleet.yaml, a directory, or 'demo'.",
        ),
    ] = None,
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
    helm: Annotated[
        bool,
        typer.Option("--helm", help="Also scan Helm release manifests decoded from release secrets (needs --fleet)."),
    ] = False,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help="Target versions per component, e.g. "
            "k8s=1.30,flux=2.7,karpenter=1.0.10. Default: every component's newest "
            "known version.",
        ),
    ] = "",
    additional_versions: Annotated[
        Path | None, typer.Option("--additional-versions", help="Extra rules in Pluto's versions.yaml format.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help=format_help(SCAN_FORMATS, "text"))] = "text",
) -> None:
    """Find APIs a target version deprecates or removes.

    Exit codes follow Pluto: 0 nothing found, 2 deprecated APIs, 3 removed APIs (or objects still
    stored at a removed version), 4 the replacement API is not available at the target yet; 1 bad input,
    including a manifest, cluster or Helm release that could not be read (named in a note; the worst code
    wins). 70 is an internal error (a bug), as for every command.
    """
    # the scanner loads every product's knowledge: imported when a scan runs, so --help stays fast
    from upgradectl.app.scan import ScanRequest
    from upgradectl.app.scan import scan as run_scan

    output_format = choose_format(output_format, SCAN_FORMATS, SCAN_BAD_INPUT)
    wanted = ScanRequest(
        target=target, manifests=list(manifests or []), fleet=fleet,
        clusters=cluster_names(cluster, clusters_alias) or None, helm=helm,
        additional_versions=additional_versions,
    )  # fmt: skip
    try:
        report = run_scan(wanted)
    except UseCaseError as exc:
        raise _usage(exc.message) from None
    _print(report, output_format)
    raise typer.Exit(report.exit_code)


def _print(report: ScanReport, output_format: str) -> None:
    rows = sorted(report.usages, key=lambda u: (-EXIT_FOR_STATUS[u.status], u.rule.component, u.location))
    if output_format == "json":
        print(
            json.dumps(
                {
                    "targets": report.targets,
                    "scanned": report.scanned,
                    "notes": report.notes,
                    "usages": [u.as_dict() for u in rows],
                    "exit_code": report.exit_code,
                },
                indent=2,
            )
        )
        return
    if output_format == "md":
        print(f"# API scan (targets: {', '.join(f'{k}={v}' for k, v in sorted(report.targets.items()))})\n")
        print("| Status | Kind | apiVersion | Where | Name | Removed in | Replacement |")
        print("|---|---|---|---|---|---|---|")
        for u in rows:
            print(
                f"| {u.status} | {u.rule.kind} | {u.rule.api_version} | {u.location} | {u.name} | "
                f"{u.rule.component} {u.rule.removed_in} | {u.rule.replacement or '-'} |"
            )
        for note in report.notes:
            print(f"\n> {note}")
        return
    if not rows:
        print(f"No deprecated or removed APIs for targets {report.targets} (scanned: {report.scanned}).")
    else:
        lines = table_lines(
            ("STATUS", "KIND", "API VERSION", "WHERE", "NAME", "REMOVED IN", "REPLACEMENT"),
            [
                (u.status, u.rule.kind, u.rule.api_version, u.location, u.name,
                 f"{u.rule.component} {u.rule.removed_in}", u.rule.replacement or "-")
                for u in rows
            ],
        )  # fmt: skip
        sys.stdout.writelines(f"{line}\n" for line in lines)
    for note in report.notes:
        print(f"note: {note}")


def register(app: typer.Typer) -> None:
    app.command()(scan)
