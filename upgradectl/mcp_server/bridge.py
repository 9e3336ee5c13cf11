"""validate, cost, list_runs, approve, reject: commands other parts of upgradectl own, run in-process.

Each is run through its documented command line (`upgradectl validate ... --format json`) in this process,
so there is one implementation and its JSON output is the contract: the gates (commands/monitoring.py,
tools/metrics/gates.py), the cost analysis (commands/cost.py, tools/cost/kpis.py) and durable runs (`runs`, `approve`,
`reject`). A build without one of those commands answers with a tool error saying it is not available.
"""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from upgradectl.mcp_server.guard import tool_call
from upgradectl.mcp_server.results import CommandResult, bound_json, clip
from upgradectl.mcp_server.roots import confine, confine_fleet

GATE_MEANING = {
    0: "every gate passed: promotion may proceed",
    1: "at least one gate failed: do not promote; roll back per the plan",
    3: "no gate failed but at least one is inconclusive (no data, no baseline, source down): this blocks "
    "promotion exactly like a failure",
}
COST_MEANING = {0: "analysis complete", 3: "incomplete: a cluster could not be read or a checker found a violation"}
GENERIC_MEANING = {0: "done", 1: "blockers found", 3: "incomplete: something could not be checked"}
# 2 (usage) and 70 (internal error, upgradectl/exit_codes.py) never come back as results: they are tool errors
RUN_MEANING = {
    0: "the run finished: every change set committed, reconciled, and its gates passed (or it was rejected)",
    1: "a gate failed: that commit was reverted and the run stopped",
    3: "a gate was inconclusive or the cluster did not reconcile in time: reverted and stopped",
    6: "paused again, waiting for the next approval",
    7: "rejected: the run stopped",
}


def available_commands() -> set[str]:
    """Command names this build of the CLI has (registering them if nobody has yet)."""
    from upgradectl.cli.app import app, register_commands

    if not app.registered_commands:
        register_commands()
    return {info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands if info.callback}


def run_command(args: list[str], meaning: dict[int, str], *, max_items: int = 30) -> CommandResult:
    """Run `upgradectl ARGS` in-process; usage errors and bugs become tool errors, the rest a CommandResult."""
    from typer.testing import CliRunner

    from upgradectl.cli.app import app
    from upgradectl.exit_codes import EXIT_INTERNAL, EXIT_USAGE, bug_summary

    if args[0] not in available_commands():
        raise ToolError(
            f"`upgradectl {args[0]}` is not available in this build of upgradectl; update upgradectl, or use "
            "plan / scan / explain_finding meanwhile"
        )
    outcome = CliRunner().invoke(app, args, catch_exceptions=True)
    command = "upgradectl " + " ".join(_quote(a) for a in args)
    stderr = clip(outcome.stderr.strip(), 2000)
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        raise ToolError(
            f"internal error in upgradectl running `{command}`: {bug_summary(outcome.exception)}. This is a bug; "
            "the server keeps serving."
        )
    if outcome.exit_code == EXIT_USAGE:
        raise ToolError(f"`{command}` rejected its arguments: {stderr or 'usage error'}")
    if outcome.exit_code == EXIT_INTERNAL:
        raise ToolError(f"internal error in upgradectl running `{command}`: {stderr}")
    data, text, cut = None, "", []
    try:
        data, cut = bound_json(json.loads(outcome.stdout), max_items=max_items)
    except json.JSONDecodeError:
        text = clip(outcome.stdout.strip(), 4000)
    return CommandResult(
        command=command,
        exit_code=outcome.exit_code,
        meaning=meaning.get(outcome.exit_code, f"exit code {outcome.exit_code}"),
        data=data,
        text=text,
        errors=stderr,
        truncated=cut,
    )


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:,@" for c in arg) else json.dumps(arg)


def _csv(values: list[str] | None) -> str | None:
    return ",".join(values) if values else None


def validate(
    tool: Annotated[str, Field(description="karpenter, victoriametrics, flux, argocd or cilium.")],
    fleet: Annotated[
        str, Field(description="'demo' or a fleet.yaml path; each cluster's metrics_url is read.")
    ] = "demo",
    clusters: Annotated[list[str] | None, Field(description="Only these clusters (default: all running it).")] = None,
    baseline: Annotated[
        str | None, Field(description="Baseline JSON from `upgradectl baseline` (needed by relative gates).")
    ] = None,
    version: Annotated[
        str | None, Field(description="Version now running (after the upgrade); default: detected per cluster.")
    ] = None,
    metrics_url: Annotated[
        str | None, Field(description="Prometheus-compatible API root for every cluster, e.g. http://127.0.0.1:8428.")
    ] = None,
    at: Annotated[
        str | None, Field(description="Evaluation time, RFC 3339 (2026-11-20T09:00:00Z) or Unix seconds; default now.")
    ] = None,
) -> CommandResult:
    """Judge the upgrade's validation gates (PromQL on each cluster's Prometheus-compatible metrics) after
    an upgrade step: pass, fail or inconclusive per gate, with the measured numbers.

    Use after a stage of the rollout, before promoting to the next environment. No data, NaN, stale data,
    a missing baseline or an unreachable metrics source is inconclusive, never a pass. Returns the
    command's JSON (clusters, gates, summary, promotion allowed/blocked) and its exit code: 0 all pass,
    1 a gate failed, 3 inconclusive (both 1 and 3 block promotion).
    """
    with tool_call("validate"):
        fleet = confine_fleet(fleet)
        baseline = str(confine(baseline, "baseline")) if baseline else None
        args = ["validate", "--tool", tool, "--fleet", fleet, "--format", "json", *_opt("--clusters", _csv(clusters))]
        args += [*_opt("--baseline", baseline), *_opt("--version", version), *_opt("--metrics-url", metrics_url)]
        args += _opt("--at", at)
        return run_command(args, GATE_MEANING)


