"""`upgradectl changes`, `execute`, `approve`, `reject`, `resume` and `runs`: a plan carried out through GitOps.

`execute` commits each (environment, hop) change set on a branch of the GitOps repo (in a worktree of its
own), waits until the clusters report it reconciled, soaks, judges the gates against the baseline taken
just before the change, and goes on, or reverts that commit and stops. It pauses for approval before
production, wherever the plan's decision asks for it, and before changes it cannot make itself. The
default is a dry run: everything except writing to git. Nothing is ever written to a cluster.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK, EXIT_PAUSED, EXIT_REJECTED, EXIT_USAGE

EXEC_EXIT_HELP = (
    "Exit codes: 0 every change set committed, reconciled and its gates passed (or the dry run applies "
    "cleanly); 1 a gate failed: that commit was reverted and the run stopped; 3 a gate was inconclusive or "
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
FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]


def _load_plan(path: Path):
    from pydantic import ValidationError

    from upgradectl.models import Plan

    if not path.is_file():
        raise fail(f"plan file {path} not found; write one with `upgradectl plan ... --format json > {path}`")
    from upgradectl.tools.textfiles import read_text

    text = read_text(path, "plan file", fail)  # not UTF-8, unreadable: a usage error naming the file
    try:
        return Plan.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"{path} is not an upgradectl plan: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except ValueError as exc:
        raise fail(f"{path} is not JSON: {exc}") from None


def _load_fleet(ref: str):
    from upgradectl.tools.cluster.fleet import FleetError, default_live_opener, load_fleet

    try:
        return load_fleet(ref, live_opener=default_live_opener)
    except FleetError as exc:
        raise fail(str(exc)) from None


def _gitops_prefix(fleet) -> str:
    return fleet.gitops_prefix


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# ---------------------------------------------------------------- changes


def changes(
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json written by `upgradectl plan --format json`.")],
    fleet: Annotated[str | None, typer.Option("--fleet", "-f", help="Fleet (default: the plan's).")] = None,
) -> None:
    """Show a plan's file edits as a unified diff, per environment and hop, in the order execute commits them.

    Each change set is applied on top of the previous ones (in memory: nothing is written). Changes
    upgradectl does not make itself are listed as comments. Exit 0, or 2 when the plan does not apply to
    the files as they are now.
    """
    from upgradectl.tools.gitops.changes import EditError, apply_edits, change_sets, describe, unified_diff

    plan = _load_plan(plan_file)
    loaded = _load_fleet(fleet or plan.fleet)
    texts: dict[str, str] = {}
    out = []
    for cs in change_sets(plan):
        out.append(f"# {cs.environment}: {plan.request.tool} {cs.from_version} -> {cs.to_version} "
                   f"({', '.join(cs.clusters)})\n")  # fmt: skip
        out.extend(f"# by hand: {describe(e)}\n" for e in cs.manual)
        try:
            before = {f: texts.get(f) or (loaded.root / f).read_text() for f in cs.files}
            after = apply_edits(before, cs.edits)
        except (EditError, OSError) as exc:
            raise fail(f"{cs.key}: {exc}") from None
        texts.update(after)
        out.append(unified_diff(before, after))
    _emit("".join(out) or "# the plan has no file edits")
    raise typer.Exit(EXIT_OK)


# ---------------------------------------------------------------- execute


def _preflight(plan, loaded, sets) -> None:
    """Refuse, before any commit, a plan that cannot be executed as a staged rollout."""
    from upgradectl.models import ENVIRONMENT_ORDER
    from upgradectl.tools.gitops.changes import EditError, apply_edits

    git_only = sorted({c for s in plan.rollout for c in s.clusters
                       if c in loaded.clusters and loaded.clusters[c].entry.git_only})  # fmt: skip
    if git_only:
        raise fail(f"{', '.join(git_only)} {'is' if len(git_only) == 1 else 'are'} planned from Git alone: execute "
                   "waits for every cluster to report each change reconciled and judges its gates, which needs "
                   "cluster access (a context in the fleet file). Without it, review and apply the edits of "
                   "`upgradectl changes --plan PLAN` yourself, environment by environment.")  # fmt: skip
    blocked = [b for p in plan.paths for b in p.blockers if not p.feasible]
    if blocked:
        raise fail(f"the plan is not feasible: {'; '.join(blocked)}")
    if not sets:
        raise fail("the plan has no change set to execute (no hop in any environment)")
    unknown = [e for cs in sets for e in cs.manual if e.purpose in ("chart-version", "crd-chart", "target-revision")]
    if unknown:
        raise fail(f"cannot execute {unknown[0].cluster} {unknown[0].from_version} -> {unknown[0].to_version}: "
                   f"{unknown[0].note}; pin the chart version in the knowledge base or upgrade by hand")  # fmt: skip
    env_of = {c: s.environment for s in plan.rollout for c in s.clusters}
    for cs in sets:
        for edit in cs.edits:
            later = [c for c in edit.applies_to if c in env_of and ENVIRONMENT_ORDER.index(env_of[c])
                     > ENVIRONMENT_ORDER.index(cs.environment)]  # fmt: skip
            if later:
                raise fail(f"{edit.file} is applied by {cs.environment} and by {', '.join(later)} "
                           f"({env_of[later[0]]}): committing it for {cs.environment} would change them too; split "
                           "the file per environment first")  # fmt: skip
    texts: dict[str, str] = {}
    for cs in sets:
        try:
            before = {f: texts.get(f) or (loaded.root / f).read_text() for f in cs.files}
            texts.update(apply_edits(before, cs.edits))
        except (EditError, OSError) as exc:
            raise fail(f"{cs.key}: the plan does not apply to the files as they are now: {exc}") from None


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
) -> None:
    """Carry out a plan through GitOps: per environment and hop, commit, wait for reconciliation, soak, gate.

    A gate that fails or is inconclusive (or a cluster that does not reconcile in time) reverts that
    commit, waits for the revert to reconcile, re-checks the gates and stops: later environments are
    never touched. The run pauses for `upgradectl approve RUN_ID` before production and wherever the
    plan asks for approval. Runs are durable: `upgradectl resume RUN_ID` continues after a crash without
    repeating a commit.
    """
    from upgradectl.graph.runs import DEFAULT_STATE_DIR, RunStoreError, new_record, opened
    from upgradectl.tools.gitops.changes import change_sets
    from upgradectl.tools.gitops.gitrepo import GitError, GitRepo

    if output_format not in ("text", "json"):
        raise fail(f"--format {output_format!r} is not one of text, json")
    plan = _load_plan(plan_file)
    fleet_ref = fleet or plan.fleet
    loaded = _load_fleet(fleet_ref)
    sets = change_sets(plan)
    _preflight(plan, loaded, sets)
    try:
        source = GitRepo.containing(loaded.gitops_root or loaded.root)
        base_sha = source.rev(base)
    except GitError as exc:
        raise fail(str(exc)) from None
    run = run_id or f"{plan.request.tool}-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    branch = branch or f"upgradectl/{run}"
    fleet_path = str(Path(fleet_ref).resolve()) if fleet_ref != "demo" else "demo"
    options = {"fleet": fleet_path, "source": str(source.root),
               "base": base_sha, "dry_run": dry_run, "push": push, "remote": remote, "soak": soak,
               "reconcile_timeout": reconcile_timeout, "poll": poll, "metrics_url": metrics_url}  # fmt: skip
    if dry_run:
        from langgraph.checkpoint.memory import InMemorySaver

        code = _drive(InMemorySaver(), None, run, plan, options, branch, "", {"run_id": run}, output_format)
        raise typer.Exit(code)
    worktree = (state_dir or DEFAULT_STATE_DIR) / "worktrees" / run
    try:
        with opened(state_dir, checkpoint) as backend:
            try:
                backend.store.get(run)
                raise fail(f"run {run} exists already: resume it with `upgradectl resume {run}` or pick another id")
            except RunStoreError:
                pass
            try:
                source.worktree(worktree, branch, base_sha)
            except GitError as exc:
                raise fail(str(exc)) from None
            summary = f"{plan_file}: {plan.summary.split('. ')[0]}"
            backend.store.create(new_record(run, plan.request.tool, summary, options["fleet"], branch, str(worktree),
                                            plan.model_dump_json(), options))  # fmt: skip
            err.print(f"run {run}: branch {branch} in {worktree}", highlight=False)
            code = _drive(backend.checkpointer, backend.store, run, plan, options, branch, str(worktree),
                          {"run_id": run}, output_format)  # fmt: skip
    except RunStoreError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


def _say(text: str) -> None:
    err.print(text, highlight=False, markup=False, soft_wrap=True)


def _context(plan, options: dict[str, Any], branch: str, worktree: str):
    from upgradectl.graph.execute import ExecContext
    from upgradectl.tools.gitops.changes import change_sets
    from upgradectl.tools.gitops.gitrepo import GitRepo
    from upgradectl.tools.knowledge.loader import load_tool

    loaded = _load_fleet(options["fleet"])
    source = Path(options["source"])
    return ExecContext(
        plan=plan, fleet=loaded, knowledge=load_tool(plan.request.tool), sets=change_sets(plan),
        repo=GitRepo(Path(worktree) if worktree else source), source_root=source,
        gitops_prefix=_gitops_prefix(loaded), branch=branch, dry_run=bool(options["dry_run"]),
        push=bool(options["push"]), remote=options["remote"], soak_seconds=options["soak"],
        reconcile_timeout=float(options["reconcile_timeout"]), poll_interval=float(options["poll"]),
        metrics_url=options["metrics_url"], say=_say,
    )  # fmt: skip


def _drive(checkpointer, store, run: str, plan, options, branch: str, worktree: str, graph_input, fmt: str) -> int:
    """Run the graph until it ends or pauses; keep the run registry current; print the report."""
    from upgradectl.graph.execute import build_execute_graph

    ctx = _context(plan, options, branch, worktree)
    graph = build_execute_graph(plan, ctx.sets, checkpointer)
    config = {"configurable": {"thread_id": run}}
    if store is not None:
        store.update(run, status="running", pid=os.getpid())
    for update in graph.stream(graph_input, config, context=ctx, stream_mode="updates"):
        node = next(iter(update), "")
        if store is not None and node and not node.startswith("__"):
            store.update(run, current_step=node)
    snapshot = graph.get_state(config)
    values = snapshot.values
    pending = [i.value for task in snapshot.tasks for i in task.interrupts]
    if pending:
        ask = pending[0]
        if store is not None:
            store.update(run, status="paused", current_step=f"{ask['step']} (approval)")
        _emit(render(run, values, ctx, fmt, paused=ask))
        return EXIT_PAUSED
    status = values.get("status", "failed")
    if store is not None:
        store.update(run, status=status)
    _emit(render(run, values, ctx, fmt))
    return exit_for(values)


def exit_for(values: dict) -> int:
    status = values.get("status")
    if status in ("succeeded", "dry-run"):
        return EXIT_OK
    if status == "rejected":
        return EXIT_REJECTED
    if status == "rolled-back":
        results = {v.get("result") for v in (values.get("steps") or {}).values()}
        return EXIT_BLOCKERS if "fail" in results else EXIT_INCOMPLETE
    return EXIT_USAGE


def report(run: str, values: dict, ctx, paused: dict | None = None) -> dict:
    """The run as data: its outcome, every change set in order with commit, gates and rollback."""
    steps = []
    for cs in ctx.sets:
        rec = (values.get("steps") or {}).get(cs.key, {})
        steps.append({
            "key": cs.key, "environment": cs.environment, "from_version": cs.from_version,
            "to_version": cs.to_version, "clusters": cs.clusters, "status": rec.get("status", "not started"),
            "commit": rec.get("commit", ""), "result": rec.get("result", ""), "gates": rec.get("gates", {}),
            "reconcile": rec.get("reconcile", []), "revert": rec.get("revert", ""),
            "revert_reason": rec.get("revert_reason", ""), "recheck_result": rec.get("recheck_result", ""),
            "recheck_gates": rec.get("recheck_gates", {}), "diff": rec.get("diff", ""), "error": rec.get("error", ""),
        })  # fmt: skip
    return {"run_id": run, "status": "paused" if paused else values.get("status", ""),
            "outcome": values.get("outcome", ""), "branch": ctx.branch, "dry_run": ctx.dry_run,
            "paused": paused or None, "approvals": values.get("approvals", {}), "steps": steps,
            "log": values.get("log", [])}  # fmt: skip


def render(run: str, values: dict, ctx, fmt: str, paused: dict | None = None) -> str:
    data = report(run, values, ctx, paused)
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = [f"run {run}: {data['status']}" + (f": {data['outcome']}" if data["outcome"] else ""),
             f"branch {ctx.branch}" + (" (dry run: nothing written)" if ctx.dry_run else "")]  # fmt: skip
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
        if ctx.dry_run and step["diff"]:
            lines.extend("      " + ln for ln in step["diff"].splitlines())
    if ctx.dry_run:
        lines.extend(f"  {entry}" for entry in data["log"] if "would" in entry and ": would commit" not in entry)
    if paused:
        lines.append(f"paused before {paused['step']}: {'; '.join(paused['reasons'])}")
        lines.extend(f"  by hand first (on branch {paused['branch']}): {m}" for m in paused["manual"])
        lines.append(f"continue with `upgradectl approve {run}` (or stop with `upgradectl reject {run}`)")
    return "\n".join(lines)


# ---------------------------------------------------------------- approve, reject, resume, runs


def _continue(run: str, state_dir, checkpoint, graph_input_for, fmt: str) -> int:
    from upgradectl.graph.runs import FINAL, RunStoreError, opened
    from upgradectl.models import Plan

    if fmt not in ("text", "json"):
        raise fail(f"--format {fmt!r} is not one of text, json")
    try:
        with opened(state_dir, checkpoint) as backend:
            try:
                record = backend.store.get(run)
            except RunStoreError as exc:
                raise fail(str(exc)) from None
            plan = Plan.model_validate_json(record.plan_json)
            if record.status in FINAL:
                ctx = _context(plan, record.options, record.branch, record.worktree)
                from upgradectl.graph.execute import build_execute_graph

                values = build_execute_graph(plan, ctx.sets, backend.checkpointer).get_state(
                    {"configurable": {"thread_id": run}}
                ).values
                _emit(render(run, values, ctx, fmt))
                return exit_for(values)
            graph_input = graph_input_for(record)
            return _drive(backend.checkpointer, backend.store, run, plan, record.options, record.branch,
                          record.worktree, graph_input, fmt)  # fmt: skip
    except RunStoreError as exc:
        raise fail(str(exc)) from None


def _answer(approved: bool, by: str | None, note: str):
    from langgraph.types import Command

    def graph_input(record):
        if record.status != "paused":
            raise fail(f"run {record.run_id} is {record.shown_status()}, not waiting for approval; "
                       f"`upgradectl resume {record.run_id}` continues it")  # fmt: skip
        return Command(resume={"approved": approved, "by": by or os.environ.get("USER", ""), "note": note})

    return graph_input


RunArg = Annotated[str, typer.Argument(help="Run id, as `upgradectl runs` lists it.")]


def approve(
    run: RunArg,
    by: Annotated[str | None, typer.Option("--by", help="Who approves (default $USER).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """Approve a paused run and continue it here until it ends or pauses again."""
    raise typer.Exit(_continue(run, state_dir, checkpoint, _answer(True, by, note), output_format))


def reject(
    run: RunArg,
    by: Annotated[str | None, typer.Option("--by", help="Who rejects (default $USER).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """Reject a paused run: it stops where it is; nothing after the pause is changed."""
    code = _continue(run, state_dir, checkpoint, _answer(False, by, note), output_format)
    raise typer.Exit(EXIT_OK if code == EXIT_REJECTED else code)


def resume(
    run: RunArg,
    state_dir: StateDirOpt = None,
    checkpoint: CheckpointOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """Continue a run after a crash or a restart (from its last checkpoint; no commit is made twice).

    A run waiting for approval stays paused (exit 6); a finished run prints its report.
    """
    raise typer.Exit(_continue(run, state_dir, checkpoint, lambda record: None, output_format))


def runs(state_dir: StateDirOpt = None, checkpoint: CheckpointOpt = None, output_format: FormatOpt = "text") -> None:
    """List execution runs: id, plan, status, current step, created."""
    from upgradectl.graph.runs import RunStoreError, opened

    try:
        with opened(state_dir, checkpoint) as backend:
            records = backend.store.all()
    except RunStoreError as exc:
        raise fail(str(exc)) from None
    rows = [{"run_id": r.run_id, "plan": r.summary, "tool": r.tool, "status": r.shown_status(),
             "current_step": r.current_step, "created": r.created_at, "branch": r.branch} for r in records]  # fmt: skip
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
