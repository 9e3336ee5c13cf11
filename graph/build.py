"""The six-stage LangGraph workflow: intake, then per stage a fan-out of the seed's tasks to the
specialist agents (`Send`, parallel), a join, and the decision-tree step that stage owns.

    intake -> stage1 => tasks -> stage2 (track) => tasks -> stage3 => tasks (rollback limits)
           -> stage4 (risk, strategy, approval) => tasks -> stage5 => rollout per env -> stage6 => tasks -> assemble
           -> verify (the plan verifier: violations become findings)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from upgradectl import __version__
from upgradectl.agents.base import TaskInput, TaskResult, make_finding
from upgradectl.agents.inventory import take_inventory
from upgradectl.agents.registry import INVENTORY_TASK, task, tasks_for_stage
from upgradectl.exit_codes import bug_summary
from upgradectl.graph.decision import assess_risk, choose_track, make_decision
from upgradectl.graph.state import PlanState, RunContext, TaskPayload
from upgradectl.graph.verify import verify
from upgradectl.models import (
    ENVIRONMENT_ORDER,
    SEVERITY_ORDER,
    AgentTaskRecord,
    Evidence,
    Finding,
    LLMInfo,
    Plan,
    Subject,
)
from upgradectl.tools.analysis.inventory import tool_release
from upgradectl.tools.cluster.sources import SourceError
from upgradectl.tools.knowledge.freshness import knowledge_info
from upgradectl.tools.knowledge.loader import load_tool

STAGES = (1, 2, 3, 4, 5, 6)


def intake(state: PlanState, runtime: Runtime[RunContext]) -> dict:
    """Stage 1, first task: inventory (flux-navigator) -> current versions, target, paths."""
    started = time.perf_counter()
    ctx = runtime.context
    request = state["request"]
    k = load_tool(request.tool)
    inventory = take_inventory(request, ctx.fleet, k, ctx.today, ctx.view)
    findings = list(inventory.findings)
    for name, cluster in ctx.fleet.clusters.items():
        if cluster.source is None or (request.clusters and name not in request.clusters):
            continue
        try:
            unreadable = cluster.source.unreadable_helm_releases()
        except SourceError as exc:  # its secrets list does not read: the cluster as a whole could not be checked
            cluster.mark_unreadable(str(exc))
            continue
        for release in unreadable:
            findings.append(
                make_finding(
                    code="HELM-RELEASE-UNREADABLE",
                    severity="medium",
                    category="incomplete",
                    title=f"Helm release {release.release or release.secret_name} on {name} could not be decoded: "
                    "its chart, values and manifest were not checked",
                    agent="flux-navigator",
                    subject=Subject(cluster=name, namespace=release.namespace, name=release.secret_name),
                    evidence=[Evidence(source="helm", ref=f"{name}: {release.ref}", excerpt=release.reason)],
                    remediation="Check the release secret (`helm history` for that release); re-record the snapshot "
                    "or fix the release, then plan again.",
                )
            )
    for name, cluster in ctx.fleet.clusters.items():
        if cluster.unreachable and (not request.clusters or name in request.clusters):
            findings.append(
                make_finding(
                    code="FLEET-CLUSTER-UNREACHABLE",
                    severity="high",
                    category="incomplete",
                    title=f"{name} could not be read: nothing was checked there",
                    agent="flux-navigator",
                    subject=Subject(cluster=name),
                    evidence=[Evidence(source="cluster", ref=f"{name}: {cluster.info.source}", excerpt=cluster.error)],
                    remediation="Fix access to the cluster (context, credentials, network) and plan again.",
                )
            )
    for what, path, problem in ctx.fleet.unusable_paths():
        findings.append(
            make_finding(
                code="FLEET-PATH-UNUSABLE",
                severity="high",
                category="incomplete",
                title=f"The fleet's {what} {path} {problem}: nothing there was checked",
                agent="flux-navigator",
                subject=Subject(file=str(path)),
                evidence=[Evidence(source="gitops" if what == "GitOps repo" else "terraform", ref=str(path),
                                   excerpt=f"{path} {problem}")],
                remediation=f"Fix the {what}'s path in the fleet file (relative to the fleet file) and plan again; "
                "`upgradectl doctor --fleet FLEET` checks every path.",
            )
        )
    record = AgentTaskRecord(
        stage=1,
        task=INVENTORY_TASK[3],
        agent="flux-navigator",
        checked=inventory.checked,
        finding_codes=sorted({f.code for f in findings}),
        duration_ms=int((time.perf_counter() - started) * 1000),
    )
    return {
        "clusters": [c.info for c in ctx.fleet.clusters.values()],
        "versions": inventory.versions,
        "target": inventory.target,
        "target_reason": inventory.target_reason,
        "paths": inventory.paths,
        "findings": findings,
        "task_log": [record],
        "outputs": {"scope": [c.info.name for c in inventory.scope]},
    }


def _task_input(state: PlanState, ctx: RunContext) -> TaskInput:
    request = state["request"]
    scope_names = state.get("outputs", {}).get("scope", [])
    scope = [ctx.fleet.clusters[n] for n in scope_names]
    k = load_tool(request.tool)
    releases = {c.info.name: r for c in scope if c.source and (r := tool_release(k, c.source))}
    return TaskInput(
        request=request,
        fleet=ctx.fleet,
        view=ctx.view,
        knowledge=k,
        scope=scope,
        releases=releases,
        versions=state["versions"],
        target=state["target"],
        paths=state["paths"],
        findings=list(state.get("findings", [])),
        decision=state.get("decision"),
        outputs=dict(state.get("outputs", {})),
        fleet_ref=ctx.fleet_ref,
        charts=ctx.charts,
    )


def run_task(state: TaskPayload, runtime: Runtime[RunContext]) -> dict:
    """Run one seed task's playbook; a crash becomes an 'incomplete' finding, never a lost plan."""
    spec = task(state["task_id"])
    started = time.perf_counter()
    error = ""
    task_input = None
    try:
        task_input = _task_input(state, runtime.context)
        result = spec.playbook(task_input)
    except Exception as exc:  # a playbook bug must not sink the other agents' work
        # a source that could not be read says which file and why; a bug is named by its place, never by a
        # message that may quote the data it was reading
        error = f"{type(exc).__name__}: {exc}" if isinstance(exc, SourceError) else bug_summary(exc)
        result = TaskResult(
            [
                make_finding(
                    code="TASK-FAILED",
                    severity="high",
                    category="incomplete",
                    title=f"{spec.agent} could not finish '{spec.title}': its checks are missing from this plan",
                    agent=spec.agent,
                    subject=Subject(name=spec.id),
                    evidence=[Evidence(source="knowledge", ref=f"task {spec.id}", excerpt=error)],
                    remediation="Report this error; re-run after fixing the input it names.",
                )
            ],
            [],
        )
    record = AgentTaskRecord(
        stage=spec.stage,
        task=spec.title,
        agent=spec.agent,
        checked=result.checked,
        finding_codes=sorted({f.code for f in result.findings}),
        duration_ms=int((time.perf_counter() - started) * 1000),
        error=error,
    )
    update: dict = {"findings": result.findings, "task_log": [record]}
    llm = runtime.context.llm
    if llm is not None and task_input is not None and not error:  # Claude on top: adds, never removes
        from upgradectl.agents.llm.loop import augment_task

        extra, llm_record = augment_task(spec, task_input, result.findings, llm)
        update["findings"] = [*result.findings, *extra]
        update["task_log"] = [record, *([llm_record] if llm_record else [])]
    if result.outputs:
        update["outputs"] = result.outputs
    return update


