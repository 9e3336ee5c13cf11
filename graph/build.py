"""The six-stage LangGraph workflow: read the request, intake, then per stage a fan-out of the seed's tasks to
the specialist agents (`Send`, parallel), a join, and the decision-tree step that stage owns.

    read_request -> intake -> stage1 => tasks -> stage2 (track) => tasks -> stage3 => tasks (rollback limits)
           -> stage4 (risk, strategy, approval) => tasks -> stage5 => rollout per env -> stage6 => tasks -> assemble
           -> verify (the plan verifier: violations become findings)

A run starts from JSON (`PlanInput`); `read_request` opens the fleet into the run context unless the caller
opened it, and reads the request. The same compiled graph serves `upgradectl plan`, MCP, the evals and
LangGraph Server (upgradectl/graph_server.py), where anticipated errors become the `error` output instead of
raising.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from upgradectl import __version__
from upgradectl.agents.advisories import advisory_summary
from upgradectl.agents.base import TaskInput, TaskResult, make_finding
from upgradectl.agents.benefits import features_gained, features_summary, payback_summary, return_on_effort
from upgradectl.agents.inventory import PlanningError, projected_installation, take_inventory
from upgradectl.agents.registry import INVENTORY_TASK, task, tasks_for_stage
from upgradectl.agents.request import RequestError, known_tools, parse_request
from upgradectl.agents.snapshot_facts import snapshot_facts
from upgradectl.exit_codes import bug_summary
from upgradectl.graph.decision import assess_risk, choose_track, make_decision, strategy_options
from upgradectl.graph.state import PlanInput, PlanOutput, PlanState, RunContext, TaskPayload, fleet_ref
from upgradectl.graph.timeline import build_timeline
from upgradectl.graph.verify import verify
from upgradectl.models import (
    ENVIRONMENT_ORDER,
    SEVERITY_ORDER,
    AgentTaskRecord,
    Evidence,
    FeatureGained,
    Finding,
    LLMInfo,
    Plan,
    ReturnOnEffort,
    Subject,
)
from upgradectl.tools.advisories.osv import default_client as default_osv_client
from upgradectl.tools.analysis.inventory import tool_release
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet, FleetCluster, FleetError, open_fleet
from upgradectl.tools.cluster.prefetch import forget_prefetched, prefetch
from upgradectl.tools.cluster.sources import SnapshotCluster, SourceError
from upgradectl.tools.helm import HelmRelease
from upgradectl.tools.knowledge.freshness import knowledge_info
from upgradectl.tools.knowledge.loader import KnowledgeError, ToolKnowledge, load_tool
from upgradectl.tools.verify.commands import CommandParser
from upgradectl.tools.versions import Version

STAGES = (1, 2, 3, 4, 5, 6)
ANTICIPATED = (RequestError, FleetError, KnowledgeError, PlanningError)  # bad input, not bugs: the `error` output
Node = Callable[[PlanState, RunContext], dict]


def read_request(state: PlanState, ctx: RunContext) -> dict:
    """Open the fleet into the run context (unless the caller did) and read the request: words and flags ->
    UpgradeRequest, the model helping where the rules cannot (LLM mode)."""
    text = state.get("request") or ""
    if not text and not state.get("tool"):
        raise RequestError(f"say what to upgrade: give 'request' (words) or 'tool' (one of {known_tools()})")
    if ctx.fleet is None:
        environments = state.get("environments") or []
        ctx.fleet = open_fleet(
            state.get("fleet") or "demo",
            context=state.get("context") or "",
            repo=state.get("repo") or "",
            kubeconfig=state.get("kubeconfig") or "",
            # a context is one cluster in the first environment named; a repository's clusters whose names say
            # no environment are in the one environment named (several name a scope, not a default)
            environment=environments[0] if environments and (state.get("context") or len(environments) == 1) else "",
            kubernetes=state.get("kubernetes") or "",
            live_opener=ctx.live_opener,
        )
        ctx.fleet_ref = ctx.fleet_ref or fleet_ref(state)
    fleet = ctx.opened_fleet()
    clusters = state.get("clusters") or None
    if clusters is None and state.get("context"):  # the one live cluster is the scope: words cannot narrow it away
        clusters = list(fleet.clusters)
    warnings: list[str] = []
    options = dict(
        tool=state.get("tool") or None,
        to=state.get("to") or None,
        trigger=state.get("trigger") or None,
        clusters=clusters,
        environments=state.get("environments") or None,
        known_clusters=list(fleet.clusters),
        strategy=state.get("strategy") or None,
    )
    if ctx.llm is None:
        upgrade = parse_request(text, **options)
    else:  # the model reads what the rules cannot (the SDK loads only in LLM mode)
        from upgradectl.agents.llm.request_reader import parse_request_with_model

        upgrade = parse_request_with_model(ctx.llm, text, warnings, **options)
    return {"upgrade": upgrade, "warnings": warnings}


def intake(state: PlanState, ctx: RunContext) -> dict:
    """Stage 1, first task: inventory (flux-navigator) -> current versions, target, paths."""
    started = time.perf_counter()
    fleet = ctx.opened_fleet()
    request = state["upgrade"]
    k = load_tool(request.tool)
    prefetch([(c.source, snapshot_facts(k, c)) for c in fleet.clusters.values()
              if isinstance(c.source, SnapshotCluster) and (not request.clusters or c.info.name in request.clusters)
              and (not request.environments or c.info.environment in request.environments)])  # fmt: skip
    try:
        inventory = take_inventory(request, fleet, k, ctx.today, ctx.view, osv=ctx.osv, osv_off=ctx.osv_off)
    except PlanningError:
        forget_prefetched([c.source for c in fleet.clusters.values()])  # no plan: stop reading for one
        raise
    in_scope = {c.info.name for c in inventory.scope}
    forget_prefetched([c.source for n, c in fleet.clusters.items() if n not in in_scope])  # not running the tool
    findings = list(inventory.findings)
    for name, cluster in fleet.clusters.items():
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
    for name, cluster in fleet.clusters.items():
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
        "fleet_clusters": [c.info for c in fleet.clusters.values()],
        "versions": inventory.versions,
        "target": inventory.target,
        "target_reason": inventory.target_reason,
        "paths": inventory.paths,
        "findings": findings,
        "task_log": [record],
        "scope": [c.info.name for c in inventory.scope],
        "advisories": inventory.advisories,
    }


def _release(fleet: Fleet, knowledge: ToolKnowledge, cluster: FleetCluster) -> HelmRelease | None:
    """The tool's Helm release on a cluster: as a plan's earlier moves leave it on a projected fleet, else read."""
    projected = projected_installation(fleet, knowledge.tool, cluster.info.name)
    if projected is not None:
        return projected.release
    return tool_release(knowledge, cluster.source) if cluster.source else None


def _task_input(state: PlanState, ctx: RunContext) -> TaskInput:
    request = state["upgrade"]
    fleet = ctx.opened_fleet()
    scope = [fleet.clusters[n] for n in state.get("scope", [])]
    k = load_tool(request.tool)
    releases = {c.info.name: r for c in scope if (r := _release(fleet, k, c))}
    return TaskInput(
        request=request,
        fleet=fleet,
        view=ctx.view,
        knowledge=k,
        scope=scope,
        releases=releases,
        versions=state["versions"],
        target=state["target"],
        paths=state["paths"],
        findings=list(state.get("findings", [])),
        decision=state.get("decision"),
        hop_gates=dict(state.get("hop_gates", {})),
        fleet_ref=ctx.fleet_ref,
        charts=ctx.charts,
    )


def run_task(state: TaskPayload, ctx: RunContext) -> dict:
    """Run one seed task's playbook; a crash becomes an 'incomplete' finding, never a lost plan."""
    spec = task(state["task_id"])
    started = time.perf_counter()
    error = ""
    task_input = None
    try:
        task_input = _task_input(state, ctx)
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
    llm = ctx.llm
    if llm is not None and task_input is not None and not error:  # Claude on top: adds, never removes
        from upgradectl.agents.llm.loop import augment_task  # the SDK loads only in LLM mode

        extra, llm_record = augment_task(spec, task_input, result.findings, llm)
        update["findings"] = [*result.findings, *extra]
        update["task_log"] = [record, *([llm_record] if llm_record else [])]
    for output in ("cost", "hop_gates", "rollout"):  # the task's typed outputs, for later stages and the plan
        if getattr(result, output):
            update[output] = getattr(result, output)
    return update


