"""`upgradectl scan`: deprecated and removed APIs in manifests, clusters and Helm releases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from upgradectl.cli.output import fail
from upgradectl.exit_codes import SCAN_BAD_INPUT
from upgradectl.tools.analysis.scanner import (
    EXIT_FOR_STATUS,
    ScanError,
    Scanner,
    ScanReport,
    parse_targets,
    pluto_rules,
)


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
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Comma-separated clusters of the fleet to scan (default: all).")
    ] = None,
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
    output_format: Annotated[str, typer.Option("--format", "-o", help="text, json or markdown.")] = "text",
) -> None:
    """Find APIs a target version deprecates or removes.

    Exit codes follow Pluto: 0 nothing found, 2 deprecated APIs, 3 removed APIs (or objects still
    stored at a removed version), 4 the replacement API is not available at the target yet; 1 bad input,
    including a manifest, cluster or Helm release that could not be read (named in a note; the worst code
    wins). 70 is an internal error (a bug), as for every command.
    """
    from upgradectl.tools.cluster.fleet import FleetError

    if output_format not in ("text", "json", "markdown"):
        raise _usage(f"--format {output_format!r} is not one of text, json, markdown")
    if not manifests and not fleet:
        raise _usage("nothing to scan: pass --manifests DIR and/or --fleet FLEET")
    if helm and not fleet:
        raise _usage("--helm reads Helm release secrets from clusters: add --fleet")
    try:
        report = run_scan(
            target, manifests, fleet, [c.strip() for c in cluster.split(",")] if cluster else None, helm,
            additional_versions,
        )  # fmt: skip
    except (ScanError, FleetError) as exc:
        raise _usage(str(exc)) from None
    _print(report, output_format)
    raise typer.Exit(report.exit_code)


def run_scan(
    target: str,
    manifests: list[Path] | None,
    fleet: str | None,
    clusters: list[str] | None,
    helm: bool,
    additional_versions: Path | None = None,
) -> ScanReport:
    """Scan manifests and/or a fleet's clusters (the CLI and the MCP server share this); bad input raises
    ScanError or FleetError with a message that names it."""
    from upgradectl.tools.cluster.fleet import load_fleet, unknown_clusters_message
    from upgradectl.tools.cluster.sources import SourceError

    extra, extra_targets = pluto_rules(additional_versions) if additional_versions else ([], {})
    scanner = Scanner(parse_targets(target), extra, extra_targets)
    report = ScanReport(targets=scanner.targets)
    for path in manifests or []:
        if not path.exists():
            raise ScanError(f"--manifests {path}: no such file or directory")
        if path.is_dir():
            scanner.scan_manifests(path, report)
        else:
            scanner.scan_manifests(path.parent, report, only=path)
    if fleet:
        loaded = load_fleet(fleet)
        wanted = clusters or list(loaded.clusters)
        unknown = [c for c in wanted if c not in loaded.clusters]
        if unknown:
            raise ScanError(unknown_clusters_message(unknown, loaded.clusters))
        for name in wanted:
            member = loaded.clusters[name]
            if member.source is None:
                report.unread.append(name)
                report.notes.append(f"{name}: not scanned: {member.error}")
                continue
            try:
                scanner.scan_cluster(name, member.source, report, helm)
            except SourceError as exc:  # a snapshot file that does not read: that cluster was not (fully) scanned
                report.unread.append(name)
                report.notes.append(f"{name}: not scanned: {exc}")
    return report


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
    if output_format == "markdown":
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
    console = Console(width=200, markup=False, highlight=False)  # cells are file paths and object names
    if not rows:
        console.print(
            f"No deprecated or removed APIs for targets {report.targets} (scanned: {report.scanned}).", highlight=False
        )
    else:
        table = Table("STATUS", "KIND", "API VERSION", "WHERE", "NAME", "REMOVED IN", "REPLACEMENT", box=None)
        for u in rows:
            table.add_row(
                u.status,
                u.rule.kind,
                u.rule.api_version,
                u.location,
                u.name,
                f"{u.rule.component} {u.rule.removed_in}",
                u.rule.replacement or "-",
            )
        console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(scan)