def _fan_out(stage: int):
    def dispatch(state: PlanState) -> list[Send]:
        return [Send(f"stage{stage}_tasks", {**state, "task_id": t.id}) for t in tasks_for_stage(stage)]

    dispatch.__name__ = f"dispatch_stage{stage}"
    return dispatch


def stage_entry(stage: int):
    """The node that opens a stage and applies the decision-tree step the previous stages enable."""

    def enter(state: PlanState, runtime: Runtime[RunContext]) -> dict:
        request = state["request"]
        if stage == 2:
            track, reasons = choose_track(request.trigger)
            return {"track": track, "track_reasons": [*reasons, *request.trigger_reasons]}
        if stage == 4:  # risk needs stage 3's rollback findings; strategy and approval follow from it
            k = load_tool(request.tool)
            one_way = sorted(
                {
                    f"{h.from_version} -> {h.to_version}"
                    for p in state["paths"]
                    for h in p.hops
                    for lim in k.rollback_limits_crossed(h.from_version, h.to_version)
                    if lim.irreversible
                }
            )
            hop_count = max((len(p.hops) for p in state["paths"]), default=0)
            risk = assess_risk(state.get("findings", []), one_way, hop_count)
            decision = make_decision(state["track"], state["track_reasons"], risk, k.procedure.disruptive)
            return {"risk": risk, "decision": decision}
        return {}

    enter.__name__ = f"stage{stage}"
    return enter


