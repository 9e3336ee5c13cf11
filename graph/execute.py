"""The execution graph: a plan's change sets run through GitOps, one LangGraph node per side effect.

For each (environment, hop) change set, in plan order (dev -> staging -> prod, hop by hop):

    [approve] -> baseline -> commit -> reconcile -> soak -> gates -> next change set
                                          |                   |
                                          +---- timeout ------+---- fail / inconclusive
                                                               -> revert -> reconcile back -> re-check gates -> finish

`approve` exists where the stage needs approval (production always; every stage when the decision says
so) or the change set holds changes upgradectl cannot make itself; it pauses the run with LangGraph's
`interrupt` until `upgradectl approve` or `reject`. Checkpoints fall between the nodes, so a resumed run
starts after the last finished side effect; commits and reverts are also idempotent on their own (the
`Upgradectl-Step: <run>/<env>/<hop>` trailer is looked up in git before committing).

`--dry-run` runs the same nodes but never writes: edits are applied to an in-memory copy (the diff is
reported), waits and soaks are described instead of done, and approvals are listed instead of awaited.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from upgradectl.agents.monitoring_analyst import baseline_cluster, gates_for, validate_cluster
from upgradectl.models import Gate, Plan
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.gitops.changes import ChangeSet, EditError, apply_edits, describe, unified_diff
from upgradectl.tools.gitops.gitrepo import TRAILER, GitError, GitRepo
from upgradectl.tools.gitops.reconcile import expectations, wait_for
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.metrics.baselines import ClusterBaseline
from upgradectl.tools.metrics.gates import inconclusive
from upgradectl.tools.metrics.promql import PromClient


def merge_steps(existing: dict[str, dict] | None, new: dict[str, dict] | None) -> dict[str, dict]:
    """Step records merge field by field (a node updates only what it did)."""
    result = {k: dict(v) for k, v in (existing or {}).items()}
    for key, fields in (new or {}).items():
        result.setdefault(key, {}).update(fields)
    return result


def merge_dicts(existing: dict | None, new: dict | None) -> dict:
    return {**(existing or {}), **(new or {})}


class ExecState(TypedDict, total=False):
    run_id: str
    steps: Annotated[dict[str, dict], merge_steps]  # change-set key -> what happened to it
    approvals: Annotated[dict[str, dict], merge_dicts]
    log: Annotated[list[str], operator.add]
    status: str  # set when the run ends early: rejected | failed
    outcome: str


@dataclass
class ExecContext:
    """Run settings and handles; LangGraph context, never checkpointed."""

    plan: Plan
    fleet: Fleet
    knowledge: ToolKnowledge
    sets: list[ChangeSet]
    repo: GitRepo  # the run's worktree (or the user's checkout, read-only, in a dry run)
    source_root: Path  # the user's checkout the worktree was made from (dry runs read it)
    gitops_prefix: str  # the GitOps repo's directory relative to the fleet root, with a trailing /
    branch: str
    dry_run: bool = True
    push: bool = False
    remote: str = "origin"
    soak_seconds: float | None = None  # None: the plan's soak time per stage
    reconcile_timeout: float = 900.0
    poll_interval: float = 5.0
    metrics_url: str | None = None
    metrics_timeout: float = 10.0
    say: Callable[[str], None] = lambda _: None
    overlay: dict[str, str] = field(default_factory=dict)  # dry run: file texts after earlier change sets


def approval_reasons(plan: Plan, sets: list[ChangeSet], index: int) -> list[str]:
    """Why change set `index` waits for a person: the stage's approval (at its first change set) and any
    change upgradectl cannot make by itself."""
    cs = sets[index]
    reasons: list[str] = []
    first_of_env = index == 0 or sets[index - 1].environment != cs.environment
    stage = next(s for s in plan.rollout if s.environment == cs.environment)
    if first_of_env and stage.approval_required:
        reasons.extend(stage.approval_reasons or [f"{cs.environment} requires approval"])
    if cs.manual:
        reasons.append(
            f"{len(cs.manual)} change(s) upgradectl does not make itself: commit them on branch the run's branch "
            "first, then approve"
        )
    return reasons


# ---------------------------------------------------------------- helpers used by the nodes


def _ctx(runtime: Runtime[ExecContext]) -> ExecContext:
    return runtime.context


def _step(state: ExecState, key: str) -> dict:
    return (state.get("steps") or {}).get(key, {})


def _repo_path(ctx: ExecContext, file: str) -> str:
    """A fleet-relative file as a path inside the repository (EditError when it lives outside it)."""
    absolute = (ctx.fleet.root / file).resolve()
    try:
        return str(absolute.relative_to(ctx.source_root))
    except ValueError:
        raise EditError(f"{file} is outside the git repository {ctx.source_root}: upgradectl commits only there") \
            from None


def _message(ctx: ExecContext, state: ExecState, cs: ChangeSet, revert_reason: str = "") -> str:
    k = ctx.knowledge
    run = state["run_id"]
    if revert_reason:
        head = f"upgradectl: revert {k.display_name} {cs.from_version} -> {cs.to_version} in {cs.environment}"
        body = [f"Rolled back by run {run}: {revert_reason}"]
        trailer = f"{run}/{cs.key}/revert"
    else:
        head = f"upgradectl: {k.display_name} {cs.from_version} -> {cs.to_version} in {cs.environment}"
        body = [f"Clusters: {', '.join(cs.clusters)}", f"Run: {run}", "", "Changes:"]
        body += [f"- {describe(e)}" for e in cs.edits]
        if cs.manual:
            body += ["", "Made by hand before this commit (approved):", *[f"- {describe(e)}" for e in cs.manual]]
        trailer = f"{run}/{cs.key}"
    return "\n".join([head, "", *body, "", f"{TRAILER}: {trailer}"]) + "\n"


def _metrics_url(ctx: ExecContext, cluster: str) -> str:
    if ctx.metrics_url is not None:
        return ctx.metrics_url
    return ctx.fleet.clusters[cluster].entry.metrics_url if cluster in ctx.fleet.clusters else ""


def _record_baseline(ctx: ExecContext, cluster: str, running: str, target: str) -> dict:
    url = _metrics_url(ctx, cluster)
    now = time.time()
    moment = datetime.fromtimestamp(now, UTC)
    if not url:
        problem = f"no metrics URL for {cluster}: set metrics_url in the fleet file or pass --metrics-url"
        return ClusterBaseline(cluster=cluster, version=running, metrics_url="", at=moment, problem=problem).model_dump(
            mode="json"
        )
    with PromClient(url, timeout=ctx.metrics_timeout) as client:
        entries, integrity = baseline_cluster(ctx.knowledge, cluster, running, target, client, now)
    record = ClusterBaseline(cluster=cluster, version=running, metrics_url=url, at=moment, entries=entries,
                             integrity=integrity)  # fmt: skip
    return record.model_dump(mode="json")


def _judge(ctx: ExecContext, cluster: str, version: str, baseline: dict | None) -> list[Gate]:
    url = _metrics_url(ctx, cluster)
    if not url:
        why = f"no metrics URL for {cluster}: set metrics_url in the fleet file or pass --metrics-url"
        return inconclusive(gates_for(ctx.knowledge, version), why)
    recorded = ClusterBaseline.model_validate(baseline) if baseline else None
    with PromClient(url, timeout=ctx.metrics_timeout) as client:
        return validate_cluster(ctx.knowledge, cluster, version, client, time.time(), recorded)


def verdict(gates: list[dict]) -> str:
    """fail when any gate failed, else inconclusive when any is, else pass (no gate: inconclusive)."""
    results = {g.get("result") for g in gates}
    if not gates or "fail" in results:
        return "fail" if "fail" in results else "inconclusive"
    return "inconclusive" if results - {"pass"} else "pass"


def _evaluate(ctx: ExecContext, cs: ChangeSet, version: str, rec: dict) -> tuple[str, dict[str, list[dict]]]:
    gates = {c: [g.model_dump(mode="json") for g in _judge(ctx, c, version, (rec.get("baseline") or {}).get(c))]
             for c in cs.clusters}  # fmt: skip
    return verdict([g for gs in gates.values() for g in gs]), gates


def _gate_lines(gates: dict[str, list[dict]]) -> list[str]:
    return [f"{c}: {g['result']}: {g['name']}: {g['message']}" for c, gs in gates.items() for g in gs]


# ---------------------------------------------------------------- nodes


def _approve(i: int):
    def approve(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        reasons = approval_reasons(ctx.plan, ctx.sets, i)
        manual = [describe(e) for e in cs.manual]
        if cs.key in (state.get("approvals") or {}):
            return {}
        if ctx.dry_run:
            return {"log": [f"{cs.key}: would pause for approval: {'; '.join(reasons)}"]}
        answer = interrupt({"step": cs.key, "environment": cs.environment, "reasons": reasons, "manual": manual,
                            "branch": ctx.branch})  # fmt: skip
        answer = answer if isinstance(answer, dict) else {"approved": bool(answer)}
        given = {"approved": bool(answer.get("approved")), "by": str(answer.get("by", "")),
                 "note": str(answer.get("note", "")), "at": datetime.now(UTC).isoformat()}  # fmt: skip
        verb = "approved" if given["approved"] else "rejected"
        update: dict[str, Any] = {"approvals": {cs.key: given},
                                  "log": [f"{cs.key}: {verb} by {given['by'] or 'someone'}"]}  # fmt: skip
        if not given["approved"]:
            update |= {"status": "rejected", "outcome": f"rejected before {cs.key}: nothing after it was changed"}
        return update

    return approve


def _baseline(i: int):
    def baseline(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        if _step(state, cs.key).get("baseline"):
            return {}
        ctx.say(f"{cs.key}: recording the baseline on {', '.join(cs.clusters)}")
        records = {c: _record_baseline(ctx, c, cs.from_version, cs.to_version) for c in cs.clusters}
        return {"steps": {cs.key: {"environment": cs.environment, "hop": [cs.from_version, cs.to_version],
                                   "clusters": cs.clusters, "status": "baselined", "baseline": records}}}  # fmt: skip

    return baseline


def _commit(i: int):
    def commit(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if rec.get("commit") or rec.get("status") == "dry-run":
            return {}
        try:
            files = {e.file: _repo_path(ctx, e.file) for e in cs.edits if e.file}
            if ctx.dry_run:
                before = {f: ctx.overlay.get(f) or (ctx.source_root / p).read_text() for f, p in files.items()}
                after = apply_edits(before, cs.edits)
                ctx.overlay.update(after)
                ctx.say(f"{cs.key}: would commit {len(after)} file(s) on {ctx.branch}")
                return {"steps": {cs.key: {"status": "dry-run", "diff": unified_diff(before, after),
                                           "files": sorted(after)}},
                        "log": [f"{cs.key}: would commit {', '.join(sorted(after)) or 'nothing'}"]}  # fmt: skip
            wt = ctx.repo
            wt.clean()
            step_id = f"{state['run_id']}/{cs.key}"
            sha = wt.find_step(step_id)
            note = "already committed (resumed run)"
            if not sha:
                before = {f: (wt.root / p).read_text() for f, p in files.items() if (wt.root / p).is_file()}
                missing = [f for f, p in files.items() if not (wt.root / p).is_file()]
                if missing:
                    raise EditError(f"not in the repository: {', '.join(missing)}")
                after = apply_edits(before, cs.edits)
                for f, text in after.items():
                    (wt.root / files[f]).write_text(text)
                if not after:
                    raise EditError("the change set changes nothing: the files already hold these versions")
                sha = wt.commit([files[f] for f in sorted(after)], _message(ctx, state, cs))
                note = f"committed {len(after)} file(s)"
            if ctx.push:
                wt.push(ctx.remote, ctx.branch)
                note += f", pushed to {ctx.remote}/{ctx.branch}"
        except (EditError, GitError, OSError) as exc:
            return {"steps": {cs.key: {"status": "failed", "error": str(exc)}}, "status": "failed",
                    "outcome": f"{cs.key}: could not commit: {exc}"}  # fmt: skip
        ctx.say(f"{cs.key}: {note}: {sha[:12]}")
        return {"steps": {cs.key: {"status": "committed", "commit": sha}}, "log": [f"{cs.key}: {note} {sha}"]}

    return commit


def _wait(ctx: ExecContext, cs: ChangeSet, sha: str, reverse: bool) -> tuple[bool, list[str]]:
    wanted = expectations(cs.edits, ctx.gitops_prefix, reverse=reverse)
    ctx.say(f"{cs.key}: waiting up to {ctx.reconcile_timeout:.0f}s for {len(wanted)} object(s) to reconcile")
    result = wait_for(ctx.fleet, wanted, lambda rev: ctx.repo.is_ancestor(sha, rev), ctx.reconcile_timeout,
                      ctx.poll_interval, ctx.say)  # fmt: skip
    return result.reconciled, result.lines


def _reconcile(i: int):
    def reconcile(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if ctx.dry_run:
            wanted = [e.describe() for e in expectations(cs.edits, ctx.gitops_prefix)]
            return {"log": [f"{cs.key}: would wait for {'; '.join(wanted) or 'nothing observable'}"]}
        if rec.get("reconciled_at"):
            return {}
        ok, lines = _wait(ctx, cs, rec["commit"], reverse=False)
        if not ok:
            return {"steps": {cs.key: {"status": "not-reconciled", "result": "inconclusive", "reconcile": lines}},
                    "log": [f"{cs.key}: not reconciled within {ctx.reconcile_timeout:.0f}s"]}  # fmt: skip
        return {"steps": {cs.key: {"status": "reconciled", "reconciled_at": time.time(), "reconcile": lines}}}

    return reconcile


def soak_for(ctx: ExecContext, cs: ChangeSet) -> float:
    if ctx.soak_seconds is not None:
        return ctx.soak_seconds
    return 60.0 * next(s.soak_minutes for s in ctx.plan.rollout if s.environment == cs.environment)


def _soak(i: int):
    def soak(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        seconds = soak_for(ctx, cs)
        if ctx.dry_run:
            return {"log": [f"{cs.key}: would soak {seconds:.0f}s, then evaluate the gates"]}
        until = _step(state, cs.key).get("reconciled_at", time.time()) + seconds
        remaining = until - time.time()
        if remaining > 0:
            ctx.say(f"{cs.key}: soaking {remaining:.0f}s")
            time.sleep(remaining)
        return {"steps": {cs.key: {"status": "soaked"}}}

    return soak


def _gates(i: int):
    def gates(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if ctx.dry_run:
            return {}
        if rec.get("result"):
            return {}
        result, judged = _evaluate(ctx, cs, cs.to_version, rec)
        ctx.say(f"{cs.key}: gates {result}")
        for line in _gate_lines(judged):
            if not line.split(": ", 2)[1].startswith("pass"):
                ctx.say(f"  {line}")
        status = "passed" if result == "pass" else "gates-" + result
        return {"steps": {cs.key: {"status": status, "result": result, "gates": judged}},
                "log": [f"{cs.key}: gates {result}"]}  # fmt: skip

    return gates


def _revert(i: int):
    def revert(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if rec.get("revert"):
            return {}
        reason = ("not reconciled in time" if rec.get("status") == "not-reconciled"
                  else f"gates {rec.get('result', 'inconclusive')}")  # fmt: skip
        try:
            wt = ctx.repo
            wt.clean()
            sha = wt.find_step(f"{state['run_id']}/{cs.key}/revert") or wt.revert(
                rec["commit"], _message(ctx, state, cs, reason)
            )
            if ctx.push:
                wt.push(ctx.remote, ctx.branch)
        except GitError as exc:
            return {"steps": {cs.key: {"error": str(exc)}}, "status": "failed",
                    "outcome": f"{cs.key}: {reason}, and the revert failed: {exc}"}  # fmt: skip
        ctx.say(f"{cs.key}: reverted {rec['commit'][:12]} with {sha[:12]} ({reason})")
        return {"steps": {cs.key: {"revert": sha, "revert_reason": reason}},
                "log": [f"{cs.key}: reverted {rec['commit']} with {sha} ({reason})"]}  # fmt: skip

    return revert


def _revert_reconcile(i: int):
    def revert_reconcile(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if "reverted_reconciled" in rec:
            return {}
        ok, lines = _wait(ctx, cs, rec["revert"], reverse=True)
        return {"steps": {cs.key: {"reverted_reconciled": ok, "revert_reconcile": lines}}}

    return revert_reconcile


def _recheck(i: int):
    def recheck(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if rec.get("recheck_result"):
            return {}
        result, judged = _evaluate(ctx, cs, cs.from_version, rec)
        ctx.say(f"{cs.key}: after the rollback the gates {result}")
        return {"steps": {cs.key: {"status": "rolled-back", "recheck_result": result, "recheck_gates": judged}},
                "log": [f"{cs.key}: rolled back; gates after rollback: {result}"]}  # fmt: skip

    return recheck


def finish(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
    """Decide the run's outcome from what happened to its steps."""
    ctx = _ctx(runtime)
    if state.get("status") in ("rejected", "failed"):
        return {}
    steps = state.get("steps") or {}
    rolled = [k for k, v in steps.items() if v.get("status") == "rolled-back"]
    if ctx.dry_run:
        return {"status": "dry-run", "outcome": f"dry run: {len(ctx.sets)} change set(s) would be committed"}
    if rolled:
        rec = steps[rolled[0]]
        return {"status": "rolled-back",
                "outcome": f"{rolled[0]}: {rec.get('revert_reason', '')}; reverted, nothing after it was changed"}
    return {"status": "succeeded", "outcome": f"{len(ctx.sets)} change set(s) committed, reconciled and gated"}


