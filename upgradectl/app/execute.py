"""The changes, execute, approve / reject / resume and runs use cases: a plan carried out through GitOps.

`execute` commits each (environment, hop) change set on a branch of the GitOps repo (in a worktree of its
own), waits until the clusters report it reconciled, soaks, judges the gates against the baseline taken
just before the change, and goes on, or reverts that commit and stops. It pauses for approval before
production, wherever the plan's decision asks for it, and before changes it cannot make itself. The
default is a dry run: everything except writing to git. Nothing is ever written to a cluster.
`upgradectl changes|execute|approve|reject|resume|runs` and the MCP run tools call these.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from upgradectl.app.errors import UseCaseError
from upgradectl.app.pr_body import PullRequestBody, pull_request_bodies
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_INCOMPLETE, EXIT_OK, EXIT_PAUSED, EXIT_REJECTED, EXIT_USAGE
from upgradectl.graph.runs import DEFAULT_STATE_DIR, FINAL, RunStoreError, new_record, opened
from upgradectl.models import ENVIRONMENT_ORDER, Plan
from upgradectl.tools.cluster.fleet import Fleet, FleetError, default_live_opener, load_fleet
from upgradectl.tools.gitops.changes import (
    ROOT_WIDE_PURPOSES,
    ChangeSet,
    EditError,
    apply_edits,
    change_sets,
    describe,
    later_clusters,
    unified_diff,
)
from upgradectl.tools.gitops.forge import Forge, ForgeError, forge_for, open_pull_request
from upgradectl.tools.gitops.gitrepo import GitError, GitRepo
from upgradectl.tools.knowledge.loader import load_tool
from upgradectl.tools.notify import NotifyError, check_url, post_message
from upgradectl.tools.textfiles import read_text

Say = Callable[[str], None]  # where a run reports what it is doing (stderr on the command line)
Clock = Callable[[], datetime]


def load_plan(path: Path) -> Plan:
    """A plan.json written by `upgradectl plan --format json`; a clear error for anything else."""
    if not path.is_file():
        raise UseCaseError(f"plan file {path} not found; write one with `upgradectl plan ... --format json > {path}`")
    text = read_text(path, "plan file", UseCaseError)  # not UTF-8, unreadable: a usage error naming the file
    try:
        return Plan.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise UseCaseError(f"{path} is not an upgradectl plan: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise UseCaseError(f"{path} is not JSON: {exc}") from None


def _load_fleet(ref: str) -> Fleet:
    try:
        return load_fleet(ref, live_opener=default_live_opener)
    except FleetError as exc:
        raise UseCaseError(str(exc)) from None


# ---------------------------------------------------------------- changes


@dataclass(frozen=True)
class ChangeDiff:
    """One commit of execute as `changes` shows it: environment, hop, clusters, the files' diff, manual work."""

    environment: str
    tool: str
    from_version: str
    to_version: str
    clusters: list[str]
    files: list[str]
    manual: list[str]  # what a person must do (execute pauses for it)
    diff: str  # unified diff of this change set on top of the previous ones

    def as_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "tool": self.tool, "from_version": self.from_version,
                "to_version": self.to_version, "clusters": self.clusters, "files": self.files,
                "manual": self.manual, "diff": self.diff}  # fmt: skip


def change_diffs(plan_file: Path, fleet: str | None = None) -> list[ChangeDiff]:
    """A plan's file edits per environment and hop, in the order execute commits them; each change set applies
    on top of the previous ones (in memory: nothing is written)."""
    plan = load_plan(plan_file)
    loaded = _load_fleet(fleet or plan.fleet)
    texts: dict[str, str] = {}
    diffs = []
    for cs in change_sets(plan):
        try:
            before = {f: texts.get(f) or (loaded.root / f).read_text() for f in cs.files}
            after = apply_edits(before, cs.edits)
        except (EditError, OSError) as exc:
            raise UseCaseError(f"{cs.key}: {exc}") from None
        texts.update(after)
        diffs.append(ChangeDiff(environment=cs.environment, tool=plan.request.tool, from_version=cs.from_version,
                                to_version=cs.to_version, clusters=list(cs.clusters), files=cs.files,
                                manual=[describe(e) for e in cs.manual], diff=unified_diff(before, after)))  # fmt: skip
    return diffs