def _fan_out(stage: int):
    def dispatch(state: PlanState) -> list[Send]:
        return [Send(f"stage{stage}_tasks", {**state, "task_id": t.id}) for t in tasks_for_stage(stage)]

    dispatch.__name__ = f"dispatch_stage{stage}"
    return dispatch


def stage_entry(stage: int):
    """The node that opens a stage and applies the decision-tree step the previous stages enable."""

    def enter(state: PlanState, ctx: RunContext) -> dict:
        request = state["upgrade"]
        if stage == 2:
            track, reasons = choose_track(request.trigger, state.get("advisories"))
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
            options = strategy_options(k, _clusters_per_env(state, ctx))
            decision = make_decision(state["track"], state["track_reasons"], risk, k.procedure.disruptive, options,
                                     request.strategy, k.display_name)  # fmt: skip
            return {"risk": risk, "decision": decision}
        return {}

    enter.__name__ = f"stage{stage}"
    return enter


def _clusters_per_env(state: PlanState, ctx: RunContext) -> dict[str, int]:
    """How many clusters in scope each environment has (a canary cluster needs several)."""
    fleet = ctx.opened_fleet()
    return dict(Counter(fleet.clusters[name].info.environment for name in state.get("scope", [])))


def _summary(
    state: PlanState, findings: list[Finding], features: list[FeatureGained], roe: ReturnOnEffort | None
) -> str:
    request = state["upgrade"]
    k = load_tool(request.tool)
    decision = state["decision"]
    scope = state.get("scope", [])
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
    incidents = [f for f in findings if f.code == "HEALTH-INCIDENT-IN-PROGRESS"]
    if incidents:
        text += " BLOCKED (incident in progress): " + "; ".join(f.title for f in incidents)
    target_codes = {f"{k.prefix}-SECURITY-TARGET-UNPATCHED", f"{k.prefix}-TARGET-LINE-UNSUPPORTED"}
    unsupported = [f for f in findings if f.code in target_codes]  # said in the summary, not only in the list
    if unsupported:
        text += f" OUT OF SUPPORT: {unsupported[0].title}; {unsupported[0].remediation}"
    advisories = state.get("advisories")
    if advisories is not None:
        text += " " + advisory_summary(advisories)
    brings = features_summary(features, request.trigger)
    if brings:
        text += " " + brings
    if roe is not None:
        text += " " + payback_summary(roe)
    return text