def cost(
    fleet: Annotated[str, Field(description="'demo' or a fleet.yaml path.")] = "demo",
    clusters: Annotated[
        list[str] | None, Field(description="Only these clusters (default: every reachable one).")
    ] = None,
    prices: Annotated[
        str | None, Field(description="A price table YAML merged over the bundled one (your negotiated rates).")
    ] = None,
) -> CommandResult:
    """Measure Karpenter cost and bin-packing KPIs per cluster (cost per pod-hour, spot share, bin-packing
    efficiency, scale-up time) and project what consolidating the nodes would save, with its lower bound.

    Use for cost-triggered upgrades (the cost ROI track) or to quantify a Karpenter upgrade's benefit.
    Returns the cost command's JSON per cluster (current, projected, consolidation; long lists cut, see
    `truncated`) and exit code 0 complete or 3 incomplete.
    """
    with tool_call("cost"):
        fleet = confine_fleet(fleet)
        prices = str(confine(prices, "prices")) if prices else None
        args = [
            "cost",
            "--fleet",
            fleet,
            "--format",
            "json",
            *_opt("--cluster", _csv(clusters)),
            *_opt("--prices", prices),
        ]
        return run_command(args, COST_MEANING, max_items=15)


StateDir = Annotated[
    str | None, Field(description="Where runs live (upgradectl's --state-dir); default ~/.local/share/upgradectl.")
]
Checkpoint = Annotated[
    str | None, Field(description="postgres://... when the team keeps runs in Postgres (--checkpoint).")
]
RunId = Annotated[str, Field(description="The run id, as list_runs shows it.")]
By = Annotated[str, Field(description="The person who decided, by name, for the run's record.")]
Note = Annotated[str, Field(description="Why, for the run's record.")]


def _store(state_dir: str | None, checkpoint: str | None) -> list[str]:
    """--state-dir (confined to the roots; the server's default when not given) and --checkpoint (a URL)."""
    directory = str(confine(state_dir, "state_dir")) if state_dir else None
    return [*_opt("--state-dir", directory), *_opt("--checkpoint", checkpoint)]


def list_runs(state_dir: StateDir = None, checkpoint: Checkpoint = None) -> CommandResult:
    """List upgrade execution runs (`upgradectl execute`): run id, plan, status (running, paused, done,
    failed, rejected), the step it is at, when it was created and its GitOps branch.

    Use to find the run waiting for approval before calling approve or reject, and to report where a
    rollout stands. Returns the `upgradectl runs --format json` rows.
    """
    with tool_call("list_runs"):
        return run_command(["runs", "--format", "json", *_store(state_dir, checkpoint)], GENERIC_MEANING)


def approve(
    run_id: RunId, by: By, note: Note = "", state_dir: StateDir = None, checkpoint: Checkpoint = None
) -> CommandResult:
    """Approve a paused upgrade run so it continues (e.g. into production), here, until it ends or pauses again.

    Only call this when the human you work for has explicitly approved this run, and name them in `by`:
    it lets a real rollout proceed through GitOps commits. The call lasts as long as the next stages
    take (reconciliation waits and soak times). Returns the run report and the exit code: 0 finished,
    1 a gate failed (reverted, stopped), 3 inconclusive or not reconciled (reverted, stopped), 6 paused
    again for the next approval.
    """
    with tool_call("approve"):
        args = [
            "approve",
            run_id,
            "--by",
            by,
            *_opt("--note", note),
            "--format",
            "json",
            *_store(state_dir, checkpoint),
        ]
        return run_command(args, RUN_MEANING)


def reject(
    run_id: RunId, by: By, note: Note = "", state_dir: StateDir = None, checkpoint: Checkpoint = None
) -> CommandResult:
    """Reject a paused upgrade run: it stops where it is and nothing after the pause is changed.

    Call when the human you work for rejects the run, naming them in `by`, or when a gate result says it
    must not proceed. Returns the run report.
    """
    with tool_call("reject"):
        args = ["reject", run_id, "--by", by, *_opt("--note", note), "--format", "json", *_store(state_dir, checkpoint)]
        return run_command(args, RUN_MEANING)


def _opt(flag: str, value: str | None) -> list[str]:
    return [flag, value] if value else []