def pull_requests(plan_file: Path, fleet: str | None = None) -> list[PullRequestBody]:
    """A pull-request description per environment and hop, each with the diff `changes` shows for it."""
    plan = load_plan(plan_file)
    diffs = {f"{cd.environment}/{cd.from_version}->{cd.to_version}": cd.diff for cd in change_diffs(plan_file, fleet)}
    return pull_request_bodies(plan, diffs)


def changes(plan_file: Path, fleet: str | None = None) -> str:
    """change_diffs as text: a comment line per change set (and per manual change), then its unified diff."""
    out = []
    for cd in change_diffs(plan_file, fleet):
        out.append(f"# {cd.environment}: {cd.tool} {cd.from_version} -> {cd.to_version} ({', '.join(cd.clusters)})\n")
        out.extend(f"# by hand: {line}\n" for line in cd.manual)
        out.append(cd.diff)
    return "".join(out) or "# the plan has no file edits"


# ---------------------------------------------------------------- execute


@dataclass(frozen=True)
class ExecuteRequest:
    """A plan to carry out, on which branch, with what waits, and where the run's state lives."""

    plan_file: Path
    fleet: str | None = None  # default: the plan's
    dry_run: bool = True
    push: bool = False
    remote: str = "origin"
    branch: str | None = None  # default upgradectl/RUN_ID, created from `base`
    base: str = "HEAD"
    run_id: str | None = None
    soak: float | None = None  # seconds; default the plan's soak time per stage
    reconcile_timeout: float = 900.0
    poll: float = 5.0
    metrics_url: str | None = None
    state_dir: Path | None = None
    checkpoint: str | None = None  # postgres://... ; default SQLite in state_dir
    notify_url: str | None = None  # Slack-compatible incoming webhook for stage messages (never stored in the run)
    now: Clock | None = None  # the clock maintenance windows are judged on (tests inject one); default UTC now
    open_pr: bool = False  # one pull request per environment once its hops are committed and pushed
    pr_base: str = "main"  # the branch the first environment's pull request merges into
    forge: str | None = None  # github | gitlab; default: from the remote's URL
    forge_api: str | None = None  # API root (GitHub Enterprise, self-hosted GitLab, a loopback fake in tests)
    forge_repo: str | None = None  # owner/repo or group/project; default: from the remote's URL


@dataclass
class RunOutcome:
    """Where a run stands: its report (as `--format json` prints it) and the exit code that means."""

    run_id: str
    report: dict[str, Any]
    exit_code: int
    dry_run: bool
    branch: str


def preflight(plan: Plan, loaded: Fleet, sets: list[ChangeSet]) -> None:
    """Refuse, before any commit, a plan that cannot be executed as a staged rollout."""
    git_only = sorted({c for s in plan.rollout for c in s.clusters
                       if c in loaded.clusters and loaded.clusters[c].entry.git_only})  # fmt: skip
    if git_only:
        raise UseCaseError(
            f"{', '.join(git_only)} {'is' if len(git_only) == 1 else 'are'} planned from Git alone: execute waits for "
            "every cluster to report each change reconciled and judges its gates, which needs cluster access (a "
            "context in the fleet file). Without it, review and apply the edits of `upgradectl changes --plan PLAN` "
            "yourself, environment by environment."
        )
    blocked = [b for p in plan.paths for b in p.blockers if not p.feasible]
    if blocked:
        raise UseCaseError(f"the plan is not feasible: {'; '.join(blocked)}")
    if not sets:
        raise UseCaseError("the plan has no change set to execute (no hop in any environment)")
    unknown = [e for cs in sets for e in cs.manual if e.purpose in ("chart-version", "crd-chart", "target-revision")]
    if unknown:
        first = unknown[0]
        raise UseCaseError(f"cannot execute {first.cluster} {first.from_version} -> {first.to_version}: {first.note}; "
                           "pin the chart version in the knowledge base or upgrade by hand")
    env_of = {c: s.environment for s in plan.rollout for c in s.clusters}
    for cs in sets:
        for edit in cs.edits:
            later = later_clusters(edit, cs.environment, env_of)
            if later and edit.purpose not in ROOT_WIDE_PURPOSES:  # those wait for an approval naming `later`
                raise UseCaseError(f"{edit.file} is applied by {cs.environment} and by {', '.join(later)} "
                                   f"({env_of[later[0]]}): committing it for {cs.environment} would change them too; "
                                   "split the file per environment first")  # fmt: skip
    texts: dict[str, str] = {}
    for cs in sets:
        try:
            before = {f: texts.get(f) or (loaded.root / f).read_text() for f in cs.files}
            texts.update(apply_edits(before, cs.edits))
        except (EditError, OSError) as exc:
            raise UseCaseError(f"{cs.key}: the plan does not apply to the files as they are now: {exc}") from None


