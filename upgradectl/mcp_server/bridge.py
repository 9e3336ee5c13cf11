"""health, validate, cost, list_runs, approve, reject: the use cases `upgradectl
health|validate|cost|runs|approve|reject` run (app/health.py, app/gates.py, app/cost.py, app/execute.py),
called in this process.

Each result carries the data the command prints with `--format json`, its exit code and what it means, and
the equivalent command line, to run by hand or in CI. Bad arguments become tool errors naming the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from upgradectl.app import execute as gitops_runs
from upgradectl.app.cost import CostRequest
from upgradectl.app.cost import cost as analyze_cost
from upgradectl.app.errors import UseCaseError
from upgradectl.app.gates import GateRequest, validation_report
from upgradectl.app.gates import validate as judge_gates
from upgradectl.app.health import HealthRequest, check_health
from upgradectl.exit_codes import EXIT_OK, EXIT_REJECTED
from upgradectl.mcp_server.guard import tool_call
from upgradectl.mcp_server.results import CommandResult, bound_json, clip
from upgradectl.mcp_server.roots import confine, confine_fleet

GATE_MEANING = {
    0: "every gate passed: promotion may proceed",
    1: "at least one gate failed: do not promote; roll back per the plan",
    3: "no gate failed but at least one is inconclusive (no data, no baseline, source down): this blocks "
    "promotion exactly like a failure",
}
HEALTH_MEANING = {
    0: "every cluster is clear: no incident, nothing new since the baseline",
    1: "a cluster is in an incident (or has problems new since the baseline): do not start or promote a hop there",
    3: "part of the health could not be read (alerts source or cluster unreachable) and the rest is clear: "
    "this blocks a hop exactly like an incident",
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


def command_result(
    args: list[str], exit_code: int, meaning: dict[int, str], data: Any, notes: list[str], *, max_items: int = 30
) -> CommandResult:
    """A use case's outcome as the tool's result: bounded data, the exit code and its meaning, the command line."""
    bounded, cut = bound_json(data, max_items=max_items)
    return CommandResult(
        command=_command(args),
        exit_code=exit_code,
        meaning=meaning.get(exit_code, f"exit code {exit_code}"),
        data=bounded,
        errors=clip("\n".join(notes).strip(), 2000),
        truncated=cut,
    )


def rejected(args: list[str], exc: UseCaseError) -> ToolError:
    """The tool error for arguments the use case refused (what the command would print, and its line)."""
    return ToolError(f"`{_command(args)}` rejected its arguments: {exc.message}")


def _command(args: list[str]) -> str:
    return "upgradectl " + " ".join(_quote(a) for a in args)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:,@" for c in arg) else json.dumps(arg)


def _csv(values: list[str] | None) -> str | None:
    return ",".join(values) if values else None


def validate(
    tool: Annotated[str, Field(description="A product of the knowledge base, by name or alias (karpenter, vm...).")],
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
        args = ["validate", "--tool", tool, "--fleet", fleet, "--format", "json", *_opt("--cluster", _csv(clusters))]
        args += [*_opt("--baseline", baseline), *_opt("--version", version), *_opt("--metrics-url", metrics_url)]
        args += _opt("--at", at)
        wanted = GateRequest(
            tool=tool, fleet=fleet, clusters=list(clusters or []), metrics_url=metrics_url, at=at,
            baseline=Path(baseline) if baseline else None, version=version,
        )  # fmt: skip
        try:
            outcome = judge_gates(wanted)
        except UseCaseError as exc:
            raise rejected(args, exc) from None
        return command_result(args, outcome.exit_code, GATE_MEANING, validation_report(wanted, outcome), [])


def health(
    fleet: Annotated[str, Field(description="'demo' or a fleet.yaml path.")] = "demo",
    clusters: Annotated[list[str] | None, Field(description="Only these clusters (default: every cluster).")] = None,
    baseline: Annotated[
        str | None, Field(description="A file an earlier `upgradectl health --out` wrote: judge what is new since.")
    ] = None,
) -> CommandResult:
    """Is a cluster in an incident right now: firing alerts (the snapshot's alerts.json, else /api/v1/alerts at
    the cluster's metrics_url), NotReady nodes, crash-looping or unready pods, Flux objects not Ready, Argo CD
    applications Degraded or Missing, recent Warning events. The pre-flight before a rollout stage (like
    `flux check --pre`), and, with a baseline, the check after a hop.

    Returns the health command's JSON per cluster (verdict clear/incident/new-problems/incomplete and the
    evidence) and its exit code: 0 clear, 1 an incident or new problems, 3 part could not be read.
    """
    with tool_call("health"):
        fleet = confine_fleet(fleet)
        baseline = str(confine(baseline, "baseline")) if baseline else None
        args = ["health", "--fleet", fleet, "--format", "json", *_opt("--clusters", _csv(clusters))]
        args += _opt("--baseline", baseline)
        wanted = HealthRequest(fleet=fleet, clusters=list(clusters or []),
                               baseline=Path(baseline) if baseline else None)  # fmt: skip
        try:
            result = check_health(wanted)
        except UseCaseError as exc:
            raise rejected(args, exc) from None
        return command_result(args, result.exit_code, HEALTH_MEANING, result.to_dict(), [])


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
        try:
            outcome = analyze_cost(CostRequest(fleet=fleet, clusters=list(clusters or []),
                                               prices=Path(prices) if prices else None))  # fmt: skip
        except UseCaseError as exc:
            raise rejected(args, exc) from None
        notes = [f"incomplete: {line}" for line in outcome.unreachable]
        notes += [f"checker violation: {violation}" for violation in outcome.violations]
        return command_result(args, outcome.exit_code, COST_MEANING, outcome.data(), notes, max_items=15)


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
        args = ["runs", "--format", "json", *_store(state_dir, checkpoint)]
        try:
            rows = gitops_runs.list_runs(_path(state_dir), checkpoint)
        except UseCaseError as exc:
            raise rejected(args, exc) from None
        return command_result(args, EXIT_OK, GENERIC_MEANING, rows, [])


def approve(
    run_id: RunId, by: By, note: Note = "", state_dir: StateDir = None, checkpoint: Checkpoint = None
) -> CommandResult:
    """Approve a paused upgrade run so it continues (e.g. into production), here, until it ends or pauses again.

    Only call this when the human you work for has explicitly approved this run, and name them in `by`:
    it lets a real rollout proceed through GitOps commits. The call lasts as long as the next stages
    take (reconciliation waits and soak times). Returns the run report and the exit code: 0 finished,
    1 a gate failed (reverted, stopped), 3 inconclusive or not reconciled (reverted, stopped), 6 paused
    again for the next approval. Stage messages are not posted to a chat webhook from here (no notify
    parameter, on purpose): an incoming-webhook URL is a secret that would pass through the model's context
    and transcript; a person runs `upgradectl approve RUN --by NAME --notify URL` in a shell for that.
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
        return _answer(args, run_id, gitops_runs.Decision(True, by, note), state_dir, checkpoint)


