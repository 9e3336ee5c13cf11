"""The `upgradectl` command line.

Exit codes (the same for every command):
  0  done, nothing at or above --fail-on
  1  findings at or above --fail-on (blockers)
  2  usage error: bad flags, unknown tool or version, unreadable fleet
  3  incomplete: something could not be checked (an unreachable cluster, a failed task)
  4  internal error: a bug in upgradectl (set UPGRADECTL_DEBUG=1 for the traceback)
  5  LLM degraded (`plan --llm on|auto`): the model failed mid-run (unreachable after bounded retries, budget
     spent); the plan was still written with every playbook finding and says why in plan.llm.error
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from upgradectl import __version__

EXIT_OK, EXIT_BLOCKERS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_LLM_DEGRADED = 5

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
    "be checked), 4 internal error, 5 the model failed (plan written from playbooks only).",
)
err = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print a one-line error (what was wrong, how to fix it) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


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
    """Each command group lives in its own module under upgradectl/commands/."""
    from upgradectl.commands import cluster as cluster_commands
    from upgradectl.commands import cost as cost_commands
    from upgradectl.commands import delegate as delegate_commands
    from upgradectl.commands import doctor as doctor_commands
    from upgradectl.commands import eval as eval_commands
    from upgradectl.commands import execute as execute_commands
    from upgradectl.commands import monitoring as monitoring_commands
    from upgradectl.commands import plan as plan_commands
    from upgradectl.commands import scan as scan_commands

    plan_commands.register(app)
    cluster_commands.register(app)
    scan_commands.register(app)
    monitoring_commands.register(app)
    cost_commands.register(app)
    delegate_commands.register(app)
    doctor_commands.register(app)
    eval_commands.register(app)
    execute_commands.register(app)


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
        err.print(f"internal error (a bug in upgradectl): {type(exc).__name__}: {exc}\n"
                  "Re-run with UPGRADECTL_DEBUG=1 to see the traceback, and please report it.", highlight=False,
                  markup=False)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