def execute(request: ExecuteRequest, say: Say) -> RunOutcome:
    """Carry out a plan: per environment and hop, commit, wait for reconciliation, soak, gate; revert and stop
    on a failed or inconclusive gate; pause for approval where the plan asks (exit 6)."""
    plan = load_plan(request.plan_file)
    notify = notifier(request.notify_url, say)
    fleet_ref = request.fleet or plan.fleet
    loaded = _load_fleet(fleet_ref)
    sets = change_sets(plan)
    preflight(plan, loaded, sets)
    try:
        source = GitRepo.containing(loaded.gitops_root or loaded.root)
        base_sha = source.rev(request.base)
    except GitError as exc:
        raise UseCaseError(str(exc)) from None
    open_pr = None
    if request.open_pr:
        if request.dry_run or not request.push:
            raise UseCaseError("--open-pr opens pull requests for pushed branches: add --no-dry-run and --push")
        open_pr = {"base": request.pr_base, "forge": request.forge, "api": request.forge_api,
                   "repo": request.forge_repo}  # fmt: skip
        _forge(source, request.remote, open_pr)  # a missing token or an unknown forge fails before any commit
    run = request.run_id or f"{plan.request.tool}-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    branch = request.branch or f"upgradectl/{run}"
    fleet_path = str(Path(fleet_ref).resolve()) if fleet_ref != "demo" else "demo"
    options = {"fleet": fleet_path, "source": str(source.root),
               "base": base_sha, "dry_run": request.dry_run, "push": request.push, "remote": request.remote,
               "soak": request.soak, "reconcile_timeout": request.reconcile_timeout, "poll": request.poll,
               "metrics_url": request.metrics_url, "open_pr": open_pr}  # fmt: skip
    if request.dry_run:
        from langgraph.checkpoint.memory import InMemorySaver  # langgraph: loaded only when a run executes

        return _drive(InMemorySaver(), None, run, plan, options, branch, "", {"run_id": run}, say, notify, request.now)
    worktree = (request.state_dir or DEFAULT_STATE_DIR) / "worktrees" / run
    try:
        with opened(request.state_dir, request.checkpoint) as backend:
            try:
                backend.store.get(run)
                raise UseCaseError(
                    f"run {run} exists already: resume it with `upgradectl resume {run}` or pick another id"
                )
            except RunStoreError:
                pass
            try:
                source.worktree(worktree, branch, base_sha)
            except GitError as exc:
                raise UseCaseError(str(exc)) from None
            summary = f"{request.plan_file}: {plan.summary.split('. ')[0]}"
            backend.store.create(new_record(run, plan.request.tool, summary, options["fleet"], branch, str(worktree),
                                            plan.model_dump_json(), options))  # fmt: skip
            say(f"run {run}: branch {branch} in {worktree}")
            return _drive(backend.checkpointer, backend.store, run, plan, options, branch, str(worktree),
                          {"run_id": run}, say, notify, request.now)  # fmt: skip
    except RunStoreError as exc:
        raise UseCaseError(str(exc)) from None


def notifier(url: str | None, say: Say) -> Callable[[str, str], None] | None:
    """Posts stage messages to a webhook; a message that cannot be delivered is said, and the run goes on. The
    URL (a credential: anyone holding it can post) is never printed, logged or stored in the run."""
    if not url:
        return None
    problem = check_url(url)
    if problem:
        raise UseCaseError(problem)

    def send(kind: str, markdown: str) -> None:
        try:
            post_message(url, markdown)
            say(f"notified: {kind} message sent")
        except NotifyError as exc:
            say(f"warning: the {kind} message could not be sent: {str(exc).replace(url, '<webhook>')}")

    return send