def reject(
    run_id: RunId, by: By, note: Note = "", state_dir: StateDir = None, checkpoint: Checkpoint = None
) -> CommandResult:
    """Reject a paused upgrade run: it stops where it is and nothing after the pause is changed.

    Call when the human you work for rejects the run, naming them in `by`, or when a gate result says it
    must not proceed. Returns the run report.
    """
    with tool_call("reject"):
        args = ["reject", run_id, "--by", by, *_opt("--note", note), "--format", "json", *_store(state_dir, checkpoint)]
        return _answer(args, run_id, gitops_runs.Decision(False, by, note), state_dir, checkpoint)


def _answer(
    args: list[str], run_id: str, decision: gitops_runs.Decision, state_dir: str | None, checkpoint: str | None
) -> CommandResult:
    """Approve or reject, continuing the run here; what it reports on the way becomes the result's notes."""
    said: list[str] = []
    try:
        outcome = gitops_runs.approve(run_id, decision, said.append, _path(state_dir), checkpoint)
    except UseCaseError as exc:
        raise rejected(args, exc) from None
    code = EXIT_OK if outcome.exit_code == EXIT_REJECTED and not decision.approved else outcome.exit_code
    return command_result(args, code, RUN_MEANING, outcome.report, said)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _opt(flag: str, value: str | None) -> list[str]:
    return [flag, value] if value else []
