"""The execution graph: a plan's change sets run through GitOps, one LangGraph node per side effect.

For each (environment, hop) change set, in plan order (dev -> staging -> prod, hop by hop):

    [approve] -> pre-flight -> baseline -> commit -> reconcile -> soak -> gates -> next change set
                     |                                 |                   |
                     +-- incident: blocked, finish     +---- timeout ------+---- fail / inconclusive
                                                               -> revert -> reconcile back -> re-check gates -> finish

The pre-flight reads the health of the change set's clusters (tools/cluster/health.py: firing alerts, NotReady
nodes, crash-looping pods, failing Flux objects, degraded Argo CD applications): a cluster in an incident stops
the run before anything is committed there. The gates after the hop include a health gate per cluster: what is
new since the pre-flight (a critical alert, a NotReady node, a crash loop, an incident-grade warning event...)
fails it, with a separate verdict line for the fleet's pre-release namespaces.

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
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from upgradectl.agents.base import FleetView
from upgradectl.agents.communication import gate_message, rollback_message, start_message
from upgradectl.agents.monitoring_analyst import baseline_cluster, gates_for, validate_cluster
from upgradectl.graph.timeline import borderline_gates, disruptive, open_findings, soak_lesson
from upgradectl.models import Gate, Plan, RolloutStage, Step
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.cluster.health import ClusterHealth, fleet_cluster_health, new_since
from upgradectl.tools.cluster.reconcile import expectations, fresh_source, wait_for
from upgradectl.tools.cluster.sources import SourceError
from upgradectl.tools.cluster.windows import WindowSpec, inside, next_opening
from upgradectl.tools.gitops.changes import (
    ROOT_WIDE_PURPOSES,
    ChangeSet,
    EditError,
    apply_edits,
    describe,
    later_clusters,
    unified_diff,
)
from upgradectl.tools.gitops.gitrepo import TRAILER, GitError, GitRepo
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.metrics.baselines import ClusterBaseline
from upgradectl.tools.metrics.gates import inconclusive
from upgradectl.tools.metrics.promql import PromClient
from upgradectl.tools.usertests import run_check


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
    fleet_ref: str = "demo"  # how the user named the fleet (--fleet): the commands the run prints repeat it
    say: Callable[[str], None] = lambda _: None
    notify: Callable[[str, str], None] | None = None  # (kind, Markdown): start, gate and rollback messages
    overlay: dict[str, str] = field(default_factory=dict)  # dry run: file texts after earlier change sets
    now: Callable[[], datetime] = lambda: datetime.now(UTC)  # the clock maintenance windows are judged on (tests)
    windows: dict[str, list[WindowSpec]] = field(default_factory=dict)  # the fleet file's, per environment


def approval_reasons(plan: Plan, sets: list[ChangeSet], index: int) -> list[str]:
    """Why change set `index` waits for a person: the stage's approval (at its first change set), a Terraform
    module or provider bump that also configures later environments, changes upgradectl cannot make by itself,
    steps a person does before the commit, and open high or critical findings about its clusters (until accepted
    by code)."""
    cs = sets[index]
    reasons: list[str] = []
    first_of_env = index == 0 or sets[index - 1].environment != cs.environment
    stage = next(s for s in plan.rollout if s.environment == cs.environment)
    if first_of_env and stage.approval_required:
        reasons.extend(stage.approval_reasons or [f"{cs.environment} requires approval"])
    env_of = {c: s.environment for s in plan.rollout for c in s.clusters}
    root_wide = {e.file: later_clusters(e, cs.environment, env_of) for e in cs.edits if e.purpose in ROOT_WIDE_PURPOSES}
    for file, later in root_wide.items():
        if later:
            reasons.append(
                f"{file}: the module/provider version bump also configures {', '.join(later)} (one version per "
                "Terraform root, whatever state it is applied with): their next terraform apply takes it too; "
                "approve to bump it for the whole root now"
            )
    if cs.manual:
        reasons.append(
            f"{len(cs.manual)} change(s) upgradectl does not make itself: commit them on branch the run's branch "
            "first, then approve"
        )
    if cs.before:
        reasons.append(f"{len(cs.before)} step(s) by hand before this commit: do them, then `approve --done`")
    findings = open_findings(plan, sets, index)
    if findings:
        codes = sorted({code for code, _, _ in findings})
        where = sorted({cluster for _, cluster, _ in findings})
        reasons.append(f"{len(findings)} open high/critical finding(s) on {', '.join(where)}: accept them "
                       f"with `approve --accept {' --accept '.join(codes)}` or fix them first")  # fmt: skip
    return reasons


def checklist(steps: list[Step]) -> list[dict]:
    """Steps a person does, as the pause shows them: title, what and why, exact commands, inputs to fill."""
    return [{"title": s.title, "detail": s.detail, "commands": s.commands, "inputs": s.inputs} for s in steps]


def pause_for(plan: Plan, sets: list[ChangeSet], index: int, branch: str) -> dict:
    """What the run asks a person before change set `index` (the interrupt's payload)."""
    cs = sets[index]
    findings = open_findings(plan, sets, index)
    return {"step": cs.key, "kind": "approval", "environment": cs.environment,
            "reasons": approval_reasons(plan, sets, index), "manual": [describe(e) for e in cs.manual],
            "checklist": checklist(cs.before), "branch": branch,
            "findings": [{"code": c, "cluster": cl, "title": t} for c, cl, t in findings]}  # fmt: skip


def answer_problem(pause: dict, answer: dict) -> str:
    """Why an answer does not release a pause ('' when it does): a checklist needs --done, every open finding
    its code in --accept; a rejection always answers."""
    if not answer.get("approved", True):
        return ""
    if pause.get("kind") == "window":
        return f"the run waits for a maintenance window ({pause.get('next', '')}): `upgradectl resume` it then"
    if pause.get("checklist") and not answer.get("done"):
        return (f"{len(pause['checklist'])} step(s) by hand come first; do them, then `upgradectl approve RUN_ID "
                "--done`")
    missing = sorted({f["code"] for f in pause.get("findings", [])} - set(answer.get("accept") or []))
    if missing:
        return f"open high/critical finding(s) not accepted: add {' '.join('--accept ' + c for c in missing)}"
    return ""


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
        given = (state.get("approvals") or {}).get(cs.key, {})
        if cs.before and given.get("done"):
            body += ["", f"Done by hand before this commit (confirmed by {given.get('by') or 'someone'}):",
                     *[f"- {step.title}" for step in cs.before]]  # fmt: skip
        trailer = f"{run}/{cs.key}"
        accepted = [f"{ACCEPT_TRAILER}: {code} (by {given.get('by') or 'someone'})" for code in given.get("accept", [])]
        return "\n".join([head, "", *body, "", f"{TRAILER}: {trailer}", *accepted]) + "\n"
    return "\n".join([head, "", *body, "", f"{TRAILER}: {trailer}"]) + "\n"


ACCEPT_TRAILER = "Upgradectl-Accepted"  # one per finding accepted by code before the commit (`approve --accept`)


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


def _read_health(ctx: ExecContext, clusters: list[str]) -> dict[str, ClusterHealth]:
    """The clusters' health now: every fleet cluster opened afresh (Argo CD Applications may live elsewhere)."""
    sources = {}
    for name in ctx.fleet.clusters:
        try:
            sources[name] = fresh_source(ctx.fleet, name)
        except (SourceError, OSError) as exc:
            if name in clusters:
                ctx.say(f"{name}: cannot be read: {exc}")
    return {c: fleet_cluster_health(ctx.fleet, c, sources=sources, alerts_timeout=ctx.metrics_timeout)
            for c in clusters}  # fmt: skip


def _watched(ctx: ExecContext, cs: ChangeSet) -> list[str]:
    """The change set's clusters, and the clusters with pre-release namespaces that their Argo CD deploys to
    (an Argo CD upgrade reaches its applications there), as the fleet's GitOps repo declares them."""
    if not ctx.knowledge.deploys_applications:
        return list(cs.clusters)
    view = FleetView(ctx.fleet)
    extra = set()
    for m in view.manifests_for(set(cs.clusters)):
        if m.kind == "Application" and m.api_version.startswith("argoproj.io/"):
            dest = str(((m.doc.get("spec") or {}).get("destination") or {}).get("name", ""))
            if dest in ctx.fleet.clusters and ctx.fleet.clusters[dest].entry.prerelease_namespaces:
                extra.add(dest)
    return [*cs.clusters, *sorted(extra - set(cs.clusters))]


def _unreadable(health: ClusterHealth) -> bool:
    """The cluster's objects could not be read (alerts that could not be read only leave a note)."""
    return not health.read


def health_gate(cluster: str, before: dict | None, after: ClusterHealth) -> list[Gate]:
    """The health gates of one cluster after a hop: nothing new since the pre-flight (the pre-release
    namespaces judged on their own); inconclusive when the cluster could not be read."""
    common = {"promql": "", "comparison": "==", "threshold": 0.0, "source": "upgradectl health"}
    notes = "; ".join(after.problems)
    if _unreadable(after) or before is None:
        why = notes or "no pre-flight health record for this cluster"
        return [Gate(name="cluster-health", description="Nothing new since the pre-flight", result="inconclusive",
                     message=why, **common)]  # fmt: skip
    new = new_since(ClusterHealth.from_dict(before), after)
    gates = []
    for name, mine, what in (("cluster-health", [s for s in new if not s.prerelease], "the cluster"),
                             ("prerelease-workloads-health", [s for s in new if s.prerelease],
                              "pre-release namespaces")):  # fmt: skip
        if name == "prerelease-workloads-health" and not after.prerelease and not mine:
            continue
        shown = "; ".join(f"{s.ref}: {s.excerpt}" for s in mine[:5])
        shown += f" (+{len(mine) - 5} more)" if len(mine) > 5 else ""
        message = f"new since the pre-flight: {shown}" if mine else f"nothing new in {what} since the pre-flight"
        gates.append(Gate(name=name, description=f"No new problem in {what} since the pre-flight",
                          result="fail" if mine else "pass", value=float(len(mine)),
                          message=message + (f" ({notes})" if notes else ""), **common))  # fmt: skip
    return gates


def verdict(gates: list[dict]) -> str:
    """fail when any gate failed, else inconclusive when any is, else pass (no gate: inconclusive)."""
    results = {g.get("result") for g in gates}
    if not gates or "fail" in results:
        return "fail" if "fail" in results else "inconclusive"
    return "inconclusive" if results - {"pass"} else "pass"


def _evaluate(ctx: ExecContext, cs: ChangeSet, version: str, rec: dict) -> tuple[str, dict[str, list[dict]]]:
    gates = {c: [g.model_dump(mode="json") for g in _judge(ctx, c, version, (rec.get("baseline") or {}).get(c))]
             for c in cs.clusters}  # fmt: skip
    watched = _watched(ctx, cs)
    health = _read_health(ctx, watched)
    for c in watched:
        before = (rec.get("health_before") or {}).get(c)
        judged = health_gate(c, before, health[c])
        if c not in cs.clusters:  # reached through Argo CD: only its pre-release namespaces are this hop's concern
            judged = [g for g in judged if g.name == "prerelease-workloads-health"]
        gates.setdefault(c, []).extend(g.model_dump(mode="json") for g in judged)
    return verdict([g for gs in gates.values() for g in gs]), gates


def _gate_lines(gates: dict[str, list[dict]]) -> list[str]:
    return [f"{c}: {g['result']}: {g['name']}: {g['message']}" for c, gs in gates.items() for g in gs]


def _stage(ctx: ExecContext, cs: ChangeSet) -> RolloutStage:
    return next(s for s in ctx.plan.rollout if s.environment == cs.environment)


def _hop(cs: ChangeSet) -> str:
    return f"{', '.join(cs.clusters)}: {cs.from_version} -> {cs.to_version}"


def _tell(ctx: ExecContext, kind: str, markdown: str) -> None:
    """Send a stage message when the run has somewhere to send it (never in a dry run)."""
    if ctx.notify is not None and not ctx.dry_run:
        ctx.notify(kind, markdown)


def _user_tests(ctx: ExecContext, cs: ChangeSet) -> list[dict]:
    """The stage's declared tests, run from the fleet file's directory, each a gate record; the run's cluster
    names, environment and versions are in UPGRADECTL_* variables for the test to use."""
    env = {"UPGRADECTL_ENVIRONMENT": cs.environment, "UPGRADECTL_CLUSTERS": ",".join(cs.clusters),
           "UPGRADECTL_FROM_VERSION": cs.from_version, "UPGRADECTL_TO_VERSION": cs.to_version}  # fmt: skip
    results = []
    for check in _stage(ctx, cs).tests:
        ctx.say(f"{cs.key}: running test {check.name}")
        results.append(run_check(check, ctx.fleet.root, env))
    return results


# ---------------------------------------------------------------- nodes


def _approve(i: int):
    def approve(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        if cs.key in (state.get("approvals") or {}):
            return {}
        ask = pause_for(ctx.plan, ctx.sets, i, ctx.branch)
        if ctx.dry_run:
            return {"log": [f"{cs.key}: would pause for approval: {'; '.join(ask['reasons'])}"]}
        answer = interrupt(ask)
        answer = answer if isinstance(answer, dict) else {"approved": bool(answer)}
        given = {"approved": bool(answer.get("approved")), "by": str(answer.get("by", "")),
                 "note": str(answer.get("note", "")), "at": ctx.now().isoformat(), "done": bool(answer.get("done")),
                 "accept": sorted({str(c) for c in answer.get("accept") or []})}  # fmt: skip
        verb = "approved" if given["approved"] else "rejected"
        extra = "".join([", steps by hand done" if given["done"] else "",
                         f", accepted {', '.join(given['accept'])}" if given["accept"] else ""])  # fmt: skip
        update: dict[str, Any] = {"approvals": {cs.key: given},
                                  "log": [f"{cs.key}: {verb} by {given['by'] or 'someone'}{extra}"]}  # fmt: skip
        if not given["approved"]:
            update |= {"status": "rejected", "outcome": f"rejected before {cs.key}: nothing after it was changed"}
        return update

    return approve


def _preflight(i: int):
    def preflight(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        if _step(state, cs.key).get("health_before"):
            return {}
        ctx.say(f"{cs.key}: pre-flight health of {', '.join(cs.clusters)}")
        health = _read_health(ctx, _watched(ctx, cs))
        blocked = {c: h for c, h in health.items() if c in cs.clusters and (h.incident or _unreadable(h))}
        record = {c: h.to_dict() for c, h in health.items()}
        lines = [f"{cs.key}: {c}: {'; '.join(h.problems)}" for c, h in health.items() if h.problems]
        if not blocked:
            return {"steps": {cs.key: {"health_before": record}},
                    "log": [f"{cs.key}: pre-flight: no incident on {', '.join(cs.clusters)}", *lines]}  # fmt: skip
        why = "; ".join(f"{c} is in an incident ({h.summary()}): "
                        + "; ".join(f"{s.ref}: {s.excerpt}" for s in h.incident[:3])
                        if h.incident else f"{c} could not be read: {'; '.join(h.problems)}"
                        for c, h in blocked.items())  # fmt: skip
        verb = "would refuse" if ctx.dry_run else "refused"
        check = f"upgradectl health --fleet {shlex.quote(ctx.fleet_ref)} --clusters {','.join(blocked)}"
        ctx.say(f"{cs.key}: {verb} to start: {why}")
        return {"steps": {cs.key: {"status": "blocked", "health_before": record, "error": why}},
                "status": "blocked", "log": [*lines, f"{cs.key}: {verb} to start: {why}"],
                "outcome": f"{cs.key}: {verb} to start: {why}; nothing was committed for it or after it; re-run "
                f"once `{check}` exits 0"}  # fmt: skip

    return preflight


def _window(i: int):
    def window(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        """A disruptive change set starts only inside its environment's maintenance window: outside, the run
        pauses naming the next one (`upgradectl resume` checks the clock again)."""
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        specs = ctx.windows.get(cs.environment, [])
        if _step(state, cs.key).get("window") or not specs:
            return {}
        while True:
            now = ctx.now()
            opening = inside(specs, now)
            if opening is not None:
                return {"steps": {cs.key: {"window": opening.describe()}},
                        "log": [f"{cs.key}: inside the maintenance window {opening.describe()}"]}  # fmt: skip
            upcoming = next_opening(specs, now)
            nxt = upcoming.describe() if upcoming else "none declared within a year"
            if ctx.dry_run:
                return {"log": [f"{cs.key}: would wait for the maintenance window of {cs.environment}: {nxt}"]}
            interrupt({"step": cs.key, "kind": "window", "environment": cs.environment, "next": nxt,
                       "reasons": [f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC is outside every maintenance window "
                                   f"of {cs.environment}; next: {nxt}"], "branch": ctx.branch})  # fmt: skip

    return window


def _handwork(i: int):
    def handwork(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        """Steps a person does once the commit reconciled (recycle the canary node's pod) before the soak."""
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if rec.get("handwork_done") or rec.get("status") == "not-reconciled":
            return {}
        if ctx.dry_run:
            return {"log": [f"{cs.key}: would pause for {len(cs.after)} step(s) by hand after the commit"]}
        answer = interrupt({"step": f"{cs.key}", "kind": "handwork", "environment": cs.environment,
                            "reasons": [f"{len(cs.after)} step(s) by hand now that the commit reconciled: do "
                                        "them, then `approve --done`"],
                            "checklist": checklist(cs.after), "manual": [], "findings": [],
                            "branch": ctx.branch})  # fmt: skip
        answer = answer if isinstance(answer, dict) else {"approved": bool(answer)}
        by = str(answer.get("by", "")) or "someone"
        if not answer.get("approved", True):
            return {"status": "rejected", "outcome": f"rejected at {cs.key} after its commit: revert it by hand "
                    f"(`git revert {rec.get('commit', '')}`) or resume another run",
                    "log": [f"{cs.key}: rejected by {by} after the commit"]}  # fmt: skip
        done = {"handwork_done": ctx.now().isoformat(), "handwork_by": by, "handwork_at": time.time()}
        return {"steps": {cs.key: done},
                "log": [f"{cs.key}: steps by hand done ({by})"]}  # fmt: skip

    return handwork


def _baseline(i: int):
    def baseline(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        if _step(state, cs.key).get("baseline"):
            return {}
        if i == 0 or ctx.sets[i - 1].environment != cs.environment:
            _tell(ctx, "start", start_message(ctx.knowledge.display_name, _stage(ctx, cs), _hop(cs), state["run_id"]))
        ctx.say(f"{cs.key}: recording the baseline on {', '.join(cs.clusters)}")
        records = {c: _record_baseline(ctx, c, cs.from_version, cs.to_version) for c in cs.clusters}
        return {"steps": {cs.key: {"environment": cs.environment, "hop": [cs.from_version, cs.to_version],
                                   "clusters": cs.clusters, "status": "baselined", "baseline": records,
                                   "started_at": time.time()}}}  # fmt: skip

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
            if not cs.edits and not cs.manual:  # a part done by hand only (release the held nodes)
                return {"steps": {cs.key: {"status": "committed", "commit": ""}},
                        "log": [f"{cs.key}: nothing to commit: its steps are done by hand"]}  # fmt: skip
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
        if not rec.get("commit"):
            return {"steps": {cs.key: {"status": "reconciled", "reconciled_at": time.time(), "reconcile": []}}}
        ok, lines = _wait(ctx, cs, rec["commit"], reverse=False)
        if not ok:
            return {"steps": {cs.key: {"status": "not-reconciled", "result": "inconclusive", "reconcile": lines}},
                    "log": [f"{cs.key}: not reconciled within {ctx.reconcile_timeout:.0f}s"]}  # fmt: skip
        return {"steps": {cs.key: {"status": "reconciled", "reconciled_at": time.time(), "reconcile": lines}}}

    return reconcile


def soak_for(ctx: ExecContext, i: int, steps: dict[str, dict]) -> tuple[float, str]:
    """Seconds change set `i` soaks and why when longer than planned: --soak, else its own (a canary part soaks
    shorter), else its stage's; times the factor an earlier environment's borderline gate on the same hop asks
    for (graph/timeline.py `soak_lesson`: it lengthens, never shortens)."""
    cs = ctx.sets[i]
    if ctx.soak_seconds is not None:
        planned = ctx.soak_seconds
    else:
        stage = next(s.soak_minutes for s in ctx.plan.rollout if s.environment == cs.environment)
        planned = 60.0 * (cs.soak_minutes or stage)
    lesson = soak_lesson(ctx.sets, steps, i)
    if lesson is None:
        return planned, ""
    return planned * lesson.factor, f"{planned:g}s planned, {lesson.reason}"


def _soak(i: int):
    def soak(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        seconds, why = soak_for(ctx, i, state.get("steps") or {})
        if ctx.dry_run:
            return {"log": [f"{cs.key}: would soak {seconds:.0f}s, then evaluate the gates"]}
        rec = _step(state, cs.key)
        until = max(rec.get("reconciled_at", time.time()), rec.get("handwork_at", 0.0)) + seconds
        remaining = until - time.time()
        if remaining > 0:
            ctx.say(f"{cs.key}: soaking {remaining:.0f}s" + (f" ({why})" if why else ""))
            time.sleep(remaining)
        log = [f"{cs.key}: soaked {seconds:g}s: {why}"] if why else []
        return {"steps": {cs.key: {"status": "soaked", "soak_seconds": seconds, "soak_reason": why}}, "log": log}

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
        tests = _user_tests(ctx, cs)
        if tests:  # the user's tests gate the hop like the metric gates
            judged[f"tests ({cs.environment})"] = tests
            result = verdict([g for gs in judged.values() for g in gs])
        ctx.say(f"{cs.key}: gates {result}")
        _tell(ctx, "gate", gate_message(ctx.knowledge.display_name, _stage(ctx, cs), _hop(cs), result,
                                        _gate_lines(judged)))  # fmt: skip
        for line in _gate_lines(judged):
            if not line.split(": ", 2)[1].startswith("pass"):
                ctx.say(f"  {line}")
        status = "passed" if result == "pass" else "gates-" + result
        return {"steps": {cs.key: {"status": status, "result": result, "gates": judged,
                                   "observed": observed(rec, time.time(), judged)}},
                "log": [f"{cs.key}: gates {result}"]}  # fmt: skip

    return gates


def observed(rec: dict, judged_at: float, judged: dict[str, list[dict]]) -> dict:
    """What this change set took and showed, for the run's record and later environments' soak and timeline:
    minutes from its start (after approval) to reconciled and any steps by hand done, the soak until the gates
    were judged, and the gates that passed close to their bound."""
    started = rec.get("started_at") or judged_at
    ready = max(rec.get("reconciled_at") or started, rec.get("handwork_at") or 0.0)
    return {"change_minutes": round((ready - started) / 60, 1), "soak_minutes": round((judged_at - ready) / 60, 1),
            "borderline": borderline_gates(judged)}


def _revert(i: int):
    def revert(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
        ctx = _ctx(runtime)
        cs = ctx.sets[i]
        rec = _step(state, cs.key)
        if rec.get("revert"):
            return {}
        reason = ("not reconciled in time" if rec.get("status") == "not-reconciled"
                  else f"gates {rec.get('result', 'inconclusive')}")  # fmt: skip
        failing = [g["name"] for gs in (rec.get("gates") or {}).values() for g in gs if g.get("result") != "pass"]
        if failing and rec.get("status") != "not-reconciled":
            reason += f" ({', '.join(failing[:5])})"
        if not rec.get("commit"):
            return {"steps": {cs.key: {"revert": "", "revert_reason": f"{reason}; nothing was committed: undo its "
                                       "steps by hand with the plan's rollback steps"}}}  # fmt: skip
        try:
            wt = ctx.repo
            wt.clean()
            sha = wt.find_step(f"{state['run_id']}/{cs.key}/revert") or wt.revert(
                rec["commit"], _message(ctx, state, cs, reason)
            )
            if ctx.push:
                wt.push(ctx.remote, ctx.branch)
        except GitError as exc:
            _tell(ctx, "rollback", rollback_message(ctx.knowledge.display_name, _stage(ctx, cs), _hop(cs),
                                                    f"{reason}; the revert failed: {exc}", "", "not checked"))
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
        if not rec.get("revert"):
            return {"steps": {cs.key: {"reverted_reconciled": False, "revert_reconcile": []}}}
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
        _tell(ctx, "rollback", rollback_message(ctx.knowledge.display_name, _stage(ctx, cs), _hop(cs),
                                                rec.get("revert_reason", ""), rec.get("revert", ""), result))
        return {"steps": {cs.key: {"status": "rolled-back", "recheck_result": result, "recheck_gates": judged}},
                "log": [f"{cs.key}: rolled back; gates after rollback: {result}"]}  # fmt: skip

    return recheck


def finish(state: ExecState, runtime: Runtime[ExecContext]) -> dict:
    """Decide the run's outcome from what happened to its steps."""
    ctx = _ctx(runtime)
    if state.get("status") in ("rejected", "failed", "blocked"):
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
    return {a: f"{base}-{a}" for a in ("window", "approve", "preflight", "baseline", "commit", "reconcile", "handwork",
                                        "soak", "gates", "revert", "revert-reconcile", "recheck")}  # fmt: skip


def build_execute_graph(
    plan: Plan, sets: list[ChangeSet], checkpointer: Any = None, knowledge: ToolKnowledge | None = None
):
    """Compile the graph for these change sets (built from the plan and the tool's knowledge alone, so a resumed
    run gets the same graph back): a window check before each change set of a disruptive plan, an approval where
    a person is needed first, a pause for steps by hand after the commit reconciled."""
    graph = StateGraph(ExecState, context_schema=ExecContext)
    names = [node_names(i, cs) for i, cs in enumerate(sets)]
    needs = [bool(approval_reasons(plan, sets, i)) for i in range(len(sets))]
    windowed = knowledge is not None and disruptive(plan, knowledge)
    firsts = [n["window"] if windowed else n["approve"] if need else n["preflight"]
              for n, need in zip(names, needs, strict=True)]  # fmt: skip
    for i, n in enumerate(names):
        key = sets[i].key
        following = firsts[i + 1] if i + 1 < len(sets) else "finish"
        after_window = n["approve"] if needs[i] else n["preflight"]
        if windowed:
            graph.add_node(n["window"], _window(i))
            graph.add_edge(n["window"], after_window)
        if needs[i]:
            graph.add_node(n["approve"], _approve(i))
            graph.add_conditional_edges(
                n["approve"], lambda s, p=n["preflight"]: "finish" if s.get("status") == "rejected" else p,
                [n["preflight"], "finish"],
            )  # fmt: skip
        graph.add_node(n["preflight"], _preflight(i))
        graph.add_conditional_edges(
            n["preflight"], lambda s, b=n["baseline"]: "finish" if s.get("status") == "blocked" else b,
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
        settled = n["soak"]
        if sets[i].after:
            graph.add_node(n["handwork"], _handwork(i))
            graph.add_conditional_edges(
                n["handwork"], lambda s, b=n["soak"]: "finish" if s.get("status") == "rejected" else b,
                [n["soak"], "finish"],
            )  # fmt: skip
            settled = n["handwork"]
        graph.add_conditional_edges(
            n["reconcile"],
            lambda s, k=key, n=n, ok=settled: n["revert"] if _step(s, k).get("status") == "not-reconciled" else ok,
            [n["revert"], settled],
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