def _context(plan: Plan, options: dict[str, Any], branch: str, worktree: str, say: Say,
             notify: Callable[[str, str], None] | None = None, now: Clock | None = None):  # fmt: skip
    from upgradectl.graph.execute import ExecContext  # langgraph: loaded only when a run executes

    loaded = _load_fleet(options["fleet"])
    source = Path(options["source"])
    return ExecContext(
        plan=plan, fleet=loaded, knowledge=load_tool(plan.request.tool), sets=change_sets(plan),
        repo=GitRepo(Path(worktree) if worktree else source), source_root=source,
        gitops_prefix=loaded.gitops_prefix, branch=branch, dry_run=bool(options["dry_run"]),
        push=bool(options["push"]), remote=options["remote"], soak_seconds=options["soak"],
        reconcile_timeout=float(options["reconcile_timeout"]), poll_interval=float(options["poll"]),
        metrics_url=options["metrics_url"], fleet_ref=options["fleet"], say=say, notify=notify,
        windows=dict(loaded.spec.maintenance_windows), **({"now": now} if now is not None else {}),
    )  # fmt: skip


def _drive(checkpointer, store, run: str, plan: Plan, options, branch: str, worktree: str, graph_input,
           say: Say, notify: Callable[[str, str], None] | None = None,
           now: Clock | None = None) -> RunOutcome:  # fmt: skip
    """Run the graph until it ends or pauses; keep the run registry current; report where the run stands."""
    from upgradectl.graph.execute import build_execute_graph  # langgraph: loaded only when a run executes

    ctx = _context(plan, options, branch, worktree, say, notify, now)
    graph = build_execute_graph(plan, ctx.sets, checkpointer, ctx.knowledge)
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
            store.update(run, status="paused", current_step=f"{ask['step']} ({ask.get('kind', 'approval')})")
        report = run_report(run, values, ctx, paused=ask)
        if options.get("open_pr"):  # the environments done before the pause get theirs now
            report["pull_requests"] = open_pull_requests(plan, report, ctx.repo, options["remote"], ctx.branch,
                                                         options["open_pr"], say)  # fmt: skip
        return RunOutcome(run, report, EXIT_PAUSED, ctx.dry_run, ctx.branch)
    if ctx.dry_run and any(": would wait for the maintenance window" in line for line in values.get("log", [])):
        report = run_report(run, values, ctx)
        return RunOutcome(run, report, EXIT_PAUSED, ctx.dry_run, ctx.branch)
    status = values.get("status", "failed")
    if store is not None:
        store.update(run, status=status)
    report = run_report(run, values, ctx)
    if options.get("open_pr"):
        report["pull_requests"] = open_pull_requests(plan, report, ctx.repo, options["remote"], ctx.branch,
                                                     options["open_pr"], say)  # fmt: skip
    return RunOutcome(run, report, exit_for(values), ctx.dry_run, ctx.branch)


def _forge(repo: GitRepo, remote: str, settings: dict[str, Any]) -> Forge:
    """The forge the remote lives on (GitHub or GitLab) with its token; UseCaseError saying what is missing."""
    try:
        url = repo.run("remote", "get-url", remote)
        return forge_for(url, settings.get("forge"), settings.get("api"), settings.get("repo"))
    except (GitError, ForgeError) as exc:
        raise UseCaseError(f"--open-pr: {exc}") from None


def open_pull_requests(plan: Plan, report: dict[str, Any], repo: GitRepo, remote: str, branch: str,
                       settings: dict[str, Any], say: Say) -> list[dict[str, Any]]:  # fmt: skip
    """One pull request per environment whose hops are all committed (none reverted): its last commit is pushed
    as BRANCH-ENV and proposed into the previous environment's branch (the first into --pr-base), described by
    its hops' PR bodies. An environment whose pull request exists already is reported as such."""
    forge = _forge(repo, remote, settings)
    bodies = {(b.environment, b.from_version, b.to_version): b for b in pull_request_bodies(plan)}
    opened_prs: list[dict[str, Any]] = []
    base = settings.get("base") or "main"
    for environment in ENVIRONMENT_ORDER:
        steps = [s for s in report["steps"] if s["environment"] == environment]
        if not steps:
            continue
        if not all(s["commit"] and not s["revert"] for s in steps):
            break  # later environments wait for this one
        head = f"{branch}-{environment}"
        hops = [bodies[(environment, s["from_version"], s["to_version"])] for s in steps]
        title = f"{load_tool(plan.request.tool).display_name} {steps[0]['from_version']} -> " \
                f"{steps[-1]['to_version']} on {environment} ({', '.join(steps[0]['clusters'])})"  # fmt: skip
        body = "\n---\n\n".join(h.body for h in hops)
        try:
            repo.run("push", "--quiet", remote, f"{steps[-1]['commit']}:refs/heads/{head}")
            pull = open_pull_request(forge, head, base, title, body)
        except (GitError, ForgeError) as exc:
            say(f"{environment}: pull request not opened: {exc}")
            opened_prs.append({"environment": environment, "head": head, "base": base, "error": str(exc)})
            break
        say(f"{environment}: pull request {pull.url}")
        opened_prs.append({"environment": environment, "head": head, "base": base, "url": pull.url,
                           "number": pull.number, "existed": pull.existed})  # fmt: skip
        base = head
    return opened_prs


