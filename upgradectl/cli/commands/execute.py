"""`upgradectl changes`, `execute`, `approve`, `reject`, `resume` and `runs`: a plan carried out through GitOps
(the use cases are in app/execute.py; this module reads the flags and prints the reports)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.options import format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail, usable_out_dir, write_failed
from upgradectl.exit_codes import EXIT_OK, EXIT_REJECTED

EXEC_EXIT_HELP = (
    "Exit codes: 0 every change set committed, reconciled and its gates passed (or the dry run applies "
    "cleanly); 1 a gate failed: that commit was reverted and the run stopped; or a cluster was in an incident "
    "at a step's pre-flight: nothing was committed for it (upgradectl health says why); 3 a gate was inconclusive or "
    "the cluster did not reconcile in time: reverted and stopped; 6 paused for approval (upgradectl approve "
    "RUN_ID); 7 rejected; 2 usage error (bad flags, a plan that does not apply to the repo, git failed); "
    "70 internal error."
)

StateDirOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Where runs live: runs.sqlite and the run worktrees "
                 "(default ~/.local/share/upgradectl)."),
]  # fmt: skip
CheckpointOpt = Annotated[
    str | None,
    typer.Option("--checkpoint", help="postgres://user:pass@host/db to keep checkpoints and the run list in "
                 "Postgres (shared by a team); default: SQLite in --state-dir."),
]  # fmt: skip
FormatOpt = Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))]


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _say(text: str) -> None:
    err.print(text, highlight=False, markup=False, soft_wrap=True)


def _check_format(output_format: str) -> str:
    return choose_format(output_format, ("text", "json"))


# ---------------------------------------------------------------- changes


def changes(
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json written by `upgradectl plan --format json`.")],
    fleet: Annotated[str | None, typer.Option("--fleet", "-f", help="Fleet (default: the plan's).")] = None,
    output_format: FormatOpt = "text",
    pr_body: Annotated[bool, typer.Option("--pr-body", help="Print a pull-request description per environment "
                                          "and hop instead: what changes and why, evidence, gates to watch, "
                                          "rollback, approval, and the diff.")] = False,  # fmt: skip
    out: Annotated[Path | None, typer.Option("--out", "-o", help="With --pr-body: write one Markdown file per "
                                             "environment and hop into this directory.")] = None,  # fmt: skip
) -> None:
    """Show a plan's file edits as a unified diff, per environment and hop, in the order execute commits them.

    Each change set is applied on top of the previous ones (in memory: nothing is written). Changes
    upgradectl does not make itself are listed as comments (text) or under "manual" (json: one object per
    change set with environment, versions, clusters, files and its diff). Exit 0, or 2 when the plan does not
    apply to the files as they are now.
    """
    from upgradectl.app import execute as gitops_runs  # the GitOps editors: imported when a command runs

    output_format = _check_format(output_format)
    if out is not None and not pr_body:
        raise fail("--out writes the --pr-body descriptions: add --pr-body (the diff itself goes to stdout)")
    try:
        if pr_body:
            _pull_requests(gitops_runs.pull_requests(plan_file, fleet), output_format, out)
        elif output_format == "json":
            _emit(json.dumps([cd.as_dict() for cd in gitops_runs.change_diffs(plan_file, fleet)], indent=2))
        else:
            _emit(gitops_runs.changes(plan_file, fleet))
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    raise typer.Exit(EXIT_OK)


def _pull_requests(bodies: list, output_format: str, out: Path | None) -> None:
    """PR descriptions to stdout (text: separated by a rule; json: title and body each), or one file each."""
    if out is not None:
        usable_out_dir(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            for body in bodies:
                (out / body.file_name).write_text(body.body)
        except OSError as exc:
            raise write_failed(out, exc) from None
        _say(f"wrote {len(bodies)} pull-request description(s) into {out}")
    elif output_format == "json":
        _emit(json.dumps([{"environment": b.environment, "from_version": b.from_version, "to_version": b.to_version,
                           "title": b.title, "body": b.body} for b in bodies], indent=2))  # fmt: skip
    else:
        _emit("\n---\n\n".join(body.body for body in bodies) or "# the plan has no file edits")


# ---------------------------------------------------------------- execute


def execute(
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json written by `upgradectl plan --format json`.")],
    fleet: Annotated[str | None, typer.Option("--fleet", "-f", help="Fleet file (default: the plan's).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run/--no-dry-run", help="Default: do everything except "
                                          "writing to git (no branch, commit or push).")] = True,  # fmt: skip
    push: Annotated[bool, typer.Option("--push", help="Push the branch after each commit and revert.")] = False,
    remote: Annotated[str, typer.Option("--remote", help="Remote for --push.")] = "origin",
    branch: Annotated[str | None, typer.Option("--branch", help="Branch to commit on (default upgradectl/RUN_ID), "
                                               "created from --base.")] = None,  # fmt: skip
    base: Annotated[str, typer.Option("--base", help="Commit the branch starts from.")] = "HEAD",
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name the run (default: generated).")] = None,
    soak: Annotated[float | None, typer.Option("--soak", help="Seconds to soak after each reconciliation "
                                               "(default: the plan's soak time per stage).")] = None,  # fmt: skip
    reconcile_timeout: Annotated[float, typer.Option("--reconcile-timeout", help="Seconds to wait for the "
                                                     "clusters to reconcile each commit.")] = 900.0,  # fmt: skip
    poll: Annotated[float, typer.Option("--poll", help="Seconds between reconciliation checks.")] = 5.0,
    metrics_url: Annotated[str | None, typer.Option("--metrics-url", help="Prometheus-compatible API for every "
                                                    "cluster (default: its metrics_url).")] = None,  # fmt: skip
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
    notify: NotifyOpt = None,
    open_pr: Annotated[bool, typer.Option("--open-pr", help="With --push and --no-dry-run: once an environment's "
                                          "hops are committed, push them as BRANCH-ENV and open one pull request "
                                          "per environment on GitHub ($GITHUB_TOKEN or $GH_TOKEN) or GitLab "
                                          "($GITLAB_TOKEN), described as `changes --pr-body` describes each hop; "
                                          "each environment's PR builds on the previous one's branch.")] = False,
    pr_base: Annotated[str, typer.Option("--pr-base", help="Branch the first environment's pull request merges "
                                         "into.")] = "main",  # fmt: skip
    forge: Annotated[str | None, typer.Option("--forge", help="github or gitlab (default: from the remote's "
                                              "URL).")] = None,  # fmt: skip
    forge_api: Annotated[str | None, typer.Option("--forge-api", help="API root for GitHub Enterprise or a "
                                                  "self-hosted GitLab (default: api.github.com, "
                                                  "gitlab.com/api/v4).")] = None,  # fmt: skip
    forge_repo: Annotated[str | None, typer.Option("--forge-repo", help="owner/repo or group/project (default: "
                                                   "from the remote's URL).")] = None,  # fmt: skip
) -> None:
    """Carry out a plan through GitOps: per environment and hop, commit, wait for reconciliation, soak, gate.

    After the metric gates the fleet file's tests for the environment run (environments.ENV.tests: commands or
    HTTP checks); a test that fails or times out fails the hop like a gate. A gate that fails or is inconclusive
    (or a cluster that does not reconcile in time) reverts that
    commit, waits for the revert to reconcile, re-checks the gates and stops: later environments are
    never touched. The run pauses for `upgradectl approve RUN_ID` before production and wherever the
    plan asks for approval. Runs are durable: `upgradectl resume RUN_ID` continues after a crash without
    repeating a commit.
    """
    from upgradectl.app import execute as gitops_runs  # the GitOps editors and langgraph: imported when a run starts

    output_format = _check_format(output_format)
    wanted = gitops_runs.ExecuteRequest(
        plan_file=plan_file, fleet=fleet, dry_run=dry_run, push=push, remote=remote, branch=branch, base=base,
        run_id=run_id, soak=soak, reconcile_timeout=reconcile_timeout, poll=poll, metrics_url=metrics_url,
        state_dir=state_dir, checkpoint=checkpoint, notify_url=notify, open_pr=open_pr, pr_base=pr_base, forge=forge,
        forge_api=forge_api, forge_repo=forge_repo,
    )  # fmt: skip
    try:
        outcome = gitops_runs.execute(wanted, _say)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    _emit(render(outcome.report, output_format))
    raise typer.Exit(outcome.exit_code)


def render(data: dict, fmt: str) -> str:
    """A run report as JSON, or as text: one line per change set, failed gates, rollbacks, what a pause waits for."""
    if fmt == "json":
        return json.dumps(data, indent=2)
    run, paused, dry_run = data["run_id"], data["paused"], data["dry_run"]
    lines = [f"run {run}: {data['status']}" + (f": {data['outcome']}" if data["outcome"] else ""),
             f"branch {data['branch']}" + (" (dry run: nothing written)" if dry_run else "")]  # fmt: skip
    for step in data["steps"]:
        head = (f"  {step['environment']:<8} {step['from_version']} -> {step['to_version']}  "
                f"{','.join(step['clusters'])}: {step['status']}")  # fmt: skip
        if step["commit"]:
            head += f" commit {step['commit'][:12]}"
        if step["result"]:
            head += f", gates {step['result']}"
        if step["revert"]:
            head += (f"; reverted by {step['revert'][:12]} ({step['revert_reason']}), "
                     f"gates after the rollback: {step['recheck_result']}")
        lines.append(head)
        for cluster, gates in step["gates"].items():
            lines.extend(f"      {cluster} {g['result']}: {g['name']}: {g['message']}" for g in gates
                         if g["result"] != "pass")  # fmt: skip
        if step["error"]:
            lines.append(f"      error: {step['error']}")
        lines.extend(_step_record(step))
        if dry_run and step["diff"]:
            lines.extend("      " + ln for ln in step["diff"].splitlines())
    if dry_run:
        lines.extend(f"  {entry}" for entry in data["log"] if "would" in entry and ": would commit" not in entry)
    for pull in data.get("pull_requests", []):
        lines.append(f"  pull request {pull['environment']}: {pull.get('url') or 'not opened: ' + pull['error']} "
                     f"({pull['head']} -> {pull['base']})")  # fmt: skip
    timeline = data.get("timeline") or {}
    if timeline.get("entries") and not dry_run:
        left = timeline["entries"]
        if left:
            lines.append(f"rest of the rollout (from now, {len(left)} change set(s)), ends {left[-1]['end'][:16]}:")
            lines.extend(f"  {e['start'][:16]} {e['key']}: change {e['change_minutes']} min ({e['basis']}), soak "
                         f"{e['soak_minutes']} min" + (f", window {e['window']}" if e["window"] else "")
                         + (f" (soak lengthened: {e['soak_reason']})" if e.get("soak_reason") else "")
                         for e in left[:12])  # fmt: skip
    if paused:
        lines.extend(_pause_lines(run, paused))
    return "\n".join(lines)


def _step_record(step: dict) -> list[str]:
    """What people did for a change set and what it took, as `runs RUN_ID` shows it."""
    lines = []
    given = step.get("approval") or {}
    if given:
        what = [f"approved by {given.get('by') or 'someone'} at {given.get('at', '')[:16]}"]
        what += ["steps by hand done"] if given.get("done") else []
        what += [f"accepted {', '.join(given['accept'])}"] if given.get("accept") else []
        lines.append("      " + "; ".join(what))
    if step.get("handwork_by"):
        lines.append(f"      steps by hand after the commit done by {step['handwork_by']}")
    if step.get("window"):
        lines.append(f"      in maintenance window {step['window']}")
    if step.get("soak_reason"):
        lines.append(f"      soaked {step['soak_seconds']:g}s, longer than planned: {step['soak_reason']}")
    seen = step.get("observed") or {}
    if seen:
        lines.append(f"      observed: change {seen['change_minutes']} min to reconciled, soak {seen['soak_minutes']} "
                     "min until the gates were judged")  # fmt: skip
        lines.extend(f"      borderline gate: {note}" for note in seen.get("borderline") or [])
    return lines


def _pause_lines(run: str, paused: dict) -> list[str]:
    """What a paused run waits for, with the exact checklist and how to continue."""
    lines = [f"paused before {paused['step']}: {'; '.join(paused['reasons'])}"]
    if paused.get("kind") == "window":
        lines.append(f"run `upgradectl resume {run}` inside the next window ({paused.get('next', '')})")
        return lines
    lines.extend(f"  by hand first (on branch {paused['branch']}): {m}" for m in paused.get("manual", []))
    for number, item in enumerate(paused.get("checklist", []), 1):
        lines.append(f"  [{number}] {item['title']}")
        lines.extend(f"      $ {command}" for command in item["commands"])
        lines.extend(f"      {name}: {how}" for name, how in item.get("inputs", {}).items())
    for finding in paused.get("findings", []):
        lines.append(f"  open finding {finding['code']} on {finding['cluster']}: {finding['title']}")
    flags = " --done" if paused.get("checklist") else ""
    flags += "".join(f" --accept {c}" for c in sorted({f["code"] for f in paused.get("findings", [])}))
    lines.append(f"continue with `upgradectl approve {run}{flags}` (or stop with `upgradectl reject {run}`)")
    return lines


# ---------------------------------------------------------------- approve, reject, resume, runs


def _answer(run: str, approved: bool, by: str | None, note: str, state_dir, checkpoint, output_format: str,
            notify: str | None = None, done: bool = False, accept: list[str] | None = None) -> int:  # fmt: skip
    from upgradectl.app import execute as gitops_runs  # langgraph: imported when a run continues

    output_format = _check_format(output_format)
    decision = gitops_runs.Decision(approved, by or "", note, done, tuple(accept or ()))
    try:
        outcome = gitops_runs.approve(run, decision, _say, state_dir, checkpoint, notify_url=notify)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    _emit(render(outcome.report, output_format))
    return outcome.exit_code


RunArg = Annotated[str, typer.Argument(help="Run id, as `upgradectl runs` lists it.")]
NotifyOpt = Annotated[
    str | None,
    typer.Option("--notify", envvar="UPGRADECTL_NOTIFY_URL", show_envvar=True, show_default=False,
                 help="Slack-compatible incoming webhook URL: each stage's start, gate result and rollback are posted "
                      "there as Markdown. The URL is a secret: it is never printed or stored in the run, so pass it "
                      "again to approve and resume (or set UPGRADECTL_NOTIFY_URL)."),
]


def approve(
    run: RunArg,
    by: Annotated[str | None, typer.Option("--by", help="Who approves (default $USER).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
    done: Annotated[bool, typer.Option("--done", help="The pause's steps by hand (its checklist) are done.")] = False,
    accept: Annotated[
        list[str] | None,
        typer.Option("--accept", help="Accept an open high/critical finding by its code, as it is (repeat for "
                     "each); recorded in the run and in the commit's Upgradectl-Accepted trailer."),
    ] = None,
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
    notify: NotifyOpt = None,
) -> None:
    """Approve a paused run and continue it here until it ends or pauses again.

    A pause with steps by hand needs --done once they are done; one with open high or critical findings needs
    --accept CODE for each (or fix them and plan again). Otherwise the run stays paused (exit 2, saying what is
    missing)."""
    raise typer.Exit(_answer(run, True, by, note, state_dir, checkpoint, output_format, notify, done, accept))


def reject(
    run: RunArg,
    by: Annotated[str | None, typer.Option("--by", help="Who rejects (default $USER).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """Reject a paused run: it stops where it is; nothing after the pause is changed."""
    code = _answer(run, False, by, note, state_dir, checkpoint, output_format)
    raise typer.Exit(EXIT_OK if code == EXIT_REJECTED else code)


def resume(
    run: RunArg,
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
    notify: NotifyOpt = None,
) -> None:
    """Continue a run after a crash or a restart (from its last checkpoint; no commit is made twice).

    A run waiting for approval stays paused (exit 6); a finished run prints its report.
    """
    from upgradectl.app import execute as gitops_runs  # langgraph: imported when a run continues

    output_format = _check_format(output_format)
    try:
        outcome = gitops_runs.resume(run, _say, state_dir, checkpoint, notify_url=notify)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    _emit(render(outcome.report, output_format))
    raise typer.Exit(outcome.exit_code)


def runs(
    run: Annotated[str | None, typer.Argument(help="Show this run in full (default: list every run).")] = None,
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """List execution runs: id, plan, status, current step, created. With RUN_ID: that run's change sets with
    commits, gates, what people did and accepted, the durations observed, and the rest of the rollout
    re-estimated with them."""
    from upgradectl.app import execute as gitops_runs  # the GitOps editors: imported when a command runs

    _check_format(output_format)
    if run is not None:
        try:
            outcome = gitops_runs.show_run(run, state_dir, checkpoint)
        except UseCaseError as exc:
            raise fail(exc.message, exc.exit_code) from None
        _emit(render(outcome.report, output_format))
        raise typer.Exit(EXIT_OK)
    try:
        rows = gitops_runs.list_runs(state_dir, checkpoint)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    if output_format == "json":
        _emit(json.dumps(rows, indent=2))
    elif not rows:
        _emit("no runs yet (start one with `upgradectl execute --plan plan.json --no-dry-run`)")
    else:
        lines = [f"{'RUN':<34} {'STATUS':<12} {'STEP':<28} {'CREATED':<21} PLAN"]
        lines += [f"{r['run_id']:<34} {r['status']:<12} {r['current_step']:<28} {r['created']:<21} {r['plan']}"
                  for r in rows]  # fmt: skip
        _emit("\n".join(lines))
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command()(changes)
    app.command(epilog=EXEC_EXIT_HELP)(execute)
    app.command(epilog=EXEC_EXIT_HELP)(approve)
    app.command(epilog=EXEC_EXIT_HELP)(reject)
    app.command(epilog=EXEC_EXIT_HELP)(resume)
    app.command()(runs)