# ---------------------------------------------------------------- graph


def node_names(i: int, cs: ChangeSet) -> dict[str, str]:
    base = f"{cs.environment}-{i + 1}"
    return {a: f"{base}-{a}" for a in ("approve", "baseline", "commit", "reconcile", "soak", "gates", "revert",
                                        "revert-reconcile", "recheck")}  # fmt: skip


def build_execute_graph(plan: Plan, sets: list[ChangeSet], checkpointer: Any = None):
    """Compile the graph for these change sets (built from the plan alone, so a resumed run gets the same
    graph back)."""
    graph = StateGraph(ExecState, context_schema=ExecContext)
    names = [node_names(i, cs) for i, cs in enumerate(sets)]
    needs = [bool(approval_reasons(plan, sets, i)) for i in range(len(sets))]
    firsts = [n["approve"] if need else n["baseline"] for n, need in zip(names, needs, strict=True)]
    for i, n in enumerate(names):
        key = sets[i].key
        following = firsts[i + 1] if i + 1 < len(sets) else "finish"
        if needs[i]:
            graph.add_node(n["approve"], _approve(i))
            graph.add_conditional_edges(
                n["approve"], lambda s, b=n["baseline"]: "finish" if s.get("status") == "rejected" else b,
                [n["baseline"], "finish"],
            )  # fmt: skip
        graph.add_node(n["baseline"], _baseline(i))
        graph.add_node(n["commit"], _commit(i))
        graph.add_node(n["reconcile"], _reconcile(i))
        graph.add_node(n["soak"], _soak(i))
        graph.add_node(n["gates"], _gates(i))
        graph.add_node(n["revert"], _revert(i))
        graph.add_node(n["revert-reconcile"], _revert_reconcile(i))
        graph.add_node(n["recheck"], _recheck(i))
        graph.add_edge(n["baseline"], n["commit"])
        graph.add_conditional_edges(
            n["commit"], lambda s, r=n["reconcile"]: "finish" if s.get("status") == "failed" else r,
            [n["reconcile"], "finish"],
        )  # fmt: skip
        graph.add_conditional_edges(
            n["reconcile"],
            lambda s, k=key, n=n: n["revert"] if _step(s, k).get("status") == "not-reconciled" else n["soak"],
            [n["revert"], n["soak"]],
        )
        graph.add_edge(n["soak"], n["gates"])
        graph.add_conditional_edges(
            n["gates"],
            lambda s, k=key, n=n, f=following: n["revert"] if _step(s, k).get("result") in ("fail", "inconclusive")
            else f,
            [n["revert"], following],
        )  # fmt: skip
        graph.add_conditional_edges(
            n["revert"], lambda s, r=n["revert-reconcile"]: "finish" if s.get("status") == "failed" else r,
            [n["revert-reconcile"], "finish"],
        )  # fmt: skip
        graph.add_edge(n["revert-reconcile"], n["recheck"])
        graph.add_edge(n["recheck"], "finish")
    graph.add_node("finish", finish)
    graph.add_edge(START, firsts[0] if sets else "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