def exit_for(values: dict) -> int:
    status = values.get("status")
    if status in ("succeeded", "dry-run"):
        return EXIT_OK
    if status == "rejected":
        return EXIT_REJECTED
    if status == "rolled-back":
        results = {v.get("result") for v in (values.get("steps") or {}).values()}
        return EXIT_BLOCKERS if "fail" in results else EXIT_INCOMPLETE
    if status == "blocked":  # the pre-flight found an incident: nothing was committed for that step
        return EXIT_BLOCKERS
    return EXIT_USAGE


def run_report(run: str, values: dict, ctx, paused: dict | None = None) -> dict:
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
            "phase": cs.phase, "window": rec.get("window", ""), "observed": rec.get("observed", {}),
            "soak_seconds": rec.get("soak_seconds"), "soak_reason": rec.get("soak_reason", ""),
            "approval": (values.get("approvals") or {}).get(cs.key, {}), "handwork_by": rec.get("handwork_by", ""),
        })  # fmt: skip
    return {"run_id": run, "status": "paused" if paused else values.get("status", ""),
            "outcome": values.get("outcome", ""), "branch": ctx.branch, "dry_run": ctx.dry_run,
            "paused": paused or None, "approvals": values.get("approvals", {}), "steps": steps,
            "log": values.get("log", []), "timeline": _remaining(ctx, values)}  # fmt: skip


def _remaining(ctx, values: dict) -> dict:
    """The plan's timeline re-estimated with what this run observed: the change minutes each finished change set
    took replace the estimate for the same hop and phase in later environments, whose soak a borderline gate
    lengthens."""
    from upgradectl.graph.timeline import build_timeline, observed_key  # with the graph: loaded by a run

    seen: dict[str, float] = {}
    for cs in ctx.sets:
        minutes = ((values.get("steps") or {}).get(cs.key, {}).get("observed") or {}).get("change_minutes")
        if minutes is not None:
            seen.setdefault(observed_key(cs), float(minutes))
    done = {k for k, rec in (values.get("steps") or {}).items() if rec.get("status") == "passed"}
    timeline = build_timeline(ctx.plan, ctx.knowledge, ctx.windows, ctx.now(), seen, done, values.get("steps"))
    return timeline.model_dump(mode="json")


# ---------------------------------------------------------------- approve, reject, resume, runs


@dataclass(frozen=True)
class Decision:
    """A person's answer to a paused run."""

    approved: bool
    by: str = ""  # default $USER
    note: str = ""
    done: bool = False  # the pause's steps by hand are done (`approve --done`)
    accept: tuple[str, ...] = ()  # finding codes accepted as they are (`approve --accept CODE`)


def approve(run: str, decision: Decision, say: Say, state_dir: Path | None = None,
            checkpoint: str | None = None, notify_url: str | None = None,
            now: Clock | None = None) -> RunOutcome:  # fmt: skip
    """Answer a paused run (approve: continue it here until it ends or pauses again; reject: it stops)."""
    from langgraph.types import Command  # langgraph: loaded only when a run executes

    from upgradectl.graph.execute import answer_problem  # langgraph: loaded only when a run executes

    def graph_input(record, pause: dict | None):
        if record.status != "paused" or pause is None:
            raise UseCaseError(f"run {record.run_id} is {record.shown_status()}, not waiting for approval; "
                               f"`upgradectl resume {record.run_id}` continues it")  # fmt: skip
        answer = {"approved": decision.approved, "by": decision.by or os.environ.get("USER", ""), "note": decision.note,
                  "done": decision.done, "accept": list(decision.accept)}  # fmt: skip
        problem = answer_problem(pause, answer)
        if problem:
            raise UseCaseError(f"run {record.run_id} stays paused before {pause['step']}: {problem}")
        return Command(resume=answer)

    return _continue(run, state_dir, checkpoint, graph_input, say, notifier(notify_url, say), now)


