"""The `upgradectl` command line: the typer app, its command groups and the last line of defence.

Exit codes are the same for every command: upgradectl/exit_codes.py.
"""

from __future__ import annotations

import functools
import gc
import importlib
import os
import sys
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from upgradectl.cli.argv import parse_with
from upgradectl.exit_codes import EXIT_INTERNAL, bug_summary

# Every command: name -> (module under upgradectl/cli/commands/, the first paragraph of its help). A command's
# module is imported only when that command runs, so `upgradectl --help` and each command load just what they
# use; `--help` lists the commands from this table (tests/e2e/test_cli_startup.py checks it against the modules).
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("plan", "Plan an upgrade: inventory, path, breaking changes, risk, strategy and a dev -> staging -> prod "
             "rollout."),
    "schema": ("plan", "Print the JSON schema of the Plan that `plan --format json` emits."),
    "verify-plan": ("plan", "Prove a plan consistent before anyone pastes it: every command's versions match its hop "
                    "(rollback steps bring back the hop's from-version), rollbacks respect the rollback limits "
                    "crossed, steps run only on the hops their conditions allow, every file read exists or an earlier "
                    "step wrote it, upgradectl's own commands carry the plan's fleet, clusters and baseline and parse "
                    "with this CLI, every file edit applies, the values it leaves are accepted by the target chart, "
                    "and migrated manifests validate for the Kubernetes version they run on."),
    "snapshot": ("cluster", "Record a live cluster (read-only) into a snapshot directory that plans, scans and evals "
                 "can use offline."),
    "serve-snapshot": ("cluster", "Serve a snapshot as a read-only Kubernetes API on 127.0.0.1, for kubectl and the "
                       "official clients."),
    "scan": ("scan", "Find APIs a target version deprecates or removes."),
    "baseline": ("monitoring", "Record the pre-upgrade value of every gate for the version each cluster runs now."),
    "validate": ("monitoring", "Judge every gate for the running version: pass, fail or inconclusive, with the "
                 "numbers."),
    "cost": ("cost", "Measure cost per pod-hour, spot share, bin-packing efficiency and scale-up time, and project "
             "what consolidating the Karpenter nodes onto the cheapest allowed instance types would save (with the "
             "lower bound it is measured against). With --before/--after: the KPI deltas of an upgrade."),
    "mcp": ("delegate", "Serve upgradectl to Claude Code and other MCP clients: plan, plan_findings, explain_finding, "
            "scan, validate, cost (and list_runs/approve/reject with --allow-approve)."),
    "install-claude-agent": ("delegate", "Install the tool-upgrade-workflow Claude Code subagent and print the "
                             "`claude mcp add` line for the MCP server it prefers (it falls back to this CLI through "
                             "Bash without it)."),
    "doctor": ("doctor", "Check each prerequisite: the fleet file, every cluster (snapshot loads or kube context "
               "answers), metrics URLs, the GitOps repo, Terraform, ANTHROPIC_API_KEY, "
               "kubectl/helm/flux/victoria-metrics/git; and say how to fix what is missing."),
    "eval": ("eval", "Run the eval scenarios, score every plan, print the table; exit 1 when a suite threshold is "
             "missed."),
    "changes": ("execute", "Show a plan's file edits as a unified diff, per environment and hop, in the order execute "
                "commits them."),
    "execute": ("execute", "Carry out a plan through GitOps: per environment and hop, commit, wait for "
                "reconciliation, soak, gate."),
    "approve": ("execute", "Approve a paused run and continue it here until it ends or pauses again."),
    "reject": ("execute", "Reject a paused run: it stops where it is; nothing after the pause is changed."),
    "resume": ("execute", "Continue a run after a crash or a restart (from its last checkpoint; no commit is made "
               "twice)."),
    "runs": ("execute", "List execution runs: id, plan, status, current step, created. With RUN_ID: that run's change "
             "sets with commits, gates, what people did and accepted, the durations observed, and the rest of the "
             "rollout re-estimated with them."),
    "demo": ("demo", "Try upgradectl on the bundled demo fleet: `demo metrics` serves its recorded metrics on "
             "loopback for `baseline` and `validate`."),
    "health": ("health", "Read each cluster's health, read-only, like `flux check --pre` before an upgrade: firing "
               "alerts (the snapshot's alerts.json, else /api/v1/alerts at the cluster's metrics_url: Prometheus, "
               "vmalert, or VictoriaMetrics with -vmalert.proxyURL), NotReady nodes, crash-looping or unready pods, "
               "Flux objects not Ready, Argo CD applications Degraded or Missing, and Warning events of the last hour. "
               "A critical alert, a NotReady node, a crash-looping pod, a failing Flux object or a degraded "
               "application (outside the fleet's prerelease_namespaces) is an incident. With --baseline (a file an "
               "earlier run wrote with --out), judge only what is new since then: the health gate after a hop. Exit "
               "codes: 0 clear; 1 an incident, or new problems since the baseline; 3 part of the health could not be "
               "read (alerts source unreachable, cluster unreachable) and nothing was found wrong in the rest; 2 usage "
               "error."),
    "status": ("status", "The fleet board: per cluster and tool, running version, support status, Kubernetes "
               "compatibility, the newest release that fits, and drift between environments; exit 1 when something "
               "is out of support, incompatible or drifted."),
    "knowledge": ("knowledge", "How current upgradectl's knowledge of each tool is, and refreshing its releases from "
                  "upstream."),
}


