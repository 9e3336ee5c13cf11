"""The plan, plan_findings and explain_finding tools: the plan use case `upgradectl plan` runs (app/plan.py),
with results cut down for a model and plans kept for the session so they can be looked into again without
re-running."""

from __future__ import annotations

import difflib
import itertools
from collections import Counter, OrderedDict
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, ValidationError

from upgradectl.app.plan import PlanOutcome, PlanRequest
from upgradectl.app.plan import plan as plan_upgrade
from upgradectl.app.report import write_plan
from upgradectl.mcp_server.guard import tool_call
from upgradectl.mcp_server.results import (
    MAX_LIMIT,
    AdvisoriesBrief,
    AdvisoryBrief,
    ClusterVersionBrief,
    DecisionBrief,
    ExplainResult,
    FindingBrief,
    FindingInstance,
    FindingsPage,
    PathBrief,
    PlanResult,
    RolloutBrief,
    clip,
    severity_counts,
)
from upgradectl.mcp_server.roots import confine, confine_fleet
from upgradectl.models import SEVERITY_ORDER, AdvisoryReport, Environment, Finding, Plan, Severity, Trigger
from upgradectl.tools.knowledge.loader import products
from upgradectl.tools.textfiles import schema_problems
from upgradectl.tools.verify.commands import CommandParser

KEPT_PLANS = 8  # plans remembered per server process, most recent first out last
MAX_CLUSTERS_SHOWN = 50

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"Most items to list (1-{MAX_LIMIT}).")]
Offset = Annotated[int, Field(ge=0, description="Skip this many matching findings (paging).")]
SeverityFilter = Annotated[
    Severity | None,
    Field(description="List only findings at or above this severity (critical > high > medium > low > info)."),
]
ClusterFilter = Annotated[str | None, Field(description="List only findings about this cluster, e.g. 'ravan'.")]
CodeFilter = Annotated[
    str | None, Field(description="List only findings whose code is or starts with this, e.g. 'KARP-STORED'.")
]
PlanId = Annotated[str | None, Field(description="plan_id returned by an earlier plan call in this session.")]
PlanFile = Annotated[
    str | None, Field(description="A plan.json written by `upgradectl plan --out DIR` or by plan(out_dir=...).")
]


class PlanStore:
    """The last few plans of this session, by id (a server restart forgets them; plan files do not)."""

    def __init__(self, capacity: int = KEPT_PLANS):
        self.capacity = capacity
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._ids = itertools.count(1)

    def add(self, plan: Plan) -> str:
        plan_id = f"plan-{next(self._ids)}"
        self._plans[plan_id] = plan
        while len(self._plans) > self.capacity:
            self._plans.popitem(last=False)
        return plan_id

    def get(self, plan_id: str | None, plan_file: str | None) -> tuple[str, Plan]:
        """The plan named by id or file; a ToolError says which ids exist when neither is found."""
        if plan_file:
            path = confine(plan_file, "plan_file")
            if path.is_dir():
                path = path / "plan.json"
            try:
                return str(path), Plan.model_validate_json(path.read_bytes())
            except OSError as exc:
                raise ToolError(f"plan_file {plan_file}: cannot read it ({exc.strerror or exc})") from exc
            except ValidationError as exc:
                problems = schema_problems(exc)
                raise ToolError(f"plan_file {plan_file} is not an upgradectl plan.json: {problems}") from None
        if plan_id and plan_id in self._plans:
            return plan_id, self._plans[plan_id]
        known = ", ".join(self._plans) or "none yet"
        raise ToolError(
            f"unknown plan_id {plan_id!r} (plans kept in this session: {known}); run plan first, or pass plan_file "
            "with a plan.json path"
        )


