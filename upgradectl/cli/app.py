"""The `upgradectl` command line: the typer app, its command groups and the last line of defence.

Exit codes are the same for every command: upgradectl/exit_codes.py.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from upgradectl import __version__
from upgradectl.cli.output import err
from upgradectl.exit_codes import EXIT_INTERNAL, bug_summary

app = typer.Typer(
    name="upgradectl",
    help="Plan safe, staged upgrades of Karpenter, VictoriaMetrics, Flux, Argo CD and Cilium across a fleet of "
    "Kubernetes clusters (dev -> staging -> prod). Every finding cites the evidence it rests on. Works offline on "
    'recorded snapshots; try: upgradectl plan "Karpenter needs upgrade for better bin packing" --fleet demo',
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    epilog="Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage error, 3 incomplete (something could not "
    "be checked), 5 the model failed (plan written from playbooks only), 70 internal error (a bug). scan keeps "
    "Pluto's codes (see scan --help).",
)
def _version_callback(value: bool) -> None:
    if value:
        print(f"upgradectl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options."""


def register_commands() -> None:
    """Each command group lives in its own module under upgradectl/cli/commands/ (registered once)."""
    if app.registered_commands:
        return
    from upgradectl.cli.commands import cluster as cluster_commands
    from upgradectl.cli.commands import cost as cost_commands
    from upgradectl.cli.commands import delegate as delegate_commands
    from upgradectl.cli.commands import doctor as doctor_commands
    from upgradectl.cli.commands import eval as eval_commands
    from upgradectl.cli.commands import execute as execute_commands
    from upgradectl.cli.commands import knowledge as knowledge_commands
    from upgradectl.cli.commands import monitoring as monitoring_commands
    from upgradectl.cli.commands import plan as plan_commands
    from upgradectl.cli.commands import scan as scan_commands

    plan_commands.register(app)
    cluster_commands.register(app)
    scan_commands.register(app)
    monitoring_commands.register(app)
    cost_commands.register(app)
    delegate_commands.register(app)
    doctor_commands.register(app)
    eval_commands.register(app)
    execute_commands.register(app)
    knowledge_commands.register(app)


def main() -> None:
    register_commands()
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: a bug must not print a traceback at users
        if os.environ.get("UPGRADECTL_DEBUG"):
            raise
        err.print(f"internal error (a bug in upgradectl): {bug_summary(exc)}\n"
                  "Re-run with UPGRADECTL_DEBUG=1 to see the traceback, and please report it.", highlight=False,
                  markup=False)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