def assemble(state: PlanState, ctx: RunContext) -> dict:
    """Validate everything into one Plan: findings sorted by severity, rollout in env order."""
    findings = sorted(
        state.get("findings", []), key=lambda f: (SEVERITY_ORDER.index(f.severity), f.code, f.subject.describe())
    )
    rollout = sorted(state.get("rollout", []), key=lambda s: ENVIRONMENT_ORDER.index(s.environment))
    log = sorted(state.get("task_log", []), key=lambda r: (r.stage, r.agent, r.task))
    # a model failure degrades the plan (plan.llm), it does not make the playbooks' checks incomplete
    incomplete = any(f.category == "incomplete" for f in findings) or any(r.error for r in log if r.mode == "playbook")
    request = state["upgrade"]
    k = load_tool(request.tool)
    running = sorted({v.current_version for v in state["versions"] if v.current_version and v.cluster in
                      state.get("scope", [])}, key=Version.parse)  # fmt: skip
    features = features_gained(k, request, running, state["target"])
    roe = (return_on_effort(state.get("cost", []), rollout, state["paths"], state.get("scope", []))
           if state["decision"].track == "cost-roi" else None)  # fmt: skip
    plan = Plan(
        generated_at=datetime.now(UTC),
        upgradectl_version=__version__,
        request=state["upgrade"],
        fleet=ctx.fleet_ref,
        clusters=state["fleet_clusters"],
        versions=state["versions"],
        target_version=state["target"],
        target_reason=state["target_reason"],
        paths=state["paths"],
        findings=findings,
        decision=state["decision"],
        rollout=rollout,
        task_log=log,
        summary=_summary(state, findings, features, roe),
        incomplete=incomplete,
        cost=state.get("cost", []),
        knowledge=knowledge_info(load_tool(state["upgrade"].tool), ctx.today),
        advisories=state.get("advisories"),
        features=features,
        return_on_effort=roe,
        llm=LLMInfo(mode="on", model=ctx.llm.model) if ctx.llm is not None else LLMInfo(mode="off", model=""),
    )
    if ctx.llm is not None:  # the model's narrative and the run's token accounting
        from upgradectl.agents.llm.narrative import finish_plan  # the SDK loads only in LLM mode

        plan = finish_plan(plan, ctx.llm)
    windows = dict(ctx.opened_fleet().spec.maintenance_windows)
    timeline = build_timeline(plan, load_tool(plan.request.tool), windows, plan.generated_at)
    return {"plan": plan.model_copy(update={"timeline": timeline}), "error": ""}