def findings_page(
    findings: list[Finding],
    *,
    severity: str | None = None,
    cluster: str | None = None,
    code: str | None = None,
    offset: int = 0,
    limit: int = 20,
    plan_id: str = "",
) -> FindingsPage:
    """Filter, count and page a plan's findings (already sorted by severity), saying how to narrow a long list."""
    matching = [
        f
        for f in findings
        if (severity is None or SEVERITY_ORDER.index(f.severity) <= SEVERITY_ORDER.index(severity))  # type: ignore[arg-type]
        and (cluster is None or f.subject.cluster == cluster)
        and (code is None or f.code == code.upper() or f.code.startswith(code.upper()))
    ]
    shown = matching[offset : offset + limit]
    filters = {k: v for k, v in {"severity": severity, "cluster": cluster, "code": code}.items() if v}
    truncated = offset + len(shown) < len(matching)
    note = ""
    if truncated:
        narrow = [] if severity else ["severity='high'"]
        narrow += [] if code else ["code='<CODE>' (see by_code)"]
        if not cluster:
            top = Counter(f.subject.cluster for f in matching if f.subject.cluster).most_common(3)
            narrow += [f"cluster='{c}' ({n})" for c, n in top]
        note = (
            f"{len(matching)} findings match; showing {offset + 1}-{offset + len(shown)}. "
            + (f"Narrow with {', '.join(narrow)}, or page" if narrow else "Page")
            + f" with offset={offset + len(shown)}. plan_findings(plan_id='{plan_id}', ...) re-reads this plan "
            "without re-running it; plan(out_dir=...) writes the whole plan to plan.json."
        )
    elif not matching and filters:
        note = f"no finding matches {filters}; by_code and by_severity count the whole plan"
    return FindingsPage(
        total_in_plan=len(findings),
        by_severity=severity_counts(findings),
        by_code=dict(Counter(f.code for f in findings).most_common()),
        filters=filters,
        matching=len(matching),
        offset=offset,
        shown=[FindingBrief.of(f) for f in shown],
        truncated=truncated,
        note=note,
    )


def _advisories(report: AdvisoryReport | None) -> AdvisoriesBrief | None:
    """The plan's OSV report, bounded for a model's context (the 20 most serious advisories)."""
    if report is None:
        return None
    rank = {"critical": 0, "high": 1, "unknown": 2, "medium": 3, "low": 4}
    shown = sorted(report.advisories, key=lambda a: rank.get(a.severity, 5))[:20]
    return AdvisoriesBrief(
        status=report.status, source=report.source, fetched_at=report.fetched_at, reason=clip(report.reason, 300),
        target=report.target, minimal_target=report.minimal_target, patch_suffices=report.patch_suffices,
        patch_note=clip(report.patch_note, 300), fixed_by_target=report.fixed_by_target, at_target=report.at_target,
        advisories=[AdvisoryBrief(id=a.id, severity=a.severity, aliases=a.aliases[:5], summary=clip(a.summary, 200),
                                  fixed=a.fixed, affects=a.affects, link=a.links[0] if a.links else "")
                    for a in shown],
    )  # fmt: skip


def summarise(
    outcome: PlanOutcome, fail_on: Severity, plan_id: str, page: FindingsPage, files: list[str]
) -> PlanResult:
    """The plan as a model should first see it: decision, path, rollout, counts and one page of findings."""
    plan = outcome.plan
    versions = [
        ClusterVersionBrief(
            cluster=v.cluster,
            environment=v.environment,
            kubernetes_version=v.kubernetes_version,
            current_version=v.current_version,
            target_version=v.target_version,
            target_supported=v.target_supported,
        )
        for v in plan.versions
    ]
    d = plan.decision
    return PlanResult(
        plan_id=plan_id,
        summary=plan.summary,
        knowledge=plan.knowledge,
        tool=plan.request.tool,
        target_version=plan.target_version,
        target_reason=plan.target_reason,
        fleet=plan.fleet,
        incomplete=plan.incomplete,
        fail_on=fail_on,
        blockers=len(plan.findings_at_or_above(fail_on)),
        exit_code=outcome.exit_code,
        versions=versions[:MAX_CLUSTERS_SHOWN],
        versions_note=(
            f"{len(versions)} clusters, first {MAX_CLUSTERS_SHOWN} shown; plan.json has them all"
            if len(versions) > MAX_CLUSTERS_SHOWN
            else ""
        ),
        paths=[
            PathBrief(
                clusters=p.clusters,
                from_version=p.from_version,
                to_version=p.to_version,
                hops=[f"{h.from_version} -> {h.to_version} ({h.kind}): {clip(h.reason, 200)}" for h in p.hops],
                feasible=p.feasible,
                blockers=p.blockers,
            )
            for p in plan.paths
        ],
        decision=DecisionBrief(
            track=d.track,
            track_reasons=d.track_reasons,
            risk=d.risk.level,
            risk_reasons=d.risk.reasons,
            strategy=d.strategy.kind,
            strategy_reasons=d.strategy.reasons,
            approval_required=d.approval_required,
            approval_reasons=d.approval_reasons,
            testing=d.testing,
        ),
        rollout=[
            RolloutBrief(
                environment=s.environment,
                clusters=s.clusters,
                hops=s.hops,
                steps=[clip(step.title, 160) for step in s.steps][:30],
                gates=[g.name for g in s.gates][:30],
                rollback_steps=len(s.rollback_steps),
                approval_required=s.approval_required,
                soak_minutes=s.soak_minutes,
            )
            for s in plan.rollout
        ],
        findings=page,
        advisories=_advisories(plan.advisories),
        files=files,
        next_steps=[
            f"explain_finding(code='<CODE>', plan_id='{plan_id}') for the knowledge-base entry and every instance",
            f"plan_findings(plan_id='{plan_id}', severity='high', cluster='<name>') for another page of findings",
            "plan(..., out_dir='<dir>') writes plan.md (the full rollout with exact commands) and plan.json",
        ],
    )