def resume(run: str, say: Say, state_dir: Path | None = None, checkpoint: str | None = None,
           notify_url: str | None = None, now: Clock | None = None) -> RunOutcome:  # fmt: skip
    """Continue a run after a crash or restart from its last checkpoint (no commit is made twice); a run
    waiting for approval stays paused, one waiting for its maintenance window checks the clock again, a finished
    run reports how it ended."""
    from langgraph.types import Command  # langgraph: loaded only when a run executes

    def graph_input(record, pause: dict | None):
        return Command(resume={"retry": True}) if pause and pause.get("kind") == "window" else None

    return _continue(run, state_dir, checkpoint, graph_input, say, notifier(notify_url, say), now)


def _continue(run: str, state_dir, checkpoint, graph_input_for, say: Say,
              notify: Callable[[str, str], None] | None = None, now: Clock | None = None) -> RunOutcome:
    from upgradectl.graph.execute import build_execute_graph  # langgraph: loaded only when a run executes

    try:
        with opened(state_dir, checkpoint) as backend:
            try:
                record = backend.store.get(run)
            except RunStoreError as exc:
                raise UseCaseError(str(exc)) from None
            plan = Plan.model_validate_json(record.plan_json)
            ctx = _context(plan, record.options, record.branch, record.worktree, say, notify, now)
            snapshot = build_execute_graph(plan, ctx.sets, backend.checkpointer, ctx.knowledge).get_state(
                {"configurable": {"thread_id": run}}
            )
            if record.status in FINAL:
                values = snapshot.values
                return RunOutcome(run, run_report(run, values, ctx), exit_for(values), ctx.dry_run, ctx.branch)
            pending = [i.value for task in snapshot.tasks for i in task.interrupts]
            graph_input = graph_input_for(record, pending[0] if pending else None)
            return _drive(backend.checkpointer, backend.store, run, plan, record.options, record.branch,
                          record.worktree, graph_input, say, notify, now)  # fmt: skip
    except RunStoreError as exc:
        raise UseCaseError(str(exc)) from None


def list_runs(state_dir: Path | None = None, checkpoint: str | None = None) -> list[dict[str, Any]]:
    """Every execution run: id, plan, tool, status, current step, created, branch."""
    try:
        with opened(state_dir, checkpoint) as backend:
            records = backend.store.all()
    except RunStoreError as exc:
        raise UseCaseError(str(exc)) from None
    return [{"run_id": r.run_id, "plan": r.summary, "tool": r.tool, "status": r.shown_status(),
             "current_step": r.current_step, "created": r.created_at, "branch": r.branch} for r in records]  # fmt: skip


def show_run(run: str, state_dir: Path | None = None, checkpoint: str | None = None) -> RunOutcome:
    """One run as it stands (`upgradectl runs RUN_ID`): every change set with its commit, gates, what a person
    did, the durations it observed, and the rest of the rollout re-estimated with them."""
    from upgradectl.graph.execute import build_execute_graph  # langgraph: loaded only when a run executes

    try:
        with opened(state_dir, checkpoint) as backend:
            try:
                record = backend.store.get(run)
            except RunStoreError as exc:
                raise UseCaseError(str(exc)) from None
            plan = Plan.model_validate_json(record.plan_json)
            ctx = _context(plan, record.options, record.branch, record.worktree, lambda _: None)
            snapshot = build_execute_graph(plan, ctx.sets, backend.checkpointer, ctx.knowledge).get_state(
                {"configurable": {"thread_id": run}}
            )
    except RunStoreError as exc:
        raise UseCaseError(str(exc)) from None
    pending = [i.value for task in snapshot.tasks for i in task.interrupts]
    report = run_report(run, snapshot.values, ctx, paused=pending[0] if pending else None)
    report["status"] = "paused" if pending else record.shown_status()
    code = EXIT_PAUSED if pending else exit_for(snapshot.values) if record.status in FINAL else EXIT_OK
    return RunOutcome(run, report, code, ctx.dry_run, ctx.branch)