def _module_commands(module_name: str) -> dict[str, Any]:
    """The click commands one module under upgradectl/cli/commands/ registers, built as the app builds them."""
    module = importlib.import_module(f"upgradectl.cli.commands.{module_name}")
    group = typer.Typer(rich_markup_mode=None, add_completion=False)
    module.register(group)
    group.callback()(lambda: None)  # a callback makes typer build a group even for a one-command module
    return dict(typer.main.get_command(group).commands)  # type: ignore[attr-defined]


class LazyCommands(TyperGroup):
    """The top-level group: a command's module is imported when the command is asked for; the listing in
    `--help` comes from COMMANDS. Commands registered on the app beforehand (register_commands) are used as is."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands.update(_module_commands(COMMANDS[cmd_name][0]))
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS and args[0] not in self.commands:
            for name in COMMANDS:  # an unknown name: typer's "Did you mean ...?" matches it against every command
                self.commands.setdefault(name, _Listed(name))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        listed = [(name, self.commands.get(name) or _Listed(name)) for name in self.list_commands(ctx)]
        rows = [(name, cmd) for name, cmd in listed if not cmd.hidden]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _cmd in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


class _Listed(TyperCommand):
    """A command as `--help` lists it, from COMMANDS, without importing its module."""

    def __init__(self, name: str):
        super().__init__(name=name, help=COMMANDS[name][1])


app = typer.Typer(
    name="upgradectl",
    cls=LazyCommands,
    help="Plan safe, staged upgrades of Karpenter, VictoriaMetrics, Flux, Argo CD and Cilium across a fleet of "
    "Kubernetes clusters (dev -> staging -> prod). Every finding cites the evidence it rests on. Works offline on "
    'recorded snapshots; try: upgradectl plan "Karpenter needs upgrade for better bin packing" --fleet demo',
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    epilog="Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage error, 3 incomplete (something could not "
    "be checked), 5 the model failed (plan written from playbooks only), 70 internal error (a bug). scan keeps "
    "Pluto's codes (see scan --help).",
)


def _version_callback(value: bool) -> None:
    if value:
        from upgradectl import __version__  # reads package metadata: only for --version

        print(f"upgradectl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options."""
    ctx.obj = {"command_parser": parse_upgradectl}  # what commands hand the plan verifier (cli/argv.py)


def parse_upgradectl(argv: list[str]) -> str | None:
    """None when `upgradectl ARGV` parses with this CLI, else its error (module-level: worker processes and
    servers are handed it by name)."""
    return parse_with(_command_group(), argv)


@functools.cache
def _command_group() -> Any:
    """The app's click group, built once: a plan's verifier parses every upgradectl command it prints, and
    building the group (typer reads each command's signature) costs more than parsing. The lazy group imports
    only the commands it is asked for, and keeps them."""
    return typer.main.get_command(app)


def register_commands() -> None:
    """Register every command on `app` now, once (for running the app in-process, e.g. with typer's CliRunner);
    `main` does not need this: it imports only the command it runs."""
    if app.registered_commands:
        return
    for module_name in dict.fromkeys(module for module, _help in COMMANDS.values()):
        importlib.import_module(f"upgradectl.cli.commands.{module_name}").register(app)


# A plan builds millions of small dicts and lists that live until it ends (a fleet's snapshot lists, the plan's
# models), and CPython's collector looks at its young objects after every 700 new ones: a seventh of the CPU of a
# 100-cluster plan (47.5 s -> 40.9 s; wall 33 s -> 27.5 s, peak memory the same) and a tenth of the demo plan's
# (3.0 s -> 2.7 s wall). A run of upgradectl is one batch job: the young generation is collected every 50,000.
GC_YOUNG_OBJECTS = 50_000


def main() -> None:
    gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
    try:
        app()
    except KeyboardInterrupt:
        _say_interrupted()
        sys.exit(130)
    except SystemExit as exc:  # typer turns Ctrl-C into exit 130 itself, silently
        if exc.code == 130 and _from_ctrl_c(exc):
            _say_interrupted()
        raise
    except Exception as exc:  # the last line of defence: a bug must not print a traceback at users
        if os.environ.get("UPGRADECTL_DEBUG"):
            raise
        from upgradectl.cli.output import err  # rich: loaded only when there is an error to print

        err.print(f"internal error (a bug in upgradectl): {bug_summary(exc)}\n"
                  "Re-run with UPGRADECTL_DEBUG=1 to see the traceback, and please report it.", highlight=False,
                  markup=False)
        sys.exit(EXIT_INTERNAL)


def _from_ctrl_c(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions this one was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _say_interrupted() -> None:
    from upgradectl.cli.output import err  # rich: loaded only when there is something to print

    err.print("interrupted", highlight=False)


if __name__ == "__main__":
    main()