def _osv_url(url: str | None) -> str | None:
    """The OSV API URL as given, when it is http(s); a ToolError naming the fix otherwise."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise ToolError(f"osv_url {url!r} must start with http:// or https:// (an OSV API, e.g. https://api.osv.dev)")
    return url


class PlanTools:
    """plan, plan_findings and explain_finding, sharing this session's PlanStore."""

    def __init__(self, command_parser: CommandParser | None = None) -> None:
        self.store = PlanStore()
        self.command_parser = command_parser  # the CLI's, handed over by `upgradectl mcp`: plans are verified with it

    def plan(
        self,
        request: Annotated[
            str,
            Field(
                description="The upgrade in words, e.g. 'Karpenter needs upgrade for better bin packing and cost "
                "optimization'. Tool, target version (or 'LTS'), trigger, cluster names and explicit environment "
                "scope ('on staging', 'prod only') are read from it."
            ),
        ] = "",
        tool: Annotated[
            str | None,
            Field(
                description="A product of upgradectl's knowledge base, by name or alias (karpenter, victoriametrics, "
                "flux, argocd, cilium; vm, argo cd, fluxcd); "
                "overrides the text."
            ),
        ] = None,
        to: Annotated[
            str | None,
            Field(
                description="Target version (1.0.10, v0.37, 0.37.x), or 'lts' for the newest long-term-support "
                "line. Default: the newest version every target cluster's Kubernetes supports."
            ),
        ] = None,
        fleet: Annotated[
            str, Field(description="'demo' (the bundled demo fleet), or a fleet.yaml path (or a directory with one).")
        ] = "demo",
        repo: Annotated[
            str | None,
            Field(
                description="Plan from this GitOps repository checkout alone instead of a fleet (no cluster access): "
                "clusters from its layout, versions and Helm values as Git declares them with file:line."
            ),
        ] = None,
        kubernetes: Annotated[
            str | None,
            Field(description="Kubernetes version (X.Y) of clusters planned from Git alone; unknown otherwise."),
        ] = None,
        clusters: Annotated[
            list[str] | None, Field(description="Limit the plan to these clusters of the fleet.")
        ] = None,
        environments: Annotated[
            list[Environment] | None, Field(description="Limit the plan to these environments.")
        ] = None,
        trigger: Annotated[
            Trigger | None, Field(description="Override the trigger read from the text (it picks the track).")
        ] = None,
        fail_on: Annotated[
            Severity, Field(description="Severity that counts as a blocker for exit_code (like --fail-on).")
        ] = "critical",
        severity: SeverityFilter = None,
        cluster: ClusterFilter = None,
        code: CodeFilter = None,
        limit: Limit = 20,
        out_dir: Annotated[
            str | None,
            Field(description="Also write the full plan.md and plan.json into this directory (to Read or share)."),
        ] = None,
        osv_url: Annotated[
            str | None,
            Field(
                description="OSV API to ask for the running and target versions' advisories (http:// or https:// "
                "only; default $UPGRADECTL_OSV_URL, else https://api.osv.dev). Answers are cached; when OSV cannot "
                "be reached the dated cache stands in, else the plan says 'not checked'."
            ),
        ] = None,
        check_advisories: Annotated[
            bool, Field(description="False skips the OSV lookup (like --no-osv): advisories are 'not checked'.")
        ] = True,
    ) -> PlanResult:
        """Plan a safe, staged upgrade of one tool across a Kubernetes fleet, offline and read-only.

        Use this first for any upgrade question about a product it knows (Karpenter, VictoriaMetrics, Flux,
        Argo CD, Cilium and any product added to its knowledge base): it reads
        each cluster (recorded snapshot or kube context), the GitOps repo and Terraform, and runs the
        six-stage workflow with five specialist agents (deterministic playbooks, no LLM inside). It returns
        the current and target version per cluster, the upgrade path hop by hop, the decision (track, risk,
        strategy, approval), one rollout stage per environment (dev -> staging -> prod) with its gates, the
        finding counts by severity and code, and one page of findings (filter with severity, cluster, code).
        `advisories` lists the OSV vulnerabilities of the running and target versions (severity, fixed-in
        versions, whether a patch of the running line suffices); a security request targets the smallest
        version that fixes every high/critical one. Keep the returned plan_id to page findings (plan_findings)
        or explain a code (explain_finding) without re-running. Takes a few seconds on the demo fleet. Nothing
        is changed anywhere.
        """
        with tool_call("plan"):
            if not request and not tool:
                raise ToolError(
                    "say what to upgrade: pass request (words) or tool (karpenter, victoriametrics, "
                    "flux, argocd, cilium)"
                )
            out = confine(out_dir, "out_dir") if out_dir else None
            outcome = plan_upgrade(
                PlanRequest(
                    text=request,
                    tool=tool,
                    to=to,
                    clusters=clusters,
                    environments=list(environments) if environments else None,
                    trigger=trigger,
                    fleet=confine_fleet(fleet),
                    repo=str(confine(repo, "repo")) if repo else None,
                    kubernetes=kubernetes,
                    fail_on=fail_on,
                    osv=check_advisories,
                    osv_url=_osv_url(osv_url) if check_advisories else None,
                ),
                command_parser=self.command_parser,
            )
            if not isinstance(outcome.plan, Plan):  # a combined plan (several tools, or Kubernetes): not served yet
                raise ToolError(
                    "this request names several tools (or Kubernetes itself): the MCP plan tool plans one tool; pass "
                    "tool=<one of them>, or run `upgradectl plan` for the combined plan"
                )
            files = [str(p) for p in write_plan(outcome.plan, out)] if out else []
            plan_id = self.store.add(outcome.plan)
            page = findings_page(
                outcome.plan.findings, severity=severity, cluster=cluster, code=code, limit=limit, plan_id=plan_id
            )
            return summarise(outcome, fail_on, plan_id, page, files)

    def plan_findings(
        self,
        plan_id: PlanId = None,
        plan_file: PlanFile = None,
        severity: SeverityFilter = None,
        cluster: ClusterFilter = None,
        code: CodeFilter = None,
        offset: Offset = 0,
        limit: Limit = 20,
    ) -> FindingsPage:
        """List the findings of a plan already made, filtered and paged, without re-running it.

        Use after plan when its findings page was truncated or you need another slice: all high-or-worse
        findings, everything on one cluster, every occurrence of one code. Pass plan_id from plan (this
        session) or plan_file (a plan.json on disk). Returns counts for the whole plan plus the matching page.
        """
        with tool_call("plan_findings"):
            ref, found = self.store.get(plan_id, plan_file)
            return findings_page(
                found.findings, severity=severity, cluster=cluster, code=code, offset=offset, limit=limit, plan_id=ref
            )

    def explain_finding(
        self,
        code: Annotated[str, Field(description="A finding code, e.g. KARP-V1ALPHA5-PROVISIONER.")],
        plan_id: PlanId = None,
        plan_file: PlanFile = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most instances to list.")] = 5,
    ) -> ExplainResult:
        """Explain a finding code: the knowledge-base entry behind it and, given a plan, where it occurs.

        Use when a plan shows a code you need to act on or justify. Returns the entry's title, detail,
        remediation, the tool version that introduced the change, how upgradectl detects it, the upstream
        source and whether the fact is uncertain (sources disagree or unverified). With plan_id or
        plan_file it also lists the instances in that plan (subject, evidence excerpts). Codes the
        playbooks generate without a knowledge-base entry (e.g. WORKLOAD-PDB-BLOCKS-DRAIN) are explained
        from their instances, so pass a plan for those.
        """
        with tool_call("explain_finding"):
            wanted = code.strip().upper()
            result = _knowledge_entry(wanted)
            if plan_id or plan_file:
                ref, found = self.store.get(plan_id, plan_file)
                instances = [f for f in found.findings if f.code == wanted]
                result = result.model_copy(
                    update={
                        "plan_id": ref,
                        "instances_total": len(instances),
                        "instances": [_instance(f) for f in instances[:limit]],
                    }
                )
                if not result.in_knowledge_base and instances:
                    first = instances[0]
                    result = result.model_copy(
                        update={
                            "title": first.title,
                            "detail": clip(first.detail, 1500),
                            "remediation": clip(first.remediation, 1500),
                            "severity": first.severity,
                            "category": first.category,
                            "source": ", ".join(first.sources),
                            "uncertain": first.uncertain,
                            "note": f"{wanted} is produced by the {first.agent} playbook, not a knowledge-base "
                            "entry; title, detail and remediation are from its first instance",
                        }
                    )
                elif not instances:
                    result = result.model_copy(update={"note": f"{wanted} does not occur in plan {ref}"})
            if not result.in_knowledge_base and not result.instances:
                raise ToolError(_unknown_code_message(wanted, bool(plan_id or plan_file)))
            return result


