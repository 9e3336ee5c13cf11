"""`upgradectl status`: the fleet board, cluster x tool (running version, support, Kubernetes fit, drift)."""

from __future__ import annotations

import html
import json
import sys
from dataclasses import asdict
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.app.status import StatusRequest, exit_code
from upgradectl.app.status import status as fleet_status
from upgradectl.cli.options import ClusterOpt, ClustersAliasOpt, cluster_names, format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail
from upgradectl.plain_table import table_lines
from upgradectl.tools.analysis.status import StatusBoard, StatusCell

STATUS_FORMATS = ("text", "json", "html")

HEADER = ("CLUSTER", "ENV", "K8S", "TOOL", "VERSION", "SUPPORT", "K8S FIT", "NEWEST FIT", "DRIFT")


def _row(cell: StatusCell) -> list[str]:
    fit = {True: "yes", False: "NO", None: "unknown"}[cell.compatible]
    if cell.kubernetes_range:
        fit += f" ({cell.kubernetes_range})"
    support = cell.support.upper() if cell.support == "ended" else cell.support
    if cell.provider_managed:
        support += " (provider-managed)"
    return [cell.cluster, cell.environment, cell.kubernetes_version, cell.tool, cell.version, support, fit,
            cell.newest_target or "none", "AHEAD" if cell.drift else ""]


def board_json(board: StatusBoard) -> str:
    """The board as JSON: every cell with its reasons, sources and evidence, the failing count, unread clusters."""
    cells = []
    for cell in board.cells:
        entry = asdict(cell)
        entry["evidence"] = [e.model_dump() for e in cell.evidence]
        entry["problems"] = cell.problems
        cells.append(entry)
    document = {"fleet": board.fleet, "today": board.today, "cells": cells, "failing": len(board.failing),
                "unread": board.unread, "exit_code": exit_code(board)}
    return json.dumps(document, indent=2)


def board_text(board: StatusBoard) -> str:
    """A plain table, then one line per problem with its reason."""
    lines = [f"Fleet {board.fleet} on {board.today}: {len(board.cells)} installation(s), "
             f"{len(board.failing)} needing attention"]
    lines += list(table_lines(HEADER, [_row(cell) for cell in board.cells], rule=True))
    for cell in board.failing:
        lines.append(f"- {cell.cluster} {cell.tool} {cell.version}: {', '.join(cell.problems)}")
        if cell.support == "ended":
            lines.append(f"    support: {cell.support_reason} [{cell.support_source}]")
        if cell.compatible is False:
            lines.append(f"    Kubernetes: {cell.tool} {cell.version} supports {cell.kubernetes_range}, the cluster "
                         f"runs {cell.kubernetes_version} [{cell.compatibility_source}]")
        if cell.drift:
            lines.append(f"    drift: {cell.drift}")
        if cell.newest_target:
            lines.append(f"    newest fitting release: {cell.newest_target_reason}")
    for cluster, why in board.unread.items():
        lines.append(f"- {cluster}: NOT READ: {why}")
    return "\n".join(lines) + "\n"


def board_html(board: StatusBoard) -> str:
    """A self-contained HTML page: the same table, problem cells marked, reasons in each cell's title."""
    rows = []
    for cell in board.cells:
        cells = "".join(f"<td>{html.escape(value)}</td>" for value in _row(cell))
        title = html.escape("; ".join([cell.support_reason, cell.drift] if cell.drift else [cell.support_reason]))
        rows.append(f'<tr class="{"bad" if cell.problems else "ok"}" title="{title}">{cells}</tr>')
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    unread = "".join(f"<li>{html.escape(c)}: not read: {html.escape(w)}</li>" for c, w in board.unread.items())
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>upgradectl status</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "tr.bad{background:#fdd}</style></head><body>"
        f"<h1>Fleet {html.escape(board.fleet)} on {html.escape(board.today)}</h1>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table><ul>{unread}</ul></body></html>\n"
    )


def status(
    fleet: Annotated[
        str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo' for the bundled fleet.")
    ] = "demo",
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Kubeconfig for fleet clusters that name a kube context.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help=format_help(STATUS_FORMATS, "text"))] = "text",
) -> None:
    """The fleet board: per cluster and tool, running version, support status, Kubernetes compatibility, the newest
    release that fits, and drift between environments; exit 1 when something is out of support, incompatible or
    drifted.

    Support is whether the running line still receives fixes; drift is an environment running ahead of the one
    before it (prod ahead of staging; staging ahead of prod is fine). Exit 1 is meant for CI schedules; 3 when a
    cluster could not be read, 2 for a bad fleet or cluster name."""
    output_format = choose_format(output_format, STATUS_FORMATS)
    wanted = cluster_names(cluster, clusters_alias) or None
    try:
        board = fleet_status(StatusRequest(fleet=fleet, clusters=wanted, kubeconfig=kubeconfig or ""))
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    render = {"text": board_text, "json": board_json, "html": board_html}[output_format]
    sys.stdout.write(render(board))
    if board.unread and output_format != "text":
        err.print(f"warning: not read: {', '.join(board.unread)}", highlight=False, markup=False)
    raise typer.Exit(exit_code(board))


def register(app: typer.Typer) -> None:
    app.command()(status)
