"""`upgradectl doctor`: a checklist of every prerequisite, with the fix for each one that is missing."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from upgradectl.cli.options import format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_OK

MARK = {"ok": "[ok]  ", "fail": "[FAIL]", "warn": "[warn]"}
STYLE = {"ok": "green", "fail": "bold red", "warn": "yellow"}


def doctor(
    fleet: Annotated[
        str, typer.Option("--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo' (the bundled demo).")
    ] = "demo",
    output_format: Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))] = "text",
) -> None:
    """Check each prerequisite: the fleet file, every cluster (snapshot loads or kube context answers), metrics
    URLs, the GitOps repo, Terraform, ANTHROPIC_API_KEY, kubectl/helm/flux/victoria-metrics/git; and say how to
    fix what is missing.

    Exit 0 when every required check passes (warnings are optional extras), 3 when something required is
    missing, 2 on a usage error.
    """
    from upgradectl.app.doctor import diagnose  # the probes (HTTP, Terraform parser): loaded when a check runs

    output_format = choose_format(output_format, ("text", "json"))
    report = diagnose(fleet)
    code = EXIT_INCOMPLETE if report.failed else EXIT_OK
    if output_format == "json":
        print(json.dumps({**report.model_dump(), "summary": report.counts(), "exit_code": code}, indent=2))
        raise typer.Exit(code)
    out = Console(highlight=False, soft_wrap=True, markup=False)
    out.print(f"upgradectl doctor: fleet {fleet}" + (f" ({report.fleet_dir})" if report.fleet_dir else ""))
    for check in report.checks:
        need = "required" if check.required else "optional"
        out.print(
            f"{MARK[check.status]} {check.name} ({need}): {check.detail}", style=STYLE[check.status], markup=False
        )
        if check.status != "ok" and check.fix:
            out.print(f"       fix: {check.fix}", markup=False)
    counts = report.counts()
    verdict = (
        f"{counts['fail']} required check(s) failed: fix the [FAIL] lines above (exit 3)"
        if report.failed
        else "every required check passed" + (f"; {counts['warn']} optional item(s) missing" if counts["warn"] else "")
    )
    out.print(f"{counts['ok']} ok, {counts['fail']} failed, {counts['warn']} warnings: {verdict}", markup=False)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