def _knowledge_entry(code: str) -> ExplainResult:
    for k in products():
        for change in k.breaking_changes:
            if change.id == code:
                detector = change.detector
                detected_by = ""
                if detector is not None:
                    parts = [
                        detector.api_version,
                        detector.resource_kind,
                        detector.crd,
                        detector.stored_version,
                        detector.annotation,
                        detector.label,
                        detector.name,
                        *detector.watched_keys(),
                        *detector.watched_metrics(),
                        detector.field,
                        f"= {' | '.join(detector.values)}" if detector.values else "",
                        f"matching /{detector.pattern}/" if detector.pattern else "",
                        *(f"or {key} unset" for key in detector.absent),
                        f"kernel < {detector.min_version}" if detector.min_version else "",
                        f"not owned by Helm release {detector.helm_release}" if detector.helm_release else "",
                        *(f"unless {where} ~ /{regex}/" for where, regex in detector.unless.items()),
                    ]
                    detected_by = f"{detector.kind}: {' '.join(p for p in parts if p)}".strip()
                return ExplainResult(
                    code=code,
                    in_knowledge_base=True,
                    tool=k.display_name,
                    title=change.title,
                    detail=clip(change.detail, 2000),
                    remediation=clip(change.remediation, 2000),
                    severity=change.severity,
                    category=change.category,
                    introduced_in=change.version,
                    applies_below=change.applies_below,
                    detected_by=detected_by or "procedure note for every path that crosses the version",
                    source=change.source,
                    uncertain=change.uncertain,
                )
    return ExplainResult(code=code, in_knowledge_base=False)


def _instance(finding: Finding) -> FindingInstance:
    return FindingInstance(
        severity=finding.severity,
        title=clip(finding.title),
        subject=finding.subject.describe(),
        cluster=finding.subject.cluster,
        detail=clip(finding.detail),
        remediation=clip(finding.remediation),
        evidence=[clip(f"{e.source} {e.ref}: {e.excerpt}", 300) for e in finding.evidence[:5]],
    )


def _unknown_code_message(code: str, had_plan: bool) -> str:
    known = [change.id for k in products() for change in k.breaking_changes]
    close = difflib.get_close_matches(code, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    where = (
        "" if had_plan else " Codes generated by the playbooks are explained from a plan: pass plan_id or plan_file."
    )
    return f"no knowledge-base entry for {code!r}{hint}.{where}"