class _ServedRun:
    """Where a served graph keeps its run's context: LangGraph Server passes none (only JSON), so the first
    node starts a fresh one per run (with the chart store and command parser the graph was built with) and the
    later nodes of that run find it here."""

    def __init__(self, charts: ChartStore | None, command_parser: CommandParser | None) -> None:
        self.charts, self.command_parser = charts, command_parser
        self.context: RunContext | None = None

    def start(self) -> RunContext:
        if self.context is not None and self.context.osv is not None:
            self.context.osv.close()  # the previous run's OSV client
        try:
            osv, why_not = default_osv_client(), ""
        except ValueError as exc:  # UPGRADECTL_OSV_URL is not a URL: the plans say why advisories were not checked
            osv, why_not = None, str(exc)
        self.context = RunContext(charts=self.charts, command_parser=self.command_parser, osv=osv, osv_off=why_not)
        return self.context


def _bind(node: Node, served: _ServedRun | None, errors_as_output: bool):
    """A LangGraph node calling `node(state, context)`: the context the caller passed, or (served graph) the
    run's own; with errors_as_output an anticipated error (bad input) ends the run with `error` instead of
    raising."""

    def run(state: PlanState, runtime: Runtime[RunContext]) -> dict:
        ctx = runtime.context
        if served is not None:
            # a new run starts at read_request: nothing of an earlier run's fleet carries over
            ctx = served.start() if node is read_request else served.context
        if ctx is None:
            raise RuntimeError("no run context: pass context=RunContext(...) to the graph")
        if not errors_as_output:
            return node(state, ctx)
        try:
            return node(state, ctx)
        except ANTICIPATED as exc:
            return {"plan": None, "error": str(exc)}

    run.__name__, run.__doc__ = node.__name__, node.__doc__  # (not functools.wraps: LangGraph reads the signature)
    return run


def _continue_unless_failed(next_node: str):
    def route(state: PlanState) -> str:
        return END if state.get("error") else next_node

    route.__name__ = f"to_{next_node}"
    return route


def build_graph(
    *, served: bool = False, charts: ChartStore | None = None, command_parser: CommandParser | None = None
):
    """Compile the plan graph. No clients are created here: the fleet and the model session live in the run
    context the caller passes. `served` (LangGraph Server, which can only pass JSON): the first node builds each
    run's context from the input (with `charts` and `command_parser`), and bad input ends the run with the
    `error` output."""
    # a served run builds its own context, so the server is not offered a schema it could never fill from JSON
    context_schema = None if served else RunContext
    graph = StateGraph(PlanState, context_schema=context_schema, input_schema=PlanInput, output_schema=PlanOutput)
    run = _ServedRun(charts, command_parser) if served else None

    def add(name: str, node: Node, **options) -> None:
        graph.add_node(name, _bind(node, run, errors_as_output=served), **options)

    add("read_request", read_request)
    add("intake", intake)
    graph.add_edge(START, "read_request")
    graph.add_conditional_edges("read_request", _continue_unless_failed("intake"), ["intake", END])
    graph.add_conditional_edges("intake", _continue_unless_failed("stage1"), ["stage1", END])
    previous = "intake"
    for stage in STAGES:
        add(f"stage{stage}", stage_entry(stage))
        add(f"stage{stage}_tasks", run_task, input_schema=TaskPayload)
        if stage > 1:
            graph.add_edge(previous, f"stage{stage}")
        graph.add_conditional_edges(f"stage{stage}", _fan_out(stage), [f"stage{stage}_tasks"])
        previous = f"stage{stage}_tasks"
    add("assemble", assemble)
    add("verify", verify)
    graph.add_edge(previous, "assemble")
    graph.add_edge("assemble", "verify")
    graph.add_edge("verify", END)
    return graph.compile(name="upgrade_plan")