def _summary(state: PlanState, findings: list[Finding]) -> str:
    request = state["request"]
    k = load_tool(request.tool)
    decision = state["decision"]
    scope = state.get("outputs", {}).get("scope", [])
    froms = sorted({p.from_version for p in state["paths"]})
    longest = max(state["paths"], key=lambda p: len(p.hops))
    route = " -> ".join([longest.from_version, *[h.to_version for h in longest.hops]])
    counts = ", ".join(
        f"{sum(f.severity == s for f in findings)} {s}"
        for s in SEVERITY_ORDER
        if any(f.severity == s for f in findings)
    )
    blocked = [b for p in state["paths"] for b in p.blockers]
    text = (
        f"Upgrade {k.display_name} on {', '.join(scope)} from {'/'.join(froms)} to {state['target']} "
        f"({route}, {len(longest.hops)} hop(s)). Findings: {counts or 'none'}. "
        f"Track {decision.track}; risk {decision.risk.level}; strategy {decision.strategy.kind}; "
        f"{'senior approval required' if decision.approval_required else 'approval before production'}."
    )
    if blocked:
        text += " NOT FEASIBLE as requested: " + "; ".join(blocked)
    target_codes = {f"{k.prefix}-SECURITY-TARGET-UNPATCHED", f"{k.prefix}-TARGET-LINE-UNSUPPORTED"}
    unsupported = [f for f in findings if f.code in target_codes]  # said in the summary, not only in the list
    if unsupported:
        text += f" OUT OF SUPPORT: {unsupported[0].title}; {unsupported[0].remediation}"
    return text



def assemble(state: PlanState, runtime: Runtime[RunContext]) -> dict:
    """Validate everything into one Plan: findings sorted by severity, rollout in env order."""
    ctx = runtime.context
    findings = sorted(
        state.get("findings", []), key=lambda f: (SEVERITY_ORDER.index(f.severity), f.code, f.subject.describe())
    )
    rollout = sorted(state.get("outputs", {}).get("rollout", []), key=lambda s: ENVIRONMENT_ORDER.index(s.environment))
    log = sorted(state.get("task_log", []), key=lambda r: (r.stage, r.agent, r.task))
    # a model failure degrades the plan (plan.llm), it does not make the playbooks' checks incomplete
    incomplete = any(f.category == "incomplete" for f in findings) or any(r.error for r in log if r.mode == "playbook")
    plan = Plan(
        generated_at=datetime.now(UTC),
        upgradectl_version=__version__,
        request=state["request"],
        fleet=ctx.fleet_ref,
        clusters=state["clusters"],
        versions=state["versions"],
        target_version=state["target"],
        target_reason=state["target_reason"],
        paths=state["paths"],
        findings=findings,
        decision=state["decision"],
        rollout=rollout,
        task_log=log,
        summary=_summary(state, findings),
        incomplete=incomplete,
        cost=state.get("outputs", {}).get("cost", []),
        knowledge=knowledge_info(load_tool(state["request"].tool), ctx.today),
        llm=LLMInfo(mode="on" if ctx.llm_mode == "on" else "off", model=ctx.model if ctx.llm_mode == "on" else ""),
    )
    if ctx.llm is not None:  # the model's narrative and the run's token accounting
        from upgradectl.agents.llm.narrative import finish_plan

        plan = finish_plan(plan, ctx.llm)
    return {"plan": plan}


def build_graph():
    """Compile the plan graph. No clients are created here: they come from the run context."""
    graph = StateGraph(PlanState, context_schema=RunContext)
    graph.add_node("intake", intake)
    previous = "intake"
    for stage in STAGES:
        graph.add_node(f"stage{stage}", stage_entry(stage))
        graph.add_node(f"stage{stage}_tasks", run_task, input_schema=TaskPayload)
        graph.add_edge(previous, f"stage{stage}")
        graph.add_conditional_edges(f"stage{stage}", _fan_out(stage), [f"stage{stage}_tasks"])
        previous = f"stage{stage}_tasks"
    graph.add_node("assemble", assemble)
    graph.add_node("verify", verify)
    graph.add_edge(previous, "assemble")
    graph.add_edge(START, "intake")
    graph.add_edge("assemble", "verify")
    graph.add_edge("verify", END)
    return graph.compile()
